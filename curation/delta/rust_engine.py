"""Delta table I/O behind one interface, with two engines.

* ``spark``: delta-spark (``format("delta")``), used when its JVM classes are on the classpath.
* ``rust``: executors write Parquet files into a fresh folder inside the table; the driver reads
  their footers (schema, per-file stats) and commits them all in one Delta transaction with
  ``deltalake`` (delta-rs). Reads list the snapshot's files and hand them to ``spark.read.parquet``.

Both give one atomic commit per ``write``, idempotent per (app id, version), and commit metadata
(run id, stage, ...) in the commit's ``userMetadata``, so ``history`` reads the same either way.

    store = open_store(spark)
    store.write(df, "out/documents", app_id="run-42", txn_version=3, metadata={"stage": "gopher"})
    store.write(df, "out/documents", app_id="run-42", txn_version=3)  # -> None: already committed
"""

from __future__ import annotations

import datetime as dt
import json
import os
import posixpath
import time
import uuid
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote, urlparse

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from curation.errors import CommitConflictError, DeltaError
from curation.session import has_delta_jars

Mode = Literal["append", "overwrite"]

# Reader features whose files the rust engine reads correctly by listing the snapshot's files.
# Anything else (deletionVectors: deleted rows would come back; columnMapping: physical column
# names differ from the schema; typeWidening: old files hold narrower types) is refused.
RUST_READER_FEATURES = frozenset({"timestampNtz", "v2Checkpoint", "vacuumProtocolCheck"})
# Column metadata and table properties for write-time checks delta-rs does not run on files it
# did not write itself (they live in the data, which it never sees on this path).
_UNCHECKED_COLUMN_METADATA = ("delta.invariants", "delta.generationExpression", "delta.identity")
_CONSTRAINT_PREFIX = "delta.constraints."
# Delta truncates string stats to a prefix of this many characters (delta-spark's default).
STRING_STATS_PREFIX = 32
# Appends that lose the race for a version retry on a fresh snapshot (appends commute).
APPEND_COMMIT_ATTEMPTS = 8
# Footers are tiny; reading them in parallel hides object-store latency.
FOOTER_READ_THREADS = 16


def open_store(
    spark: SparkSession,
    engine: Literal["auto", "spark", "rust"] = "auto",
    *,
    storage_options: dict[str, str] | None = None,
) -> DeltaStore:
    """The Delta store for ``spark``: delta-spark when its jars are loaded, else delta-rs."""
    if engine == "auto":
        engine = "spark" if has_delta_jars(spark) else "rust"
    if engine == "spark":
        if not has_delta_jars(spark):
            raise DeltaError(
                "storage.engine is 'spark' but the delta-spark classes are not on the Spark "
                "classpath; start Spark with --packages io.delta:delta-spark_2.13:4.4.1 (and the "
                "Delta SQL extension), or set storage.engine to 'rust' or 'auto'"
            )
        return SparkDeltaStore(spark)
    if engine == "rust":
        return RustDeltaStore(spark, storage_options=storage_options)
    raise DeltaError(f"storage.engine must be 'auto', 'spark' or 'rust', not {engine!r}")


class DeltaStore(ABC):
    """Read, write and inspect Delta tables; one implementation per engine."""

    engine: str

    def __init__(self, spark: SparkSession):
        self.spark = spark

    @abstractmethod
    def exists(self, path: str) -> bool:
        """Whether a Delta table is at ``path``."""

    @abstractmethod
    def version(self, path: str) -> int:
        """The table's latest version."""

    @abstractmethod
    def read(self, path: str, version: int | None = None) -> DataFrame:
        """The table (at ``version`` when given) as a DataFrame."""

    @abstractmethod
    def write(
        self,
        df: DataFrame,
        path: str,
        mode: Mode = "append",
        *,
        app_id: str | None = None,
        txn_version: int | None = None,
        metadata: dict[str, str] | None = None,
        overwrite_schema: bool = False,
    ) -> int | None:
        """Commit ``df`` in one transaction; the new version, or None when already committed.

        With ``app_id`` and ``txn_version``, a write whose version is not above the one recorded
        for ``app_id`` is skipped (a retried job does not duplicate rows). The table is created
        when absent. ``metadata`` lands in the commit's userMetadata. An overwrite keeps the
        table's schema unless ``overwrite_schema``.
        """

    @abstractmethod
    def txn_version(self, path: str, app_id: str) -> int | None:
        """The last version committed for ``app_id``, None if none (or no table)."""

    @abstractmethod
    def history(self, path: str) -> list[dict[str, Any]]:
        """Commits newest first: version, timestamp (UTC), operation, metadata."""


# --------------------------------------------------------------------------------------------
# Arguments and commit metadata shared by both engines


def _check_write_args(
    mode: str, app_id: str | None, txn_version: int | None, metadata: dict[str, str] | None
) -> str | None:
    """Validate write arguments; return the userMetadata JSON (None without metadata)."""
    if mode not in ("append", "overwrite"):
        raise DeltaError(f"write mode must be 'append' or 'overwrite', not {mode!r}")
    if (app_id is None) != (txn_version is None):
        raise DeltaError(
            "idempotent writes need both app_id and txn_version (got "
            f"app_id={app_id!r}, txn_version={txn_version!r}); pass both or neither"
        )
    if app_id is not None and (not isinstance(app_id, str) or not app_id):
        raise DeltaError(f"app_id must be a non-empty string, not {app_id!r}")
    if txn_version is not None and (
        not isinstance(txn_version, int) or isinstance(txn_version, bool) or txn_version < 0
    ):
        raise DeltaError(f"txn_version must be an integer >= 0, not {txn_version!r}")
    if not metadata:
        return None
    bad = {k: v for k, v in metadata.items() if not isinstance(k, str) or not isinstance(v, str)}
    if bad:
        raise DeltaError(f"commit metadata keys and values must be strings; not: {bad!r}")
    return json.dumps(metadata, sort_keys=True)


