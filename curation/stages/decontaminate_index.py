"""The benchmark n-gram index of the decontaminate stage: read the benchmarks, hash, ship.

On the driver, once per run (``build_shipped_index``, called from the stage's ``prepare``): each
benchmark file is read with Spark (JSONL, Parquet or Delta, any path Spark reads), only its id
and text fields reach the driver, the items' grams are hashed (``curation.text.ngrams_hash``),
and the index is written as three ``.npy`` files plus the item labels, shipped to executors
with the model-file mechanism (``curation.models.ship_model``).

On executors, ``load_index`` memory-maps the ``.npy`` files once per Python worker: the pages
come from the OS page cache, so the Python workers of one machine share one copy of the index
instead of holding one each.

Where the limit is: an index row is 12 bytes (a 64-bit hash and a 32-bit item number). A
benchmark item of ~100 words gives ~90 13-grams, so 100,000 items are ~9M rows, ~110 MB; the
default ``max_index_ngrams`` (100M rows, 1.2 GB on every executor's local disk and page cache)
covers about a million such items. Above ``join_above_ngrams`` (``method: auto``) or with
``method: join`` the index is not shipped at all: ``decontaminate_join`` joins it, as a
DataFrame, with the documents' n-gram hashes.

As with model files, Python workers keep what they loaded for the whole session: a benchmark
file rewritten in place between two runs in one session (a notebook) is read again by
``prepare``, but workers that scored the first run keep its index; save a changed benchmark
under a new path.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field
from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from curation.delta import open_store
from curation.errors import ConfigError
from curation.frozen import FrozenModel
from curation.models import ModelRef, cached_model, ship_model, staging_dir
from curation.readers import detect_format
from curation.spark_compat import error_condition, to_arrow
from curation.text.ngrams_hash import NgramIndex, build_index, count_index_rows, normalize_words

BENCHMARK_NAME = r"^[A-Za-z0-9_.-]{1,64}$"


class BenchmarkSource(FrozenModel):
    """One benchmark file (or table) and the fields that make an item's text."""

    name: str = Field(
        pattern=BENCHMARK_NAME,
        description="Label used in contaminated_by ('<name>:<item id>') and the run details.",
    )
    path: str = Field(
        min_length=1, description="JSONL/Parquet file, directory or glob, or a Delta table root."
    )
    format: Literal["auto", "jsonl", "parquet", "delta"] = Field(
        "auto", description="auto: Delta for a table root, else the file extensions decide."
    )
    # Question and answer together, as datatrove's indexer does (it also indexes the n-grams
    # that straddle the two); a field holding a list (e.g. answer choices) is joined line by line.
    fields: tuple[str, ...] = Field(
        min_length=1,
        max_length=32,
        description="Fields whose text, joined in this order, is the item (e.g. [question, "
        "answer]); dotted names reach into structs.",
    )
    id_field: str | None = Field(
        None,
        min_length=1,
        description="Field with the item id; unset: the row number in the order Spark reads "
        "the files (stable for a single file).",
    )


@dataclass
class ShippedIndex:
    """Where executors find the index, and what the driver learned building it."""

    hashes: ModelRef
    items: ModelRef
    item_grams: ModelRef
    labels: ModelRef
    lengths: tuple[int, ...]
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Items:
    ids: list[str]
    texts: pa.Array


def read_items(spark: Any, source: BenchmarkSource, where: str) -> _Items:
    """The ids and joined texts of one benchmark's items (only these columns reach the driver)."""
    df = _read(spark, source, where)
    columns = [_text_of(df, name, f"{where}.fields") for name in source.fields]
    text = F.concat_ws("\n", *columns)
    if source.id_field is None:
        picked = df.select(text.alias("text"))
    else:
        picked = df.select(
            _column(df, source.id_field, f"{where}.id_field").cast("string").alias("id"),
            text.alias("text"),
        )
    table = to_arrow(picked)
    texts = table.column("text").combine_chunks()
    if source.id_field is None:
        ids = [str(i) for i in range(len(texts))]
    else:
        ids = [
            str(i) if i is not None else f"row{k}" for k, i in enumerate(table["id"].to_pylist())
        ]
    return _Items(ids, texts)


def _read(spark: Any, source: BenchmarkSource, where: str) -> DataFrame:
    fmt = source.format
    try:
        if fmt == "auto":
            fmt = detect_format(spark, source.path)
        if fmt == "jsonl":
            return spark.read.json(source.path)
        if fmt == "parquet":
            return spark.read.parquet(source.path)
        if fmt == "delta":
            return open_store(spark).read(source.path)
    except AnalysisException as err:
        raise ConfigError(
            f"{where}.path={source.path!r} cannot be read as {fmt} ({error_condition(err)}); "
            "check the path and format"
        ) from None
    except ConfigError as err:  # the reader's words name input.*: say which benchmark instead
        raise ConfigError(str(err).replace("input.", f"{where}.")) from None
    raise ConfigError(
        f"{where}.path={source.path!r} is {fmt}; benchmarks are read as jsonl, parquet or delta"
    )


def _column(df: DataFrame, name: str, where: str):
    try:
        df.select(F.col(name)).schema  # noqa: B018 - resolves the name or raises
    except AnalysisException:
        cols = ", ".join(df.columns[:20])
        raise ConfigError(
            f"{where}: {name!r} is not a field of the benchmark (fields: {cols}); fix the name"
        ) from None
    return F.col(name)


