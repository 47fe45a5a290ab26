"""Variant schema strings -> Spark types: backtick quoting, and types a table can hold."""

from __future__ import annotations

import pytest
from pyspark.sql import types as T

from curation.readers.variant_schema import parse_variant_schema


def test_parse_variant_schema_quoting_and_mapping():
    parsed = parse_variant_schema(
        "OBJECT<`OBJECT<`: BIGINT, ```q`: BOOLEAN, `a b`: DECIMAL(22,2), e: ARRAY<VOID>, "
        "m: OBJECT<x: VARIANT>, o: OBJECT<>, z: VOID>"
    )
    assert parsed == T.StructType(
        [
            T.StructField("OBJECT<", T.LongType()),
            T.StructField("`q", T.BooleanType()),
            T.StructField("a b", T.DoubleType()),
            T.StructField("e", T.ArrayType(T.StringType())),
            T.StructField("m", T.StructType([T.StructField("x", T.StringType())])),
            T.StructField("o", T.StringType()),
            T.StructField("z", T.StringType()),
        ]
    )


def test_merged_schemas_equal_one_aggregation_over_all_rows(spark):
    """Merging per-bucket schemas gives what schema_of_variant_agg gives over every row."""
    from pyspark.sql import functions as F

    from curation.readers.variant_schema import merge_variant_schemas
    from curation.spark_compat import has_variant

    if not has_variant(spark):
        pytest.skip("compares with Spark 4's schema_of_variant_agg (absent before 4.0)")

    rows = [
        '{"a": 1, "b": null, "c": {"x": 1}, "d": [1], "e": true}',
        '{"a": 2.5, "b": "s", "c": {"y": "t"}, "d": [1.5], "e": 1}',
        '{"a": 300000000000, "c": {}, "d": [], "f": {}}',
        '{"g": null}',
    ]
    df = spark.createDataFrame([(i, r) for i, r in enumerate(rows)], "k int, j string")
    parsed = df.select("k", F.parse_json("j").alias("v"))
    (whole,) = parsed.select(F.schema_of_variant_agg("v")).first()
    parts = [r[1] for r in parsed.groupBy("k").agg(F.schema_of_variant_agg("v")).collect()]
    assert merge_variant_schemas(parts) == parse_variant_schema(whole)
    assert merge_variant_schemas(parts) == T.StructType(
        [
            T.StructField("a", T.DoubleType()),
            T.StructField("b", T.StringType()),
            T.StructField(
                "c",
                T.StructType(
                    [T.StructField("x", T.LongType()), T.StructField("y", T.StringType())]
                ),
            ),
            T.StructField("d", T.ArrayType(T.DoubleType())),
            T.StructField("e", T.StringType()),  # true and 1: no common type, kept as JSON text
            T.StructField("f", T.StringType()),
            T.StructField("g", T.StringType()),
        ]
    )
