"""What exact and near dedup share: their output columns, drop reasons and survivor policy.

Both stages keep every input row: a duplicate gets ``drop_stage``/``drop_reason``
(``dedup:exact`` or ``dedup:near``) and ``dup_of`` = the id of the document kept in its place; every
row gets ``dup_cluster_id`` (the survivor's id; its own id when it has no duplicate) and
``dup_cluster_size`` (documents the cluster stands for, counting those an earlier dedup stage
folded into a member). Rows an earlier stage already dropped pass through untouched.

Documents published by earlier runs join clusters with rank priority 0 (``published_rank``): a
cluster that holds one keeps it and drops every new member in its favour.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import Field, model_validator
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import LongType, StringType, StructField, StructType

from curation import columns as C
from curation.frozen import FrozenModel
from curation.stages.base import ReportSection, ensure_decision_columns, with_decision

DUPLICATES = ReportSection("duplicates", "Duplicates", "no deduplication stage in this run")

DUP_CLUSTER_ID = "dup_cluster_id"
DUP_CLUSTER_SIZE = "dup_cluster_size"
DUP_FIELDS = (
    StructField(C.DUP_OF, StringType()),
    StructField(DUP_CLUSTER_ID, StringType()),
    StructField(DUP_CLUSTER_SIZE, LongType()),
)
REASON_EXACT = "dedup:exact"
REASON_NEAR = "dedup:near"

# Internal column names; the prefix keeps them clear of user columns.
H, RANK, BEST, W, N, NODE, CBEST, CW = (
    "_dd_h",
    "_dd_rank",
    "_dd_best",
    "_dd_w",
    "_dd_n",
    "_dd_node",
    "_dd_cbest",
    "_dd_cw",
)


class SurvivorPolicy(FrozenModel):
    """Which member of a duplicate cluster is kept: criteria in order, ties go to the next."""

    # Default: prefer the better document, then the more complete one, then a stable tie-break
    # (datatrove and text-dedup keep an arbitrary member; a score, where present, is better).
    order: tuple[Literal["quality", "length", "id"], ...] = Field(
        ("quality", "length", "id"),
        min_length=1,
        max_length=3,
        description="Criteria in priority order: 'quality' = highest quality_column (skipped when "
        "the column is absent; nulls last), 'length' = longest text, 'id' = smallest id. The "
        "smallest id always breaks remaining ties, so the choice is deterministic.",
    )
    quality_column: str = Field(
        "quality_score",
        min_length=1,
        max_length=128,
        description="Numeric column read by the 'quality' criterion.",
    )

    @model_validator(mode="after")
    def _distinct(self) -> SurvivorPolicy:
        if len(set(self.order)) != len(self.order):
            raise ValueError(f"survivor.order={list(self.order)} repeats a criterion")
        return self


def survivor_rank(df: DataFrame, policy: SurvivorPolicy, priority: int = 1) -> Column:
    """Orderable struct: the survivor of a group is the row with the smallest rank.

    ``priority`` comes first so indexed documents (priority 0) win over new ones.
    """
    fields: list[Column] = [F.lit(priority).alias("prio")]
    for crit in policy.order:
        if crit == "quality" and policy.quality_column in df.columns:
            q = F.col(C.quoted(policy.quality_column)).cast("double")
            fields += [q.isNull().alias("q_null"), (-q).alias("q_neg")]
        elif crit == "length":
            fields.append((-F.length(F.coalesce(F.col(C.TEXT), F.lit("")))).alias("len_neg"))
        elif crit == "id":
            fields.append(F.col(C.ID).alias("id_order"))
    fields += [F.col(C.ID).alias("id"), F.col(H).alias("h")]
    return F.struct(*fields)


def published_rank(rank_type: StructType, node: Column, text_hash: Column) -> Column:
    """A rank of type ``rank_type`` (from ``survivor_rank``) for a document an earlier run
    published: priority 0, so it is smaller than every new document's rank (priority 1) and
    its cluster keeps it; the policy's criteria are null (they only order new documents)."""
    middle = [F.lit(None).cast(f.dataType).alias(f.name) for f in rank_type.fields[1:-2]]
    return F.struct(F.lit(0).alias("prio"), *middle, node.alias("id"), text_hash.alias("h"))


def weight(df: DataFrame) -> Column:
    """Documents a row stands for: an earlier dedup stage's cluster size, else 1."""
    if DUP_CLUSTER_SIZE in df.columns:
        return F.coalesce(F.col(DUP_CLUSTER_SIZE).cast("long"), F.lit(1).cast("long"))
    return F.lit(1).cast("long")


def split(df: DataFrame) -> tuple[DataFrame, DataFrame | None]:
    """(rows still kept, rows an earlier stage dropped) with the dedup columns present."""
    df = ensure_decision_columns(df)
    for f in DUP_FIELDS:
        if f.name not in df.columns:
            df = df.withColumn(f.name, F.lit(None).cast(f.dataType))
    active = df.where(F.col(C.DROP_REASON).isNull())
    passive = df.where(F.col(C.DROP_REASON).isNotNull())
    return active, passive


def decide(joined: DataFrame, stage_name: str, columns: Sequence[str]) -> DataFrame:
    """Set decisions on rows joined with their cluster's best rank (CBEST) and size (CW).

    Rows without a cluster (null CBEST) are singletons and are kept.
    """
    best = F.col(CBEST)
    survivor = best.isNull() | (
        (best["prio"] == 1) & (best["id"] == F.col(C.ID)) & (best["h"] == F.col(H))
    )
    dropped = ~survivor
    out = with_decision(
        joined,
        stage_name,
        [(REASON_EXACT, dropped & (best["h"] == F.col(H))), (REASON_NEAR, dropped)],
    )
    out = (
        out.withColumn(C.DUP_OF, F.when(dropped, best["id"]))
        .withColumn(DUP_CLUSTER_ID, F.coalesce(best["id"], F.col(C.ID)))
        .withColumn(DUP_CLUSTER_SIZE, F.coalesce(F.col(CW), F.col(W)))
    )
    return out.select(*[F.col(C.quoted(c)) for c in columns])


def with_passive(active_out: DataFrame, passive: DataFrame | None) -> DataFrame:
    """The stage's decided rows and, unchanged, the rows an earlier stage dropped."""
    return active_out if passive is None else active_out.unionByName(passive)
