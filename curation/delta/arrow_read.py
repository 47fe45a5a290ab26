"""Reading a Delta table into this process with delta-rs and pyarrow: no Spark, no JVM.

``curation stats`` and ``explain`` read the small result tables this way: starting a JVM would
cost more than the read. Tables it cannot read faithfully are refused (``check_readable``).
"""

from __future__ import annotations

import posixpath
from urllib.parse import unquote, urlparse

import pyarrow as pa
import pyarrow.dataset as pads

from curation.delta.rust_table import check_readable, is_table, open_table
from curation.errors import DeltaError
from curation.storage import Location


def is_delta_table(path: str, storage_options: dict[str, str] | None = None) -> bool:
    """Whether ``path`` holds a Delta table, asked of delta-rs (no Spark)."""
    return is_table(Location.of(path), storage_options)


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
    loc = Location.of(path)
    table = open_table(loc, storage_options)
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
