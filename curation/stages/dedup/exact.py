"""Exact dedup: every copy but one of each (optionally normalised) text is dropped.

Rows are grouped by an MD5 of the text; aggregation is partial (map-side), so 50,000 copies of
one page cost one row per partition in the shuffle.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import Field
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from curation import columns as C
from curation.errors import ConfigError
from curation.stages.base import ShuffleResult, ShuffleStage, StageConfig
from curation.stages.dedup.common import (
    CBEST,
    CW,
    DUP_FIELDS,
    DUPLICATES,
    H,
    N,
    SurvivorPolicy,
    W,
    decide,
    split,
    survivor_rank,
    weight,
    with_passive,
)


class ExactDedupConfig(StageConfig):
    """Drop documents whose (normalised) text equals an earlier-kept one."""

    kind: Literal["exact_dedup"] = "exact_dedup"
    # Default "none": byte-identical text, as Dolma's and RedPajama's exact document dedup.
    normalization: Literal["none", "whitespace_case", "punctuation"] = Field(
        "none",
        description="'none': identical text; 'whitespace_case': lowercased, whitespace runs "
        "collapsed, trimmed; 'punctuation': lowercased and every run of characters that are not "
        "letters, digits or marks made one space (the near-dedup normalisation).",
    )
    survivor: SurvivorPolicy = Field(
        default_factory=SurvivorPolicy, description="Which copy is kept."
    )


def exact_key(normalization: str) -> Column:
    """MD5 of the text under a normalisation (computed in the JVM, no Python round trip)."""
    text = F.coalesce(F.col(C.TEXT), F.lit(""))
    if normalization == "whitespace_case":
        text = F.trim(F.regexp_replace(F.lower(text), r"(?U)\s+", " "))
    elif normalization == "punctuation":
        text = F.trim(F.regexp_replace(F.lower(text), r"[^\p{L}\p{N}\p{M}]+", " "))
    elif normalization != "none":
        raise ConfigError(
            f"normalization={normalization!r} is not one of none, whitespace_case, punctuation"
        )
    return F.md5(text)


def exact_dedup(df: DataFrame, cfg: ExactDedupConfig | None = None) -> DataFrame:
    """Mark every copy but one of each (normalised) text as ``dedup:exact``.

    >>> exact_dedup(df).groupBy("drop_reason").count()
    """
    cfg = cfg or ExactDedupConfig()
    active, passive = split(df)
    columns = active.columns
    keyed = active.withColumn(H, exact_key(cfg.normalization)).withColumn(W, weight(active))
    groups = (
        keyed.groupBy(H)
        .agg(
            F.min(survivor_rank(keyed, cfg.survivor)).alias(CBEST),
            F.sum(W).alias(CW),
            F.count(F.lit(1)).alias(N),
        )
        .where(F.col(N) > 1)
        .drop(N)
    )
    out = decide(keyed.join(groups, H, "left"), cfg.stage_name, columns)
    return with_passive(out, passive)


class ExactDedup(ShuffleStage):
    config_class = ExactDedupConfig
    report_section = DUPLICATES
    config: ExactDedupConfig

    def output_fields(self):
        return list(DUP_FIELDS)

    def apply(self, df: DataFrame, aux: Mapping[str, DataFrame | None]) -> ShuffleResult:
        return ShuffleResult(rows=exact_dedup(df, self.config))
