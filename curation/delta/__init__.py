"""Delta table I/O (being split into one module per concept; see the next commit)."""

from curation.delta.rust_engine import (
    DeltaStore,
    Mode,
    check_file_schema,
    is_delta_table,
    open_store,
    parquet_stats,
    read_arrow,
    spark_schema_from_arrow,
)

__all__ = [
    "DeltaStore",
    "Mode",
    "check_file_schema",
    "is_delta_table",
    "open_store",
    "parquet_stats",
    "read_arrow",
    "spark_schema_from_arrow",
]