def _parse_user_metadata(raw: Any) -> dict[str, str]:
    """Our commits store a JSON object; commits by other writers may hold free text."""
    if raw is None or raw == "":
        return {}
    try:
        parsed = json.loads(raw)
    except (TypeError, ValueError):
        return {"userMetadata": str(raw)}
    if isinstance(parsed, dict):
        return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in parsed.items()}
    return {"userMetadata": str(raw)}


def _utc_from_millis(ms: int | None) -> dt.datetime | None:
    return None if ms is None else dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc)


# --------------------------------------------------------------------------------------------
# Schemas: Delta's schemaString is Spark's StructType JSON; Parquet footers come as Arrow.


def spark_schema_from_delta(schema_json: str) -> T.StructType:
    """The Spark schema of a Delta table from its schemaString (the same JSON format)."""
    try:
        parsed = T.StructType.fromJson(json.loads(schema_json))
    except Exception as err:  # noqa: BLE001 - any parse failure means a type Spark lacks
        raise DeltaError(f"the table schema has a type Spark cannot read: {err}") from err
    return parsed


def spark_type_from_arrow(arrow_type: pa.DataType) -> T.DataType:
    """The Spark type Spark's Parquet reader gives a column that Arrow reads as ``arrow_type``."""
    t = arrow_type
    if pa.types.is_dictionary(t):
        return spark_type_from_arrow(t.value_type)
    simple = [
        (pa.types.is_boolean, T.BooleanType),
        (pa.types.is_int8, T.ByteType),
        (pa.types.is_int16, T.ShortType),
        (pa.types.is_int32, T.IntegerType),
        (pa.types.is_int64, T.LongType),
        (pa.types.is_float32, T.FloatType),
        (pa.types.is_float64, T.DoubleType),
        (pa.types.is_date32, T.DateType),
    ]
    for check, spark_type in simple:
        if check(t):
            return spark_type()
    if _is(t, "is_string", "is_large_string", "is_string_view"):
        return T.StringType()
    if _is(t, "is_binary", "is_large_binary", "is_binary_view", "is_fixed_size_binary"):
        return T.BinaryType()
    if pa.types.is_timestamp(t):
        # Parquet's isAdjustedToUTC surfaces as a time zone in Arrow: Spark TIMESTAMP; else NTZ.
        return T.TimestampType() if t.tz is not None else T.TimestampNTZType()
    if pa.types.is_decimal(t):
        return T.DecimalType(t.precision, t.scale)
    if pa.types.is_map(t):
        return T.MapType(spark_type_from_arrow(t.key_type), spark_type_from_arrow(t.item_type))
    if _is(t, *_LIST_CHECKS):
        return T.ArrayType(spark_type_from_arrow(t.value_type))
    if pa.types.is_struct(t):
        return T.StructType(
            [T.StructField(f.name, spark_type_from_arrow(f.type)) for f in t.fields]
        )
    raise DeltaError(f"Arrow type {t} has no Spark equivalent in a Delta table")


_LIST_CHECKS = (
    "is_list",
    "is_large_list",
    "is_fixed_size_list",
    "is_list_view",
    "is_large_list_view",
)


def _is(arrow_type: pa.DataType, *checks: str) -> bool:
    """Any of pyarrow.types' ``checks`` holds (the newer ones are absent from older pyarrow)."""
    return any(getattr(pa.types, name, lambda _t: False)(arrow_type) for name in checks)


def spark_schema_from_arrow(schema: pa.Schema) -> T.StructType:
    return T.StructType([T.StructField(f.name, spark_type_from_arrow(f.type)) for f in schema])


def loose_type(data_type: T.DataType) -> T.DataType:
    """``data_type`` with every nullability flag set and field metadata dropped.

    Tables we create are all-nullable (as delta-spark makes them), and schemas are compared on
    names and types only: a DataFrame whose column happens to be non-null still fits.
    """
    if isinstance(data_type, T.StructType):
        return T.StructType([T.StructField(f.name, loose_type(f.dataType)) for f in data_type])
    if isinstance(data_type, T.ArrayType):
        return T.ArrayType(loose_type(data_type.elementType), True)
    if isinstance(data_type, T.MapType):
        return T.MapType(loose_type(data_type.keyType), loose_type(data_type.valueType), True)
    if isinstance(data_type, (T.CharType, T.VarcharType)):
        return T.StringType()  # Spark writes both as plain strings
    return data_type


def schema_mismatches(table: T.StructType, data: T.StructType) -> list[str]:
    """Human-readable differences between a table schema and data to be written to it."""
    table_fields = {f.name: f for f in table}
    data_fields = {f.name: f for f in data}
    problems = []
    for name, field in table_fields.items():
        if name not in data_fields:
            problems.append(f"column '{name}' ({field.dataType.simpleString()}) is missing")
            continue
        want, got = loose_type(field.dataType), loose_type(data_fields[name].dataType)
        if want != got:
            problems.append(
                f"column '{name}' is {want.simpleString()} in the table "
                f"but {got.simpleString()} in the data"
            )
    problems.extend(
        f"column '{name}' ({field.dataType.simpleString()}) is not in the table"
        for name, field in data_fields.items()
        if name not in table_fields
    )
    return problems


