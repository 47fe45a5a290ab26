"""Inputs (JSONL, Parquet, Delta, plain-text files) -> the document schema.

Every input row comes out as one output row; nothing is dropped while reading. A record the
reader cannot turn into a document is *rejected*, not lost: ``drop_stage = "read"``, a
``drop_reason`` saying why, ``text`` null, and ``read_raw`` holding the start of what was read so a
user can find it (``read_source`` names the file). Output columns, in order::

    id, text, drop_stage, drop_reason, <metadata columns, types as read>, read_source, read_raw

Read reasons: ``read:invalid_utf8``, ``read:bad_json``, ``read:not_object`` (a JSONL line that is
valid JSON but not an object), ``read:missing_text``, ``read:null_text``, ``read:text_not_string``.
An empty text is a valid document (later stages decide about it). Whitespace-only JSONL lines are
skipped: they carry no record, and JSONL writers commonly leave a trailing blank line.

>>> df = read_documents(spark, InputConfig(path="data/*.jsonl.zst"))
>>> count_read_rejects(df)
{'read:bad_json': 2, 'read:text_not_string': 1}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from curation import columns as C
from curation.delta import DeltaStore, open_store
from curation.errors import ConfigError
from curation.readers.config import InputConfig
from curation.readers.listing import format_of_name, list_input
from curation.readers.variant_schema import parse_variant_schema

READ_STAGE = "read"
SOURCE = "read_source"  # the file a row came from (the table path for Delta reads without it)
RAW = "read_raw"  # start of the unreadable record, on rejected rows only
# Enough to recognise a record and grep for it; a rejected 100 MB line must not bloat the table.
RAW_MAX_CHARS = 1024
# Derived ids: hex digits of sha256(text). 128 bits: collisions are out of reach for any corpus.
ID_HEX_CHARS = 32

REASON_INVALID_UTF8 = "read:invalid_utf8"
REASON_BAD_JSON = "read:bad_json"
REASON_NOT_OBJECT = "read:not_object"
REASON_MISSING_TEXT = "read:missing_text"
REASON_NULL_TEXT = "read:null_text"
REASON_TEXT_NOT_STRING = "read:text_not_string"

# Columns the reader writes besides id and text. If the input already has them (a table written
# by an earlier run), their non-null values are kept: an earlier decision wins, as in every stage.
READER_COLUMNS = (C.DROP_STAGE, C.DROP_REASON, SOURCE, RAW)

# Called with the input's metadata field names once they are known; returns the new name of each
# field to rename (e.g. {"lang": "input_lang"}) or raises to refuse the input. The driver passes
# one that knows which columns its stages write.
FieldCheck = Callable[[Sequence[str]], Mapping[str, str]]

# Internal column names; the prefix keeps them apart from any metadata column.
_ID = "__read_id"
_TEXT = "__read_text"
_REASON = "__read_reason"
_RAW = "__read_raw_full"
_SRC = "__read_source"
_ORDER = "__read_order"
_VALUE = "__read_value"
_VAR = "__read_variant"
_META = "__read_meta"


# --------------------------------------------------------------------------------------------
# public API


def read_documents(
    spark: SparkSession,
    cfg: InputConfig,
    store: DeltaStore | None = None,
    check_fields: FieldCheck | None = None,
) -> DataFrame:
    """Read ``cfg.path`` as documents: ``id``, ``text``, decision columns, metadata, provenance.

    Ids: ``cfg.id_column`` cast to string where present and non-null. Elsewhere the id is derived
    from the text: the first 32 hex digits of sha256(text) (of the raw record for rejected rows),
    and exact duplicates get ``-1``, ``-2``... in the order of (source file, sha256 of the raw
    record), so ids are distinct and the same on every read of the same files (renaming or
    moving files can change which duplicate gets which suffix). The cost: nothing when every row
    has an id (JSONL finds out in its schema pass, Parquet and Delta by scanning the id column);
    otherwise one shuffle and sort of every row with all its columns (a window over the hash),
    even if a single unparseable line is the only row without an id. Measured on 100 MB of JSONL
    (local[2]): about 9 s to read with ids, 15-17 s when they had to be derived. Reading the input
    twice and shuffling only the rows without ids was slower (21 s), so the simple plan stays.

    ``check_fields`` sees the metadata field names as soon as they are known and may rename
    fields or refuse the input (an input ``drop_reason`` renamed is carried as metadata, not
    taken as an earlier decision).

    Raises ConfigError when the input cannot be read as configured (no files, formats that do
    not agree, no text column at all, columns whose names collide).
    """
    fmt = cfg.format if cfg.format != "auto" else detect_format(spark, cfg.path)
    if cfg.version is not None and fmt != "delta":
        raise ConfigError(
            f"input.version={cfg.version} applies to Delta tables, but {cfg.path!r} was read as "
            f"{fmt}; remove input.version or point input.path at a Delta table"
        )
    try:
        if fmt == "jsonl":
            staged = _stage_jsonl(spark, cfg, check_fields)
        elif fmt == "text":
            staged = _stage_text(spark, cfg)
        elif fmt == "parquet":
            staged = _stage_columnar(spark.read.parquet(cfg.path), cfg, cfg.path, check_fields)
        else:
            if store is None:
                store = open_store(spark)
            table = store.read(cfg.path, version=cfg.version)
            staged = _stage_columnar(table, cfg, cfg.path, check_fields)
    except AnalysisException as err:
        if err.getCondition() != "PATH_NOT_FOUND":
            raise
        raise ConfigError(
            f"input.path {cfg.path!r} does not exist ({fmt}); check the path"
        ) from err
    return _finish(staged)


def count_read_rejects(df: DataFrame) -> dict[str, int]:
    """Rows the reader rejected, by reason, counted from the data (one aggregation job)."""
    rows = df.where(F.col(C.DROP_STAGE) == READ_STAGE).groupBy(C.DROP_REASON).count().collect()
    return {row[C.DROP_REASON]: row["count"] for row in rows}


def detect_format(spark: SparkSession, path: str) -> str:
    """The format of ``path``: Delta if it is a table root, else what its file extensions say."""
    # Listed even when the name has an extension: Spark writes directories named x.parquet, and
    # a Delta table's directory holds Parquet files that must not be read as plain Parquet.
    listing = list_input(spark, path)
    if listing.is_delta:
        return "delta"
    kinds: dict[str | None, list[str]] = {}
    for name, _ in listing.files:
        kinds.setdefault(format_of_name(name), []).append(name)
    if not kinds:
        raise ConfigError(f"input.path {path!r} matches no files; check the path")
    if None in kinds:
        raise ConfigError(
            f"input.path {path!r} has files of no known format (e.g. {kinds[None][0]!r}); set "
            "input.format (jsonl, parquet, text) or narrow input.path with a glob such as "
            f"{path.rstrip('/')}/*.jsonl.gz"
        )
    if len(kinds) > 1:
        found = ", ".join(f"{k} ({v[0]!r})" for k, v in kinds.items())
        raise ConfigError(
            f"input.path {path!r} mixes formats: {found}; narrow input.path with a glob or set "
            "input.format"
        )
    return next(iter(kinds))  # type: ignore[return-value]


# --------------------------------------------------------------------------------------------
# per-format staging: each produces the internal columns _finish turns into the output schema


@dataclass
class _Staged:
    """Rows before ids are settled: _ID (given id or null), _TEXT, _REASON, _RAW, _SRC, metadata."""

    df: DataFrame
    metadata: list[str]
    order: Column  # tie-break between exact duplicates within one source file
    needs_derived_ids: bool  # some row has no usable id


def _stage_jsonl(spark: SparkSession, cfg: InputConfig, check: FieldCheck | None) -> _Staged:
    # Each projection below names what the next one reads, so Spark evaluates every parse and
    # lookup once: it does not merge projections that would duplicate an expensive expression.
    value, var, text_var = F.col(_VALUE), F.col(_VAR), F.col("__read_text_var")
    lines = (
        # Every file below the path: Spark's default silently skips files in subdirectories
        # whose names are not key=value partitions.
        spark.read.option("recursiveFileLookup", "true")
        .text(cfg.path)
        .select(F.col("value").alias(_VALUE), _decoded(F.col("_metadata.file_path")).alias(_SRC))
        # Whitespace-only lines carry no record. Most lines start with "{" and skip the regex.
        .where(F.when(value.startswith("{"), F.lit(True)).otherwise(value.rlike(r"\S")))
    )
    # A UTF-8 byte order mark at the start of a file is not part of the record.
    unbommed = F.when(value.startswith("\ufeff"), F.expr(f"substr({_VALUE}, 2)")).otherwise(value)
    parsed = lines.select(_VALUE, _SRC, F.try_parse_json(unbommed).alias(_VAR))
    # Objects start with "{"; the regex runs only for lines that do not (indented or odd ones).
    is_object = var.isNotNull() & F.when(value.startswith("{"), F.lit(True)).otherwise(
        value.rlike("^\ufeff?\\s*\\{")
    )
    given_id = F.try_variant_get(var, _json_path(cfg.id_column, "id_column"), "string")

    # One pass for the metadata schema (merged over every object row, like spark.read.json's
    # inference) and for whether any row lacks an id.
    summary = parsed.select(
        F.schema_of_variant_agg(F.when(is_object, var)).alias("schema"),
        F.count_if(given_id.isNull()).alias("missing_ids"),
    ).first()
    object_type = parse_variant_schema(summary["schema"]) if summary else T.NullType()
    fields = list(object_type.fields) if isinstance(object_type, T.StructType) else []
    if fields and all(f.name != cfg.text_column for f in fields):
        raise ConfigError(
            f"no JSON object in {cfg.path!r} has the field {cfg.text_column!r} "
            f"(input.text_column); fields found: {_shown([f.name for f in fields])}; "
            "set input.text_column"
        )
    meta_fields = [f for f in fields if f.name not in (cfg.id_column, cfg.text_column)]
    renames = check([f.name for f in meta_fields]) if check else {}
    out_names = [renames.get(f.name, f.name) for f in meta_fields]
    _check_names(cfg, out_names, present=[f.name for f in fields])
    meta = F.try_variant_get(var, "$", _ddl(T.StructType(meta_fields))) if meta_fields else None

    looked_up = parsed.select(
        _VALUE,
        _SRC,
        _VAR,
        given_id.alias(_ID),
        F.try_variant_get(var, _json_path(cfg.text_column, "text_column"), "variant").alias(
            "__read_text_var"
        ),
        (meta if meta is not None else F.lit(None)).alias(_META),
    )
    reason = (
        F.when(~F.is_valid_utf8(value), F.lit(REASON_INVALID_UTF8))
        .when(var.isNull(), F.lit(REASON_BAD_JSON))
        .when(
            text_var.isNull(),
            F.when(is_object, F.lit(REASON_MISSING_TEXT)).otherwise(F.lit(REASON_NOT_OBJECT)),
        )
        .when(F.is_variant_null(text_var), F.lit(REASON_NULL_TEXT))
        .when(F.schema_of_variant(text_var) != "STRING", F.lit(REASON_TEXT_NOT_STRING))
    )
    decided = looked_up.select("*", reason.alias(_REASON))
    rejected = F.col(_REASON).isNotNull()
    staged = decided.select(
        _ID,
        F.when(~rejected, F.variant_get(text_var, "$", "string")).alias(_TEXT),
        _REASON,
        F.when(rejected, value).alias(_RAW),
        _SRC,
        *[
            F.col(_META).getField(f.name).alias(n)
            for f, n in zip(meta_fields, out_names, strict=True)
        ],
        F.sha2(value, 256).alias(_ORDER),
    )
    return _Staged(
        staged,
        out_names,
        order=F.col(_ORDER),
        needs_derived_ids=bool(summary and summary["missing_ids"]),
    )


def _stage_text(spark: SparkSession, cfg: InputConfig) -> _Staged:
    listing = list_input(spark, cfg.path)
    files = (
        spark.read.option("recursiveFileLookup", "true")
        .text(cfg.path, wholetext=True)
        .select(F.col("value"), _decoded(F.col("_metadata.file_path")).alias(_SRC))
    )
    # Spark's file sources skip zero-length files; an empty file is an empty document.
    empty = [(path,) for path, size in listing.files if size == 0]
    if empty:
        empties = spark.createDataFrame(empty, f"{_SRC} string").select(
            F.lit("").alias("value"), F.col(_SRC)
        )
        files = files.unionByName(empties)
    value = F.col("value")
    reason = F.when(~F.is_valid_utf8(value), F.lit(REASON_INVALID_UTF8))
    staged = files.select(
        _relative_to(F.col(_SRC), listing.root).alias(_ID),
        F.when(reason.isNull(), value).alias(_TEXT),
        reason.alias(_REASON),
        F.when(reason.isNotNull(), value).alias(_RAW),
        F.col(_SRC),
    )
    return _Staged(staged, [], order=F.lit(None), needs_derived_ids=False)


def _stage_columnar(
    df: DataFrame, cfg: InputConfig, shown_path: str, check: FieldCheck | None
) -> _Staged:
    """Parquet and Delta: typed columns, so only the text's type and encoding can be wrong."""
    columns = df.columns
    if cfg.text_column not in columns:
        raise ConfigError(
            f"{shown_path!r} has no column {cfg.text_column!r} (input.text_column); columns: "
            f"{_shown(columns)}; set input.text_column"
        )
    meta = [c for c in columns if c not in (cfg.id_column, cfg.text_column)]
    renames = check(meta) if check else {}
    _check_names(cfg, [renames.get(c, c) for c in meta], present=columns)
    source = _metadata_column(df, "file_path")
    source = _decoded(source) if source is not None else F.lit(shown_path)
    row_index = _metadata_column(df, "row_index")

    text_col = F.col(_quoted(cfg.text_column))
    text_type = df.schema[cfg.text_column].dataType
    raw = F.when(text_col.isNotNull(), F.to_json(F.struct(text_col.alias(cfg.text_column))))
    if isinstance(text_type, (T.StringType, T.BinaryType)):
        # Binary text is taken as UTF-8 bytes (some writers drop the UTF8 annotation); strings
        # are checked too, since not every Parquet writer validates them.
        as_string = text_col.cast("string")
        reason = F.when(text_col.isNull(), F.lit(REASON_NULL_TEXT)).when(
            ~F.is_valid_utf8(as_string), F.lit(REASON_INVALID_UTF8)
        )
        text = F.when(reason.isNull(), as_string)
    else:
        # Casting 123 or ["a"] to a string would invent a document; reject and keep the value.
        reason = F.when(text_col.isNull(), F.lit(REASON_NULL_TEXT)).otherwise(
            F.lit(REASON_TEXT_NOT_STRING)
        )
        text = F.lit(None).cast("string")

    if cfg.id_column in columns:
        id_col = _as_string(F.col(_quoted(cfg.id_column)), df.schema[cfg.id_column].dataType)
        # Column pruning makes this a scan of the id column alone, stopping at the first null.
        needs_ids = bool(df.where(F.col(_quoted(cfg.id_column)).isNull()).limit(1).count())
    else:
        id_col = F.lit(None).cast("string")
        needs_ids = True
    if row_index is not None:
        order = row_index
    else:
        order = F.sha2(F.to_json(F.struct(*[F.col(_quoted(c)) for c in columns])), 256)
    staged = df.select(
        id_col.alias(_ID),
        text.alias(_TEXT),
        reason.alias(_REASON),
        F.when(reason.isNotNull(), raw).alias(_RAW),
        source.alias(_SRC),
        order.alias(_ORDER),
        *[F.col(_quoted(c)).alias(renames.get(c, c)) for c in meta],
    )
    meta = [renames.get(c, c) for c in meta]
    return _Staged(staged, meta, order=F.col(_ORDER), needs_derived_ids=needs_ids)


