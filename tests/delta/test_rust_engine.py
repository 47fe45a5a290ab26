"""The rust engine: real Spark, real tables in tmp_path, read back with delta-rs as well."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable, write_deltalake
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.testing import assertDataFrameEqual
from rich_table import RICH_ROWS, RICH_SCHEMA

from curation.delta import open_store
from curation.errors import CommitConflictError, DeltaError

UTC = dt.timezone.utc

SMALL = T.StructType([T.StructField("id", T.StringType()), T.StructField("n", T.LongType())])


def small(spark, *ids: str):
    return spark.createDataFrame([(i, len(i)) for i in ids], SMALL)


def ids_at(path: Path, version: int | None = None) -> list[str]:
    """Ids in the table as delta-rs sees it: proves the table is valid Delta, not just readable by us."""
    table = DeltaTable(str(path), version=version).to_pyarrow_table()
    return sorted(table.column("id").to_pylist())


def data_folders(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith("_"))


@pytest.fixture(scope="module")
def store(spark):
    return open_store(spark, "rust")


# --------------------------------------------------------------------------------------------
# round trips


def test_rust_round_trip_keeps_every_column_type(spark, store, tmp_path):
    path = tmp_path / "docs"
    df = spark.createDataFrame(RICH_ROWS, RICH_SCHEMA)

    assert store.write(df, str(path)) == 0

    back = store.read(str(path))
    assertDataFrameEqual(back, df, checkRowOrder=False)
    # The table schema is the DataFrame's, made nullable (as delta-spark does).
    assert [(f.name, f.dataType) for f in back.schema] == [
        (f.name, f.dataType) for f in RICH_SCHEMA
    ]
    assert all(f.nullable for f in back.schema)
    # delta-rs reads the same rows: timestamps as UTC micros, nested types intact.
    rows = {r["id"]: r for r in DeltaTable(str(path)).to_pyarrow_table().to_pylist()}
    assert rows["a"]["fetched"] == dt.datetime(2024, 3, 1, 12, 30, 45, 123456, tzinfo=UTC)
    assert rows["a"]["tags"] == ["en", "wiki"]
    assert dict(rows["a"]["probs"]) == {"en": 0.9, "de": 0.1}
    assert rows["a"]["source"] == {"url": "https://example.org/a", "rank": 3}
    assert rows["b"]["text"] is None and rows["b"]["tags"] is None
    assert rows["c"]["tags"] == [] and rows["c"]["raw"] == b""


def test_rust_files_are_zstd_int64_timestamps_in_a_visible_folder(spark, store, tmp_path):
    path = tmp_path / "docs"
    store.write(spark.createDataFrame(RICH_ROWS, RICH_SCHEMA), str(path))

    adds = pa.table(DeltaTable(str(path)).get_add_actions(flatten=True)).to_pylist()
    assert adds and sum(a["num_records"] for a in adds) == len(RICH_ROWS)
    for add in adds:
        folder, name = add["path"].split("/")
        assert folder.startswith("data-") and name.endswith(".parquet")
        meta = pq.ParquetFile(path / folder / name).metadata
        columns = {
            meta.schema.column(i).path: meta.row_group(0).column(i) for i in range(meta.num_columns)
        }
        assert all(c.compression == "ZSTD" for c in columns.values())
        assert columns["fetched"].physical_type == "INT64"  # not Spark's INT96 default


def test_reads_a_table_delta_rs_wrote(spark, store, tmp_path):
    """A table from another writer (large strings, nanosecond-free timestamps, lists, structs)."""
    path = tmp_path / "foreign"
    table = pa.table(
        {
            "id": pa.array(["x", "y"], pa.large_string()),
            "ts": pa.array(
                [dt.datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC), None], pa.timestamp("us", "UTC")
            ),
            "vals": pa.array([[1, 2], None], pa.list_(pa.int32())),
            "meta": pa.array(
                [{"k": "v", "w": 1.5}, None], pa.struct([("k", pa.string()), ("w", pa.float64())])
            ),
        }
    )
    write_deltalake(str(path), table)

    got = store.read(str(path))
    expected = spark.createDataFrame(
        [
            ("x", dt.datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC), [1, 2], ("v", 1.5)),
            ("y", None, None, None),
        ],
        "id string, ts timestamp, vals array<int>, meta struct<k:string,w:double>",
    )
    assertDataFrameEqual(got, expected, checkRowOrder=False)


def test_reads_a_partitioned_table_and_refuses_to_write_it(spark, store, tmp_path):
    path = tmp_path / "parts"
    write_deltalake(
        str(path),
        pa.table({"id": ["a", "b", "c"], "lang": ["en", "de", "en"], "n": [1, 2, 3]}),
        partition_by=["lang"],
    )

    got = store.read(str(path))
    assert [f.name for f in got.schema] == ["id", "lang", "n"]
    assert sorted(map(tuple, got.collect())) == [("a", "en", 1), ("b", "de", 2), ("c", "en", 3)]
    with pytest.raises(DeltaError, match="partitioned by"):
        store.write(got, str(path))


# --------------------------------------------------------------------------------------------
# commits: idempotency, overwrite, time travel, history


def test_idempotent_retry_commits_once(spark, store, tmp_path):
    path = tmp_path / "t"
    df = small(spark, "a", "b")

    assert store.write(df, str(path), app_id="run-1", txn_version=1) == 0
    assert store.write(df, str(path), app_id="run-1", txn_version=1) is None  # the retry
    assert store.write(df, str(path), app_id="run-1", txn_version=0) is None  # an older one
    assert ids_at(path) == ["a", "b"]
    assert store.version(str(path)) == 0
    assert store.txn_version(str(path), "run-1") == 1
    assert store.txn_version(str(path), "other-run") is None

    assert store.write(small(spark, "c"), str(path), app_id="run-1", txn_version=2) == 1
    assert ids_at(path) == ["a", "b", "c"]
    assert store.txn_version(str(path), "run-1") == 2
    # Another app id is independent of run-1's versions.
    assert store.write(small(spark, "d"), str(path), app_id="run-2", txn_version=1) == 2
    # Skipped writes leave no files behind: one data folder per commit.
    assert len(data_folders(path)) == 3


def test_txn_version_of_missing_table_is_none(store, tmp_path):
    assert store.txn_version(str(tmp_path / "nothing"), "run-1") is None
    assert not store.exists(str(tmp_path / "nothing"))


def test_overwrite_and_time_travel(spark, store, tmp_path):
    path = tmp_path / "t"
    assert store.write(small(spark, "a", "b"), str(path)) == 0
    assert store.write(small(spark, "c"), str(path)) == 1
    assert store.write(small(spark, "x"), str(path), mode="overwrite") == 2

    expected = {0: ["a", "b"], 1: ["a", "b", "c"], 2: ["x"]}
    for version, ids in expected.items():
        assert sorted(r.id for r in store.read(str(path), version=version).collect()) == ids
        assert ids_at(path, version) == ids
    assert sorted(r.id for r in store.read(str(path)).collect()) == ["x"]
    assert store.version(str(path)) == 2
    with pytest.raises(DeltaError, match="no version 9.*up to 2"):
        store.read(str(path), version=9)


def test_overwrite_schema_needs_consent(spark, store, tmp_path):
    path = tmp_path / "t"
    store.write(small(spark, "a"), str(path))
    wider = small(spark, "b").withColumn("lang", F.lit("en"))

    with pytest.raises(DeltaError, match="column 'lang' \\(string\\) is not in the table"):
        store.write(wider, str(path), mode="overwrite")
    assert store.write(wider, str(path), mode="overwrite", overwrite_schema=True) == 1
    assert [f.name for f in store.read(str(path)).schema] == ["id", "n", "lang"]
    assert [f.name for f in store.read(str(path), version=0).schema] == ["id", "n"]


def test_append_with_add_columns_merges_schemas_as_delta_does(spark, store, tmp_path):
    path = str(tmp_path / "t")
    store.write(small(spark, "a"), path)
    wider = small(spark, "bb").withColumn("lang", F.lit("en"))
    with pytest.raises(DeltaError, match="column 'lang' \\(string\\) is not in the table"):
        store.write(wider, path)
    # New columns are added (null in earlier rows); a column the data lacks is null in its rows.
    store.write(wider, path, add_columns=True, app_id="app", txn_version=1)
    store.write(wider, path, add_columns=True, app_id="app", txn_version=1)  # a retry: no-op
    store.write(spark.createDataFrame([("ccc",)], "id string"), path, add_columns=True)
    rows = sorted(map(tuple, store.read(path).collect()), key=repr)
    assert rows == [("a", 1, None), ("bb", 2, "en"), ("ccc", None, None)]
    assert [f.name for f in store.read(path).schema] == ["id", "n", "lang"]
    assert [f.name for f in store.read(path, version=0).schema] == ["id", "n"]
    assert ids_at(Path(path)) == ["a", "bb", "ccc"]  # valid Delta for delta-rs too
    # One type per column, still.
    with pytest.raises(DeltaError, match="column 'n' is bigint in the table but string"):
        store.write(small(spark, "d").withColumn("n", F.lit("x")), path, add_columns=True)


def test_append_accepts_reordered_columns(spark, store, tmp_path):
    path = tmp_path / "t"
    store.write(small(spark, "a"), str(path))
    store.write(small(spark, "bb").select("n", "id"), str(path))
    assert sorted(map(tuple, store.read(str(path)).collect())) == [("a", 1), ("bb", 2)]


def test_history_carries_commit_metadata(spark, store, tmp_path):
    path = tmp_path / "t"
    before = dt.datetime.now(UTC) - dt.timedelta(seconds=5)
    store.write(small(spark, "a"), str(path), metadata={"run_id": "r1", "stage": "length"})
    store.write(
        small(spark, "b"),
        str(path),
        app_id="r1",
        txn_version=1,
        metadata={"run_id": "r1", "stage": "gopher"},
    )
    store.write(small(spark, "c"), str(path), mode="overwrite")

    history = store.history(str(path))
    assert [h["version"] for h in history] == [2, 1, 0]
    assert [h["metadata"] for h in history] == [
        {},
        {"run_id": "r1", "stage": "gopher"},
        {"run_id": "r1", "stage": "length"},
    ]
    assert history[-1]["operation"] == "CREATE TABLE" and history[0]["operation"] == "WRITE"
    for entry in history:
        assert before <= entry["timestamp"] <= dt.datetime.now(UTC) + dt.timedelta(seconds=5)
    # The metadata is the commit's userMetadata, where delta-spark and Databricks show it too.
    raw = DeltaTable(str(path)).history()
    assert json.loads(raw[1]["userMetadata"]) == {"run_id": "r1", "stage": "gopher"}


def test_empty_dataframe_creates_the_table_and_records_the_commit(spark, store, tmp_path):
    path = tmp_path / "t"
    empty = spark.createDataFrame([], RICH_SCHEMA)

    assert store.write(empty, str(path), app_id="run", txn_version=1) == 0
    assert store.exists(str(path))
    back = store.read(str(path))
    assert back.count() == 0
    assert [(f.name, f.dataType) for f in back.schema] == [
        (f.name, f.dataType) for f in RICH_SCHEMA
    ]
    assert DeltaTable(str(path)).to_pyarrow_table().num_rows == 0
    assert store.txn_version(str(path), "run") == 1

    store.write(small(spark, "a").select("id"), str(tmp_path / "u"))
    assert (
        store.write(
            spark.createDataFrame([], "id string"), str(tmp_path / "u"), app_id="run", txn_version=1
        )
        == 1
    )
    assert ids_at(tmp_path / "u") == ["a"]
    assert (
        store.write(spark.createDataFrame([], "id string"), str(tmp_path / "u"), mode="overwrite")
        == 2
    )
    assert ids_at(tmp_path / "u") == []
    # No zero-row files are logged, and the empty writes left no data folders behind.
    assert pa.table(DeltaTable(str(path)).get_add_actions(flatten=True)).num_rows == 0
    assert data_folders(path) == []


# --------------------------------------------------------------------------------------------
# refusals: schema, features, arguments


def test_schema_mismatch_names_the_columns(spark, store, tmp_path):
    path = tmp_path / "t"
    store.write(small(spark, "a"), str(path))
    bad = spark.createDataFrame([("b", "two", True)], "id string, n string, extra boolean")

    with pytest.raises(DeltaError) as err:
        store.write(bad, str(path))
    message = str(err.value)
    assert "column 'n' is bigint in the table but string in the data" in message
    assert "column 'extra' (boolean) is not in the table" in message
    with pytest.raises(DeltaError, match="column 'n' \\(bigint\\) is missing"):
        store.write(bad.select("id"), str(path))
    assert store.version(str(path)) == 0 and ids_at(path) == ["a"]
    assert len(data_folders(path)) == 1  # nothing written for refused data


@pytest.mark.parametrize(
    ("configuration", "feature"),
    [
        ({"delta.enableDeletionVectors": "true"}, "deletionVectors"),
        ({"delta.columnMapping.mode": "name"}, "columnMapping"),
    ],
)
def test_unsupported_reader_features_are_refused(spark, store, tmp_path, configuration, feature):
    path = tmp_path / "t"
    write_deltalake(str(path), pa.table({"id": ["a"], "n": [1]}), configuration=configuration)

    with pytest.raises(DeltaError, match=f"cannot honour: .*{feature}.*spark engine"):
        store.read(str(path))
    with pytest.raises(DeltaError, match=feature):
        store.write(small(spark, "b"), str(path))
    assert DeltaTable(str(path)).version() == 0


def test_bad_arguments_are_refused(spark, store, tmp_path):
    df = small(spark, "a")
    with pytest.raises(DeltaError, match="both app_id and txn_version"):
        store.write(df, str(tmp_path / "t"), app_id="run")
    with pytest.raises(DeltaError, match="txn_version must be an integer >= 0"):
        store.write(df, str(tmp_path / "t"), app_id="run", txn_version=-1)
    with pytest.raises(DeltaError, match="'append' or 'overwrite'"):
        store.write(df, str(tmp_path / "t"), mode="upsert")
    with pytest.raises(DeltaError, match="metadata keys and values must be strings"):
        store.write(df, str(tmp_path / "t"), metadata={"n": 1})
    with pytest.raises(DeltaError, match="no Delta table at"):
        store.read(str(tmp_path / "missing"))
    with pytest.raises(DeltaError, match="unique ignoring case"):
        store.write(
            spark.createDataFrame([("a", "b")], "id string, ID string"), str(tmp_path / "t")
        )
    assert not (tmp_path / "t").exists() or not store.exists(str(tmp_path / "t"))


# --------------------------------------------------------------------------------------------
# failures and concurrent writers


def _gated(df, gate: Path):
    """``df`` whose Spark tasks signal they started, then wait for ``gate/go``.

    The test always creates ``go`` (in a finally); the deadline only bounds a crashed test.
    """

    def wait_then_pass(batches):
        (gate / "started").touch()
        deadline = time.time() + 600
        while not (gate / "go").exists() and time.time() < deadline:
            time.sleep(0.05)
        yield from batches

    return df.coalesce(1).mapInArrow(wait_then_pass, df.schema)


def _run_in_thread(fn):
    outcome: dict = {}

    def target():
        try:
            outcome["value"] = fn()
        except BaseException as err:  # noqa: BLE001 - handed to the test thread
            outcome["error"] = err

    thread = threading.Thread(target=target)
    thread.start()
    return thread, outcome


def _wait_for(flag: Path, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while not flag.exists():
        assert time.time() < deadline, f"{flag} never appeared"
        time.sleep(0.05)


def _race(spark, store, path: Path, gate: Path, first, second):
    """Start ``first`` (gated mid-write), run ``second`` to completion, then release ``first``."""
    gate.mkdir()
    thread, outcome = _run_in_thread(first)
    try:
        _wait_for(gate / "started")
        second()
    finally:
        (gate / "go").touch()
        thread.join(600)
    return outcome


def test_stale_overwrite_fails_and_loses_nothing(spark, store, tmp_path):
    path, gate = tmp_path / "t", tmp_path / "gate"
    store.write(small(spark, "a", "b"), str(path))

    outcome = _race(
        spark,
        store,
        path,
        gate,
        lambda: store.write(_gated(small(spark, "x"), gate), str(path), mode="overwrite"),
        # Another writer (delta-rs itself) appends while the overwrite's files are being written.
        lambda: write_deltalake(
            str(path), pa.table({"id": ["c"], "n": pa.array([1], pa.int64())}), mode="append"
        ),
    )

    assert isinstance(outcome.get("error"), CommitConflictError), outcome
    assert "changed while this overwrite ran" in str(outcome["error"])
    assert ids_at(path) == ["a", "b", "c"]  # both earlier commits intact, nothing of ours
    assert store.version(str(path)) == 1
    assert len(data_folders(path)) == 1  # the overwrite's files were cleaned up


def test_racing_appends_both_land(spark, store, tmp_path):
    path, gate = tmp_path / "t", tmp_path / "gate"
    store.write(small(spark, "a"), str(path))

    outcome = _race(
        spark,
        store,
        path,
        gate,
        lambda: store.write(_gated(small(spark, "slow"), gate), str(path)),
        lambda: store.write(small(spark, "fast"), str(path)),
    )

    assert outcome == {"value": 2}
    assert ids_at(path) == ["a", "fast", "slow"]


def test_racing_retries_of_one_job_commit_once(spark, store, tmp_path):
    path, gate = tmp_path / "t", tmp_path / "gate"
    store.write(small(spark, "a"), str(path))

    outcome = _race(
        spark,
        store,
        path,
        gate,
        lambda: store.write(
            _gated(small(spark, "b"), gate), str(path), app_id="job", txn_version=7
        ),
        lambda: store.write(small(spark, "b"), str(path), app_id="job", txn_version=7),
    )

    assert outcome == {"value": None}
    assert ids_at(path) == ["a", "b"]
    assert len(data_folders(path)) == 2  # the loser's files were removed


def test_append_racing_a_schema_change_fails_cleanly(spark, store, tmp_path):
    path, gate = tmp_path / "t", tmp_path / "gate"
    store.write(small(spark, "a"), str(path))
    renamed = small(spark, "x").withColumnRenamed("n", "length")

    outcome = _race(
        spark,
        store,
        path,
        gate,
        lambda: store.write(_gated(small(spark, "b"), gate), str(path)),
        lambda: store.write(renamed, str(path), mode="overwrite", overwrite_schema=True),
    )

    assert isinstance(outcome.get("error"), CommitConflictError), outcome
    assert "changed the schema" in str(outcome["error"])
    assert "column 'n' (bigint) is not in the table" in str(outcome["error"])
    assert ids_at(path) == ["x"] and store.version(str(path)) == 1


def test_failed_job_leaves_no_table_and_no_files(spark, store, tmp_path):
    path = tmp_path / "t"

    def explode(batches):
        for _batch in batches:
            raise ValueError("scorer crashed")
        yield from ()

    df = small(spark, "a").mapInArrow(explode, SMALL)
    with pytest.raises(Exception, match="scorer crashed"):
        store.write(df, str(path))
    assert not store.exists(str(path))
    assert not path.exists() or data_folders(path) == []


# --------------------------------------------------------------------------------------------
# deleting rows by key


def test_delete_matching_removes_exactly_the_keyed_rows_once(spark, store, tmp_path):
    path = str(tmp_path / "docs")
    rows = [("a", "r1"), ("b", "r1"), ("a", "r2"), ("c", "r1")]
    store.write(spark.createDataFrame(rows, "id string, run_id string"), path)
    keys = spark.createDataFrame(
        [("a", "r1"), ("a", "r1"), ("z", "r1")], "id string, run_id string"
    )

    version = store.delete_matching(path, keys, metadata={"run_id": "r2", "stage": "x"})

    assert version == 1
    # Every key column must match: ("a", "r2") stays; the duplicate key deletes nothing more.
    left = DeltaTable(path).to_pyarrow_table().to_pylist()
    assert sorted((r["id"], r["run_id"]) for r in left) == [("a", "r2"), ("b", "r1"), ("c", "r1")]
    assert store.history(path)[0]["metadata"] == {"run_id": "r2", "stage": "x"}
    # A retry finds nothing: no commit. The table still reads through Spark.
    assert store.delete_matching(path, keys) is None
    assert store.version(path) == 1
    assert sorted(r.id for r in store.read(path).collect()) == ["a", "b", "c"]


def test_delete_matching_without_table_or_keys_commits_nothing(spark, store, tmp_path):
    path = str(tmp_path / "docs")
    keys = small(spark, "a").select("id")
    assert store.delete_matching(path, keys) is None
    store.write(small(spark, "a", "b"), path)
    assert store.delete_matching(path, keys.limit(0)) is None
    assert store.version(path) == 0
    with pytest.raises(DeltaError, match="no column \\['nope'\\]"):
        store.delete_matching(path, keys.withColumnRenamed("id", "nope"))