def check_file_schema(table: T.StructType, parquet_schema: pq.ParquetSchema, where: str) -> None:
    """Refuse a data file whose columns do not match the table (by name and type)."""
    int96 = [
        parquet_schema.column(i).path
        for i in range(len(parquet_schema))
        if parquet_schema.column(i).physical_type == "INT96"
    ]
    if int96:
        raise DeltaError(
            f"{where} stores timestamps as INT96 ({', '.join(int96)}), which delta-rs cannot "
            "read; set spark.sql.parquet.outputTimestampType=TIMESTAMP_MICROS"
        )
    try:
        file_schema = spark_schema_from_arrow(parquet_schema.to_arrow_schema())
    except DeltaError as err:
        raise DeltaError(f"{where}: {err}") from err
    problems = schema_mismatches(table, file_schema)
    if problems:
        raise DeltaError(f"{where} does not match the table schema: " + "; ".join(problems))


# --------------------------------------------------------------------------------------------
# Per-file stats (Delta's stats JSON) from a Parquet footer


def parquet_stats(meta: pq.FileMetaData, schema: pa.Schema) -> dict[str, Any]:
    """numRecords, minValues, maxValues and nullCount of one Parquet file, as Delta stores them.

    Only leaf columns outside lists and maps get stats (as delta-spark does). A bound is left
    out whenever it could be wrong: a row group without stats, NaN in floats, long strings (max
    only), types whose JSON form loses precision (decimal) or is not collected (boolean, binary).
    """
    groups = [meta.row_group(i) for i in range(meta.num_row_groups)]
    groups = [g for g in groups if g.num_rows > 0]
    mins: dict[str, Any] = {}
    maxs: dict[str, Any] = {}
    nulls: dict[str, Any] = {}
    _collect_stats(list(schema), 0, groups, mins, maxs, nulls)
    return {"numRecords": meta.num_rows, "minValues": mins, "maxValues": maxs, "nullCount": nulls}


def _leaf_count(arrow_type: pa.DataType) -> int:
    """Parquet leaf columns under one Arrow type (leaves are numbered depth-first)."""
    if pa.types.is_struct(arrow_type):
        return sum(_leaf_count(f.type) for f in arrow_type.fields)
    if pa.types.is_map(arrow_type):
        return _leaf_count(arrow_type.key_type) + _leaf_count(arrow_type.item_type)
    if _is(arrow_type, *_LIST_CHECKS):
        return _leaf_count(arrow_type.value_type)
    return 1


def _collect_stats(
    fields: list[pa.Field],
    leaf: int,
    groups: list[pq.RowGroupMetaData],
    mins: dict[str, Any],
    maxs: dict[str, Any],
    nulls: dict[str, Any],
) -> int:
    """Fill the three dicts for ``fields`` whose first leaf is ``leaf``; return the next leaf."""
    for field in fields:
        if pa.types.is_struct(field.type):
            sub_min: dict[str, Any] = {}
            sub_max: dict[str, Any] = {}
            sub_null: dict[str, Any] = {}
            leaf = _collect_stats(list(field.type.fields), leaf, groups, sub_min, sub_max, sub_null)
            for target, sub in ((mins, sub_min), (maxs, sub_max), (nulls, sub_null)):
                if sub:
                    target[field.name] = sub
            continue
        width = _leaf_count(field.type)
        if width == 1 and not pa.types.is_nested(field.type):
            low, high, null_count = _column_bounds(field.type, [g.column(leaf) for g in groups])
            if low is not None:
                mins[field.name] = low
            if high is not None:
                maxs[field.name] = high
            if null_count is not None:
                nulls[field.name] = null_count
        leaf += width
    return leaf


def _column_bounds(
    arrow_type: pa.DataType, chunks: list[pq.ColumnChunkMetaData]
) -> tuple[Any, Any, int | None]:
    """(min, max, nullCount) of one leaf column over its row groups; None where unknown."""
    stats = [c.statistics for c in chunks]
    null_count: int | None = 0
    for s in stats:
        if s is None or not s.has_null_count:
            null_count = None
            break
        null_count += s.null_count
    bounded = []
    for chunk, s in zip(chunks, stats, strict=True):
        if s is not None and s.has_min_max:
            bounded.append((s.min, s.max))
        elif s is None or not s.has_null_count or s.null_count != chunk.num_values:
            return None, None, null_count  # values of unknown range
        # else: a row group where the column is all null bounds nothing
    if not bounded:
        return None, None, null_count
    if pa.types.is_floating(arrow_type) and any(v != v for pair in bounded for v in pair):
        # parquet-mr reports NaN as a bound, other writers skip NaN: no safe bounds either way.
        return None, None, null_count
    try:
        low = min(pair[0] for pair in bounded)
        high = max(pair[1] for pair in bounded)
    except TypeError:  # values Python cannot order (should not happen for one column)
        return None, None, null_count
    return _stat_json(arrow_type, low, is_max=False), _stat_json(arrow_type, high, True), null_count


