"""The rust engine: Spark writes Parquet, delta-rs commits it, without the delta-spark jars.

Executors write Parquet files into a fresh folder inside the table; the driver reads their
footers (schema, per-file stats) and commits them all in one Delta transaction with
``deltalake`` (delta-rs). Reads list the snapshot's files and hand them to ``spark.read.parquet``.
delta-rs checks neither the files' schemas nor (app id, version) repeats on this path, so this
module does.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from curation.delta.arrow_io import own_files, read_parquet, write_parquet
from curation.delta.file_stats import parquet_stats
from curation.delta.rust_table import (
    check_readable,
    check_writable,
    is_table,
    open_table,
    options_for,
)
from curation.delta.schema import (
    check_column_names,
    check_file_schema,
    check_non_nullable,
    loose_type,
    merged_schema,
    schema_mismatches,
    spark_schema_from_delta,
    table_schema_for_write,
)
from curation.delta.store import (
    DeltaStore,
    Mode,
    check_write_args,
    parse_user_metadata,
    utc_from_millis,
)
from curation.errors import CommitConflictError, DeltaError
from curation.spark_compat import to_arrow
from curation.storage import Location, is_table_name, spark_reaches

# Appends that lose the race for a version retry on a fresh snapshot (appends commute).
APPEND_COMMIT_ATTEMPTS = 8
# Footers are tiny; reading them in parallel hides object-store latency.
FOOTER_READ_THREADS = 16


def _escape_glob(path: str) -> str:
    """Spark expands glob characters in read paths; escape them so a file is read as named."""
    return "".join("\\" + ch if ch in "[]{}*?\\" else ch for ch in path)


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
                "timestamp": utc_from_millis(e.get("timestamp")),
                "operation": e.get("operation"),
                "metadata": parse_user_metadata(e.get("userMetadata")),
            }
            for e in entries
        ]

    # -- reads

    def read(self, path: str, version: int | None = None) -> DataFrame:
        loc = self._loc(path)
        table = self._open(loc, version)
        check_readable(table, loc.shown)
        schema = _schema_of(table)
        actions = pa.table(table.get_add_actions(flatten=True)).to_pylist()
        if not actions:
            return self.spark.createDataFrame([], schema)
        partition_columns = table.metadata().partition_columns
        if not spark_reaches(self.spark, loc.shown):
            # Executors read the files with pyarrow.fs: Spark has no connector for this storage.
            files = own_files(loc, bool(partition_columns), [a["path"] for a in actions])
            return read_parquet(self.spark, loc, files, schema)
        if not partition_columns:
            files = [_escape_glob(loc.spark_file(a["path"])) for a in actions]
            return self.spark.read.schema(schema).parquet(*files)
        return self._read_partitioned(loc, schema, partition_columns, actions)

    def _read_partitioned(
        self,
        loc: Location,
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
        add_columns: bool = False,
    ) -> int | None:
        user_metadata = check_write_args(mode, app_id, txn_version, metadata)
        loc = self._loc(path)
        data_schema = T.StructType(
            [T.StructField(f.name, loose_type(f.dataType)) for f in df.schema]
        )
        check_column_names(data_schema, loc.shown)
        table = self._open(loc) if self._exists(loc) else None
        schema = data_schema
        adds_columns = False
        if table is not None:
            check_writable(table, loc.shown, mode)
            if _already_committed(table, app_id, txn_version):
                return None  # cheap retry: no Spark job at all
            if mode == "append" and add_columns:
                known = _schema_of(table)
                schema = merged_schema(known, data_schema, loc.shown)
                adds_columns = len(schema) > len(known)
                df = df.select(*[_column_or_null(df, f) for f in schema])
            elif not (mode == "overwrite" and overwrite_schema):
                schema = table_schema_for_write(_schema_of(table), data_schema, loc.shown)
                # Files get the table's column order, whatever order the DataFrame had.
                df = df.select(*[F.col(_quote(f.name)) for f in schema])
        folder = loc.child(_fresh_folder_name())
        committed = False
        try:
            returned = self._write_parquet(df, folder)
            written = self._data_files(folder, schema, returned)
            # Empty partitions still produce a file with only a footer: no reason to log it.
            files = [f for f in written if f.num_records > 0]
            if adds_columns:  # most appends add none: no second open of the table
                self._add_columns(loc, schema)
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

    def _add_columns(self, loc: Location, schema: T.StructType) -> None:
        """Add the columns of ``schema`` the table lacks, in a commit of their own before the
        append's: a crash in between leaves null columns, which the resumed append fills."""
        from deltalake import Schema

        table = self._open(loc)
        known = {f.name for f in _schema_of(table)}
        new = T.StructType([f for f in schema if f.name not in known])
        if new.fields:
            table.alter.add_columns(Schema.from_json(new.json()).fields)

    def delete_matching(
        self, path: str, keys: DataFrame, *, metadata: dict[str, str] | None = None
    ) -> int | None:
        """delta-rs MERGE ... WHEN MATCHED DELETE with the keys as its source: they are
        collected to the driver (Arrow), so keep them to the rows to delete (ids, not texts)."""
        user_metadata = check_write_args("append", None, None, metadata)
        loc = self._loc(path)
        if not self._exists(loc):
            return None
        table = self._open(loc)
        check_writable(table, loc.shown, "append")
        columns = {f.name for f in _schema_of(table)}
        unknown = [c for c in keys.columns if c not in columns]
        if not keys.columns or unknown:
            raise DeltaError(
                f"cannot delete from {loc.shown} by columns {keys.columns}: the table has no "
                f"column {unknown or '(none given)'}"
            )
        source = to_arrow(keys.distinct())
        if source.num_rows == 0:
            return None
        from deltalake.transaction import CommitProperties

        on = " AND ".join(f"t.{_sql_name(c)} = s.{_sql_name(c)}" for c in keys.columns)
        custom = {"userMetadata": user_metadata} if user_metadata is not None else None
        metrics = (
            table.merge(
                source,
                predicate=on,
                source_alias="s",
                target_alias="t",
                commit_properties=CommitProperties(custom_metadata=custom),
            )
            .when_matched_delete()
            .execute()
        )
        # delta-rs makes no commit when nothing matched.
        return self._open(loc).version() if metrics.get("num_target_rows_deleted") else None

    def _write_parquet(self, df: DataFrame, folder: Location) -> set[str] | None:
        """Write ``df`` into ``folder``; the names of the files written when only those count
        (pyarrow writes: a failed task attempt may leave a file), None when all of them do."""
        if not spark_reaches(self.spark, folder.shown):
            return set(write_parquet(df, folder))
        # delta-rs refuses INT96 timestamps (Spark's default); curation.session sets this too,
        # but a session built elsewhere may not have.
        key = "spark.sql.parquet.outputTimestampType"
        if self.spark.conf.get(key, None) not in ("TIMESTAMP_MICROS", "TIMESTAMP_MILLIS"):
            self.spark.conf.set(key, "TIMESTAMP_MICROS")
        # "error" (not its alias "errorifexists", which Spark Connect's client rejects).
        df.write.mode("error").option("compression", "zstd").parquet(folder.spark)
        return None

    def _data_files(
        self, folder: Location, schema: T.StructType, only: set[str] | None = None
    ) -> list[DataFile]:
        """The Parquet files written (``only`` these names, when given), with stats from their
        footers, checked against schema."""
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
            if only is not None and relative not in only:
                continue  # a failed task attempt's file: never committed (VACUUM removes it)
            candidates.append((info, relative))
        folder_name = folder.fs_path.rstrip("/").rsplit("/", 1)[-1]

        def describe(item: tuple[pafs.FileInfo, str]) -> DataFile:
            info, relative = item
            where = f"data file {info.path}"
            with folder.fs.open_input_file(info.path) as handle:
                parquet = pq.ParquetFile(handle)
                check_file_schema(schema, parquet.schema, where)
                stats = parquet_stats(parquet.metadata, parquet.schema_arrow)
            check_non_nullable(schema, stats, where)
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
        loc: Location,
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
                        storage_options=options_for(loc, self.storage_options),
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
                    check_writable(table, loc.shown, mode)
                    schema = table_schema_for_write(_schema_of(table), schema, loc.shown)
                    delta_schema = Schema.from_json(schema.json())
                    if _already_committed(table, app_id, txn_version):
                        return None
                    continue
            if mode == "append":
                table = self._open(loc)  # the freshest snapshot keeps the race window small
                check_writable(table, loc.shown, mode)
                if _already_committed(table, app_id, txn_version):
                    return None
                # delta-rs ignores the schema of an append: our files must fit the table as it
                # is now, even if another writer replaced its schema meanwhile.
                changed = schema_mismatches(_schema_of(table), schema)
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

    def _remove_uncommitted(self, loc: Location, folder: Location) -> None:
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

    def _loc(self, path: str) -> Location:
        if is_table_name(path):
            raise DeltaError(
                f"{path!r} is a catalog table name: the rust engine (delta-rs) reads and writes "
                "tables by path only; use the spark engine, or the table's path"
            )
        return Location.of(path)

    def _exists(self, loc: Location) -> bool:
        return is_table(loc, self.storage_options)

    def _open(self, loc: Location, version: int | None = None) -> Any:
        return open_table(loc, self.storage_options, version)


def _delete_quietly(target: Location, is_file: bool = False) -> None:
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


def _sql_name(name: str) -> str:
    """A column name quoted for delta-rs' SQL predicates (DataFusion: double quotes)."""
    return '"' + name.replace('"', '""') + '"'


def _schema_of(table: Any) -> T.StructType:
    return spark_schema_from_delta(table.schema().to_json())


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _column_or_null(df: DataFrame, field: T.StructField) -> Column:
    if field.name in df.columns:
        return F.col(_quote(field.name))
    return F.lit(None).cast(field.dataType).alias(field.name)
