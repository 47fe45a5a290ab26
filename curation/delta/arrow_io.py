"""Parquet files written and read by executors through pyarrow.fs, for storage Spark cannot reach.

Spark reaches an object store through a Hadoop connector (hadoop-aws for s3a://), a jar a
laptop or CI box without Maven access does not have. pyarrow.fs reaches the same store with the
run's ``storage.options``. So where Spark's Hadoop has no file system for a table's scheme, the
rust engine moves its data files this way instead: each task of a ``mapInArrow`` writes its rows
to one Parquet file, or reads the files it is given, in the Python worker. The Delta log is
committed by delta-rs as on any other storage.

Only the files of task attempts that succeeded are returned to the driver, and only those are
committed: a failed or speculative attempt's file is never in the table.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from urllib.parse import unquote, urlparse

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from curation.errors import DeltaError
from curation.storage import Location

WRITTEN_SCHEMA = "path string, rows long"
# One task reads this many files; small enough to spread a table over the executors.
FILES_PER_TASK = 4


def write_parquet(df: DataFrame, folder: Location) -> list[str]:
    """Write ``df`` as Parquet files under ``folder`` (one per task); their paths in ``folder``."""
    root, options = folder.fs_path, dict(folder.options)
    shown = folder.shown

    def write(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        # Named per attempt, so a retried task never overwrites a file another attempt returned.
        name = f"part-{uuid.uuid4().hex}.zstd.parquet"
        fs = Location.of(shown, options).fs
        writer, rows = None, 0
        try:
            for batch in batches:
                if writer is None:
                    sink = fs.open_output_stream(f"{root}/{name}")
                    writer = pq.ParquetWriter(sink, batch.schema, compression="zstd")
                writer.write_batch(batch)
                rows += batch.num_rows
        finally:
            if writer is not None:
                writer.close()
                sink.close()
        if writer is not None:
            yield pa.RecordBatch.from_pydict(
                {"path": [name], "rows": [rows]},
                schema=pa.schema([("path", pa.string()), ("rows", pa.int64())]),
            )

    return [row["path"] for row in df.mapInArrow(write, WRITTEN_SCHEMA).collect()]


def read_parquet(
    spark: SparkSession, table: Location, files: list[str], schema: T.StructType
) -> DataFrame:
    """The rows of ``files`` (paths relative to ``table``, unencoded) as a DataFrame of ``schema``."""
    from pyspark.sql.pandas.types import to_arrow_schema

    root, options, shown = table.fs_path, dict(table.options), table.shown
    # Spark hands mapInArrow timestamps as UTC instants and takes them back the same way.
    arrow_schema = to_arrow_schema(schema, timezone="UTC")
    tasks = [files[i : i + FILES_PER_TASK] for i in range(0, len(files), FILES_PER_TASK)]

    def read(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        fs = Location.of(shown, options).fs
        for batch in batches:
            for index in batch.column(0).to_pylist():
                for name in tasks[index]:
                    with fs.open_input_file(f"{root}/{name}") as handle:
                        parquet = pq.ParquetFile(handle)
                        for piece in parquet.iter_batches():
                            yield _conform(piece, arrow_schema)

    return spark.range(0, len(tasks), 1, len(tasks)).mapInArrow(read, schema)


def own_files(loc: Location, partitioned: bool, paths: list[str]) -> list[str]:
    """The table's file paths, unencoded, for a read that only knows the table's folder."""
    if partitioned or any(urlparse(p).scheme for p in paths):
        raise DeltaError(
            f"{loc.shown} is partitioned or has files outside its folder, which curation reads "
            f"only through Spark's own file system; add the Hadoop connector for "
            f"{urlparse(loc.spark).scheme}:// to Spark"
        )
    return [unquote(p) for p in paths]


def _conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """``batch`` with the table's columns in its order and types (files may hold fewer columns
    after a schema change, or strings as large/view strings)."""
    columns = []
    for field in schema:
        index = batch.schema.get_field_index(field.name)
        if index < 0:
            columns.append(pa.nulls(batch.num_rows, field.type))
        else:
            columns.append(batch.column(index).cast(field.type))
    return pa.RecordBatch.from_arrays(columns, schema=schema)