def _stat_json(arrow_type: pa.DataType, value: Any, is_max: bool) -> Any:
    """One bound in Delta's JSON form, or None when no safe form exists."""
    t = arrow_type
    if pa.types.is_integer(t) and isinstance(value, int):
        return value
    if pa.types.is_floating(t) and isinstance(value, float):
        # JSON has no infinity (and NaN never gets here, see _column_bounds).
        return value if abs(value) != float("inf") else None
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        if not isinstance(value, str):
            return None
        if len(value) <= STRING_STATS_PREFIX:
            return value
        # A prefix is a valid lower bound; a truncated max would be below the true max.
        return None if is_max else value[:STRING_STATS_PREFIX]
    if pa.types.is_date32(t) and isinstance(value, dt.date):
        return value.isoformat()
    if pa.types.is_timestamp(t) and t.unit != "ns" and isinstance(value, dt.datetime):
        # Delta keeps milliseconds: round the min down and the max up so both stay bounds.
        # (Nanosecond values would not survive Python's datetime: no stats for them.)
        micros = value.microsecond % 1000
        if micros:
            value = value - dt.timedelta(microseconds=micros)
            if is_max:
                value += dt.timedelta(milliseconds=1)
        if t.tz is not None:
            if value.tzinfo is None:  # instants in UTC, whatever pyarrow attached
                value = value.replace(tzinfo=dt.timezone.utc)
            utc = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
            return utc.isoformat(timespec="milliseconds") + "Z"
        return value.replace(tzinfo=None).isoformat(timespec="milliseconds")
    return None


# --------------------------------------------------------------------------------------------
# Locations: one table path as Spark, delta-rs and pyarrow.fs each want it


@dataclass(frozen=True)
class _Location:
    shown: str  # the path as the user gave it, for messages
    spark: str  # for Spark reads and writes
    delta: str  # for delta-rs
    fs: pafs.FileSystem
    fs_path: str  # the path inside ``fs``

    @classmethod
    def of(cls, path: str) -> _Location:
        if not isinstance(path, str) or not path:
            raise DeltaError(f"a table path must be a non-empty string, not {path!r}")
        parsed = urlparse(path)
        if len(parsed.scheme) <= 1 or parsed.scheme == "file":
            # No scheme (or a Windows drive letter): a local path. Made absolute so executors
            # and delta-rs agree on it, and file:// for Spark so a cluster whose default file
            # system is HDFS still writes where pyarrow.fs and delta-rs look.
            local = parsed.path if parsed.scheme == "file" else path
            local = os.path.abspath(local).rstrip("/") or "/"
            return cls(path, "file://" + local, local, pafs.LocalFileSystem(), local)
        path = path.rstrip("/")
        # Hadoop's S3A scheme is plain s3 for delta-rs and pyarrow.
        arrow_uri = "s3" + path[3:] if parsed.scheme == "s3a" else path
        try:
            fs, fs_path = pafs.FileSystem.from_uri(arrow_uri)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as err:
            raise DeltaError(
                f"cannot open {path!r} with pyarrow.fs ({err}); the rust engine needs storage "
                "pyarrow can list (local, s3, gs, abfs, hdfs)"
            ) from err
        return cls(path, path, arrow_uri, fs, fs_path)

    def child(self, name: str) -> _Location:
        return _Location(
            f"{self.shown}/{name}",
            f"{self.spark}/{name}",
            f"{self.delta}/{name}",
            self.fs,
            posixpath.join(self.fs_path, name),
        )

    def spark_file(self, relative_or_absolute: str) -> str:
        """A file of the table as Spark should read it (Delta paths are URL-encoded)."""
        path = unquote(relative_or_absolute)
        if urlparse(relative_or_absolute).scheme:
            return path  # an absolute path (shallow clones)
        return f"{self.spark}/{path}"


def is_delta_table(path: str, storage_options: dict[str, str] | None = None) -> bool:
    """Whether ``path`` holds a Delta table, asked of delta-rs (no Spark)."""
    return _is_table(_Location.of(path), storage_options)


def read_arrow(
    path: str,
    where: pads.Expression | None = None,
    storage_options: dict[str, str] | None = None,
) -> pa.Table:
    """The rows of the table at ``path`` (matching ``where``) in this process, without Spark.

    The snapshot's files are read with pyarrow's own file systems: going through
    ``DeltaTable.to_pyarrow_dataset`` (a Python-backed file system) aborted the interpreter at
    exit about half the time ("terminate called without an active exception").
    """
    loc = _Location.of(path)
    table = _open_table(loc, storage_options)
    check_readable(table, loc.shown)
    if table.metadata().partition_columns:
        raise DeltaError(f"{loc.shown} is partitioned: read it through Spark")
    schema = pa.schema(table.schema().to_arrow())
    paths = pa.table(table.get_add_actions(flatten=True)).column("path").to_pylist()
    if any(urlparse(p).scheme for p in paths):
        raise DeltaError(
            f"{loc.shown} has files outside its folder (a clone): read it through Spark"
        )
    files = [posixpath.join(loc.fs_path, unquote(p)) for p in paths]
    dataset = pads.dataset(files, schema=schema, format="parquet", filesystem=loc.fs)
    return dataset.to_table(filter=where)


def _escape_glob(path: str) -> str:
    """Spark expands glob characters in read paths; escape them so a file is read as named."""
    return "".join("\\" + ch if ch in "[]{}*?\\" else ch for ch in path)


# --------------------------------------------------------------------------------------------
# rust engine


@dataclass(frozen=True)
class DataFile:
    """One Parquet file an executor wrote, described for a Delta add action."""

    path: str  # relative to the table root, unencoded
    size: int
    modification_time: int  # ms since the epoch
    num_records: int
    stats: str


