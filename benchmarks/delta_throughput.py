"""Throughput of the rust Delta engine (Spark writes Parquet, delta-rs commits) on synthetic docs.

    .venv/bin/python benchmarks/delta_throughput.py --docs 100000 --doc-bytes 3000

Generates ``--docs`` documents of about ``--doc-bytes`` bytes of word-like text into a plain
Parquet source (untimed), then times, each ``--repeat`` times on a fresh table:
  * ``parquet_write``: Spark writing the same data as plain Parquet (the floor the engine adds to);
  * ``delta_write``: ``store.write`` (Parquet files + footer stats + one delta-rs commit);
  * ``delta_read``: ``store.read`` and a full scan of every column;
and the driver-side part of each delta write (footer reads and stats, the delta-rs commit). It
prints one JSON object with the best and all timings and docs/s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pyspark.sql import functions as F  # noqa: E402

from curation.delta import open_store  # noqa: E402
from curation.session import SparkSettings, get_session  # noqa: E402

# A small vocabulary drawn with a skew (early words far more common), so zstd sees text-like data.
WORDS = (  # noqa: SIM905 - reads better as prose
    "the of and to in a is that for it as was with be by on not he i this are or his from at "
    "which but have an they you were her she there been one all we their has would when if so "
    "language model corpus filter quality document training data web page crawl duplicate token "
    "sentence paragraph english wikipedia article history science music city river government"
).split()


def synthetic_docs(spark, docs: int, doc_bytes: int, partitions: int):
    # Word k is drawn with probability sqrt((k+1)/n) - sqrt(k/n) (see below): size docs by the
    # expected bytes per word, its space included.
    n = len(WORDS)
    per_word = sum(
        (((k + 1) / n) ** 0.5 - (k / n) ** 0.5) * (len(w) + 1) for k, w in enumerate(WORDS)
    )
    words_per_doc = max(1, round(doc_bytes / per_word))
    vocab = F.array(*[F.lit(w) for w in WORDS])
    return spark.range(docs, numPartitions=partitions).select(
        F.format_string("doc-%08d", "id").alias("id"),
        F.array_join(
            F.transform(
                F.sequence(F.lit(1), F.lit(words_per_doc)),
                # u in [0, 1) from a hash; u*u favours the first (most common) words.
                lambda i: F.element_at(
                    vocab,
                    (
                        F.pow(F.pmod(F.xxhash64("id", i), F.lit(1_000_003)) / 1_000_003, 2)
                        * len(WORDS)
                    ).cast("int")
                    + 1,
                ),
            ),
            " ",
        ).alias("text"),
        F.lit("synthetic").alias("source"),
        (F.col("id") % 7).cast("int").alias("bucket"),
        F.current_timestamp().alias("fetched"),
    )


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--doc-bytes", type=int, default=3000)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--work-dir", type=Path, default=None)
    args = parser.parse_args()

    t0 = time.perf_counter()
    spark = get_session(
        SparkSettings(master=args.master, ui=False, driver_memory="4g", shuffle_partitions=8)
    )
    spark_start = time.perf_counter() - t0
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="delta-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    source = work / "source"
    shutil.rmtree(source, ignore_errors=True)
    synthetic_docs(spark, args.docs, args.doc_bytes, args.partitions).write.parquet(str(source))
    docs = spark.read.parquet(str(source))
    text_bytes = docs.agg(F.sum(F.length("text"))).first()[0]

    store = open_store(spark, "rust")
    runs: dict[str, list[float]] = {"parquet_write": [], "delta_write": [], "delta_read": []}
    # The driver-side part of a rust-engine write (footers + stats + commit), measured apart.
    phases: dict[str, list[float]] = {"footers_and_stats": [], "commit": []}
    for name, method in (("footers_and_stats", "_data_files"), ("commit", "_commit")):
        original = getattr(store, method)

        def measured(*a, _original=original, _name=name, **kw):
            start = time.perf_counter()
            try:
                return _original(*a, **kw)
            finally:
                phases[_name].append(time.perf_counter() - start)

        setattr(store, method, measured)
    for i in range(args.repeat):
        plain, table = work / f"plain-{i}", work / f"table-{i}"
        shutil.rmtree(plain, ignore_errors=True)
        shutil.rmtree(table, ignore_errors=True)
        runs["parquet_write"].append(timed(lambda p=plain: docs.write.parquet(str(p))))
        runs["delta_write"].append(timed(lambda t=table: store.write(docs, str(t))))
        # Hash every column so the scan cannot skip one.
        scan = store.read(str(table)).select(F.bit_xor(F.xxhash64(*docs.columns)))
        runs["delta_read"].append(timed(scan.collect))
        shutil.rmtree(plain, ignore_errors=True)
        shutil.rmtree(table, ignore_errors=True)
    result = {
        "docs": args.docs,
        "mean_doc_bytes": round(text_bytes / args.docs),
        "master": args.master,
        "spark_start_s": round(spark_start, 2),
        "load_avg_1m": os.getloadavg()[0],
        "cpus": os.cpu_count(),
        "best_s": {k: round(min(v), 2) for k, v in runs.items()},
        "all_s": {k: [round(x, 2) for x in v] for k, v in runs.items()},
        "driver_side_of_delta_write_s": {k: [round(x, 3) for x in v] for k, v in phases.items()},
        "docs_per_s": {k: round(args.docs / min(v)) for k, v in runs.items()},
        "text_mb_per_s": {k: round(text_bytes / 1e6 / min(v), 1) for k, v in runs.items()},
    }
    print(json.dumps(result, indent=2))
    if args.work_dir is None:
        shutil.rmtree(work, ignore_errors=True)
    spark.stop()


if __name__ == "__main__":
    main()
