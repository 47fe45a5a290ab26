"""The join path of the decontaminate stage: for benchmark indexes too large to ship.

The broadcast path (``decontaminate``) ships the sorted index to every executor and looks each
document's n-grams up in it. Here the index stays a DataFrame of ``(hash, item)`` rows instead,
and the documents' n-gram hashes become one too (an Arrow pass over the documents: every gram of
every length the index holds, each distinct hash of a document once, plus one row carrying the
document's n-gram count). A join on the hash finds the shared grams, and aggregations per
document give the columns the broadcast path computes, with the same tie rule for
``contaminated_by`` (largest share of an item's grams, then more grams found, then the earlier
item). Nothing about a document reaches the driver; the index is built there, as for the
broadcast path, from the benchmark items (``decontaminate_index.build_benchmark_index``).

``action: remove_spans`` takes the hashes each document matched along to a second Arrow pass,
which cuts the spans with the same code as the broadcast path (the document's matches form a
small index of their own).

The stage is a shuffle stage (its pass is materialised like dedup's), but its decisions are the
same column rules as the broadcast stage's: ``curation whatif`` re-decides a join run from the
stored columns as it does a broadcast run (what-if builds the stage from the recipe, before any
index exists, and so sees the row stage).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import LongType, StringType, StructField, StructType

from curation import columns as C
from curation.stages.base import ShuffleResult, ShuffleStage, with_decision
from curation.stages.decontaminate_index import BuiltIndex
from curation.text.ngrams_hash import (
    NgramIndex,
    cut_spans,
    grams,
    matched_char_spans,
    normalize_words,
    word_counts,
)

_KEY, _HASH, _GRAMS, _ITEM = "_decon_key", "_decon_hash", "_decon_grams", "_decon_item"
_FOUND = "_decon_found"
_GRAM_SCHEMA = StructType(
    [
        StructField(_KEY, StringType()),
        StructField(_HASH, LongType()),
        StructField(_GRAMS, LongType()),
    ]
)


class DecontaminateJoin(ShuffleStage):
    """The decontaminate stage with its index joined instead of shipped (same columns, rules)."""

    def __init__(self, row_stage: Any, built: BuiltIndex):
        """``row_stage``: the broadcast ``Decontaminate`` stage whose columns and rules these are."""
        super().__init__(row_stage.config)
        self.config_class = row_stage.config_class
        self.decision_fields = row_stage.decision_fields
        self.report_section = row_stage.report_section
        self.row_stage = row_stage
        self.built = built

    def output_fields(self):
        return self.row_stage.output_fields()

    def thresholds(self, cutoffs=None):
        return self.row_stage.thresholds()

    def run_details(self, cutoffs=None) -> dict[str, Any]:
        return self.row_stage.run_details()

    def apply(self, df: DataFrame, aux: Mapping[str, DataFrame | None]) -> ShuffleResult:
        spark = df.sparkSession
        cfg, index = self.config, self.built.index
        removes = self.row_stage._removes()  # noqa: SLF001 - the row stage's own reading
        signals = document_signals(df, index, self.built.labels, cfg.ngram, spark, removes)
        rows = df.join(signals, on=C.ID, how="left")
        text_null = F.col(C.TEXT).isNull()
        rows = (
            rows.withColumn("decon_ngrams", _null_if(text_null, F.col("decon_ngrams")))
            .withColumn("decon_matches", _zero(text_null, "decon_matches"))
            .withColumn("decon_items", _zero(text_null, "decon_items"))
            .withColumn(
                "decon_item_frac",
                F.when(text_null, F.lit(None).cast("double")).otherwise(
                    F.coalesce(F.col("decon_item_frac"), F.lit(0.0))
                ),
            )
        )
        if removes:
            rows = cut_matched(rows, index.lengths, cfg.ngram)
        # the broadcast path's column order: the input's (text rewritten in place), then the rest
        added = [f.name for f in self.output_fields() if f.name not in df.columns]
        rows = rows.select(*df.columns, *added)
        decided = with_decision(rows, self.name, self.row_stage.rules(rows, {}))
        return ShuffleResult(decided)


def _null_if(cond, col):
    return F.when(cond, F.lit(None)).otherwise(col).cast("int")


def _zero(text_null, name: str):
    return F.when(text_null, F.lit(None)).otherwise(F.coalesce(F.col(name), F.lit(0))).cast("int")


def document_signals(
    df: DataFrame, index: NgramIndex, labels: list[str], n: int, spark: Any, found: bool
) -> DataFrame:
    """Per document id: decon_ngrams, decon_matches, decon_items, decon_item_frac,
    contaminated_by, and with ``found`` the matched hashes (``_decon_found``, remove_spans)."""
    lengths = sorted(set(index.lengths) | {n})
    doc_grams = df.select(C.ID, C.TEXT).mapInArrow(
        lambda batches: _explode(batches, lengths, n), _GRAM_SCHEMA
    )
    counts = doc_grams.filter(F.col(_HASH).isNull()).select(
        F.col(_KEY).alias(C.ID), F.col(_GRAMS).cast("int").alias("decon_ngrams")
    )
    index_rows = spark.createDataFrame(
        pa.table(
            {
                _HASH: pa.array(index.hashes.view(np.int64)),
                _ITEM: pa.array(index.items.astype(np.int64)),
            }
        )
    )
    items = spark.createDataFrame(
        pa.table(
            {
                _ITEM: pa.array(np.arange(len(labels), dtype=np.int64)),
                "_decon_item_grams": pa.array(index.item_grams.astype(np.int64)),
                "contaminated_by": pa.array(labels, pa.string()),
            }
        )
    )
    pairs = doc_grams.filter(F.col(_HASH).isNotNull()).join(index_rows, on=_HASH)
    matched = [F.countDistinct(_HASH).cast("int").alias("decon_matches")]
    per_doc = pairs.groupBy(_KEY).agg(*matched, *([F.collect_set(_HASH).alias(_FOUND)] * found))
    # (document, item): grams found; a (document, hash) pair is distinct, so count() is exact
    per_item = (
        pairs.groupBy(_KEY, _ITEM)
        .agg(F.count(F.lit(1)).alias("_per"))
        .join(F.broadcast(items), on=_ITEM)
        .withColumn("_frac", F.col("_per") / F.col("_decon_item_grams"))
    )
    # the best item: the largest share, then more grams found, then the earlier item
    best = per_item.groupBy(_KEY).agg(
        F.count(F.lit(1)).cast("int").alias("decon_items"),
        F.min(
            F.struct(
                (-F.col("_frac")).alias("a"),
                (-F.col("_per")).alias("b"),
                F.col(_ITEM).alias("c"),
                F.col("contaminated_by").alias("label"),
                F.col("_frac").alias("frac"),
            )
        ).alias("_best"),
    )
    found = per_doc.join(best, on=_KEY).select(
        F.col(_KEY).alias(C.ID),
        "decon_matches",
        "decon_items",
        F.col("_best.frac").alias("decon_item_frac"),
        F.col("_best.label").alias("contaminated_by"),
        *([_FOUND] * found),
    )
    return counts.join(found, on=C.ID, how="left")


def _explode(
    batches: Iterator[pa.RecordBatch], lengths: list[int], n: int
) -> Iterator[pa.RecordBatch]:
    """Each document's distinct gram hashes (every length), and one row with its n-gram count."""
    for batch in batches:
        ids = batch.column(0)
        text = batch.column(1)
        normalized = normalize_words(text)
        counts = word_counts(normalized)
        docs, hashes = [], []
        for k in lengths:
            g = grams(normalized, k, counts)
            docs.append(g.doc)
            hashes.append(g.hashes.view(np.int64))
        doc = np.concatenate(docs) if docs else np.zeros(0, np.int64)
        h = np.concatenate(hashes) if hashes else np.zeros(0, np.int64)
        if len(doc):  # a gram repeated in a document counts once
            pairs = np.unique(np.stack([doc, h]), axis=1)
            doc, h = pairs[0], pairs[1]
        present = np.flatnonzero(~text.is_null().to_numpy(zero_copy_only=False))
        key = pa.concat_arrays(
            [ids.take(pa.array(doc)).cast(pa.string()), ids.take(pa.array(present))]
        )
        hash_col = pa.concat_arrays([pa.array(h, pa.int64()), pa.nulls(len(present), pa.int64())])
        ngrams = np.maximum(counts[present] - n + 1, 0)
        gram_col = pa.concat_arrays(
            [pa.nulls(len(doc), pa.int64()), pa.array(ngrams.astype(np.int64))]
        )
        yield pa.RecordBatch.from_arrays([key.cast(pa.string()), hash_col, gram_col], schema=_ARROW)


