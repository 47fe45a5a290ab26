"""Exact and near-duplicate removal (MinHash LSH), as shuffle stages and plain functions.

Both stages keep every input row: a duplicate gets ``drop_stage``/``drop_reason``
(``dedup:exact`` or ``dedup:near``) and ``dup_of`` = the id of the document kept in its place; every
row gets ``dup_cluster_id`` (the survivor's id; its own id when it has no duplicate) and
``dup_cluster_size`` (documents the cluster stands for, counting those an earlier dedup stage
folded into a member). Rows an earlier stage already dropped pass through untouched.

Exact dedup groups rows by an MD5 of the (optionally normalised) text; aggregation is partial
(map-side), so 50,000 copies of one page cost one row per partition in the shuffle.

Near dedup, for the kept rows:

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

Incremental runs: ``dedup_index`` holds, for every document signed by earlier runs, its band
hashes, its signature and the id of its cluster's survivor. Indexed documents take part in
steps 3-6 as nodes that are already decided: a cluster that contains one keeps the indexed
survivor and drops every new member. Pairs with an indexed document are verified by the
MinHash estimate (the index holds no text).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, model_validator
from pyspark.sql import Column, DataFrame, Window
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
from curation.errors import ConfigError
from curation.frozen import FrozenModel
from curation.stages.base import (
    ShuffleResult,
    ShuffleStage,
    StageConfig,
    ensure_decision_columns,
    with_decision,
)
from curation.stages.dedup.components import connected_components
from curation.text import minhash as mh
from curation.text import shingles as sh

DUP_CLUSTER_ID = "dup_cluster_id"
DUP_CLUSTER_SIZE = "dup_cluster_size"
DUP_FIELDS = (
    StructField(C.DUP_OF, StringType()),
    StructField(DUP_CLUSTER_ID, StringType()),
    StructField(DUP_CLUSTER_SIZE, LongType()),
)
# Lookup tables up to this many rows are broadcast to the join instead of shuffling the input
# rows (with their text) to them: ~100 bytes a row, so at most ~50 MB.
_BROADCAST_MAX_ROWS = 500_000
REASON_EXACT = "dedup:exact"
REASON_NEAR = "dedup:near"
INDEX_TABLE = "dedup_index"
INDEX_SCHEMA = StructType(
    [
        StructField("id", StringType(), False),
        StructField("text_hash", StringType(), False),
        StructField("survivor", StringType(), False),
        StructField("bands", ArrayType(LongType(), False), False),
        StructField("signature", BinaryType(), False),
        StructField("params", StringType(), False),
    ]
)

# Internal column names; the prefix keeps them clear of user columns.
_H, _RANK, _BEST, _W, _N, _NODE, _CBEST, _CW = (
    "_dd_h",
    "_dd_rank",
    "_dd_best",
    "_dd_w",
    "_dd_n",
    "_dd_node",
    "_dd_cbest",
    "_dd_cw",
)


# ---- configuration ---------------------------------------------------------------------------


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


class NearDedupConfig(StageConfig):
    """MinHash LSH near-duplicate removal at a Jaccard threshold over shingle sets."""

    kind: Literal["near_dedup"] = "near_dedup"
    # 0.8 Jaccard over word 5-grams: Lee et al. 2022, "Deduplicating Training Data Makes
    # Language Models Better" (NearDup).
    threshold: float = Field(
        0.8, gt=0.0, lt=1.0, description="Jaccard similarity at or above which two docs are dups."
    )
    shingle_unit: Literal["word", "char"] = Field(
        "word", description="Shingle over words (after normalisation) or over characters."
    )
    ngram: int = Field(5, ge=1, le=64, description="Units per shingle (Lee et al. 2022: 5 words).")
    # 128: datasketch's default; FineWeb uses 112 (14x8), text-dedup 256.
    num_perm: int = Field(128, ge=8, le=1024, description="MinHash permutations.")
    bands: int | None = Field(
        None,
        ge=1,
        le=1024,
        description="LSH bands; with rows, overrides the threshold-derived choice (e.g. 14 for "
        "FineWeb's 14x8). Set both or neither.",
    )
    rows: int | None = Field(None, ge=1, le=1024, description="Permutations per LSH band.")
    # Unset: datasketch's 0.5/0.5 without verification. With verification, false positives
    # are removed afterwards, so the bands are tuned for recall: 0.05/0.95 took F1 from 0.94 to
    # 0.996 at threshold 0.8 in benchmarks/dedup_accuracy.py, for 44% more candidate pairs.
    fp_weight: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Weight of the false-positive area when deriving bands from the threshold "
        "(default 0.5, or 0.05 when verify is on).",
    )
    fn_weight: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Weight of the false-negative area (default 0.5, or 0.95 when verify is on).",
    )
    seed: int = Field(1, ge=0, lt=2**32, description="Permutation seed (datasketch's default: 1).")
    scheme: mh.MinHashScheme = Field(
        "fast",
        description="'fast' (vectorised 64-bit shingle hash), 'datasketch' (bit-identical to "
        "datasketch 2.0.0 MinHash, affine32 + SHA-1; slower), 'datasketch_legacy' (datasketch 1.x).",
    )
    # Exact verification removes LSH false positives; measured in benchmarks/dedup_accuracy.py.
    verify: Literal["exact", "signature", "none"] = Field(
        "exact",
        description="Check each candidate pair: 'exact' = Jaccard of shingle sets, 'signature' = "
        "MinHash estimate, 'none' = every LSH candidate is a duplicate (FineWeb, datatrove).",
    )
    survivor: SurvivorPolicy = Field(
        default_factory=SurvivorPolicy, description="Which member of a cluster is kept."
    )
    max_cc_rounds: int = Field(
        100, ge=1, le=10_000, description="Bound on connected-components rounds (log^2 n worst)."
    )
    # 100k string pairs collect in about a second; distributed rounds cost a few Spark jobs each.
    cc_local_max_edges: int = Field(
        100_000,
        ge=0,
        le=10_000_000,
        description="Verified edges up to which components are finished on the driver with a "
        "union-find instead of distributed large-star/small-star rounds; 0 = always distributed.",
    )

    @model_validator(mode="after")
    def _lsh_shape(self) -> NearDedupConfig:
        if (self.bands is None) != (self.rows is None):
            raise ValueError(
                f"bands={self.bands}, rows={self.rows}: set both, or neither to derive them "
                "from threshold"
            )
        if self.bands is not None and self.bands * self.rows > self.num_perm:
            raise ValueError(
                f"bands*rows={self.bands * self.rows} exceeds num_perm={self.num_perm}; "
                "raise num_perm or lower bands/rows"
            )
        fp, fn = self.lsh_weights
        if fp + fn <= 0:
            raise ValueError("fp_weight and fn_weight are both 0; give at least one a weight")
        return self

    @property
    def lsh_weights(self) -> tuple[float, float]:
        """(fp_weight, fn_weight) with the verify-dependent defaults filled in."""
        fp_default, fn_default = (0.5, 0.5) if self.verify == "none" else (0.05, 0.95)
        return (
            fp_default if self.fp_weight is None else self.fp_weight,
            fn_default if self.fn_weight is None else self.fn_weight,
        )

    @property
    def lsh_params(self) -> tuple[int, int]:
        """(bands, rows): explicit, or datasketch's optimum for the threshold."""
        if self.bands is not None and self.rows is not None:
            return self.bands, self.rows
        return _optimal(self.threshold, self.num_perm, *self.lsh_weights)

    @property
    def params_key(self) -> str:
        """What makes band hashes comparable across runs; stored with the index."""
        b, r = self.lsh_params
        return f"{self.scheme}:{self.num_perm}:{self.seed}:{b}x{r}:{self.shingle_unit}{self.ngram}"