class RustDeltaStore(DeltaStore):
    """Spark writes Parquet; delta-rs commits it. Works without the delta-spark jars."""

    engine = "rust"

    def __init__(self, spark: SparkSession, storage_options: dict[str, str] | None = None):
        super().__init__(spark)
        self.storage_options = storage_options

    # -- inspection

    def exists(self, path: str) -> bool:
        return self._exists(self._loc(path))

    def version(self, path: str) -> int:
        return self._open(self._loc(path)).version()

    def txn_version(self, path: str, app_id: str) -> int | None:
        loc = self._loc(path)
        if not self._exists(loc):
            return None
        return self._open(loc).transaction_version(app_id)

    def history(self, path: str) -> list[dict[str, Any]]:
        entries = self._open(self._loc(path)).history()
        return [
            {
                "version": e.get("version"),
                "timestamp": _utc_from_millis(e.get("timestamp")),
                "operation": e.get("operation"),
                "metadata": _parse_user_metadata(e.get("userMetadata")),
            }
            for e in entries
        ]

    # -- reads

    def read(self, path: str, version: int | None = None) -> DataFrame:
        loc = self._loc(path)
        table = self._open(loc, version)
        check_readable(table, loc.shown)
        schema = spark_schema_from_delta(table.schema().to_json())
        actions = pa.table(table.get_add_actions(flatten=True)).to_pylist()
        if not actions:
            return self.spark.createDataFrame([], schema)
        partition_columns = table.metadata().partition_columns
        if not partition_columns:
            files = [_escape_glob(loc.spark_file(a["path"])) for a in actions]
            return self.spark.read.schema(schema).parquet(*files)
        return self._read_partitioned(loc, schema, partition_columns, actions)

    def _read_partitioned(
        self,
        loc: _Location,
        schema: T.StructType,
        partition_columns: list[str],
        actions: list[dict[str, Any]],
    ) -> DataFrame:
        """Partition values live in the log, not in the files: read each partition, add them."""
        data_schema = T.StructType([f for f in schema if f.name not in partition_columns])
        groups: dict[tuple, list[str]] = {}
        for action in actions:
            key = tuple(action.get(f"partition.{c}") for c in partition_columns)
            groups.setdefault(key, []).append(_escape_glob(loc.spark_file(action["path"])))
        types = {f.name: f.dataType for f in schema}
        parts = []
        for key, files in groups.items():
            part = self.spark.read.schema(data_schema).parquet(*files)
            for column, value in zip(partition_columns, key, strict=True):
                part = part.withColumn(column, F.lit(value).cast(types[column]))
            parts.append(part.select(*[F.col(_quote(f.name)) for f in schema]))
        result = parts[0]
        for part in parts[1:]:
            result = result.unionByName(part)
        return result

    # -- writes

    def write(
        self,
        df: DataFrame,
        path: str,
        mode: Mode = "append",
        *,
        app_id: str | None = None,
        txn_version: int | None = None,
        metadata: dict[str, str] | None = None,
        overwrite_schema: bool = False,
    ) -> int | None:
        user_metadata = _check_write_args(mode, app_id, txn_version, metadata)
        loc = self._loc(path)
        data_schema = T.StructType(
            [T.StructField(f.name, loose_type(f.dataType)) for f in df.schema]
        )
        _check_column_names(data_schema, loc.shown)
        table = self._open(loc) if self._exists(loc) else None
        schema = data_schema
        if table is not None:
            _check_writable(table, loc.shown, mode)
            if _already_committed(table, app_id, txn_version):
                return None  # cheap retry: no Spark job at all
            if not (mode == "overwrite" and overwrite_schema):
                schema = _table_schema_for_write(table, data_schema, loc.shown)
                # Files get the table's column order, whatever order the DataFrame had.
                df = df.select(*[F.col(_quote(f.name)) for f in schema])
        folder = loc.child(_fresh_folder_name())
        committed = False
        try:
            self._write_parquet(df, folder)
            written = self._data_files(folder, schema)
            # Empty partitions still produce a file with only a footer: no reason to log it.
            files = [f for f in written if f.num_records > 0]
            version = self._commit(
                loc, table, files, mode, schema, app_id, txn_version, user_metadata
            )
            committed = version is not None
        finally:
            if not committed:
                self._remove_uncommitted(loc, folder)
        if not files:
            # Nothing of the folder is in the log (an empty DataFrame): do not leave it behind.
            _delete_quietly(folder)
        for empty in (f for f in written if f.num_records == 0 and files):
            _delete_quietly(loc.child(empty.path), is_file=True)
        return version

    def _write_parquet(self, df: DataFrame, folder: _Location) -> None:
        # delta-rs refuses INT96 timestamps (Spark's default); curation.session sets this too,
        # but a session built elsewhere may not have.
        key = "spark.sql.parquet.outputTimestampType"
        if self.spark.conf.get(key, None) not in ("TIMESTAMP_MICROS", "TIMESTAMP_MILLIS"):
            self.spark.conf.set(key, "TIMESTAMP_MICROS")
        # "error" (not its alias "errorifexists", which Spark Connect's client rejects).
        df.write.mode("error").option("compression", "zstd").parquet(folder.spark)

    def _data_files(self, folder: _Location, schema: T.StructType) -> list[DataFile]:
        """The Parquet files Spark wrote, with stats from their footers, checked against schema."""
        infos = folder.fs.get_file_info(pafs.FileSelector(folder.fs_path, recursive=True))
        root = folder.fs_path.rstrip("/") + "/"
        candidates = []
        for info in infos:
            if info.type != pafs.FileType.File or not info.path.endswith(".parquet"):
                continue
            relative = info.path[len(root) :] if info.path.startswith(root) else info.base_name
            # Spark's _temporary, _SUCCESS and .crc files are not data.
            if any(part.startswith(("_", ".")) for part in relative.split("/")):
                continue
            candidates.append((info, relative))
        folder_name = folder.fs_path.rstrip("/").rsplit("/", 1)[-1]

        def describe(item: tuple[pafs.FileInfo, str]) -> DataFile:
            info, relative = item
            where = f"data file {info.path}"
            with folder.fs.open_input_file(info.path) as handle:
                parquet = pq.ParquetFile(handle)
                check_file_schema(schema, parquet.schema, where)
                stats = parquet_stats(parquet.metadata, parquet.schema_arrow)
            _check_non_nullable(schema, stats, where)
            mtime = info.mtime_ns // 1_000_000 if info.mtime_ns else int(time.time() * 1000)
            return DataFile(
                path=f"{folder_name}/{relative}",
                size=info.size,
                modification_time=mtime,
                num_records=stats["numRecords"],
                stats=json.dumps(stats, separators=(",", ":")),
            )

        with ThreadPoolExecutor(max_workers=FOOTER_READ_THREADS) as pool:
            files = list(pool.map(describe, candidates))
        return sorted(files, key=lambda f: f.path)

    def _commit(
        self,
        loc: _Location,
        table: Any,
        files: list[DataFile],
        mode: Mode,
        schema: T.StructType,
        app_id: str | None,
        txn_version: int | None,
        user_metadata: str | None,
    ) -> int | None:
        """One Delta commit of ``files``; the new version, or None if already committed.

        Overwrites commit against the snapshot taken before the files were written, with no
        retry: if anything committed since, the overwrite was computed from a stale table and
        fails. Appends retry on a fresh snapshot (they commute), re-checking the app id.
        """
        from deltalake import Schema
        from deltalake.exceptions import CommitFailedError
        from deltalake.exceptions import DeltaError as RustDeltaError
        from deltalake.transaction import AddAction, create_table_with_add_actions

        adds = [AddAction(f.path, f.size, {}, f.modification_time, True, f.stats) for f in files]
        delta_schema = Schema.from_json(schema.json())
        props = _commit_properties(app_id, txn_version, user_metadata)
        for attempt in range(APPEND_COMMIT_ATTEMPTS):
            if table is None:
                try:
                    create_table_with_add_actions(
                        loc.delta,
                        delta_schema,
                        adds,
                        mode="error",
                        storage_options=self.storage_options,
                        commit_properties=props,
                    )
                    return 0
                except RustDeltaError as err:
                    if not self._exists(loc):
                        raise DeltaError(
                            f"cannot create the Delta table {loc.shown}: {err}"
                        ) from err
                    if mode == "overwrite":
                        raise CommitConflictError(
                            f"another writer created {loc.shown} while this overwrite ran; "
                            "nothing was committed: rerun the write"
                        ) from err
                    table = self._open(loc)
                    _check_writable(table, loc.shown, mode)
                    schema = _table_schema_for_write(table, schema, loc.shown)
                    delta_schema = Schema.from_json(schema.json())
                    if _already_committed(table, app_id, txn_version):
                        return None
                    continue
            if mode == "append":
                table = self._open(loc)  # the freshest snapshot keeps the race window small
                _check_writable(table, loc.shown, mode)
                if _already_committed(table, app_id, txn_version):
                    return None
                # delta-rs ignores the schema of an append: our files must fit the table as it
                # is now, even if another writer replaced its schema meanwhile.
                changed = schema_mismatches(
                    spark_schema_from_delta(table.schema().to_json()), schema
                )
                if changed:
                    raise CommitConflictError(
                        f"another writer changed the schema of {loc.shown} while this append "
                        f"ran ({'; '.join(changed)}); nothing was committed"
                    )
            read_version = table.version()
            try:
                table.create_write_transaction(adds, mode, delta_schema, commit_properties=props)
                return read_version + 1
            except RustDeltaError as err:
                if not isinstance(err, CommitFailedError):
                    raise DeltaError(f"delta-rs refused the commit to {loc.shown}: {err}") from err
                latest = self._open(loc)
                if _already_committed(latest, app_id, txn_version):
                    return None  # a concurrent run of the same job won the race
                if mode == "overwrite":
                    raise CommitConflictError(
                        f"{loc.shown} changed while this overwrite ran (read version "
                        f"{read_version}, now {latest.version()}); nothing was committed and "
                        "the other commit is intact: recompute the data and rerun the write"
                    ) from err
                if latest.version() == read_version:
                    raise DeltaError(f"commit to {loc.shown} failed: {err}") from err
                time.sleep(min(2.0, 0.05 * 2**attempt))
        raise CommitConflictError(
            f"{loc.shown} kept changing: {APPEND_COMMIT_ATTEMPTS} append attempts lost the race "
            "to other writers; nothing was committed: rerun the write"
        )

    def _remove_uncommitted(self, loc: _Location, folder: _Location) -> None:
        """Delete our data folder unless its files made it into the table (best effort)."""
        try:
            if self._exists(loc):
                prefix = folder.fs_path.rstrip("/").rsplit("/", 1)[-1] + "/"
                live = pa.table(self._open(loc).get_add_actions(flatten=True)).column("path")
                if any(unquote(p).startswith(prefix) for p in live.to_pylist()):
                    return
        except Exception:  # noqa: BLE001 - cleanup must not hide the error that brought us here
            return
        _delete_quietly(folder)

    # -- helpers

    def _loc(self, path: str) -> _Location:
        return _Location.of(path)

    def _exists(self, loc: _Location) -> bool:
        return _is_table(loc, self.storage_options)

    def _open(self, loc: _Location, version: int | None = None) -> Any:
        return _open_table(loc, self.storage_options, version)


