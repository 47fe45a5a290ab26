"""Rows with every kind of column a curation table holds, for the Delta engines' round trips.

Text, counts, scores, flags, times, lists, maps, structs, bytes, decimals; shared by
tests/delta/test_rust_engine.py and tests/delta/test_spark_engine.py.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pyspark.sql import types as T

UTC = dt.timezone.utc

RICH_SCHEMA = T.StructType(
    [
        T.StructField("id", T.StringType(), False),
        T.StructField("text", T.StringType()),
        T.StructField("n_words", T.IntegerType()),
        T.StructField("n_bytes", T.LongType()),
        T.StructField("score", T.DoubleType()),
        T.StructField("ratio", T.FloatType()),
        T.StructField("kept", T.BooleanType()),
        T.StructField("fetched", T.TimestampType()),
        T.StructField("day", T.DateType()),
        T.StructField("tags", T.ArrayType(T.StringType())),
        T.StructField("probs", T.MapType(T.StringType(), T.DoubleType())),
        T.StructField(
            "source",
            T.StructType(
                [T.StructField("url", T.StringType()), T.StructField("rank", T.LongType())]
            ),
        ),
        T.StructField("raw", T.BinaryType()),
        T.StructField("price", T.DecimalType(10, 2)),
    ]
)


RICH_ROWS = [
    (
        "a",
        "héllo wörld",
        2,
        12,
        0.75,
        0.5,
        True,
        dt.datetime(2024, 3, 1, 12, 30, 45, 123456, tzinfo=UTC),
        dt.date(2024, 3, 1),
        ["en", "wiki"],
        {"en": 0.9, "de": 0.1},
        ("https://example.org/a", 3),
        b"\x00\x01",
        Decimal("12.50"),
    ),
    ("b", None, None, None, None, None, None, None, None, None, None, None, None, None),
    (
        "c",
        "",
        0,
        0,
        -1.5,
        0.0,
        False,
        dt.datetime(1999, 12, 31, tzinfo=UTC),
        dt.date(1970, 1, 1),
        [],
        {},
        (None, None),
        b"",
        Decimal("0.00"),
    ),
]
