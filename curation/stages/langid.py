"""Language ID with fastText: keep documents in the allowed languages with a confident score.

FineWeb keeps English with fastText lid.176 score >= 0.65. The model is fastText's lid.176.ftz
(compressed, 176 languages), shipped in this package under ``curation/data/langid`` (CC BY-SA
3.0, see the README there), so no download is needed; a user can point ``model_path`` at another
fastText language-ID model (e.g. lid.176.bin, GlotLID) whose labels are ``__label__<code>``.

Columns: ``lang`` (label without ``__label__``; null when the text has no non-space character)
and ``lang_score`` (its probability; 0.0 for such empty text).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, field_validator
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, StringType, StructField

from curation import columns as C
from curation.errors import ConfigError
from curation.models import ModelRef, load_fasttext, local_ref, ship_model
from curation.stages.base import NO_CUTOFFS, ReportSection, RowStage, StageConfig
from curation.text.fasttext_prep import prepare_array

LANG = "lang"
LANG_SCORE = "lang_score"
_LABEL_PREFIX = "__label__"
_BUNDLED_LID = Path(__file__).resolve().parents[1] / "data" / "langid" / "lid.176.ftz"


def bundled_lid_model() -> str:
    """Path of the lid.176.ftz shipped in this package (``curation/data/langid``)."""
    path = _BUNDLED_LID
    if not path.is_file():  # a wheel built without package data, or a trimmed install
        raise ConfigError(
            f"langid: the bundled model {path} is missing from this installation; reinstall "
            "curation, or set model_path to a fastText language-ID model"
        )
    return str(path)


class LangIdConfig(StageConfig):
    """Language filter: allowed languages and a minimum confidence."""

    kind: Literal["langid"] = "langid"
    model_path: str | None = Field(
        None,
        min_length=1,
        description="fastText language-ID model (local path or Hadoop/fsspec URI); default: "
        "lid.176.ftz shipped in this package.",
    )
    # FineWeb keeps English only.
    allowed: tuple[str, ...] = Field(
        ("en",),
        max_length=500,
        description="Language codes to keep (model labels without __label__); empty keeps all.",
    )
    # FineWeb: language_score >= 0.65.
    min_score: float = Field(
        0.65, ge=0.0, le=1.0, description="Top-language probability below this drops."
    )

    @field_validator("allowed", mode="before")
    @classmethod
    def _a_list(cls, value: object) -> object:
        # `allowed: en` in YAML is a string: the one-item list the user meant. Several codes in
        # one string would match no label and silently drop every document.
        if isinstance(value, str):
            codes = value.replace(",", " ").split()
            if len(codes) > 1:
                raise ValueError(
                    f"write several codes as a list of language codes: allowed: [{', '.join(codes)}]"
                )
            return (value,)
        if not isinstance(value, (list, tuple)):
            raise ValueError("must be a list of language codes, e.g. allowed: [en]")
        return value

    @field_validator("allowed")
    @classmethod
    def _codes(cls, allowed: tuple[str, ...]) -> tuple[str, ...]:
        for code in allowed:
            if not code or any(ch.isspace() for ch in code) or code.startswith(_LABEL_PREFIX):
                raise ValueError(
                    f"{code!r} is not a language code; write codes like 'en' without __label__"
                )
        return allowed


class LangId(RowStage):
    config_class = LangIdConfig
    report_section = ReportSection("language", "Language", "no language-ID stage in this run")
    config: LangIdConfig
    decision_fields = frozenset({"allowed", "min_score"})

    def __init__(self, config: LangIdConfig):
        super().__init__(config)
        self._model: ModelRef | None = None

    def output_fields(self):
        return [StructField(LANG, StringType()), StructField(LANG_SCORE, DoubleType())]

    def _model_path(self) -> str:
        return self.config.model_path or bundled_lid_model()

    def prepare(self, spark) -> None:
        self._model = ship_model(spark, self._model_path())

    def scorer(self):
        ref = self._model or local_ref(self._model_path())

        def run(batch: pa.RecordBatch) -> dict[str, pa.Array]:
            model = load_fasttext(ref)
            return predict_languages(model, batch.column(C.TEXT))

        return run

    def rules(self, scored, cutoffs):
        cfg, rules = self.config, []
        if cfg.allowed:
            rules.append(
                ("langid:not_allowed", F.col(LANG).isNull() | ~F.col(LANG).isin(*cfg.allowed))
            )
        if cfg.min_score > 0:
            rules.append(("langid:low_score", F.col(LANG_SCORE) < cfg.min_score))
        return rules

    def thresholds(self, cutoffs=NO_CUTOFFS):
        return {LANG_SCORE: {"min_score": self.config.min_score}} if self.config.min_score else {}


def predict_languages(model, texts: pa.Array | pa.ChunkedArray) -> dict[str, pa.Array]:
    """Top language and its probability for each text, in one fastText call per batch."""
    prepared = prepare_array(texts, "dclm")
    # Empty and whitespace-only texts get no language (fastText would guess one with a low score).
    has_text = pc.fill_null(pc.match_substring_regex(prepared, r"\S"), False)
    idx = pc.indices_nonzero(has_text).to_pylist()
    langs: list[str | None] = [None] * len(prepared)
    scores = [0.0] * len(prepared)
    if idx:
        values = pc.take(prepared, pa.array(idx, type=pa.int64())).to_pylist()
        labels, probs = model.predict(values, k=1, on_unicode_error="replace")
        for i, lab, prob in zip(idx, labels, probs, strict=True):
            if lab:
                langs[i] = lab[0].removeprefix(_LABEL_PREFIX)
                scores[i] = min(1.0, float(prob[0]))
    return {LANG: pa.array(langs, type=pa.string()), LANG_SCORE: pa.array(scores, pa.float64())}
