"""Delta per-file stats from Parquet footers, computed directly and as a rust commit logs them."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from curation.delta import open_store
from curation.delta.file_stats import parquet_stats

UTC = dt.timezone.utc


@pytest.fixture(scope="module")
def store(spark):
    return open_store(spark, "rust")


def test_stats_are_safe_bounds(spark, store, tmp_path):
    path = tmp_path / "t"
    long_text = "z" * 40
    df = spark.createDataFrame(
        [
            ("a", 5, 0.5, dt.datetime(2024, 1, 1, 0, 0, 0, 1500, tzinfo=UTC), long_text),
            ("b", -2, float("nan"), dt.datetime(2024, 1, 2, 0, 0, 0, 999500, tzinfo=UTC), None),
        ],
        "id string, n long, score double, ts timestamp, text string",
    ).coalesce(1)
    store.write(df, str(path))

    log = path / "_delta_log" / "00000000000000000000.json"
    adds = [json.loads(line)["add"] for line in log.read_text().splitlines() if '"add"' in line]
    assert len(adds) == 1
    stats = json.loads(adds[0]["stats"])
    assert stats["numRecords"] == 2
    assert stats["minValues"]["n"] == -2 and stats["maxValues"]["n"] == 5
    assert stats["minValues"]["id"] == "a" and stats["maxValues"]["id"] == "b"
    # Milliseconds, rounded outwards so they stay bounds of the microsecond values.
    assert stats["minValues"]["ts"] == "2024-01-01T00:00:00.001Z"
    assert stats["maxValues"]["ts"] == "2024-01-02T00:00:01.000Z"
    # NaN makes float bounds unsafe; a long string keeps a prefix as min and no max.
    assert "score" not in stats["minValues"] and "score" not in stats["maxValues"]
    assert stats["minValues"]["text"] == "z" * 32 and "text" not in stats["maxValues"]
    assert stats["nullCount"] == {"id": 0, "n": 0, "score": 0, "ts": 0, "text": 1}
    # delta-rs uses the stats to skip files and still finds the rows.
    assert DeltaTable(str(path)).to_pyarrow_table(filters=[("n", "=", 5)]).num_rows == 1


def test_parquet_stats_nested_columns(tmp_path):
    table = pa.table(
        {
            "s": pa.array(
                [{"a": 1, "b": "x"}, {"a": 3, "b": None}],
                pa.struct([("a", pa.int64()), ("b", pa.string())]),
            ),
            "l": pa.array([[1], [2, 3]], pa.list_(pa.int64())),
            "m": pa.array([[("k", 1)], None], pa.map_(pa.string(), pa.int64())),
            "after": pa.array([10, 20], pa.int32()),
        }
    )
    pq.write_table(table, tmp_path / "f.parquet", row_group_size=1)
    parquet = pq.ParquetFile(tmp_path / "f.parquet")
    stats = parquet_stats(parquet.metadata, parquet.schema_arrow)
    assert stats["numRecords"] == 2
    assert stats["minValues"] == {"s": {"a": 1, "b": "x"}, "after": 10}
    assert stats["maxValues"] == {"s": {"a": 3, "b": "x"}, "after": 20}
    assert stats["nullCount"] == {"s": {"a": 0, "b": 1}, "after": 0}

    # A file without statistics gets no bounds at all rather than guessed ones.
    pq.write_table(table, tmp_path / "bare.parquet", write_statistics=False)
    bare = pq.ParquetFile(tmp_path / "bare.parquet")
    assert parquet_stats(bare.metadata, bare.schema_arrow) == {
        "numRecords": 2,
        "minValues": {},
        "maxValues": {},
        "nullCount": {},
    }