def _is_table(loc: _Location, storage_options: dict[str, str] | None) -> bool:
    from deltalake import DeltaTable

    return DeltaTable.is_deltatable(loc.delta, storage_options)


def _open_table(
    loc: _Location, storage_options: dict[str, str] | None, version: int | None = None
) -> Any:
    """The delta-rs table at ``loc``, with delta-rs' errors turned into ones a user can act on."""
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaError as RustDeltaError
    from deltalake.exceptions import TableNotFoundError

    try:
        return DeltaTable(loc.delta, version=version, storage_options=storage_options)
    except TableNotFoundError as err:
        raise DeltaError(f"no Delta table at {loc.shown} (no _delta_log there)") from err
    except RustDeltaError as err:
        if version is not None and _is_table(loc, storage_options):
            latest = DeltaTable(loc.delta, storage_options=storage_options).version()
            raise DeltaError(
                f"{loc.shown} has no version {version}: its versions run up to {latest} "
                "(older ones may have been removed by log cleanup)"
            ) from err
        raise DeltaError(f"cannot open the Delta table at {loc.shown}: {err}") from err


def _delete_quietly(target: _Location, is_file: bool = False) -> None:
    try:
        if is_file:
            target.fs.delete_file(target.fs_path)
        else:
            target.fs.delete_dir(target.fs_path)
    except Exception:  # noqa: BLE001 - best effort: a leftover folder is harmless to readers
        pass


