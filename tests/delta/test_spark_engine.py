"""The spark engine (delta-spark): skipped where its jars are not on the Spark classpath."""

from __future__ import annotations

import pytest
from pyspark.testing import assertDataFrameEqual
from rich_table import RICH_ROWS, RICH_SCHEMA

from curation.delta import open_store
from curation.session import has_delta_jars


def test_spark_engine_round_trip(spark, tmp_path):
    if not has_delta_jars(spark):
        pytest.skip(
            "delta-spark jars are not on the Spark classpath (no Maven here); rust engine tested instead"
        )
    store = open_store(spark, "spark")
    path = str(tmp_path / "docs")
    df = spark.createDataFrame(RICH_ROWS, RICH_SCHEMA)
    assert store.write(df, path, app_id="job", txn_version=1, metadata={"stage": "s"}) == 0
    assert store.write(df, path, app_id="job", txn_version=1) is None
    assertDataFrameEqual(store.read(path), df, checkRowOrder=False)
    assert store.txn_version(path, "job") == 1
    assert store.history(path)[0]["metadata"] == {"stage": "s"}


def test_spark_engine_delete_matching(spark, tmp_path):
    """The same contract as the rust engine's (tests/delta/test_rust_engine.py)."""
    if not has_delta_jars(spark):
        pytest.skip("delta-spark jars are not on the Spark classpath (no Maven here)")
    store = open_store(spark, "spark")
    path = str(tmp_path / "docs")
    rows = [("a", "r1"), ("b", "r1"), ("a", "r2")]
    store.write(spark.createDataFrame(rows, "id string, run_id string"), path)
    keys = spark.createDataFrame([("a", "r1"), ("a", "r1")], "id string, run_id string")
    assert store.delete_matching(path, keys, metadata={"stage": "x"}) == 1
    assert sorted(tuple(r) for r in store.read(path).collect()) == [("a", "r2"), ("b", "r1")]
    assert store.history(path)[0]["metadata"] == {"stage": "x"}
    assert store.delete_matching(path, keys.limit(0)) is None
