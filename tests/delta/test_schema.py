"""Arrow -> Spark type mapping and the check of a data file's schema against its table."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import types as T

from curation.delta.schema import check_file_schema, spark_schema_from_arrow
from curation.errors import DeltaError


def test_file_schema_check_names_the_mismatching_column(tmp_path):
    """The commit re-checks every file's footer against the table (delta-rs does not)."""
    table = T.StructType([T.StructField("id", T.StringType()), T.StructField("n", T.LongType())])
    pq.write_table(pa.table({"id": ["a"], "n": pa.array([1], pa.int32())}), tmp_path / "f.parquet")
    with pytest.raises(
        DeltaError, match="f.parquet.*column 'n' is bigint in the table but int in the data"
    ):
        check_file_schema(
            table, pq.ParquetFile(tmp_path / "f.parquet").schema, "data file f.parquet"
        )

    ts_table = T.StructType([T.StructField("ts", T.TimestampType())])
    pq.write_table(
        pa.table({"ts": pa.array([dt.datetime(2024, 1, 1)], pa.timestamp("ns", "UTC"))}),
        tmp_path / "old.parquet",
        use_deprecated_int96_timestamps=True,
    )
    with pytest.raises(DeltaError, match="INT96.*TIMESTAMP_MICROS"):
        check_file_schema(ts_table, pq.ParquetFile(tmp_path / "old.parquet").schema, "old.parquet")


def test_arrow_to_spark_schema(spark):  # StructType.fromDDL needs a session
    arrow = pa.schema(
        [
            ("s", pa.large_string()),
            ("i8", pa.int8()),
            ("i16", pa.int16()),
            ("f", pa.float32()),
            ("ts", pa.timestamp("us", "UTC")),
            ("ntz", pa.timestamp("us")),
            ("d", pa.date32()),
            ("dec", pa.decimal128(12, 3)),
            ("b", pa.large_binary()),
            ("l", pa.large_list(pa.struct([("x", pa.bool_())]))),
            ("m", pa.map_(pa.string(), pa.list_(pa.float64()))),
            ("dict", pa.dictionary(pa.int32(), pa.string())),
        ]
    )
    expected = T.StructType.fromDDL(
        "s string, i8 tinyint, i16 smallint, f float, ts timestamp, ntz timestamp_ntz, d date, "
        "dec decimal(12,3), b binary, l array<struct<x:boolean>>, m map<string,array<double>>, "
        "dict string"
    )
    assert spark_schema_from_arrow(arrow) == expected
