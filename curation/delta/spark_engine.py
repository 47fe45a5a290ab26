"""The spark engine: delta-spark, used where its JVM classes are on the classpath."""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from curation.delta.schema import merged_schema, table_schema_for_write
from curation.delta.store import (
    DeltaStore,
    Mode,
    check_write_args,
    parse_user_metadata,
    utc_from_millis,
)
from curation.errors import CommitConflictError, DeltaError
from curation.storage import is_table_name


class SparkDeltaStore(DeltaStore):
    """delta-spark: the engine on clusters and Databricks, where its jars are loaded."""

    engine = "spark"

    def exists(self, path: str) -> bool:
        from delta.tables import DeltaTable

        if is_table_name(path):
            # A catalog table; a non-Delta table of that name is refused when it is opened.
            return bool(self.spark.catalog.tableExists(path))
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
            return reader.table(path) if is_table_name(path) else reader.load(path)
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
        add_columns: bool = False,
    ) -> int | None:
        from pyspark.errors import AnalysisException

        user_metadata = check_write_args(mode, app_id, txn_version, metadata)
        existed = self.exists(path)
        before = self.version(path) if existed else -1
        if existed and app_id is not None and txn_version is not None:
            recorded = self.txn_version(path, app_id)
            if recorded is not None and txn_version <= recorded:
                return None
        merge = mode == "append" and add_columns
        if existed and merge:
            merged_schema(self.read(path).schema, df.schema, path)  # refuses what cannot merge
        elif existed and not (mode == "overwrite" and overwrite_schema):
            table_schema_for_write(self.read(path).schema, df.schema, path)  # refuses a misfit
        writer = df.write.format("delta").mode(mode)
        if app_id is not None:
            # delta-spark skips the write itself when this (app id, version) is recorded.
            writer = writer.option("txnAppId", app_id).option("txnVersion", txn_version)
        if user_metadata is not None:
            writer = writer.option("userMetadata", user_metadata)
        if mode == "overwrite" and overwrite_schema:
            writer = writer.option("overwriteSchema", "true")
        if merge:
            writer = writer.option("mergeSchema", "true")
        try:
            if is_table_name(path):
                # Creates a managed table in the catalog when absent, appends (or overwrites)
                # otherwise. Idempotence rests on the txn_version check above (read from the
                # table's log at its catalog location); the txnAppId/txnVersion options are
                # passed too, as delta-spark documents them for DataFrameWriter writes (not
                # verified for saveAsTable here: no delta-spark jars on the build machine).
                writer.saveAsTable(path)
            else:
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

    def delete_matching(
        self, path: str, keys: DataFrame, *, metadata: dict[str, str] | None = None
    ) -> int | None:
        """``MERGE INTO path t USING keys s ON <every key column equal> WHEN MATCHED THEN
        DELETE``, distributed (the keys are not collected)."""
        user_metadata = check_write_args("append", None, None, metadata)
        if not self.exists(path):
            return None
        columns = set(self.read(path).columns)
        unknown = [c for c in keys.columns if c not in columns]
        if not keys.columns or unknown:
            raise DeltaError(
                f"cannot delete from {path} by columns {keys.columns}: the table has no "
                f"column {unknown or '(none given)'}"
            )
        source = keys.distinct()
        if source.isEmpty():
            return None
        on = " AND ".join(f"t.`{c}` = s.`{c}`" for c in keys.columns)
        before = self.version(path)
        # A merge takes its commit's userMetadata from this session setting, not an option.
        conf_key = "spark.databricks.delta.commitInfo.userMetadata"
        previous = self.spark.conf.get(conf_key, None)
        if user_metadata is not None:
            self.spark.conf.set(conf_key, user_metadata)
        try:
            self._table(path).alias("t").merge(source.alias("s"), on).whenMatchedDelete().execute()
        except Exception as err:
            if _is_delta_conflict(err):
                raise CommitConflictError(
                    f"another writer changed {path} while rows were deleted from it; nothing "
                    f"was deleted: rerun ({type(err).__name__}: {err})"
                ) from err
            raise
        finally:
            if user_metadata is not None:
                if previous is None:
                    self.spark.conf.unset(conf_key)
                else:
                    self.spark.conf.set(conf_key, previous)
        after = self.version(path)
        return after if after > before else None

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
                self._location(path),
            )
            found = pair._2().transactions().get(app_id)
            return int(found.get()) if found.isDefined() else None
        except Exception as jvm_err:  # noqa: BLE001 - internal API; fall back to reading the log
            try:
                from deltalake import DeltaTable

                from curation.storage import Location

                loc = Location.of(self._location(path))
                table = DeltaTable(loc.delta, storage_options=loc.delta_options)
                return table.transaction_version(app_id)
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
                "timestamp": utc_from_millis(r["ms"]),
                "operation": r["operation"],
                "metadata": parse_user_metadata(r["userMetadata"]),
            }
            for r in rows
        ]

    def _table(self, path: str) -> Any:
        from delta.tables import DeltaTable

        if not self.exists(path):
            if is_table_name(path):
                raise DeltaError(f"no table {path} in the session's catalog")
            raise DeltaError(f"no Delta table at {path} (no _delta_log there)")
        if is_table_name(path):
            return DeltaTable.forName(self.spark, path)
        return DeltaTable.forPath(self.spark, path)

    def _location(self, path: str) -> str:
        """A catalog table's storage location (its Delta log is read from there); a path as is."""
        if not is_table_name(path):
            return path
        detail = self.spark.sql(f"DESCRIBE DETAIL {path}").select("location").first()
        if detail is None or not detail[0]:
            raise DeltaError(f"the catalog reports no location for {path}")
        return detail[0]


def _is_delta_conflict(err: BaseException) -> bool:
    try:
        from delta.exceptions import DeltaConcurrentModificationException
    except ImportError:
        return False
    return isinstance(err, DeltaConcurrentModificationException)