@lru_cache(maxsize=64)
def _optimal(threshold: float, num_perm: int, fp_w: float, fn_w: float) -> tuple[int, int]:
    return mh.optimal_lsh_params(threshold, num_perm, fp_w, fn_w)


# ---- shared helpers --------------------------------------------------------------------------


def _rank(df: DataFrame, policy: SurvivorPolicy, priority: int = 1) -> Column:
    """Orderable struct: the survivor of a group is the row with the smallest rank.

    ``priority`` comes first so indexed documents (priority 0) win over new ones.
    """
    fields: list[Column] = [F.lit(priority).alias("prio")]
    for crit in policy.order:
        if crit == "quality" and policy.quality_column in df.columns:
            q = F.col(policy.quality_column).cast("double")
            fields += [q.isNull().alias("q_null"), (-q).alias("q_neg")]
        elif crit == "length":
            fields.append((-F.length(F.coalesce(F.col(C.TEXT), F.lit("")))).alias("len_neg"))
        elif crit == "id":
            fields.append(F.col(C.ID).alias("id_order"))
    fields += [F.col(C.ID).alias("id"), F.col(_H).alias("h")]
    return F.struct(*fields)


def _weight(df: DataFrame) -> Column:
    """Documents a row stands for: an earlier dedup stage's cluster size, else 1."""
    if DUP_CLUSTER_SIZE in df.columns:
        return F.coalesce(F.col(DUP_CLUSTER_SIZE).cast("long"), F.lit(1).cast("long"))
    return F.lit(1).cast("long")


