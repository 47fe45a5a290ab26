"""Near dedup: MinHash LSH candidates, verified, grouped into clusters that each keep one document.

For the kept rows:

1. sign every row in one Arrow pass (shingles -> MinHash -> LSH band hashes), each distinct
   text of a batch once, so that no shuffle carries every row's text (verification fetches
   only the texts of candidate pairs);
2. collapse identical texts into one node (partial aggregation on an MD5 of the text, so
   50,000 copies of a page cost one row per partition, and one node in the graph);
3. per (band, bucket), link every member to the bucket's smallest node (a star) and, when
   verifying, to the second smallest (a second star): at most 2(n-1) candidate pairs per
   bucket, never n^2;
4. verify each distinct candidate pair (exact Jaccard of shingle sets by default) and keep
   those at or above the threshold;
5. connected components of the kept edges (large-star/small-star, ``components.py``);
6. per component, keep one document by the survivor policy; drop the rest.

Incremental runs read and extend ``dedup_index`` (``index.py``): indexed documents take part in
steps 3-6 as nodes that are already decided, and pairs with them are verified by the same measure
as pairs within the run (step 4 fetches the indexed texts of candidate nodes only), so runs A then
B find the same pairs as one run over A + B. Where they differ is the survivor: an indexed
survivor is already published and stays; a cluster's new members are dropped in its favour. An
indexed entry with the id of an input row is that row's earlier version and is left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import to_arrow_type
from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    DoubleType,
    LongType,
    StringType,
    StructField,
    StructType,
)

from curation import columns as C
from curation.checkpoint import checkpointed
from curation.stages.base import ShuffleResult, ShuffleStage
from curation.stages.dedup.common import (
    BEST,
    CBEST,
    CW,
    DUP_FIELDS,
    DUPLICATES,
    NODE,
    RANK,
    H,
    N,
    W,
    decide,
    split,
    survivor_rank,
    weight,
    with_passive,
)
from curation.stages.dedup.components import connected_components, no_components
from curation.stages.dedup.index import (
    INDEX_TABLE,
    has_texts,
    index_rows,
    indexed_nodes,
    survivor_ranks,
    with_survivor_hops,
)
from curation.stages.dedup.near_config import NearDedupConfig
from curation.stages.dedup.signatures import jaccard_batches, sign_batches

# Lookup tables up to this many rows are broadcast to the join instead of shuffling the input
# rows (with their text) to them: ~100 bytes a row, so at most ~50 MB.
_BROADCAST_MAX_ROWS = 500_000


@dataclass
class NearDedupRun:
    """Everything one near-dedup run produced, for the stage and for inspection."""

    rows: DataFrame
    index_rows: DataFrame
    candidates: DataFrame  # distinct candidate pairs (src, dst) from the LSH stars
    edges: DataFrame  # pairs kept after verification
    rounds: int  # connected-components rounds


def run_near_dedup(
    df: DataFrame, cfg: NearDedupConfig | None = None, index: DataFrame | None = None
) -> NearDedupRun:
    """Near-dedup ``df`` (kept rows), against an optional ``dedup_index`` of earlier runs.

    Runs Spark jobs (components are iterative); the returned ``rows`` is lazy over ``df`` and
    checkpointed intermediates, so cache ``df`` first if its lineage is expensive.
    """
    cfg = cfg or NearDedupConfig()
    active, passive = split(df)
    columns = active.columns
    keyed = _keyed(active)
    # 1-2. Sign, then one node per distinct text.
    groups = _sign(keyed, cfg)
    signed = groups.where(F.col("bands").isNotNull()).select(NODE, H, "bands", "sig")
    idx = indexed_nodes(index, keyed.select(C.ID), cfg)
    # 3. Candidate pairs.
    candidates, n_candidates = _candidate_pairs(*_bucket_members(signed, idx), cfg)
    if n_candidates == 0:
        # No two nodes share a bucket: no edges, no components, and no job to find that out.
        edges = candidates.select("src", "dst")
        comps = no_components(edges)
    else:
        # 4. Verification.
        edges = _verified_edges(candidates, keyed, groups, signed, idx, cfg)
        if idx is not None:
            edges = with_survivor_hops(edges, idx)
        # 5. Components.
        comps = connected_components(edges, cfg.max_cc_rounds, cfg.cc_local_max_edges)
    labels = comps.labels.withColumnRenamed("node", NODE)
    # 6. Survivor and size per component, then per distinct text; decide every row.
    per_text = _clusters_per_text(groups, labels, _node_ranks(groups, idx), comps.local_rows)
    rows = with_passive(decide(keyed.join(per_text, H, "left"), cfg.stage_name, columns), passive)
    # An index written before texts were stored keeps its schema (appends must match it).
    with_texts = index is None or has_texts(index)
    new_index = index_rows(signed, per_text, keyed, cfg, with_texts)
    return NearDedupRun(rows, new_index, candidates.select("src", "dst"), edges, comps.rounds)


def _keyed(active: DataFrame) -> DataFrame:
    """Kept rows with the MD5 of their text and the number of documents each stands for."""
    return active.withColumn(H, F.md5(F.coalesce(F.col(C.TEXT), F.lit("")))).withColumn(
        W, weight(active)
    )


def _sign(keyed: DataFrame, cfg: NearDedupConfig) -> DataFrame:
    """One checkpointed node per distinct text: best rank, weight, copies, bands, signature."""
    # Sign every row in one Arrow pass (each distinct text of a batch once), then keep one node
    # per distinct text. Signing before collapsing means the texts are never shuffled
    # (collapsing first would shuffle all of them); collapsing before LSH means identical
    # copies, however many, are one node.
    rank = survivor_rank(keyed, cfg.survivor)
    rank_type = to_arrow_type(keyed.select(rank.alias(RANK)).schema[RANK].dataType)
    signed_rows = keyed.select(H, rank.alias(RANK), W, C.TEXT).mapInArrow(
        sign_batches(cfg, rank_type),
        StructType(
            [
                StructField(H, StringType()),
                StructField(RANK, keyed.select(rank.alias(RANK)).schema[RANK].dataType),
                StructField(W, LongType()),
                StructField("bands", ArrayType(LongType(), False)),
                StructField("sig", BinaryType()),
            ]
        ),
    )
    # Partial (map-side) aggregation: 50,000 copies of a page cost one row per partition.
    return (
        signed_rows.groupBy(H)
        .agg(
            F.min(RANK).alias(BEST),
            F.sum(W).alias(W),
            F.count(F.lit(1)).alias(N),
            F.first("bands", ignorenulls=True).alias("bands"),
            F.first("sig", ignorenulls=True).alias("sig"),
        )
        .withColumn(NODE, F.col(BEST)["id"])
        .localCheckpoint()
    )


def _bucket_members(signed: DataFrame, idx: DataFrame | None) -> tuple[DataFrame, int]:
    """(node, band, bucket, old) of every bucket that holds two nodes or more, one of them
    new; and how many such buckets there are."""
    members = signed.select(
        NODE, F.posexplode("bands").alias("band", "bucket"), F.lit(False).alias("old")
    )
    if idx is not None:
        members = members.unionByName(
            idx.select(
                NODE, F.posexplode("bands").alias("band", "bucket"), F.lit(True).alias("old")
            )
        )
    # Most buckets hold one document: find the others with a cheap count over (band, bucket)
    # keys alone, so that only their members are shuffled with node ids and sorted.
    shared, n_shared = checkpointed(
        members.groupBy("band", "bucket")
        .agg(F.count(F.lit(1)).alias("n"), F.max(~F.col("old")).alias("has_new"))
        .where((F.col("n") > 1) & F.col("has_new"))  # indexed docs only: nothing to decide
        .select("band", "bucket")
    )
    return members.join(_small(shared, n_shared), ["band", "bucket"], "left_semi"), n_shared


def _candidate_pairs(
    members: DataFrame, n_shared: int, cfg: NearDedupConfig
) -> tuple[DataFrame, int]:
    """Distinct checkpointed pairs (src, dst, src_old, dst_old) from one or two stars a bucket,
    and their number (``n_shared``: the buckets ``members`` spans)."""
    # Every member -> the bucket's smallest node (a star), and, when pairs are verified, every
    # member -> the second smallest (a second star). At most 2(n-1) pairs per bucket, never
    # n^2. The second star gives a member that fails against the smallest node another
    # partner: in benchmarks/dedup_accuracy.py it recovers 5 of the 6 duplicates (at 0.8) that
    # the single star misses and verifying every pair of each bucket finds. (A path to the
    # previous member recovers all 6, but its partners change whenever a bucket's membership
    # does, which multiplies pairs in giant clusters.)
    in_order = Window.partitionBy("band", "bucket").orderBy(NODE, "old")
    me = F.struct(F.col(NODE).alias("node"), F.col("old").alias("old"))
    ranked = (
        members.withColumn("me", me)
        .withColumn("rep", F.first(me).over(in_order))
        .withColumn("rep2", F.nth_value(me, 2).over(in_order))
    )
    partners = [F.col("rep")]
    if cfg.verify != "none":
        partners.append(F.col("rep2"))
    pairs = ranked.select("me", F.explode(F.array(*partners)).alias("other")).where(
        F.col("other").isNotNull()
        & (F.col("me.node") != F.col("other.node"))
        & ~(F.col("me.old") & F.col("other.old"))  # both already decided in earlier runs
    )
    candidates = pairs.select(
        F.col("me.node").alias("src"),
        F.col("other.node").alias("dst"),
        F.col("me.old").alias("src_old"),
        F.col("other.old").alias("dst_old"),
    )
    if n_shared == 0:
        # No pairs. A false filter leaves an empty relation to the optimizer: no job reads it.
        return candidates.where(F.lit(False)), 0
    return checkpointed(candidates.distinct())


def _verified_edges(
    candidates: DataFrame,
    keyed: DataFrame,
    groups: DataFrame,
    signed: DataFrame,
    idx: DataFrame | None,
    cfg: NearDedupConfig,
) -> DataFrame:
    """Checkpointed edges (src, dst): the candidates that pass verification, or all of them
    (the candidates are checkpointed already)."""
    if cfg.verify == "none":
        return candidates.select("src", "dst")
    # Checkpointed even when components collect them next: that collect also joins the
    # index for survivor hops, and with verification in its plan it ran 15 jobs, not 5.
    return (
        _verify(candidates, keyed, groups, signed, idx, cfg).select("src", "dst").localCheckpoint()
    )


def _node_ranks(groups: DataFrame, idx: DataFrame | None) -> DataFrame:
    """(node, rank, weight) of every node; indexed survivors rank before any new node."""
    node_rank = groups.select(NODE, F.col(BEST).alias("rank"), W)
    if idx is not None:
        node_rank = node_rank.unionByName(survivor_ranks(idx, groups.schema[BEST].dataType))
    return node_rank


def _clusters_per_text(
    groups: DataFrame, labels: DataFrame, node_rank: DataFrame, label_rows: int | None
) -> DataFrame:
    """Checkpointed (text hash, cluster's best rank, cluster size) of texts with a duplicate,
    with a broadcast hint when they are few.

    ``label_rows``: how many rows ``labels`` holds, when known (found on the driver). Spark
    cannot size a frame made from driver rows, so without a hint it shuffles both sides of
    each join: 9 jobs on a small run here, 6 with the hints.
    """
    if label_rows is not None:
        labels = _small(labels, label_rows)
    clusters = (
        labels.join(node_rank, NODE)
        .groupBy("label")
        .agg(F.min("rank").alias(CBEST), F.sum(W).alias(CW))
    )
    if label_rows is not None:
        clusters = _small(clusters, label_rows)  # at most one row per label
    per_text, n = checkpointed(
        groups.select(H, NODE, BEST, W, N)
        .join(labels, NODE, "left")
        .join(clusters, "label", "left")
        .where(F.col("label").isNotNull() | (F.col(N) > 1))
        .select(
            H,
            F.coalesce(F.col(CBEST), F.col(BEST)).alias(CBEST),
            F.coalesce(F.col(CW), F.col(W)).alias(CW),
        )
    )
    return _small(per_text, n)


def _small(df: DataFrame, rows: int) -> DataFrame:
    """``df`` with a broadcast hint when it has few ``rows`` (at most; counted when it was
    checkpointed): joining it then ships it to every task instead of shuffling the large side."""
    return F.broadcast(df) if rows <= _BROADCAST_MAX_ROWS else df


def _verify(
    candidates: DataFrame,
    keyed: DataFrame,
    groups: DataFrame,
    signed: DataFrame,
    idx: DataFrame | None,
    cfg: NearDedupConfig,
) -> DataFrame:
    """Candidate pairs whose similarity reaches the threshold.

    Only what the pairs need is fetched, through broadcast semi-joins when the candidate nodes
    are few: in exact mode their texts (new nodes' from the input rows, indexed nodes' from the
    index), so a pair with an indexed document is judged like a pair within the run; in
    signature mode their signatures.
    """
    ends = candidates.select(F.col("src").alias(NODE), F.col("src_old").alias("old"))
    ends = ends.unionByName(
        candidates.select(F.col("dst").alias(NODE), F.col("dst_old").alias("old"))
    )
    # One checkpoint (one job) for every node in a pair, new nodes with their text hashes:
    # the node sets below are filters of it, and its row count bounds theirs.
    new = groups.select(NODE, H, F.lit(False).alias("old"))
    nodes, n_nodes = checkpointed(ends.distinct().join(new, [NODE, "old"], "left"))
    sigs = texts = None
    if cfg.verify == "signature":
        sigs = signed.select(NODE, "sig")
        if idx is not None:
            sigs = sigs.unionByName(idx.select(NODE, "sig"))
        sigs = sigs.join(_small(nodes.select(NODE).distinct(), n_nodes), NODE, "left_semi")
        sigs = sigs.dropDuplicates([NODE])
    if cfg.verify == "exact":
        new_nodes = nodes.where(~F.col("old") & F.col(H).isNotNull()).select(NODE, H)
        # Match on id first (a broadcast semi-join, no MD5 over every row), then on the text
        # hash, which only matters if ids repeat.
        texts = (
            keyed.select(F.col(C.ID).alias(NODE), C.TEXT)
            .join(_small(new_nodes, n_nodes), NODE)
            .where(F.md5(F.coalesce(F.col(C.TEXT), F.lit(""))) == F.col(H))
            .select(NODE, C.TEXT)
            .dropDuplicates([NODE])
        )
        if idx is not None:
            # check_index refused an index without texts in exact mode.
            old_nodes = nodes.where(F.col("old")).select(NODE)
            texts = texts.unionByName(
                idx.select(NODE, C.TEXT).join(_small(old_nodes, n_nodes), NODE, "left_semi")
            )
    pairs = candidates
    for side in ("src", "dst"):
        if sigs is not None:
            named = sigs.select(F.col(NODE).alias(side), F.col("sig").alias(f"{side}_sig"))
            pairs = pairs.join(named, side, "left")
        else:
            pairs = pairs.withColumn(f"{side}_sig", F.lit(None).cast("binary"))
        if texts is not None:
            named = texts.select(F.col(NODE).alias(side), F.col(C.TEXT).alias(f"{side}_text"))
            pairs = pairs.join(named, side, "left")
        else:
            pairs = pairs.withColumn(f"{side}_text", F.lit(None).cast("string"))
    scored = pairs.select("src", "dst", "src_text", "dst_text", "src_sig", "dst_sig").mapInArrow(
        jaccard_batches(cfg),
        StructType(
            [
                StructField("src", StringType()),
                StructField("dst", StringType()),
                StructField("jaccard", DoubleType()),
            ]
        ),
    )
    return scored.where(F.col("jaccard") >= cfg.threshold)


def near_dedup(
    df: DataFrame, cfg: NearDedupConfig | None = None, index: DataFrame | None = None
) -> DataFrame:
    """Rows of ``df`` with near-duplicates marked (``dedup:near``, or ``dedup:exact`` for
    identical texts). ``index``: a ``dedup_index`` from earlier runs, whose documents win.
    """
    return run_near_dedup(df, cfg, index).rows


class NearDedup(ShuffleStage):
    config_class = NearDedupConfig
    report_section = DUPLICATES
    config: NearDedupConfig

    def output_fields(self):
        return list(DUP_FIELDS)

    def aux_tables(self) -> Sequence[str]:
        return (INDEX_TABLE,)

    def apply(self, df: DataFrame, aux: Mapping[str, DataFrame | None]) -> ShuffleResult:
        run = run_near_dedup(df, self.config, aux.get(INDEX_TABLE))
        return ShuffleResult(rows=run.rows, aux={INDEX_TABLE: run.index_rows})
