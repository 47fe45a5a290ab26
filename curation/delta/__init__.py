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

from typing import Literal

from pyspark.sql import SparkSession

from curation.delta.arrow_read import is_delta_table, read_arrow
from curation.delta.rust_engine import RustDeltaStore
from curation.delta.spark_engine import SparkDeltaStore
from curation.delta.store import DeltaStore, Mode
from curation.errors import DeltaError
from curation.session import delta_package, has_delta_jars

__all__ = ["DeltaStore", "Mode", "is_delta_table", "open_store", "read_arrow"]


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
            package = delta_package(spark.version)  # raises for a Spark no delta-spark supports
            raise DeltaError(
                "storage.engine is 'spark' but the delta-spark classes are not on the Spark "
                f"classpath; start Spark with --packages {package} (and the Delta SQL "
                "extension), or set storage.engine to 'rust' or 'auto'"
            )
        return SparkDeltaStore(spark)
    if engine == "rust":
        return RustDeltaStore(spark, storage_options=storage_options)
    raise DeltaError(f"storage.engine must be 'auto', 'spark' or 'rust', not {engine!r}")