# --------------------------------------------------------------------------------------------
# common tail: ids, decisions, provenance, column order


def _finish(staged: _Staged) -> DataFrame:
    reason = F.col(_REASON)
    drop_stage = F.when(reason.isNotNull(), F.lit(READ_STAGE))
    drop_reason = reason
    source = F.col(_SRC)
    raw = F.when(reason.isNotNull(), F.substring(F.make_valid_utf8(F.col(_RAW)), 1, RAW_MAX_CHARS))
    metadata = [m for m in staged.metadata if m not in READER_COLUMNS]
    if C.DROP_REASON in staged.metadata:
        earlier = F.col(C.DROP_REASON).cast("string")
        earlier_stage = (
            F.col(C.DROP_STAGE).cast("string") if C.DROP_STAGE in staged.metadata else F.lit(None)
        )
        drop_stage = F.when(earlier.isNotNull(), earlier_stage).otherwise(drop_stage)
        drop_reason = F.coalesce(earlier, drop_reason)
    if SOURCE in staged.metadata:
        source = F.coalesce(F.col(SOURCE).cast("string"), source)
    if RAW in staged.metadata:
        raw = F.coalesce(F.col(RAW).cast("string"), raw)
    outputs = [
        F.col(_TEXT).alias(C.TEXT),
        drop_stage.cast("string").alias(C.DROP_STAGE),
        drop_reason.cast("string").alias(C.DROP_REASON),
        *[F.col(_quoted(m)) for m in metadata],
        source.alias(SOURCE),
        raw.alias(RAW),
    ]
    names = [C.ID, C.TEXT, C.DROP_STAGE, C.DROP_REASON, *metadata, SOURCE, RAW]
    if not staged.needs_derived_ids:
        return staged.df.select(F.col(_ID).alias(C.ID), *outputs)
    return _with_derived_ids(staged.df, staged.order, outputs, names)