def _text_of(df: DataFrame, name: str, where: str):
    col = _column(df, name, where)
    dtype = df.select(col).schema.fields[0].dataType
    if isinstance(dtype, T.ArrayType):
        return F.concat_ws("\n", col.cast("array<string>"))
    if isinstance(dtype, (T.StructType, T.MapType)):
        raise ConfigError(
            f"{where}: {name!r} is a {dtype.simpleString()}, not text; name the text field "
            f"inside it (e.g. {name}.text)"
        )
    return col.cast("string")


@dataclass
class BuiltIndex:
    """The benchmarks' index on the driver, before it goes to executors (either path)."""

    index: NgramIndex
    labels: list[str]
    details: dict[str, Any]
    bound: int  # the upper bound of index rows count_index_rows gave (what the limits compare)


def build_benchmark_index(
    spark: Any,
    sources: Sequence[BenchmarkSource],
    n: int,
    min_words: int,
    max_rows: int | None,
    stage: str,
    template_min_items: int | None = None,
) -> BuiltIndex:
    """Read every benchmark and build one index over all their items (on the driver: only the
    items' ids and texts come here, never documents). ``max_rows``: refuse a larger index."""
    t0 = time.monotonic()
    labels: list[str] = []
    texts: list[pa.Array] = []
    per_bench: dict[str, dict[str, int]] = {}
    for i, source in enumerate(sources):
        items = read_items(spark, source, f"{stage}.benchmarks[{i}] ({source.name})")
        labels += [f"{source.name}:{item_id}" for item_id in items.ids]
        texts.append(items.texts.cast(pa.large_string()))
        per_bench[source.name] = {"items": len(items.ids)}
    all_texts = pa.concat_arrays(texts) if texts else pa.array([], pa.large_string())
    bound = count_index_rows(normalize_words(all_texts), n, min_words)
    if max_rows is not None and bound > max_rows:
        raise ConfigError(
            f"{stage}: the benchmarks give up to {bound:,} n-grams, above max_index_ngrams="
            f"{max_rows:,} ({max_rows * 12 / 1e9:.1f} GB on every executor); set method: join "
            "(or auto) to join them with the documents instead of shipping them, or raise "
            "max_index_ngrams if executors have the disk and page cache"
        )
    index, counts = build_index(all_texts, n, min_words, template_min_items)
    start = 0
    for source in sources:
        stop = start + per_bench[source.name]["items"]
        c, g = counts[start:stop], index.item_grams[start:stop]
        per_bench[source.name].update(
            indexed=int((g > 0).sum()),
            whole_item=int(((c >= min_words) & (c < n)).sum()),
            too_short=int(((c > 0) & (c < min_words)).sum()),
            empty=int((c == 0).sum()),
            template_only=int(((c >= min_words) & (g == 0)).sum()),
        )
        start = stop
    details = {
        "benchmarks": per_bench,
        "index_ngrams": len(index.hashes),
        "index_mb": round(index.nbytes / 1e6, 3),
        "gram_lengths": list(index.lengths),
        "index_seconds": round(time.monotonic() - t0, 3),
    }
    return BuiltIndex(index, labels, details, bound)


def ship_index(spark: Any, built: BuiltIndex) -> ShippedIndex:
    """Write the index as ``.npy`` files and ship them to executors (the broadcast path)."""
    index, labels = built.index, built.labels
    folder = tempfile.mkdtemp(prefix="decon-", dir=staging_dir())
    digest = hashlib.sha1(index.hashes.tobytes() + json.dumps(labels).encode()).hexdigest()[:12]
    paths = {}
    for part, array in (
        ("hashes", index.hashes),
        ("items", index.items),
        ("item_grams", index.item_grams),
    ):
        paths[part] = os.path.join(folder, f"decon-{digest}-{part}.npy")
        np.save(paths[part], array)
    paths["labels"] = os.path.join(folder, f"decon-{digest}-labels.json")
    with open(paths["labels"], "w", encoding="utf-8") as fh:
        json.dump(labels, fh)
    refs = {part: ship_model(spark, path) for part, path in paths.items()}
    return ShippedIndex(
        refs["hashes"],
        refs["items"],
        refs["item_grams"],
        refs["labels"],
        index.lengths,
        built.details,
    )


def _load_npy(path: str) -> np.ndarray:
    return np.load(path, mmap_mode="r")


def _load_labels(path: str) -> list[str]:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def load_index(shipped: ShippedIndex) -> tuple[NgramIndex, list[str]]:
    """The index and item labels in this process (memory-mapped, loaded once per worker)."""
    index = NgramIndex(
        cached_model(shipped.hashes, _load_npy),
        cached_model(shipped.items, _load_npy),
        cached_model(shipped.item_grams, _load_npy),
        shipped.lengths,
    )
    return index, cached_model(shipped.labels, _load_labels)


def labels_of(labels: Sequence[str], best: np.ndarray) -> pa.Array:
    """``contaminated_by`` for each document: the best item's label, or null."""
    picked = [labels[i] if i >= 0 else None for i in best.tolist()]
    return pa.array(picked, type=pa.string())
