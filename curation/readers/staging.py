"""The reader's inner contract: what every per-format reader hands to the common tail.

Each format (JSONL, plain text, Parquet/Delta) produces a ``Staged``: one row per input record
with the internal columns below, a reason on records it could not read, and an order that says
which of two records came first. ``documents.py`` turns that into the output schema. The reject
reasons and the output column names live here so every format uses the same ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from curation import columns as C
from curation.errors import ConfigError
from curation.readers.config import InputConfig
from curation.spark_compat import try_url_decode

READ_STAGE = "read"
SOURCE = "read_source"  # the file a row came from (the table path for Delta reads without it)
RAW = "read_raw"  # start of the unreadable record, on rejected rows only
# Enough to recognise a record and grep for it; a rejected 100 MB line must not bloat the table.
RAW_MAX_CHARS = 1024
# Derived ids: hex digits of sha256(text). 128 bits: collisions are out of reach for any corpus.
ID_HEX_CHARS = 32

# Called with the input's metadata field names once they are known, and a prefix the reader
# requires (``earlier_`` for a curation run's own output table) or None; returns the new name of
# each field to rename (e.g. {"lang": "input_lang"}) or raises to refuse the input. The driver
# passes one that knows which columns its stages write.
FieldCheck = Callable[[Sequence[str], str | None], Mapping[str, str]]

REASON_INVALID_UTF8 = "read:invalid_utf8"
REASON_BAD_JSON = "read:bad_json"
REASON_NOT_OBJECT = "read:not_object"
REASON_MISSING_TEXT = "read:missing_text"
REASON_NULL_TEXT = "read:null_text"
REASON_TEXT_NOT_STRING = "read:text_not_string"
REASON_TOO_LARGE = "read:too_large"
REASON_DUPLICATE_ID = "read:duplicate_id"
REASON_TRUNCATED_FILE = "read:truncated_file"
REASON_CORRUPT_FILE = "read:corrupt_file"

# Columns the reader writes besides id and text. If the input already has them (a table written
# by an earlier run), their non-null values are kept: an earlier decision wins, as in every stage.
READER_COLUMNS = (C.DROP_STAGE, C.DROP_REASON, SOURCE, RAW)

# Internal column names; the prefix keeps them apart from any metadata column.
ID = "__read_id"  # the id given in the input, as a string, or null
TEXT = "__read_text"
REASON = "__read_reason"  # null, or why the record cannot be a document
RAW_FULL = "__read_raw_full"  # the whole unreadable record (cut to RAW_MAX_CHARS at the end)
SRC = "__read_source"
ORDER = "__read_order"  # position in SRC (a line, a row index), or a stand-in that is stable


@dataclass
class Staged:
    """Rows before ids are settled: ID (given id or null), TEXT, REASON, RAW_FULL, SRC, ORDER,
    then the metadata columns."""

    df: DataFrame
    metadata: list[str]
    needs_derived_ids: bool  # some row has no usable id
    may_have_duplicate_ids: bool  # two rows may share a given id (False only when known)


def check_names(cfg: InputConfig, metadata: Sequence[str], present: Sequence[str]) -> None:
    """Output names must be distinct ignoring case (Spark resolves column names that way)."""
    if cfg.id_column != C.ID and C.ID in present:
        raise ConfigError(
            f"the input has both {cfg.id_column!r} (input.id_column) and a field {C.ID!r}; the "
            f"renamed column would collide with it. Set input.id_column to {C.ID!r} or rename "
            "one of them"
        )
    if cfg.text_column != C.TEXT and C.TEXT in present:
        raise ConfigError(
            f"the input has both {cfg.text_column!r} (input.text_column) and a field "
            f"{C.TEXT!r}; set input.text_column to {C.TEXT!r} or rename one of them"
        )
    seen: dict[str, str] = {name: name for name in (C.ID, C.TEXT, *READER_COLUMNS)}
    for name in metadata:
        other = seen.get(name.lower())
        if other is not None and other != name:
            hint = "rename one of them"
            if other in (C.ID, C.TEXT):
                hint = f"set input.id_column or input.text_column to {name!r}"
            raise ConfigError(
                f"the input has fields {other!r} and {name!r}, which Spark cannot tell apart "
                f"(column names are case-insensitive); {hint}"
            )
        seen[name.lower()] = name


def quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def shown(names: Sequence[str], limit: int = 20) -> str:
    more = f" ... ({len(names)} in all)" if len(names) > limit else ""
    return ", ".join(repr(n) for n in names[:limit]) + more if names else "none"


def as_string(col: Column, data_type: T.DataType) -> Column:
    if isinstance(data_type, (T.StructType, T.ArrayType, T.MapType)):
        return F.to_json(col)
    return col.cast("string")


def metadata_column(df: DataFrame, field: str) -> Column | None:
    """``_metadata.<field>`` when the plan still exposes it (a plain file scan), else None."""
    try:
        df.select(F.col(f"_metadata.{field}")).schema  # noqa: B018 - analysis only
    except AnalysisException:
        return None
    return F.col(f"_metadata.{field}")


def decoded(uri: Column) -> Column:
    """Spark's URL-encoded file path, readable: ``file:/a/b%20c.txt`` -> ``file:/a/b c.txt``."""
    # url_decode is form decoding ('+' -> space); a literal '+' in a path is kept as is.
    return F.coalesce(try_url_decode(F.replace(uri, F.lit("+"), F.lit("%2B"))), uri)