def _with_derived_ids(
    df: DataFrame, order: Column, outputs: Sequence[Column], names: Sequence[str]
) -> DataFrame:
    """Fill missing ids: sha256(text) prefix, ``-n`` for the n-th exact duplicate."""
    missing = F.col(_ID).isNull()
    key = F.coalesce(F.col(_TEXT), F.col(_RAW), F.lit(""))
    base = F.substring(F.sha2(key, 256), 1, ID_HEX_CHARS)
    # The hash is taken before the shuffle, so the window moves 32 characters, not the text twice.
    keyed = df.select(
        _ID, F.when(missing, base).alias("__read_base"), order.alias("__read_order_key"), *outputs
    )
    # Rows that have an id are partitioned by it, so they spread evenly and are never numbered.
    window = Window.partitionBy(missing, F.coalesce(_ID, "__read_base")).orderBy(
        SOURCE, "__read_order_key"
    )
    nth = F.row_number().over(window) - 1
    derived = F.when(nth == 0, F.col("__read_base")).otherwise(
        F.concat(F.col("__read_base"), F.lit("-"), nth.cast("string"))
    )
    return keyed.select(
        F.when(missing, derived).otherwise(F.col(_ID)).alias(C.ID),
        *[F.col(_quoted(n)) for n in names[1:]],
    )


