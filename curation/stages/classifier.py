"""Model-based quality filter: a fastText supervised classifier's probability of "high quality".

DCLM scores every document with a fastText classifier (OpenHermes/ELI5 positives vs. web
negatives) and keeps the top 10% by the probability of ``__label__hq``; Ultra-FineWeb uses the
same kind of model with its own text preparation. Any fastText supervised model works: name its
positive label and the preparation it was trained with (``curation.train`` writes both to the
model's JSON sidecar, and ``prepare`` refuses a config that disagrees with it).

Scoring: one ``model.predict(texts, k=-1)`` call per Arrow batch. Deciding: either an absolute
``threshold`` or ``keep_top_percent``, whose threshold is the run's (1 - k/100) quantile of the
score over the rows still kept when the stage decides (``approxQuantile``), returned by
``cutoffs`` and passed to ``rules``; the driver writes it to the stats table (``run_details``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pyarrow as pa
from pydantic import Field, model_validator
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, StructField

from curation import columns as C
from curation.errors import ConfigError
from curation.models import ModelRef, load_fasttext, local_ref, ship_model
from curation.stages.base import NO_CUTOFFS, Cutoffs, ReportSection, RowStage, StageConfig
from curation.text.fasttext_prep import PrepMode, prepare_array

REASON_LOW = "fasttext_quality:low_score"
THRESHOLD = "threshold"  # the cutoff's name in cutoffs, run details and the report
LABEL_PATTERN = r"^__label__\S+$"


class FastTextQualityConfig(StageConfig):
    """A fastText quality classifier and how to threshold its score."""

    kind: Literal["fasttext_quality"] = "fasttext_quality"
    model_path: str = Field(
        min_length=1,
        description="fastText supervised model (.bin/.ftz): local path or Hadoop/fsspec URI.",
    )
    # DCLM's classifier labels its positives __label__hq.
    positive_label: str = Field(
        "__label__hq",
        pattern=LABEL_PATTERN,
        description="The model label whose probability is the quality score.",
    )
    # DCLM: newlines to spaces. Must match what the model was trained on.
    prep: PrepMode = Field("dclm", description="Text preparation: dclm or ultrafineweb.")
    score_column: str = Field(
        "quality_score",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        max_length=64,
        description="Output column; change it when a recipe runs two quality classifiers.",
    )
    threshold: float | None = Field(
        None, ge=0.0, le=1.0, description="Absolute cut: scores below it drop. Excludes top-k%."
    )
    # DCLM keeps the top 10% of its pool by fastText score.
    keep_top_percent: float | None = Field(
        10.0,
        gt=0.0,
        le=100.0,
        description="Keep this percentage of rows with the highest scores (run-level quantile).",
    )
    # Spark's approxQuantile error bound; 0.001 ranks within 0.1% of the rows.
    quantile_relative_error: float = Field(
        0.001, ge=0.0, le=0.1, description="approxQuantile relativeError (0 is exact, slower)."
    )

    @model_validator(mode="before")
    @classmethod
    def _threshold_replaces_default_cut(cls, data: object) -> object:
        # Setting only `threshold` means "cut there", not "also keep the default top 10%".
        if isinstance(data, dict) and data.get("threshold") is not None:
            data = {"keep_top_percent": None, **data}
        return data

    @model_validator(mode="after")
    def _one_cut(self) -> FastTextQualityConfig:
        if self.threshold is not None and self.keep_top_percent is not None:
            raise ValueError(
                "set either threshold or keep_top_percent, not both "
                "(keep_top_percent: null to use an absolute threshold)"
            )
        return self


class FastTextQuality(RowStage):
    config_class = FastTextQualityConfig
    config: FastTextQualityConfig
    decision_fields = frozenset({"threshold", "keep_top_percent", "quantile_relative_error"})
    report_section = ReportSection(
        "quality", "Quality score", "no model-based quality stage in this run"
    )

    def __init__(self, config: FastTextQualityConfig):
        super().__init__(config)
        self._model: ModelRef | None = None

    def output_fields(self):
        return [StructField(self.config.score_column, DoubleType())]

    def prepare(self, spark) -> None:
        check_sidecar(self.config)
        self._model = ship_model(spark, self.config.model_path)

    def scorer(self):
        ref = self._model or local_ref(self.config.model_path)
        cfg = self.config

        def run(batch: pa.RecordBatch) -> dict[str, pa.Array]:
            model = load_fasttext(ref)
            scores = score_texts(model, batch.column(C.TEXT), cfg.positive_label, cfg.prep)
            return {cfg.score_column: scores}

        return run

    def cutoffs(self, scored: DataFrame) -> Cutoffs:
        """``threshold``: the absolute cut, or the run's top-k% quantile (None: nothing scored)."""
        cfg = self.config
        if cfg.keep_top_percent is None:
            return {THRESHOLD: cfg.threshold}
        cut = top_percent_threshold(
            scored, cfg.score_column, cfg.keep_top_percent, cfg.quantile_relative_error
        )
        return {THRESHOLD: cut}

    def rules(self, scored: DataFrame, cutoffs: Cutoffs):
        score = F.col(self.config.score_column)
        cut = cutoffs.get(THRESHOLD)
        if cut is None:  # nothing scored: nothing to compare with
            return [(REASON_LOW, score.isNull())]
        return [(REASON_LOW, score.isNull() | (score < F.lit(cut)))]

    def thresholds(self, cutoffs: Cutoffs = NO_CUTOFFS):
        """The cut used: the absolute threshold, or the run's quantile when ``cutoffs`` has it."""
        cut = cutoffs.get(THRESHOLD, self.config.threshold)
        if not isinstance(cut, (int, float)):
            return {}
        return {self.config.score_column: {THRESHOLD: float(cut)}}

    def run_details(self, cutoffs: Cutoffs = NO_CUTOFFS) -> dict[str, object]:
        """Run-level facts for the stats table: the threshold used and how it was chosen."""
        return {
            THRESHOLD: cutoffs.get(THRESHOLD, self.config.threshold),
            "keep_top_percent": self.config.keep_top_percent,
            "model_path": self.config.model_path,
        }


