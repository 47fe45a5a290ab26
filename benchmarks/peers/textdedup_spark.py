"""text-dedup 0.3.1's ``minhash_spark.py`` (PySpark 3.5), run unchanged, as a peer runner.

Run: ``.venv-peers/bin/python benchmarks/peers/textdedup_spark.py --input DIR --threshold 0.8
--workers 2 --out result.json``. Their script reads a BigQuery table; a shim on
``DataFrameReader.format`` turns format "bigquery" into a Parquet read of the ``table`` option
(every other format is untouched). Their script writes the kept rows as JSON lines; removed ids
are the input ids missing from that output.
"""

from __future__ import annotations

import importlib.metadata
import os
import runpy
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import parse_args, write_result  # noqa: E402

NUM_PERM, NGRAM = 256, 5  # text-dedup's defaults, passed explicitly on its CLI


class _BigQueryAsParquet:
    """Stands in for ``spark.read.format("bigquery")``: collects options, loads Parquet."""

    def __init__(self, reader):
        self._reader, self._options = reader, {}

    def option(self, key, value):
        self._options[key] = value
        return self

    def load(self):
        return self._reader.parquet(self._options["table"])


def main() -> None:
    args = parse_args(__doc__.split("\n\n")[0])
    # Python workers must be this venv's interpreter (numpy, text_dedup), not whatever is on PATH.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    from pyspark.sql import DataFrameReader, SparkSession

    work = Path(tempfile.mkdtemp(prefix="peer_textdedup_"))
    try:
        t_session = time.perf_counter()
        # Created first so their builder.config(conf=conf).getOrCreate() returns this session:
        # that is where the master and memory come from (their script sets neither).
        spark = (
            SparkSession.builder.master(f"local[{args.workers}]")
            .config("spark.driver.memory", "4g")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")  # thousands of stage bars otherwise
            .config("spark.local.dir", str(work / "spark-local"))
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("WARN")
        session_seconds = time.perf_counter() - t_session

        original_format = DataFrameReader.format

        def format_shim(self, source):
            return (
                _BigQueryAsParquet(self) if source == "bigquery" else original_format(self, source)
            )

        DataFrameReader.format = format_shim

        out_dir = work / "output"
        sys.argv = [
            "minhash_spark.py",
            "--table",
            str(args.input.resolve()),
            "--threshold",
            str(args.threshold),
            "--ngram_size",
            str(NGRAM),
            "--num_perm",
            str(NUM_PERM),
            "--column",
            "text",
            "--output",
            str(out_dir),
        ]
        t0 = time.perf_counter()
        try:
            runpy.run_module("text_dedup.minhash_spark", run_name="__main__")
        except SystemExit as e:  # their script sys.exit(0)s when it finds no duplicates
            if e.code not in (0, None):
                raise
        seconds = time.perf_counter() - t0
        DataFrameReader.format = original_format

        ids = spark.read.parquet(str(args.input)).select("id")
        kept = spark.read.schema("id string").json(str(out_dir))
        removed = {r.id for r in ids.subtract(kept).collect()}
        n = ids.count()
        from text_dedup.minhash_spark import optimal_param  # what their script picked (B, R)

        b, r = optimal_param(args.threshold, NUM_PERM)
        spark.stop()
        write_result(
            args,
            "text-dedup minhash_spark",
            importlib.metadata.version("text-dedup"),
            n,
            seconds,
            removed,
            {
                "num_perm": NUM_PERM,
                "ngram_size": NGRAM,
                "min_length": 5,
                "bands": b,
                "rows": r,
                "tokens": "[^A-Za-z_0-9] split, sha1 32-bit",
                "verification": "none (a shared band makes a pair)",
                "connected_components": "large-star/small-star on RDDs",
                "partitions": f"repartition(num_perm * 2) = {2 * NUM_PERM} tasks, "
                "fixed by their script",
                "master": f"local[{args.workers}]",
                "driver_memory": "4g",
                "pyspark": spark.version,
                "input_read": "format('bigquery') shimmed to Parquet",
                "session_seconds": round(session_seconds, 2),
            },
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
