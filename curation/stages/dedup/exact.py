"""Exact dedup: every copy but one of each (optionally normalised) text is dropped.

Rows are grouped by an MD5 of the text; aggregation is partial (map-side), so 50,000 copies of
one page cost one row per partition in the shuffle.

Across runs the stage reads the root's ``documents`` (kept rows of earlier runs): a row whose key
equals a published document's is dropped in its favour (``dup_of`` = that document), as near
dedup does with ``dedup_index``, so runs A then B keep one copy of each text, as one run over
A + B does; the survivor is the published copy. A published row whose id is also an input row's
is that row's earlier version and is left out. Each run hashes the published texts again (no
index of keys is stored), and it compares with the text as published: a stage that rewrites the
text after exact_dedup makes those differ.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import Field
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from curation import columns as C
from curation.errors import ConfigError
from curation.run_layout import DOCUMENTS
from curation.stages.base import ShuffleResult, ShuffleStage, StageConfig
from curation.stages.dedup.common import (
    CBEST,
    CW,
    DUP_FIELDS,
    DUPLICATES,
    RANK,
    H,
    N,
    SurvivorPolicy,
    W,
    decide,
    published_rank,
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


def exact_dedup(
    df: DataFrame, cfg: ExactDedupConfig | None = None, published: DataFrame | None = None
) -> DataFrame:
    """Mark every copy but one of each (normalised) text as ``dedup:exact``.

    ``published``: documents kept by earlier runs (columns ``id``, ``text``); a copy of one of
    them is dropped in its favour.

    >>> exact_dedup(df).groupBy("drop_reason").count()
    """
    cfg = cfg or ExactDedupConfig()
    active, passive = split(df)
    columns = active.columns
    keyed = active.withColumn(H, exact_key(cfg.normalization)).withColumn(W, weight(active))
    members = keyed.select(H, survivor_rank(keyed, cfg.survivor).alias(RANK), W)
    if published is not None:
        members = members.unionByName(
            _published_members(published, keyed, cfg, members.schema[RANK].dataType)
        )
    groups = (
        members.groupBy(H)
        .agg(F.min(RANK).alias(CBEST), F.sum(W).alias(CW), F.count(F.lit(1)).alias(N))
        .where(F.col(N) > 1)
        .drop(N)
    )
    out = decide(keyed.join(groups, H, "left"), cfg.stage_name, columns)
    return with_passive(out, passive)


def _published_members(
    published: DataFrame, keyed: DataFrame, cfg: ExactDedupConfig, rank_type
) -> DataFrame:
    """(key, rank, weight 0) of each published document the input does not supersede."""
    # Hash first, so the joins and the grouping move ids and hashes, never texts.
    hashed = published.select(C.ID, exact_key(cfg.normalization).alias(H))
    current = hashed.join(keyed.select(C.ID), C.ID, "left_anti")
    return current.select(
        H,
        published_rank(rank_type, F.col(C.ID), F.col(H)).alias(RANK),
        F.lit(0).cast("long").alias(W),
    )


class ExactDedup(ShuffleStage):
    config_class = ExactDedupConfig
    report_section = DUPLICATES
    config: ExactDedupConfig

    def output_fields(self):
        return list(DUP_FIELDS)

    def aux_tables(self) -> Sequence[str]:
        # Read only (nothing is appended): the kept documents of earlier runs.
        return (DOCUMENTS,)

    def apply(self, df: DataFrame, aux: Mapping[str, DataFrame | None]) -> ShuffleResult:
        return ShuffleResult(rows=exact_dedup(df, self.config, aux.get(DOCUMENTS)))