def _split(df: DataFrame) -> tuple[DataFrame, DataFrame | None]:
    """(rows still kept, rows an earlier stage dropped) with the dedup columns present."""
    df = ensure_decision_columns(df)
    for f in DUP_FIELDS:
        if f.name not in df.columns:
            df = df.withColumn(f.name, F.lit(None).cast(f.dataType))
    active = df.where(F.col(C.DROP_REASON).isNull())
    passive = df.where(F.col(C.DROP_REASON).isNotNull())
    return active, passive


def _decide(joined: DataFrame, stage_name: str, columns: Sequence[str]) -> DataFrame:
    """Set decisions on rows joined with their cluster's best rank (_CBEST) and size (_CW).

    Rows without a cluster (null _CBEST) are singletons and are kept.
    """
    best = F.col(_CBEST)
    survivor = best.isNull() | (
        (best["prio"] == 1) & (best["id"] == F.col(C.ID)) & (best["h"] == F.col(_H))
    )
    dropped = ~survivor
    out = with_decision(
        joined,
        stage_name,
        [(REASON_EXACT, dropped & (best["h"] == F.col(_H))), (REASON_NEAR, dropped)],
    )
    out = (
        out.withColumn(C.DUP_OF, F.when(dropped, best["id"]))
        .withColumn(DUP_CLUSTER_ID, F.coalesce(best["id"], F.col(C.ID)))
        .withColumn(DUP_CLUSTER_SIZE, F.coalesce(F.col(_CW), F.col(_W)))
    )
    return out.select(*columns)


def _with_passive(active_out: DataFrame, passive: DataFrame | None) -> DataFrame:
    return active_out if passive is None else active_out.unionByName(passive)


# ---- exact dedup -----------------------------------------------------------------------------


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
    active, passive = _split(df)
    columns = active.columns
    keyed = active.withColumn(_H, exact_key(cfg.normalization)).withColumn(_W, _weight(active))
    groups = (
        keyed.groupBy(_H)
        .agg(
            F.min(_rank(keyed, cfg.survivor)).alias(_CBEST),
            F.sum(_W).alias(_CW),
            F.count(F.lit(1)).alias(_N),
        )
        .where(F.col(_N) > 1)
        .drop(_N)
    )
    out = _decide(keyed.join(groups, _H, "left"), cfg.stage_name, columns)
    return _with_passive(out, passive)


class ExactDedup(ShuffleStage):
    config_class = ExactDedupConfig
    config: ExactDedupConfig

    def output_fields(self):
        return list(DUP_FIELDS)

    def apply(self, df: DataFrame, aux: Mapping[str, DataFrame | None]) -> ShuffleResult:
        return ShuffleResult(rows=exact_dedup(df, self.config))


# ---- near dedup: the Arrow kernels run on executors --------------------------------------------


def _signatures(texts: pa.Array, cfg: NearDedupConfig) -> tuple[np.ndarray, np.ndarray]:
    """(signatures (n, num_perm) uint32, has-shingles mask) for one Arrow array of texts."""
    hasher = mh.MinHasher(cfg.num_perm, cfg.seed, cfg.scheme)
    spans = sh.shingle_spans(sh.normalize(texts), cfg.ngram, cfg.shingle_unit)
    if cfg.scheme == "fast":
        inputs = hasher.input_hashes(sh.hash_shingles(spans))
    else:
        inputs = hasher.input_hashes(None, [s for d in range(len(texts)) for s in spans.strings(d)])
    return hasher.signatures(inputs, spans.offsets), np.diff(spans.offsets) > 0