def _commit_properties(
    app_id: str | None, txn_version: int | None, user_metadata: str | None
) -> Any:
    from deltalake.transaction import CommitProperties, Transaction

    custom = {"userMetadata": user_metadata} if user_metadata is not None else None
    txns = None
    if app_id is not None and txn_version is not None:
        txns = [Transaction(app_id, txn_version, int(time.time() * 1000))]
    # Retries are ours (see _commit): delta-rs would rebase an overwrite onto a newer snapshot.
    return CommitProperties(custom_metadata=custom, app_transactions=txns, max_commit_retries=0)


def _already_committed(table: Any, app_id: str | None, txn_version: int | None) -> bool:
    # delta-rs accepts a second commit with the same (app id, version): we must check ourselves.
    if app_id is None or txn_version is None:
        return False
    recorded = table.transaction_version(app_id)
    return recorded is not None and txn_version <= recorded


def _fresh_folder_name() -> str:
    # Neither '_' nor '.' first: Spark and Delta skip such paths as hidden.
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    return f"data-{stamp}-{uuid.uuid4().hex[:12]}"


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _check_column_names(schema: T.StructType, where: str) -> None:
    names = [f.name for f in schema]
    lowered = [n.lower() for n in names]
    dupes = sorted({n for n in names if lowered.count(n.lower()) > 1})
    if dupes:
        raise DeltaError(
            f"cannot write to {where}: column names must be unique ignoring case (Delta "
            f"matches them that way); duplicates: {', '.join(dupes)}"
        )


def _table_schema_for_write(table: Any, data: T.StructType, where: str) -> T.StructType:
    """The table's schema, after checking ``data`` fits it by column name and type."""
    schema = spark_schema_from_delta(table.schema().to_json())
    problems = schema_mismatches(schema, data)
    if problems:
        raise DeltaError(
            f"the data does not match the schema of {where}: "
            + "; ".join(problems)
            + ". Select and cast the columns to the table's schema, or overwrite with "
            "overwrite_schema=True to replace it."
        )
    return schema


def _check_non_nullable(schema: T.StructType, stats: dict[str, Any], where: str) -> None:
    """NOT NULL columns of an existing table: the footer's null counts must prove no nulls."""
    for field in schema:
        if field.nullable or isinstance(field.dataType, (T.StructType, T.ArrayType, T.MapType)):
            continue
        count = stats["nullCount"].get(field.name)
        if count != 0:
            found = "an unknown number of" if count is None else str(count)
            raise DeltaError(
                f"{where} has {found} nulls in column '{field.name}', which the table "
                "declares NOT NULL"
            )


def _protocol_features(table: Any) -> tuple[int, set[str], set[str]]:
    protocol = table.protocol()
    return (
        protocol.min_reader_version,
        set(protocol.reader_features or ()),
        set(protocol.writer_features or ()),
    )


def check_readable(table: Any, where: str) -> None:
    """Refuse tables whose files do not mean what a plain Parquet read of them gives."""
    reader_version, reader_features, _ = _protocol_features(table)
    config = table.metadata().configuration or {}
    refused = sorted(reader_features - RUST_READER_FEATURES)
    if reader_version == 2 or config.get("delta.columnMapping.mode", "none") != "none":
        refused = sorted(set(refused) | {"columnMapping"})
    if reader_version > 3:
        refused.append(f"reader version {reader_version}")
    if refused:
        raise DeltaError(
            f"{where} uses Delta reader features the rust engine cannot honour: "
            f"{', '.join(refused)} (deletionVectors would bring deleted rows back, columnMapping "
            "stores columns under other names). Read it with the spark engine (delta-spark "
            "jars), or rewrite it without these features (e.g. REORG TABLE ... APPLY (PURGE) "
            "then drop the feature)."
        )


def _check_writable(table: Any, where: str, mode: str) -> None:
    """Refuse writes that would skip checks delta-spark runs on the data itself."""
    check_readable(table, where)
    if table.metadata().partition_columns:
        raise DeltaError(
            f"{where} is partitioned by {table.metadata().partition_columns}; the rust engine "
            "writes unpartitioned tables only: use the spark engine or another table"
        )
    config = table.metadata().configuration or {}
    constraints = sorted(k for k in config if k.startswith(_CONSTRAINT_PREFIX))
    guarded = sorted(
        f"{field.name} ({key})"
        for field in spark_schema_from_delta(table.schema().to_json())
        for key in field.metadata
        if key.startswith(_UNCHECKED_COLUMN_METADATA)
    )
    if constraints or guarded:
        raise DeltaError(
            f"{where} has CHECK constraints, invariants, generated or identity columns "
            f"({', '.join(constraints + guarded)}) that the rust engine cannot enforce; "
            "write it with the spark engine"
        )
    if mode == "overwrite" and str(config.get("delta.appendOnly", "false")).lower() == "true":
        raise DeltaError(
            f"{where} is append-only (delta.appendOnly=true): it cannot be overwritten"
        )


