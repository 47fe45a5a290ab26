"""Opening a table with delta-rs, and refusing tables the JVM-free path cannot honour.

Shared by the rust engine and the JVM-free readers: both list a snapshot's files and read them
as plain Parquet, which is only faithful when no reader feature changes what the files mean.
"""

from __future__ import annotations

import re
from typing import Any

from curation.delta.schema import spark_schema_from_delta
from curation.errors import DeltaError, StorageError
from curation.storage import Location

# Reader features whose files the rust engine reads correctly by listing the snapshot's files.
# Anything else (deletionVectors: deleted rows would come back; columnMapping: physical column
# names differ from the schema; typeWidening: old files hold narrower types) is refused.
RUST_READER_FEATURES = frozenset({"timestampNtz", "v2Checkpoint", "vacuumProtocolCheck"})
# Column metadata and table properties for write-time checks delta-rs does not run on files it
# did not write itself (they live in the data, which it never sees on this path).
_UNCHECKED_COLUMN_METADATA = ("delta.invariants", "delta.generationExpression", "delta.identity")
_CONSTRAINT_PREFIX = "delta.constraints."


def options_for(loc: Location, storage_options: dict[str, str] | None) -> dict[str, str] | None:
    """The options given, else the location's own (the run's ``storage.options``)."""
    return storage_options if storage_options is not None else loc.delta_options


def is_table(loc: Location, storage_options: dict[str, str] | None) -> bool:
    from deltalake import DeltaTable

    try:
        return DeltaTable.is_deltatable(loc.delta, options_for(loc, storage_options))
    except OSError as err:
        raise unreachable(loc, err) from err


def unreachable(loc: Location, err: Exception) -> StorageError:
    """delta-rs' multi-line object-store error as one line naming the table and the fix."""
    steps = [re.sub(r"\x1b\[[0-9;]*m|↳", "", line).strip() for line in str(err).splitlines()]
    return StorageError(
        f"cannot reach {loc.shown} ({': '.join(s for s in steps if s)}); check the URI and "
        "storage.options (endpoint, region, credentials)"
    )


def open_table(
    loc: Location, storage_options: dict[str, str] | None, version: int | None = None
) -> Any:
    """The delta-rs table at ``loc``, with delta-rs' errors turned into ones a user can act on."""
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaError as RustDeltaError
    from deltalake.exceptions import TableNotFoundError

    storage_options = options_for(loc, storage_options)
    try:
        return DeltaTable(loc.delta, version=version, storage_options=storage_options)
    except TableNotFoundError as err:
        raise DeltaError(f"no Delta table at {loc.shown} (no _delta_log there)") from err
    except OSError as err:
        raise unreachable(loc, err) from err
    except RustDeltaError as err:
        if version is not None and is_table(loc, storage_options):
            latest = DeltaTable(loc.delta, storage_options=storage_options).version()
            raise DeltaError(
                f"{loc.shown} has no version {version}: its versions run up to {latest} "
                "(older ones may have been removed by log cleanup)"
            ) from err
        raise DeltaError(f"cannot open the Delta table at {loc.shown}: {err}") from err


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


def check_writable(table: Any, where: str, mode: str) -> None:
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
