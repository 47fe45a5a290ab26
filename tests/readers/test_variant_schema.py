"""Variant schema strings -> Spark types: backtick quoting, and types a table can hold."""

from __future__ import annotations

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