# --------------------------------------------------------------------------------------------
# spark engine


class SparkDeltaStore(DeltaStore):
    """delta-spark: the engine on clusters and Databricks, where its jars are loaded."""

    engine = "spark"

    def exists(self, path: str) -> bool:
        from delta.tables import DeltaTable

        return bool(DeltaTable.isDeltaTable(self.spark, path))

    def version(self, path: str) -> int:
        latest = self._table(path).history(1).select("version").first()
        if latest is None:
            raise DeltaError(f"the Delta table at {path} has no commits")
        return int(latest[0])

    def read(self, path: str, version: int | None = None) -> DataFrame:
        from pyspark.errors import AnalysisException

        self._table(path)  # a clear error for a missing table
        reader = self.spark.read.format("delta")
        if version is not None:
            reader = reader.option("versionAsOf", version)
        try:
            return reader.load(path)
        except AnalysisException as err:  # e.g. a version that is not (or no longer) in the log
            raise DeltaError(f"cannot read {path} at version {version}: {err}") from err

    def write(
        self,
        df: DataFrame,
        path: str,
        mode: Mode = "append",
        *,
        app_id: str | None = None,
        txn_version: int | None = None,
        metadata: dict[str, str] | None = None,
        overwrite_schema: bool = False,
    ) -> int | None:
        from pyspark.errors import AnalysisException

        user_metadata = _check_write_args(mode, app_id, txn_version, metadata)
        existed = self.exists(path)
        before = self.version(path) if existed else -1
        if existed and app_id is not None and txn_version is not None:
            recorded = self.txn_version(path, app_id)
            if recorded is not None and txn_version <= recorded:
                return None
        if existed and not (mode == "overwrite" and overwrite_schema):
            table_schema = self.read(path).schema
            problems = schema_mismatches(table_schema, df.schema)
            if problems:
                raise DeltaError(
                    f"the data does not match the schema of {path}: " + "; ".join(problems)
                )
        writer = df.write.format("delta").mode(mode)
        if app_id is not None:
            # delta-spark skips the write itself when this (app id, version) is recorded.
            writer = writer.option("txnAppId", app_id).option("txnVersion", txn_version)
        if user_metadata is not None:
            writer = writer.option("userMetadata", user_metadata)
        if mode == "overwrite" and overwrite_schema:
            writer = writer.option("overwriteSchema", "true")
        try:
            writer.save(path)
        except AnalysisException as err:
            raise DeltaError(f"delta-spark refused the write to {path}: {err}") from err
        except Exception as err:
            if _is_delta_conflict(err):
                raise CommitConflictError(
                    f"another writer committed to {path} first; nothing of this write was "
                    f"committed: rerun it ({type(err).__name__}: {err})"
                ) from err
            raise
        return self._own_commit(path, before, user_metadata)

    def _own_commit(self, path: str, before: int, user_metadata: str | None) -> int | None:
        """The version of the commit ``write`` just made; None if delta-spark skipped it."""
        newer = (
            self._table(path)
            .history()
            .where(F.col("version") > before)
            .select("version", "userMetadata")
            .orderBy(F.col("version").desc())
            .collect()
        )
        # The newest commit since ours began that carries our userMetadata. Two writers racing
        # with identical metadata (and no app id to tell them apart) cannot be told apart.
        for row in newer:
            if row["userMetadata"] == user_metadata:
                return int(row["version"])
        return None

    def txn_version(self, path: str, app_id: str) -> int | None:
        if not self.exists(path):
            return None
        try:
            jvm = self.spark._jvm  # noqa: SLF001 - delta-spark has no Python API for txn ids
            pair = jvm.org.apache.spark.sql.delta.DeltaLog.forTableWithSnapshot(
                self.spark._jsparkSession,  # noqa: SLF001
                path,
            )
            found = pair._2().transactions().get(app_id)
            return int(found.get()) if found.isDefined() else None
        except Exception as jvm_err:  # noqa: BLE001 - internal API; fall back to reading the log
            try:
                from deltalake import DeltaTable

                return DeltaTable(path).transaction_version(app_id)
            except Exception as err:  # noqa: BLE001
                raise DeltaError(
                    f"cannot read the transaction ids of {path} (delta-spark: {jvm_err}; "
                    f"delta-rs: {err})"
                ) from err

    def history(self, path: str) -> list[dict[str, Any]]:
        rows = (
            self._table(path)
            .history()
            .select(
                "version",
                F.unix_millis("timestamp").alias("ms"),
                "operation",
                "userMetadata",
            )
            .orderBy(F.col("version").desc())
            .collect()
        )
        return [
            {
                "version": int(r["version"]),
                "timestamp": _utc_from_millis(r["ms"]),
                "operation": r["operation"],
                "metadata": _parse_user_metadata(r["userMetadata"]),
            }
            for r in rows
        ]

    def _table(self, path: str) -> Any:
        from delta.tables import DeltaTable

        if not self.exists(path):
            raise DeltaError(f"no Delta table at {path} (no _delta_log there)")
        return DeltaTable.forPath(self.spark, path)


def _is_delta_conflict(err: BaseException) -> bool:
    try:
        from delta.exceptions import DeltaConcurrentModificationException
    except ImportError:
        return False
    return isinstance(err, DeltaConcurrentModificationException)