def _sign_batches(cfg: NearDedupConfig, rank_type: pa.DataType):
    """Arrow pass: band hashes and signature of each row's text, computed once per distinct
    text of the batch (null on repeats and on texts without shingles)."""
    bands, rows = cfg.lsh_params
    item = pa.list_(pa.field("element", pa.int64(), nullable=False))
    out_schema = pa.schema(
        [
            pa.field(_H, pa.string()),
            pa.field(_RANK, rank_type),
            pa.field(_W, pa.int64()),
            pa.field("bands", item),
            pa.field("sig", pa.binary()),
        ]
    )

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            n = batch.num_rows
            codes = pc.dictionary_encode(batch.column(_H)).indices.to_numpy(zero_copy_only=False)
            first = np.unique(codes, return_index=True)[1]
            sigs, ok = _signatures(batch.column(C.TEXT).take(first), cfg)
            signed = np.zeros(n, dtype=bool)
            signed[first[ok]] = True
            sigs = sigs[ok]
            bh = mh.band_hashes(sigs, bands, rows).reshape(-1)
            band_off = np.concatenate([[0], np.cumsum(signed * bands)]).astype(np.int32)
            sig_off = np.concatenate([[0], np.cumsum(signed * cfg.num_perm * 4)]).astype(np.int32)
            yield pa.RecordBatch.from_arrays(
                [
                    batch.column(_H).cast(pa.string()),
                    batch.column(_RANK),
                    batch.column(_W).cast(pa.int64()),
                    pa.ListArray.from_arrays(
                        pa.array(band_off),
                        pa.array(bh, type=pa.int64()),
                        type=item,
                        mask=pa.array(~signed),
                    ),
                    pa.BinaryArray.from_buffers(
                        pa.binary(),
                        n,
                        [
                            _validity(signed),
                            pa.py_buffer(sig_off),
                            pa.py_buffer(sigs.astype("<u4").tobytes()),
                        ],
                    ),
                ],
                schema=out_schema,
            )

    return run


def _validity(valid: np.ndarray) -> pa.Buffer:
    """An Arrow validity bitmap (LSB first) for a boolean mask."""
    return pa.py_buffer(np.packbits(valid, bitorder="little").tobytes())


