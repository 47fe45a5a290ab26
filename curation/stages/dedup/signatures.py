"""MinHash signatures and similarity scores of texts, as Arrow batch functions for executors.

The batch functions run inside ``mapInArrow`` on executors: one vectorised Python pass per
batch instead of a Python UDF per row. ``sign_batches`` signs each distinct text of a batch once (shingles ->
MinHash -> LSH band hashes); ``jaccard_batches`` scores candidate pairs; ``with_minhash_signature``
exposes the signature and band hashes as columns, for notebook use.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame
from pyspark.sql.types import ArrayType, LongType, StructField, StructType

from curation import columns as C
from curation.stages.dedup.common import RANK, H, W
from curation.stages.dedup.near_config import NearDedupConfig
from curation.text import minhash as mh
from curation.text import shingles as sh


def _signatures(texts: pa.Array, cfg: NearDedupConfig) -> tuple[np.ndarray, np.ndarray]:
    """(signatures (n, num_perm) uint32, has-shingles mask) for one Arrow array of texts."""
    hasher = mh.MinHasher(cfg.num_perm, cfg.seed, cfg.scheme)
    spans = sh.shingle_spans(sh.normalize(texts), cfg.ngram, cfg.shingle_unit)
    if cfg.scheme == "fast":
        inputs = hasher.input_hashes(sh.hash_shingles(spans))
    else:
        inputs = hasher.input_hashes(None, [s for d in range(len(texts)) for s in spans.strings(d)])
    return hasher.signatures(inputs, spans.offsets), np.diff(spans.offsets) > 0


def sign_batches(cfg: NearDedupConfig, rank_type: pa.DataType):
    """Arrow pass: band hashes and signature of each row's text, computed once per distinct
    text of the batch (null on repeats and on texts without shingles)."""
    bands, rows = cfg.lsh_params
    item = pa.list_(pa.field("element", pa.int64(), nullable=False))
    out_schema = pa.schema(
        [
            pa.field(H, pa.string()),
            pa.field(RANK, rank_type),
            pa.field(W, pa.int64()),
            pa.field("bands", item),
            pa.field("sig", pa.binary()),
        ]
    )

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            n = batch.num_rows
            codes = pc.dictionary_encode(batch.column(H)).indices.to_numpy(zero_copy_only=False)
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
                    batch.column(H).cast(pa.string()),
                    batch.column(RANK),
                    batch.column(W).cast(pa.int64()),
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


def jaccard_batches(cfg: NearDedupConfig):
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
