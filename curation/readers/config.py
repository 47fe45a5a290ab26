"""The ``input:`` section of a run's config: where the documents are and how to read them.

Only the settings live here; what reading them produces (columns, reject reasons) is documented
with the reader in documents.py.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from curation.frozen import FrozenModel
from curation.storage import TABLE_NAME

Format = Literal["auto", "jsonl", "parquet", "delta", "text"]
OnCorruptFile = Literal["skip_rest", "fail"]

MiB = 1 << 20
# Spark's parsed JSON value (variant) holds at most 128 MiB, so no larger record can be read.
MAX_RECORD_BYTES_CEILING = 128 * MiB


class InputConfig(FrozenModel):
    """Where the documents are and which columns hold the id and the text."""

    path: str | None = Field(
        None,
        min_length=1,
        description="A file, a directory or a glob; a local path or a URI (s3://, s3a://, "
        "gs://, abfss://, hdfs://, dbfs:/). For Delta, the table's root directory. Give path "
        "or table.",
    )
    # Unity Catalog and Hive-metastore users name tables, not folders; Spark resolves the name
    # (one, two or three parts) against the session's catalogs, whatever the table's format.
    table: str | None = Field(
        None,
        min_length=1,
        max_length=768,
        pattern=TABLE_NAME,
        description="A table the session's catalog knows, as catalog.schema.table (or "
        "schema.table, or table in the current schema). Give table or path.",
    )
    # auto is what a user expects from a path like data/*.jsonl.gz or a Delta table root.
    format: Format = Field(
        "auto",
        description="jsonl (one JSON object per line; .gz, .bz2, .zst decoded by curation, "
        ".deflate, .lz4, .snappy by Hadoop codecs) or text (one document per file): every file below the path, subdirectories included. "
        "parquet: as Spark reads it (key=value directories become columns). delta: a table "
        "root. auto: a directory with _delta_log is Delta, else the file extensions decide "
        "(they must agree).",
    )
    # "id" and "text" are the names Dolma, FineWeb and RedPajama use.
    id_column: str = Field(
        "id",
        min_length=1,
        max_length=256,
        description="Input field renamed to `id`. Rows where it is absent or null get an id "
        "derived from the text (see read_documents).",
    )
    text_column: str = Field(
        "text", min_length=1, max_length=256, description="Input field renamed to `text`."
    )
    # Off: renaming silently would surprise as much as overwriting silently; the run refuses
    # such input and its message names this setting.
    rename_colliding: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Prefix for input fields named like a column the run writes (a stage's "
        "signal such as lang or len_words, or run_id, drop_stage, drop_reason, dup_of, "
        "read_source, read_raw): with input_, a field lang is kept as input_lang. Default: "
        "the run refuses such input and names the fields.",
    )
    # None reads the latest version, as Delta readers do by default.
    version: int | None = Field(
        None, ge=0, description="Delta time travel: read this table version (Delta only)."
    )

    # 64 MiB: far above any document worth training on (web pages average a few KB, whole books
    # a few MB), so only dumps and blobs reach it; a record is held several times over while it
    # is parsed (line, parsed value, text), so this also bounds an executor's memory per record.
    max_record_bytes: int = Field(
        64 * MiB,
        ge=1024,
        le=MAX_RECORD_BYTES_CEILING,
        description="A JSONL line longer than this many bytes is not parsed: it is rejected as "
        "read:too_large, keeping the id found in its text. At most 128 MiB, the largest JSON "
        "value Spark can hold; a record whose parsed form exceeds that (many tiny values) is "
        "too_large too.",
    )
    # skip_rest: a damaged file in a large crawl is usually one bad download; stopping the whole
    # run for it loses more than it saves, and the file is reported in stats and rejected.
    on_corrupt_file: OnCorruptFile = Field(
        "skip_rest",
        description="A compressed JSONL file (.gz, .bz2, .zst) that is truncated or corrupt: "
        "skip_rest keeps every line before the damage and rejects one row per file as "
        "read:truncated_file or read:corrupt_file (with the partial last line); fail stops the "
        "run with an error naming the file.",
    )

    @model_validator(mode="after")
    def _path_or_table(self) -> InputConfig:
        if (self.path is None) == (self.table is None):
            given = "both" if self.path is not None else "neither"
            raise ValueError(
                f"give input.path (files, a Delta table root) or input.table (a catalog table "
                f"name), not {given}"
            )
        if self.table is not None and self.format not in ("auto", "delta"):
            raise ValueError(
                f"input.table {self.table!r} is read in the catalog's own format; remove "
                f"input.format ({self.format!r})"
            )
        return self

    @property
    def shown(self) -> str:
        """What the input is called in messages: its path or its table name."""
        return self.path if self.path is not None else f"table {self.table}"

    @model_validator(mode="after")
    def _version_needs_delta(self) -> InputConfig:
        if self.version is not None and self.format not in ("auto", "delta"):
            raise ValueError(
                f"version={self.version} applies to Delta tables only, but format is "
                f"{self.format!r}; remove version or set format: delta"
            )
        return self