def _jaccard_batches(cfg: NearDedupConfig):
    """Exact Jaccard for pairs with both texts present, else the MinHash estimate."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            src_t, dst_t = batch.column("src_text"), batch.column("dst_text")
            est = _estimate(batch.column("src_sig"), batch.column("dst_sig"), cfg.num_perm)
            has_text = pc.and_(src_t.is_valid(), dst_t.is_valid()).to_numpy(zero_copy_only=False)
            j = est
            if cfg.verify == "exact" and has_text.any():
                idx = np.flatnonzero(has_text)
                j = est.copy()
                j[idx] = sh.pairwise_jaccard(
                    src_t.take(idx), dst_t.take(idx), cfg.ngram, cfg.shingle_unit
                )
            yield pa.RecordBatch.from_arrays(
                [batch.column("src"), batch.column("dst"), pa.array(j, type=pa.float64())],
                names=["src", "dst", "jaccard"],
            )

    return run


def _estimate(a: pa.Array, b: pa.Array, num_perm: int) -> np.ndarray:
    """MinHash estimate of Jaccard between two binary columns of little-endian uint32
    signatures; 0 where either side is missing."""
    out = np.zeros(len(a), dtype=np.float64)
    valid = np.flatnonzero(pc.and_(a.is_valid(), b.is_valid()).to_numpy(zero_copy_only=False))
    if len(valid):
        out[valid] = mh.estimated_jaccard(
            _sig_matrix(a.take(valid), num_perm), _sig_matrix(b.take(valid), num_perm)
        )
    return out


def _sig_matrix(arr: pa.Array, num_perm: int) -> np.ndarray:
    """(n, num_perm) uint32 from a null-free binary array of fixed-size signatures."""
    arr = arr.cast(pa.large_binary())
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[
        arr.offset : arr.offset + len(arr) + 1
    ]
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    if not np.all(np.diff(offsets) == num_perm * 4):
        raise ValueError(f"signatures are not {num_perm} uint32 values each")
    return data.view("<u4").reshape(len(arr), num_perm)


# ---- near dedup: the Spark plan ---------------------------------------------------------------


@dataclass
class NearDedupRun:
    """Everything one near-dedup run produced, for the stage and for inspection."""

    rows: DataFrame
    index_rows: DataFrame
    candidates: DataFrame  # distinct candidate pairs (src, dst) from the LSH stars
    edges: DataFrame  # pairs kept after verification
    rounds: int  # connected-components rounds


def with_minhash_signature(df: DataFrame, cfg: NearDedupConfig | None = None) -> DataFrame:
    """Add ``dup_minhash`` (array of num_perm uint32 values, as bigint) and ``dup_bands``
    (the LSH band hashes; null when the text has no shingle), for notebook use.
    """
    cfg = cfg or NearDedupConfig()
    bands, rows = cfg.lsh_params
    fields = [f for f in df.schema.fields if f.name not in ("dup_minhash", "dup_bands")]
    schema = StructType(
        [
            *fields,
            StructField("dup_minhash", ArrayType(LongType(), False)),
            StructField("dup_bands", ArrayType(LongType(), False)),
        ]
    )
    names = [f.name for f in fields]

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            n = batch.num_rows
            sigs, ok = _signatures(batch.column(C.TEXT), cfg)
            bh = mh.band_hashes(sigs, bands, rows)
            sig_off = np.arange(n + 1, dtype=np.int32) * cfg.num_perm
            band_off = np.arange(n + 1, dtype=np.int32) * bands
            item = pa.list_(pa.field("element", pa.int64(), nullable=False))
            yield pa.RecordBatch.from_arrays(
                [batch.column(x) for x in names]
                + [
                    pa.ListArray.from_arrays(
                        pa.array(sig_off), pa.array(sigs.reshape(-1).astype(np.int64)), type=item
                    ),
                    pa.ListArray.from_arrays(
                        pa.array(band_off),
                        pa.array(bh.reshape(-1)),
                        type=item,
                        mask=pa.array(~ok),
                    ),
                ],
                names=[*names, "dup_minhash", "dup_bands"],
            )

    return df.mapInArrow(run, schema)


def _check_index(index: DataFrame, cfg: NearDedupConfig) -> None:
    missing = [f.name for f in INDEX_SCHEMA.fields if f.name not in index.columns]
    if missing:
        raise ConfigError(
            f"{INDEX_TABLE} lacks columns {missing}; it was not written by near_dedup"
        )
    found = [r[0] for r in index.select("params").distinct().limit(3).collect()]
    other = [p for p in found if p != cfg.params_key]
    if other:
        raise ConfigError(
            f"{INDEX_TABLE} was built with params {other} but this run uses {cfg.params_key!r} "
            "(scheme:num_perm:seed:bands x rows:shingles); use the same near_dedup settings, or "
            "start a new index"
        )


def run_near_dedup(
    df: DataFrame, cfg: NearDedupConfig | None = None, index: DataFrame | None = None
) -> NearDedupRun:
    """Near-dedup ``df`` (kept rows), against an optional ``dedup_index`` of earlier runs.

    Runs Spark jobs (components are iterative); the returned ``rows`` is lazy over ``df`` and
    checkpointed intermediates, so cache ``df`` first if its lineage is expensive.
    """
    cfg = cfg or NearDedupConfig()
    active, passive = _split(df)
    columns = active.columns
    keyed = active.withColumn(_H, F.md5(F.coalesce(F.col(C.TEXT), F.lit("")))).withColumn(
        _W, _weight(active)
    )
    # 1-2. Sign every row in one Arrow pass (each distinct text of a batch once), then keep one
    #    node per distinct text. Signing before collapsing means the texts are never shuffled
    #    (collapsing first would shuffle all of them); collapsing before LSH means identical
    #    copies, however many, are one node.
    rank = _rank(keyed, cfg.survivor)
    rank_type = to_arrow_type(keyed.select(rank.alias(_RANK)).schema[_RANK].dataType)
    signed_rows = keyed.select(_H, rank.alias(_RANK), _W, C.TEXT).mapInArrow(
        _sign_batches(cfg, rank_type),
        StructType(
            [
                StructField(_H, StringType()),
                StructField(_RANK, keyed.select(rank.alias(_RANK)).schema[_RANK].dataType),
                StructField(_W, LongType()),
                StructField("bands", ArrayType(LongType(), False)),
                StructField("sig", BinaryType()),
            ]
        ),
    )
    # Partial (map-side) aggregation: 50,000 copies of a page cost one row per partition.
    groups = (
        signed_rows.groupBy(_H)
        .agg(
            F.min(_RANK).alias(_BEST),
            F.sum(_W).alias(_W),
            F.count(F.lit(1)).alias(_N),
            F.first("bands", ignorenulls=True).alias("bands"),
            F.first("sig", ignorenulls=True).alias("sig"),
        )
        .withColumn(_NODE, F.col(_BEST)["id"])
        .localCheckpoint()
    )
    signed = groups.where(F.col("bands").isNotNull()).select(_NODE, _H, "bands", "sig")

    idx = None
    if index is not None:
        _check_index(index, cfg)
        idx = index.select(
            F.col("id").alias(_NODE),
            F.col("text_hash").alias(_H),
            "bands",
            F.col("signature").alias("sig"),
            "survivor",
        )

    # 3. Candidates per (band, bucket): every member -> the bucket's smallest node (a star),
    #    and, when pairs are verified, every member -> the second smallest (a second star).
    #    At most 2(n-1) pairs per bucket, never n^2. The second star gives a member that fails
    #    against the smallest node another partner: in benchmarks/dedup_accuracy.py it recovers
    #    5 of the 6 duplicates (at 0.8) that the single star misses and verifying every pair of
    #    each bucket finds. (A path to the previous member recovers all 6, but its partners
    #    change whenever a bucket's membership does, which multiplies pairs in giant clusters.)
    members = signed.select(
        _NODE, F.posexplode("bands").alias("band", "bucket"), F.lit(False).alias("old")
    )
    if idx is not None:
        members = members.unionByName(
            idx.select(
                _NODE, F.posexplode("bands").alias("band", "bucket"), F.lit(True).alias("old")
            )
        )
    # Most buckets hold one document: find the others with a cheap count over (band, bucket)
    # keys alone, so that only their members are shuffled with node ids and sorted.
    shared = (
        members.groupBy("band", "bucket")
        .agg(F.count(F.lit(1)).alias("n"), F.max(~F.col("old")).alias("has_new"))
        .where((F.col("n") > 1) & F.col("has_new"))  # indexed docs only: nothing to decide
        .select("band", "bucket")
        .localCheckpoint()
    )
    members = members.join(_small(shared), ["band", "bucket"], "left_semi")
    in_order = Window.partitionBy("band", "bucket").orderBy(_NODE, "old")
    me = F.struct(F.col(_NODE).alias("node"), F.col("old").alias("old"))
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
    candidates = candidates.distinct().localCheckpoint()

    # 4. Verification.
    if cfg.verify == "none":
        edges = candidates.select("src", "dst")
    else:
        edges = _verify(candidates, keyed, groups, signed, idx, cfg).select("src", "dst")
    edges = edges.localCheckpoint()
    if idx is not None:
        # An indexed near-duplicate links to its cluster's survivor, so a new document similar
        # only to it still joins that cluster.
        linked = (
            edges.select(F.col("src").alias(_NODE))
            .unionByName(edges.select(F.col("dst").alias(_NODE)))
            .distinct()
        )
        hops = idx.join(linked, _NODE, "left_semi").where(F.col(_NODE) != F.col("survivor"))
        edges = edges.unionByName(
            hops.select(F.col(_NODE).alias("src"), F.col("survivor").alias("dst"))
        )

    # 5. Components.
    comps = connected_components(edges, cfg.max_cc_rounds, cfg.cc_local_max_edges)
    labels = comps.labels.withColumnRenamed("node", _NODE)

    # 6. Survivor and size per component, then per distinct text.
    node_rank = groups.select(_NODE, F.col(_BEST).alias("rank"), _W)
    if idx is not None:
        # Indexed documents rank first (prio 0): they are already published.
        old_rank = F.struct(
            F.lit(0).alias("prio"),
            *[
                F.lit(None).cast(f.dataType).alias(f.name)
                for f in groups.schema[_BEST].dataType.fields[1:-2]
            ],
            F.col(_NODE).alias("id"),
            F.col(_H).alias("h"),
        )
        survivors = idx.where(F.col(_NODE) == F.col("survivor"))
        node_rank = node_rank.unionByName(
            survivors.select(_NODE, old_rank.alias("rank"), F.lit(0).cast("long").alias(_W))
        )
    clusters = (
        labels.join(node_rank, _NODE)
        .groupBy("label")
        .agg(F.min("rank").alias(_CBEST), F.sum(_W).alias(_CW))
    )
    per_text = (
        groups.select(_H, _NODE, _BEST, _W, _N)
        .join(labels, _NODE, "left")
        .join(clusters, "label", "left")
        .where(F.col("label").isNotNull() | (F.col(_N) > 1))
        .select(
            _H,
            F.coalesce(F.col(_CBEST), F.col(_BEST)).alias(_CBEST),
            F.coalesce(F.col(_CW), F.col(_W)).alias(_CW),
        )
        .localCheckpoint()
    )
    rows = _with_passive(
        _decide(keyed.join(_small(per_text), _H, "left"), cfg.stage_name, columns), passive
    )
    index_rows = signed.join(per_text, _H, "left").select(
        F.col(_NODE).alias("id"),
        F.col(_H).alias("text_hash"),
        F.coalesce(F.col(_CBEST)["id"], F.col(_NODE)).alias("survivor"),
        "bands",
        F.col("sig").alias("signature"),
        F.lit(cfg.params_key).alias("params"),
    )
    return NearDedupRun(rows, index_rows, candidates.select("src", "dst"), edges, comps.rounds)


def _small(df: DataFrame) -> DataFrame:
    """``df`` with a broadcast hint when it has few rows (it is checkpointed, so counting is
    cheap): joining it then ships it to every task instead of shuffling the large side."""
    return F.broadcast(df) if df.count() <= _BROADCAST_MAX_ROWS else df


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
    are few: their texts (new nodes, exact mode) and their signatures (signature mode, or
    indexed nodes, which have no text here).
    """
    ends = candidates.select(F.col("src").alias(_NODE), F.col("src_old").alias("old"))
    ends = ends.unionByName(
        candidates.select(F.col("dst").alias(_NODE), F.col("dst_old").alias("old"))
    )
    nodes = ends.distinct().localCheckpoint()
    need_sigs = cfg.verify == "signature" or idx is not None
    sigs = texts = None
    if need_sigs:
        sigs = signed.select(_NODE, "sig")
        if idx is not None:
            sigs = sigs.unionByName(idx.select(_NODE, "sig"))
        sigs = sigs.join(_small(nodes.select(_NODE).distinct()), _NODE, "left_semi")
        sigs = sigs.dropDuplicates([_NODE])
    if cfg.verify == "exact":
        new_nodes = nodes.where(~F.col("old")).join(groups.select(_NODE, _H), _NODE)
        # Match on id first (a broadcast semi-join, no MD5 over every row), then on the text
        # hash, which only matters if ids repeat.
        texts = (
            keyed.select(F.col(C.ID).alias(_NODE), C.TEXT)
            .join(_small(new_nodes.localCheckpoint()), _NODE)
            .where(F.md5(F.coalesce(F.col(C.TEXT), F.lit(""))) == F.col(_H))
            .select(_NODE, C.TEXT)
            .dropDuplicates([_NODE])
        )
    pairs = candidates
    for side in ("src", "dst"):
        if sigs is not None:
            named = sigs.select(F.col(_NODE).alias(side), F.col("sig").alias(f"{side}_sig"))
            pairs = pairs.join(named, side, "left")
        else:
            pairs = pairs.withColumn(f"{side}_sig", F.lit(None).cast("binary"))
        if texts is not None:
            named = texts.select(F.col(_NODE).alias(side), F.col(C.TEXT).alias(f"{side}_text"))
            pairs = pairs.join(named, side, "left")
        else:
            pairs = pairs.withColumn(f"{side}_text", F.lit(None).cast("string"))
    scored = pairs.select("src", "dst", "src_text", "dst_text", "src_sig", "dst_sig").mapInArrow(
        _jaccard_batches(cfg),
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
    config: NearDedupConfig

    def output_fields(self):
        return list(DUP_FIELDS)

    def aux_tables(self) -> Sequence[str]:
        return (INDEX_TABLE,)

    def apply(self, df: DataFrame, aux: Mapping[str, DataFrame | None]) -> ShuffleResult:
        run = run_near_dedup(df, self.config, aux.get(INDEX_TABLE))
        return ShuffleResult(rows=run.rows, aux={INDEX_TABLE: run.index_rows})
