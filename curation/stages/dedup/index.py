"""The ``dedup_index`` table, which makes near dedup incremental: its schema, checks and rows.

``dedup_index`` holds, for every document signed by earlier runs, its band hashes, its signature,
its text and the id of its cluster's survivor. Indexed documents take part in near dedup's
candidate, verification, component and survivor steps as nodes that are already decided: a
cluster that contains one keeps the indexed survivor and drops every new member.

Pairs with an indexed document are verified exactly like pairs within a run (``verify: exact``:
Jaccard of the two texts' shingle sets), so runs A then B find the same pairs as one run over
A + B. The texts are fetched only for the indexed nodes that are in a candidate pair (a semi-join).
An index written before texts were stored (no ``text`` column) still works with
``verify: signature`` or ``none``; with ``verify: exact`` it is refused (``check_index``): its
pairs could only be judged by the MinHash estimate, a different measure than in-run pairs.

An indexed entry whose id is also an id of the run's input is that document's earlier version:
the new row supersedes it (``indexed_nodes`` leaves it out), so a document is never compared
with, or dropped in favour of, itself. The driver deletes superseded entries when the run ends.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    LongType,
    StringType,
    StructField,
    StructType,
)

from curation import columns as C
from curation.checkpoint import checkpointed
from curation.errors import ConfigError
from curation.run_layout import DEDUP_INDEX
from curation.stages.dedup.common import CBEST, NODE, H, W, published_rank
from curation.stages.dedup.near_config import NearDedupConfig

INDEX_TABLE = DEDUP_INDEX  # the name is the run layout's; the schema is this module's
INDEX_TEXT = "text"
INDEX_SCHEMA = StructType(
    [
        StructField("id", StringType(), False),
        StructField("text_hash", StringType(), False),
        StructField("survivor", StringType(), False),
        StructField("bands", ArrayType(LongType(), False), False),
        StructField("signature", BinaryType(), False),
        StructField("params", StringType(), False),
        # Added later: indexes written before it lack the column (see check_index).
        StructField(INDEX_TEXT, StringType(), True),
    ]
)
_REQUIRED = [f.name for f in INDEX_SCHEMA.fields if f.name != INDEX_TEXT]


def has_texts(index: DataFrame) -> bool:
    """Whether ``index`` stores texts (it was written since exact cross-run verification)."""
    return INDEX_TEXT in index.columns


def check_index(index: DataFrame, cfg: NearDedupConfig) -> None:
    """Refuse an index that lacks columns, was built with other LSH settings, or cannot be
    verified the way ``cfg`` verifies pairs within a run."""
    missing = [name for name in _REQUIRED if name not in index.columns]
    if missing:
        raise ConfigError(
            f"{INDEX_TABLE} lacks columns {missing}; it was not written by near_dedup"
        )
    if cfg.verify == "exact" and not has_texts(index):
        raise ConfigError(
            f"stages.{cfg.stage_name}.verify=exact, but {INDEX_TABLE} was written before it "
            "stored texts, so pairs with its documents could only be judged by the MinHash "
            "estimate; set verify: signature to judge every pair that way, or move "
            f"{INDEX_TABLE} away to start a new index"
        )
    # All distinct values (a handful) in one job: a limit would scan partitions in rounds.
    found = sorted(r[0] for r in index.select("params").distinct().collect())
    other = [p for p in found if p != cfg.params_key][:3]
    if other:
        raise ConfigError(
            f"{INDEX_TABLE} was built with params {other} but this run uses {cfg.params_key!r} "
            "(scheme:num_perm:seed:bands x rows:shingles); use the same near_dedup settings, or "
            "start a new index"
        )


def indexed_nodes(index: DataFrame | None, new_ids: DataFrame, cfg: NearDedupConfig):
    """The checked index's documents as nodes (node, h, bands, sig, survivor[, text]), without
    the entries the run's input supersedes (same id); None without an index.

    ``new_ids``: one column ``id``, the ids of the rows being deduplicated.
    """
    if index is None:
        return None
    check_index(index, cfg)
    # Ids only on both sides, so the join moves no bands, signatures or texts; the superseded
    # ids are few (re-arriving documents), and anti-joining on them is then a broadcast.
    superseded, n_superseded = checkpointed(
        index.select(F.col("id").alias(C.ID)).join(new_ids, C.ID, "left_semi")
    )
    if n_superseded:
        index = index.join(F.broadcast(superseded.distinct()), "id", "left_anti")
    cols = [
        F.col("id").alias(NODE),
        F.col("text_hash").alias(H),
        "bands",
        F.col("signature").alias("sig"),
        "survivor",
    ]
    if has_texts(index):
        cols.append(F.col(INDEX_TEXT).alias(C.TEXT))
    return index.select(*cols)


def with_survivor_hops(edges: DataFrame, idx: DataFrame) -> DataFrame:
    """``edges`` plus an edge from each indexed node they touch to its cluster's survivor."""
    # An indexed near-duplicate links to its cluster's survivor, so a new document similar
    # only to it still joins that cluster.
    linked = (
        edges.select(F.col("src").alias(NODE))
        .unionByName(edges.select(F.col("dst").alias(NODE)))
        .distinct()
    )
    hops = idx.join(linked, NODE, "left_semi").where(F.col(NODE) != F.col("survivor"))
    # Only to survivors still indexed: one a new version superseded (or a run replaced) is no
    # longer published, and its id may now name a new node with another text.
    alive = idx.where(F.col(NODE) == F.col("survivor")).select(F.col(NODE).alias("survivor"))
    hops = hops.join(alive, "survivor", "left_semi")
    return edges.unionByName(hops.select(F.col(NODE).alias("src"), F.col("survivor").alias("dst")))


def survivor_ranks(idx: DataFrame, rank_type: StructType) -> DataFrame:
    """(node, rank, weight) of the indexed survivors: published, they rank before any new node
    and weigh 0 (a cluster's size counts the run's documents)."""
    survivors = idx.where(F.col(NODE) == F.col("survivor"))
    return survivors.select(
        NODE,
        published_rank(rank_type, F.col(NODE), F.col(H)).alias("rank"),
        F.lit(0).cast("long").alias(W),
    )


def index_rows(
    signed: DataFrame,
    per_text: DataFrame,
    keyed: DataFrame,
    cfg: NearDedupConfig,
    with_texts: bool = True,
) -> DataFrame:
    """This run's ``dedup_index`` rows: every signed text with its cluster's survivor and, when
    ``with_texts`` (false only for an index written before texts were stored), the text."""
    rows = signed.join(per_text, H, "left").select(
        F.col(NODE).alias("id"),
        F.col(H).alias("text_hash"),
        F.coalesce(F.col(CBEST)["id"], F.col(NODE)).alias("survivor"),
        "bands",
        F.col("sig").alias("signature"),
        F.lit(cfg.params_key).alias("params"),
    )
    if not with_texts:
        return rows
    # A node is named after one of its rows (the best): that row's text is the node's text.
    texts = keyed.select(
        F.col(C.ID).alias("id"), F.col(H).alias("text_hash"), F.col(C.TEXT).alias(INDEX_TEXT)
    ).dropDuplicates(["id", "text_hash"])
    return rows.join(texts, ["id", "text_hash"], "left")