# --------------------------------------------------------------------------------------------
# helpers


def _check_names(cfg: InputConfig, metadata: Sequence[str], present: Sequence[str]) -> None:
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


def _json_path(name: str, field: str) -> str:
    if "'" not in name:
        return f"$['{name}']"
    if '"' not in name:
        return f'$["{name}"]'
    raise ConfigError(
        f"input.{field}={name!r} has both ' and \", which a JSON path cannot quote; rename the field"
    )


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _ddl(data_type: T.DataType) -> str:
    """A type string Spark parses back, with every field name quoted (simpleString does not)."""
    if isinstance(data_type, T.StructType):
        return (
            "struct<" + ",".join(f"{_quoted(f.name)}:{_ddl(f.dataType)}" for f in data_type) + ">"
        )
    if isinstance(data_type, T.ArrayType):
        return f"array<{_ddl(data_type.elementType)}>"
    return data_type.simpleString()


def _shown(names: Sequence[str], limit: int = 20) -> str:
    more = f" ... ({len(names)} in all)" if len(names) > limit else ""
    return ", ".join(repr(n) for n in names[:limit]) + more if names else "none"


def _as_string(col: Column, data_type: T.DataType) -> Column:
    if isinstance(data_type, (T.StructType, T.ArrayType, T.MapType)):
        return F.to_json(col)
    return col.cast("string")


def _metadata_column(df: DataFrame, field: str) -> Column | None:
    """``_metadata.<field>`` when the plan still exposes it (a plain file scan), else None."""
    try:
        df.select(F.col(f"_metadata.{field}")).schema  # noqa: B018 - analysis only
    except AnalysisException:
        return None
    return F.col(f"_metadata.{field}")


def _decoded(uri: Column) -> Column:
    """Spark's URL-encoded file path, readable: ``file:/a/b%20c.txt`` -> ``file:/a/b c.txt``."""
    # url_decode is form decoding ('+' -> space); a literal '+' in a path is kept as is.
    return F.coalesce(F.try_url_decode(F.replace(uri, F.lit("+"), F.lit("%2B"))), uri)


def _relative_to(source: Column, root_path: str) -> Column:
    """The part of ``source`` (a decoded URI) below ``root_path`` (a decoded path, no scheme)."""
    path = F.regexp_replace(source, r"^[A-Za-z][A-Za-z0-9+.-]*:(//[^/]*)?", "")
    prefix = root_path.rstrip("/") + "/"
    return F.when(path.startswith(prefix), F.substring(path, len(prefix) + 1, 1 << 30)).otherwise(
        path
    )