def top_percent_threshold(
    scored: DataFrame, column: str, keep_percent: float, relative_error: float
) -> float | None:
    """Score at the (100 - keep_percent) percentile of the rows still kept; None if none."""
    live = scored
    if C.DROP_REASON in scored.columns:
        live = scored.filter(F.col(C.DROP_REASON).isNull())
    if keep_percent >= 100.0:
        return 0.0
    found = live.approxQuantile(column, [1.0 - keep_percent / 100.0], relative_error)
    return float(found[0]) if found and found[0] is not None else None


def score_texts(model, texts: pa.Array | pa.ChunkedArray, label: str, prep: PrepMode) -> pa.Array:
    """Probability of ``label`` for each text (null for null text), one predict call per batch."""
    prepared = prepare_array(texts, prep)
    missing = prepared.is_null().to_numpy(zero_copy_only=False)
    values = prepared.fill_null("").to_pylist()
    probs = positive_probabilities(model, values, label)
    return pa.array(probs, type=pa.float64(), mask=missing)


def positive_probabilities(model, prepared: Sequence[str], label: str) -> np.ndarray:
    """P(label) for already prepared single-line texts, from one batched ``predict(k=-1)``."""
    if label not in model.get_labels():
        raise ConfigError(
            f"positive_label {label!r} is not a label of the model (labels: "
            f"{', '.join(model.get_labels()[:10])}); set positive_label to one of them"
        )
    out = np.zeros(len(prepared), dtype=np.float64)
    if not prepared:
        return out
    labels, probs = model.predict(list(prepared), k=-1, on_unicode_error="replace")
    for i, (labs, ps) in enumerate(zip(labels, probs, strict=True)):
        for lab, p in zip(labs, ps, strict=True):
            if lab == label:
                out[i] = p
                break
    # fastText's softmax can overshoot 1 by a few ulps (1.00001); scores are probabilities.
    return np.clip(out, 0.0, 1.0)


def sidecar_path(model_path: str) -> str:
    """Where ``curation.train`` writes a model's metadata: ``model.bin`` -> ``model.json``."""
    root, _ = os.path.splitext(model_path)
    return root + ".json"


def check_sidecar(cfg: FastTextQualityConfig) -> None:
    """Refuse a config whose label or prep differs from what the model was trained with."""
    path = sidecar_path(cfg.model_path)
    if not os.path.isfile(path):
        return
    try:
        with open(path, encoding="utf-8") as fh:
            meta = json.load(fh)
    except (OSError, ValueError):
        return  # not our sidecar; nothing to check against
    trained = meta.get("positive_label"), meta.get("prep")
    if trained[0] and trained[0] != cfg.positive_label:
        raise ConfigError(
            f"{cfg.stage_name}.positive_label={cfg.positive_label!r} but the model was trained "
            f"with {trained[0]!r} ({path}); set positive_label: {trained[0]}"
        )
    if trained[1] and trained[1] != cfg.prep:
        raise ConfigError(
            f"{cfg.stage_name}.prep={cfg.prep!r} but the model was trained with prep "
            f"{trained[1]!r} ({path}); set prep: {trained[1]}"
        )