_ARROW = pa.schema([(_KEY, pa.string()), (_HASH, pa.int64()), (_GRAMS, pa.int64())])


def cut_matched(rows: DataFrame, lengths: tuple[int, ...], n: int) -> DataFrame:
    """remove_spans: cut what each document's matched hashes cover, as the broadcast path does."""
    orig, removed = "decon_orig_chars", "decon_removed_chars"
    schema = StructType(
        [f for f in rows.schema.fields if f.name != _FOUND]
        + [StructField(orig, LongType()), StructField(removed, LongType())]
    )
    names = [f.name for f in schema.fields]
    sizes = tuple(lengths)

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            cols = batch.to_pydict()
            texts, found = cols[C.TEXT], cols.pop(_FOUND)
            new_texts, o, r = [], [], []
            for text, hashes in zip(texts, found, strict=True):
                if text is None:
                    new_texts.append(None)
                    o.append(None)
                    r.append(None)
                    continue
                new = text
                if hashes:
                    mini = NgramIndex(
                        np.sort(np.array(hashes, np.int64).view(np.uint64)),
                        np.zeros(len(hashes), np.int32),
                        np.zeros(0, np.int32),
                        sizes,
                    )
                    spans = matched_char_spans(mini, text, n)
                    new = cut_spans(text, spans) if spans else text
                new_texts.append(new)
                o.append(len(text))
                r.append(len(text) - len(new))
            cols[C.TEXT], cols[orig], cols[removed] = new_texts, o, r
            yield pa.RecordBatch.from_pydict(
                {k: cols[k] for k in names}, schema=_arrow_schema(batch.schema, names)
            )

    out = rows.mapInArrow(run, schema)
    return out.withColumn(orig, F.col(orig).cast("int")).withColumn(
        removed, F.col(removed).cast("int")
    )


def _arrow_schema(inp: pa.Schema, names: list[str]) -> pa.Schema:
    fields = {f.name: f for f in inp}
    return pa.schema([fields[n] if n in fields else pa.field(n, pa.int64()) for n in names])
