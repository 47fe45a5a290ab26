"""The Python JSON parse used on Spark 3.5 says what Spark 4's VARIANT says, line by line."""

from __future__ import annotations

import json

import pytest
from pyspark.sql import functions as F
from pyspark.sql import types as T

from curation.readers import json_python as P
from curation.readers.variant_schema import merge_variant_schemas, variant_schema_string
from curation.spark_compat import has_variant

LINES = [
    b'{"a": 1, "a": 2}',
    b'{"a": NaN}',
    b'{"a": Infinity}',
    b'{"a": 1.50}',
    b'{"a": 1e5}',
    b'{"a": 1e20}',
    b'{"a": 2.5e-7}',
    b'{"a": -0.0}',
    b'{"a": 1.0}',
    b'{"a": 100.0}',
    b'{"a": 0.001}',
    b'{"a": 12345678901234567890123}',
    b'{"a": 123456789012345678901234567890123456789012}',
    b'{"a": 3.14159265358979323846264338327950288419716939937510}',
    b'{"a": {"b": 1, "a": [1, 2.5, "x", null]}}',
    b'{"a": true}',
    b'{"a": "\\ud800x"}',
    b'{"a": "\\ud83d\\ude00 paired"}',
    b"{'a': 1}",
    b'{"a": 01}',
    b'{"a": "x\ty"}',
    b'{"a": null}',
    b'{"a": []}',
    b'{"a": {}}',
    b'{"a": "caf\xc3\xa9"} ',
    b"[1, 2]",
    b'"a string"',
    b'  {"a": "indented"}',
    b'{"a": [{"x": 1}, {"y": "s"}], "b": [1, 2.5]}',
]


def spark4_answers(spark, lines: list[bytes]) -> list[tuple]:
    df = spark.createDataFrame(
        [(i, line.decode()) for i, line in enumerate(lines)], "i int, v string"
    )
    v = F.try_parse_json("v")
    rows = df.select(
        "i",
        v.isNull().alias("bad"),
        F.try_variant_get(v, "$.a", "string").alias("a"),
        F.schema_of_variant(v).alias("schema"),
    ).collect()
    return [(r["bad"], r["a"], r["schema"]) for r in sorted(rows, key=lambda r: r["i"])]


def python_answers(lines: list[bytes]) -> list[tuple]:
    out = []
    for line in lines:
        value, reason = P.parse_line(line)
        if reason is not None:
            out.append((True, None, None))
            continue
        a = P.variant_string(value.get("a")) if isinstance(value, dict) else None
        out.append((False, a, variant_schema_string(P.value_type(value))))
    return out


def test_python_parse_matches_variant(spark):
    if not has_variant(spark):
        pytest.skip("needs Spark 4's VARIANT to compare with")
    want = spark4_answers(spark, LINES)
    got = python_answers(LINES)
    for line, w, g in zip(LINES, want, got, strict=True):
        assert (w[0], w[1]) == (g[0], g[1]), line
        if not w[0]:
            # Types compare after the reader's merge, which is what decides the columns.
            assert merge_variant_schemas([w[2]]) == merge_variant_schemas([g[2]]), line


def test_reasons_and_ids_without_spark():
    assert P.parse_line(b'{"text": "x"} x')[1] == "read:bad_json"
    assert P.parse_line(b'{"text": "caf\xe9"}') == ({"text": "caf\ufffd"}, "read:invalid_utf8")
    assert P.parse_line(b'\xef\xbb\xbf{"text": "bom"}') == ({"text": "bom"}, None)
    assert P.variant_string(P.parse_line(b"1.50")[0]) == "1.5"
    assert P.variant_string(P.parse_line(b"1e20")[0]) == "1.0E20"
    assert P.variant_string(P.parse_line(b'{"b": 1, "a": [true]}')[0]) == '{"a":[true],"b":1}'
    assert P.java_double(1e-4) == "1.0E-4" and P.java_double(0.001) == "0.001"
    assert P.java_double(1234567.0) == "1234567.0" and P.java_double(1e7) == "1.0E7"


def test_convert_fits_the_merged_type():
    records = [json.loads(s) for s in ('{"n": 1, "m": {"x": 2}}', '{"n": 2.5, "m": {"y": [1]}}')]
    types = [P.value_type(P.parse_line(json.dumps(r).encode())[0]) for r in records]
    merged = merge_variant_schemas([variant_schema_string(t) for t in types])
    assert merged == T.StructType(
        [
            T.StructField(
                "m",
                T.StructType(
                    [
                        T.StructField("x", T.LongType()),
                        T.StructField("y", T.ArrayType(T.LongType())),
                    ]
                ),
            ),
            T.StructField("n", T.DoubleType()),
        ]
    )
    second = P.parse_line(json.dumps(records[1]).encode())[0]
    assert P.convert(second, merged) == {"m": {"x": None, "y": [1]}, "n": 2.5}
