"""Length filter: drop documents outside word-count and character-count bounds."""

from __future__ import annotations

from typing import Literal

import pyarrow.compute as pc
from pydantic import Field, model_validator
from pyspark.sql import functions as F
from pyspark.sql.types import IntegerType, StructField

from curation import columns as C
from curation.stages.base import NO_CUTOFFS, RowStage, StageConfig


class LengthFilterConfig(StageConfig):
    """Bounds on document length. A bound left null is not applied."""

    kind: Literal["length"] = "length"
    min_words: int | None = Field(50, ge=0, description="Fewer words drops (Gopher: 50).")
    max_words: int | None = Field(100_000, ge=1, description="More words drops (Gopher: 100,000).")
    min_chars: int | None = Field(None, ge=0, description="Fewer characters drops.")
    max_chars: int | None = Field(None, ge=1, description="More characters drops.")

    @model_validator(mode="after")
    def _bounds_ordered(self) -> LengthFilterConfig:
        for lo, hi in (("min_words", "max_words"), ("min_chars", "max_chars")):
            a, b = getattr(self, lo), getattr(self, hi)
            if a is not None and b is not None and a > b:
                raise ValueError(f"{lo}={a} is above {hi}={b}; make {lo} <= {hi}")
        return self


class LengthFilter(RowStage):
    config_class = LengthFilterConfig
    config: LengthFilterConfig
    decision_fields = frozenset({"min_words", "max_words", "min_chars", "max_chars"})

    def output_fields(self):
        return [StructField("len_words", IntegerType()), StructField("len_chars", IntegerType())]

    def scorer(self):
        def run(batch):
            text = batch.column(C.TEXT)
            return {
                "len_words": pc.count_substring_regex(text, r"\S+").cast("int32"),
                "len_chars": pc.utf8_length(text).cast("int32"),
            }

        return run

    def rules(self, scored, cutoffs):
        cfg, rules = self.config, []
        if cfg.min_words is not None:
            rules.append(("length:too_few_words", F.col("len_words") < cfg.min_words))
        if cfg.max_words is not None:
            rules.append(("length:too_many_words", F.col("len_words") > cfg.max_words))
        if cfg.min_chars is not None:
            rules.append(("length:too_few_chars", F.col("len_chars") < cfg.min_chars))
        if cfg.max_chars is not None:
            rules.append(("length:too_many_chars", F.col("len_chars") > cfg.max_chars))
        return rules

    def thresholds(self, cutoffs=NO_CUTOFFS):
        cfg, out = self.config, {}
        for column, fields in (
            ("len_words", ("min_words", "max_words")),
            ("len_chars", ("min_chars", "max_chars")),
        ):
            cuts = {f: getattr(cfg, f) for f in fields if getattr(cfg, f) is not None}
            if cuts:
                out[column] = cuts
        return out
