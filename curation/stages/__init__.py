"""Stage registry: every stage kind a recipe can name.

To add a stage family, import its Stage class here and add it to ``STAGE_CLASSES``.
"""

from __future__ import annotations

from curation.stages.base import RowStage, ShuffleStage, Stage, StageConfig
from curation.stages.classifier import FastTextQuality
from curation.stages.decontaminate import Decontaminate
from curation.stages.dedup import ExactDedup, NearDedup
from curation.stages.langid import LangId
from curation.stages.length import LengthFilter
from curation.stages.pii import PiiStage
from curation.stages.quality import QualityStage
from curation.stages.toxicity import Toxicity
from curation.stages.url_filter import UrlFilter

STAGE_CLASSES: tuple[type[Stage], ...] = (
    LengthFilter,
    ExactDedup,
    NearDedup,
    LangId,
    FastTextQuality,
    Toxicity,
    QualityStage,
    Decontaminate,
    PiiStage,
    UrlFilter,
)

STAGES_BY_KIND: dict[str, type[Stage]] = {
    cls.config_class.model_fields["kind"].default: cls for cls in STAGE_CLASSES
}


def build_stage(config: StageConfig) -> Stage:
    """The Stage object for a validated stage config."""
    return STAGES_BY_KIND[config.kind](config)


__all__ = [
    "STAGE_CLASSES",
    "STAGES_BY_KIND",
    "RowStage",
    "ShuffleStage",
    "Stage",
    "StageConfig",
    "build_stage",
]
