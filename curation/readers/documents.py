"""Inputs (JSONL, Parquet, Delta, plain-text files) -> the document schema.

Every input row comes out as one output row; nothing is dropped while reading. A record the
reader cannot turn into a document is *rejected*, not lost: ``drop_stage = "read"``, a
``drop_reason`` saying why, ``text`` null, and ``read_raw`` holding the start of what was read so a
user can find it (``read_source`` names the file). Output columns, in order::

    id, text, drop_stage, drop_reason, <metadata columns, types as read>, read_source, read_raw

Read reasons: ``read:invalid_utf8``, ``read:bad_json`` (also a line with anything but whitespace
after its object), ``read:not_object`` (a JSONL line that is valid JSON but not an object),
``read:missing_text``, ``read:null_text``, ``read:text_not_string``, ``read:too_large`` (a JSONL
line over ``input.max_record_bytes``; it keeps the id written in it), ``read:truncated_file`` and
``read:corrupt_file`` (one row per damaged compressed JSONL file, holding its partial last line;
see compressed.py), and ``read:duplicate_id``: of the rows sharing an id, the first by source
file (path order) then position in the file (line, or row for Parquet) is read, every later one
is rejected and keeps its text, so ids are unique in a run's outputs.

An empty text is a valid document (later stages decide about it). Whitespace-only JSONL lines are
skipped: they carry no record, and JSONL writers commonly leave a trailing blank line. A table
written by a curation run (it has ``run_id``, ``drop_stage`` and ``drop_reason``; e.g. its
``rejected`` table) is read afresh: those columns and ``dup_of`` become ``earlier_<name>``.

>>> df = read_documents(spark, InputConfig(path="data/*.jsonl.zst"))
>>> count_read_rejects(df)
{'read:bad_json': 2, 'read:text_not_string': 1}
"""

from __future__ import annotations

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from curation import columns as C
from curation.delta import DeltaStore, open_store
from curation.errors import ConfigError
from curation.readers import staging as S
from curation.readers.config import InputConfig
from curation.readers.jsonl import stage_jsonl
from curation.readers.listing import Listing, format_of_name, list_input

# The output contract, importable from here as before the reader was split into modules.
from curation.readers.staging import (  # noqa: F401
    ID_HEX_CHARS,
    RAW,
    RAW_MAX_CHARS,
    READ_STAGE,
    READER_COLUMNS,
    REASON_BAD_JSON,
    REASON_CORRUPT_FILE,
    REASON_DUPLICATE_ID,
    REASON_INVALID_UTF8,
    REASON_MISSING_TEXT,
    REASON_NOT_OBJECT,
    REASON_NULL_TEXT,
    REASON_TEXT_NOT_STRING,
    REASON_TOO_LARGE,
    REASON_TRUNCATED_FILE,
    SOURCE,
    FieldCheck,
)
from curation.spark_compat import error_condition, is_valid_utf8, make_valid_utf8

# The column a run adds to its documents and rejected tables (with drop_stage and drop_reason,
# it marks a table as a curation run's output).
RUN_ID = "run_id"
# What an earlier run decided, renamed so this run decides afresh (see _earlier_run_renames).
EARLIER_PREFIX = "earlier_"


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
    and exact duplicates get ``-1``, ``-2``... in the order of (source file, position in it), so
    ids are distinct and the same on every read of the same files (renaming or moving files can
    change which duplicate gets which suffix). Given ids that repeat are settled the same way:
    the first keeps it, later ones are rejected as ``read:duplicate_id``.

    The cost: nothing when every row has an id and no id repeats (JSONL finds out in its schema
    pass, Parquet and Delta by scanning the id column); otherwise one shuffle and sort of every
    row with all its columns (a window over the id or the hash), even if a single unparseable
    line is the only row without an id. Measured on 100 MB of JSONL (local[2]): about 9 s to read
    with ids, 15-17 s when they had to be derived. Reading the input twice and shuffling only the
    rows without ids was slower (21 s), so the simple plan stays.

    ``check_fields`` sees the metadata field names as soon as they are known and may rename
    fields or refuse the input (an input ``drop_reason`` renamed is carried as metadata, not
    taken as an earlier decision).

    Raises ConfigError when the input cannot be read as configured (no files, formats that do
    not agree, no text column at all, columns whose names collide), and CorruptInputError for a
    damaged compressed file when ``cfg.on_corrupt_file`` is ``fail``.
    """
    if cfg.table is not None:
        return _finish(_stage_columnar(_read_table(spark, cfg), cfg, cfg.shown, check_fields))
    listing = None
    if cfg.format in ("auto", "jsonl", "text"):
        listing = list_input(spark, cfg.path)
    fmt = cfg.format if cfg.format != "auto" else _format_of(listing, cfg.path)
    if cfg.version is not None and fmt != "delta":
        raise ConfigError(
            f"input.version={cfg.version} applies to Delta tables, but {cfg.path!r} was read as "
            f"{fmt}; remove input.version or point input.path at a Delta table"
        )
    if listing is not None and fmt != "delta":
        _require_files(listing, cfg.path, fmt)
    try:
        if fmt == "jsonl":
            staged = stage_jsonl(spark, cfg, listing, check_fields)
        elif fmt == "text":
            staged = _stage_text(spark, cfg, listing)
        elif fmt == "parquet":
            staged = _stage_columnar(_read_parquet(spark, cfg.path), cfg, cfg.path, check_fields)
        else:
            if store is None:
                store = open_store(spark)
            table = store.read(cfg.path, version=cfg.version)
            staged = _stage_columnar(table, cfg, cfg.path, check_fields)
    except AnalysisException as err:
        if error_condition(err) != "PATH_NOT_FOUND":
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
    return _format_of(list_input(spark, path), path)


def _format_of(listing: Listing, path: str) -> str:
    if listing.is_delta:
        return "delta"
    _require_files(listing, path, "auto")
    kinds: dict[str | None, list[str]] = {}
    for name, _ in listing.files:
        kinds.setdefault(format_of_name(name), []).append(name)
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


def _require_files(listing: Listing, path: str, fmt: str) -> None:
    """The same answer for every format: a path must exist and hold at least one input file."""
    if not listing.matched:
        what = "matches no files" if any(ch in path for ch in "*?[{") else "does not exist"
        raise ConfigError(f"input.path {path!r} {what}; check the path")
    if listing.is_delta:
        raise ConfigError(
            f"input.path {path!r} is a Delta table root, but input.format is {fmt}; set "
            "input.format: delta (or auto), or its Parquet files would be read with the ones "
            "the table has removed"
        )
    if not listing.files:
        raise ConfigError(
            f"input.path {path!r} holds no input files (names starting with _ or . are "
            "skipped, as Spark does); check the path or point it at the files"
        )


def _read_table(spark: SparkSession, cfg: InputConfig) -> DataFrame:
    """The catalog table ``cfg.table`` (at ``cfg.version`` for a Delta table)."""
    reader = spark.read
    if cfg.version is not None:
        reader = reader.option("versionAsOf", cfg.version)
    try:
        return reader.table(cfg.table)
    except AnalysisException as err:
        if err.getCondition() not in ("TABLE_OR_VIEW_NOT_FOUND", "SCHEMA_NOT_FOUND"):
            raise
        raise ConfigError(
            f"input.table {cfg.table!r} is not a table the session's catalog knows "
            f"({err.getCondition()}); check the name (catalog.schema.table) and that this "
            "session is configured for that catalog"
        ) from None


def _read_parquet(spark: SparkSession, path: str) -> DataFrame:
    try:
        return spark.read.parquet(path)
    except AnalysisException as err:
        # An empty directory: Spark has no file to take a schema from. Say it as for the others.
        if error_condition(err) != "UNABLE_TO_INFER_SCHEMA":
            raise
        _require_files(list_input(spark, path), path, "parquet")
        raise


# --------------------------------------------------------------------------------------------
# per-format staging (JSONL has its own module): each produces a staging.Staged


def _stage_text(spark: SparkSession, cfg: InputConfig, listing: Listing) -> S.Staged:
    files = (
        spark.read.option("recursiveFileLookup", "true")
        .text(cfg.path, wholetext=True)
        .select(F.col("value"), S.decoded(F.col("_metadata.file_path")).alias(S.SRC))
    )
    # Spark's file sources skip zero-length files; an empty file is an empty document.
    empty = [(path,) for path, size in listing.files if size == 0]
    if empty:
        empties = spark.createDataFrame(empty, f"{S.SRC} string").select(
            F.lit("").alias("value"), F.col(S.SRC)
        )
        files = files.unionByName(empties)
    value = F.col("value")
    reason = F.when(~is_valid_utf8(value), F.lit(REASON_INVALID_UTF8))
    staged = files.select(
        _relative_to(F.col(S.SRC), listing.root).alias(S.ID),
        F.when(reason.isNull(), value).alias(S.TEXT),
        reason.alias(S.REASON),
        F.when(reason.isNotNull(), value).alias(S.RAW_FULL),
        F.col(S.SRC),
        F.lit(None).alias(S.ORDER),  # ids are file paths: never equal, never derived
    )
    return S.Staged(staged, [], needs_derived_ids=False, may_have_duplicate_ids=False)


def _stage_columnar(
    df: DataFrame, cfg: InputConfig, shown_path: str, check: FieldCheck | None
) -> S.Staged:
    """Parquet and Delta: typed columns, so only the text's type and encoding can be wrong."""
    columns = df.columns
    if cfg.text_column not in columns:
        raise ConfigError(
            f"{shown_path!r} has no column {cfg.text_column!r} (input.text_column); columns: "
            f"{S.shown(columns)}; set input.text_column"
        )
    renames = _earlier_run_renames(columns, shown_path)
    meta = [c for c in columns if c not in (cfg.id_column, cfg.text_column)]
    meta_names = [renames.get(c, c) for c in meta]
    if check:
        # The check sees the names after the earlier_* renames. A run's table also carries the
        # signals its stages wrote (len_words...): those become earlier_* too, whatever the
        # recipe's input.rename_colliding says, so all of an earlier run's columns read alike.
        user = check(meta_names, EARLIER_PREFIX if renames else None)
        meta_names = [user.get(n, n) for n in meta_names]
    S.check_names(cfg, meta_names, present=[renames.get(c, c) for c in columns])
    source = S.metadata_column(df, "file_path")
    source = S.decoded(source) if source is not None else F.lit(shown_path)
    row_index = S.metadata_column(df, "row_index")

    text_col = F.col(S.quoted(cfg.text_column))
    text_type = df.schema[cfg.text_column].dataType
    raw = F.when(text_col.isNotNull(), F.to_json(F.struct(text_col.alias(cfg.text_column))))
    if isinstance(text_type, (T.StringType, T.BinaryType)):
        # Binary text is taken as UTF-8 bytes (some writers drop the UTF8 annotation); strings
        # are checked too, since not every Parquet writer validates them.
        as_string = text_col.cast("string")
        reason = F.when(text_col.isNull(), F.lit(REASON_NULL_TEXT)).when(
            ~is_valid_utf8(as_string), F.lit(REASON_INVALID_UTF8)
        )
        text = F.when(reason.isNull(), as_string)
    else:
        # Casting 123 or ["a"] to a string would invent a document; reject and keep the value.
        reason = F.when(text_col.isNull(), F.lit(REASON_NULL_TEXT)).otherwise(
            F.lit(REASON_TEXT_NOT_STRING)
        )
        text = F.lit(None).cast("string")

    if cfg.id_column in columns:
        id_col = S.as_string(F.col(S.quoted(cfg.id_column)), df.schema[cfg.id_column].dataType)
        # Column pruning makes these scans of the id column alone; the first stops at a null.
        needs_ids = bool(df.where(F.col(S.quoted(cfg.id_column)).isNull()).limit(1).count())
        repeats = df.select(id_col.alias("i")).where("i IS NOT NULL").groupBy("i").count()
        may_repeat = bool(repeats.where("count > 1").limit(1).count())
    else:
        id_col = F.lit(None).cast("string")
        needs_ids, may_repeat = True, False
    if row_index is not None:
        order = row_index
    else:
        order = F.sha2(F.to_json(F.struct(*[F.col(S.quoted(c)) for c in columns])), 256)
    staged = df.select(
        id_col.alias(S.ID),
        text.alias(S.TEXT),
        reason.alias(S.REASON),
        F.when(reason.isNotNull(), raw).alias(S.RAW_FULL),
        source.alias(S.SRC),
        order.alias(S.ORDER),
        *[F.col(S.quoted(c)).alias(n) for c, n in zip(meta, meta_names, strict=True)],
    )
    return S.Staged(staged, meta_names, needs_ids, may_repeat)


def _earlier_run_renames(columns: list[str], shown_path: str) -> dict[str, str]:
    """For a curation run's output table: its decision columns renamed ``earlier_*``.

    Its rows carry the decisions of the run that wrote it (every row of ``rejected`` is
    dropped), whose stages this run may not have, so kept as they were they would decide this
    run too. Renamed, the rows are judged afresh and the earlier decisions ride along.
    """
    if not {RUN_ID, C.DROP_STAGE, C.DROP_REASON} <= set(columns):
        return {}
    renames = {
        c: EARLIER_PREFIX + c
        for c in (C.DROP_STAGE, C.DROP_REASON, C.DUP_OF, RUN_ID)
        if c in columns
    }
    taken = sorted(set(renames.values()) & set(columns))
    if taken:
        name = taken[0][len(EARLIER_PREFIX) :]
        raise ConfigError(
            f"{shown_path!r} is a curation run's output with both {name!r} and {taken[0]!r}; "
            f"the reader renames the first to the second to judge its rows afresh. Drop or "
            f"rename {taken[0]!r} in a copy of the table and read that"
        )
    return renames


# --------------------------------------------------------------------------------------------
# common tail: ids, decisions, provenance, column order


def _finish(staged: S.Staged) -> DataFrame:
    df = staged.df
    if staged.needs_derived_ids or staged.may_have_duplicate_ids:
        df = _settle_ids(df)
    reason = F.col(S.REASON)
    drop_stage = F.when(reason.isNotNull(), F.lit(READ_STAGE))
    drop_reason = reason
    source = F.col(S.SRC)
    # Cut before repairing: a rejected 100 MB line is not copied whole to keep 1,024 characters.
    # (4x: each invalid byte counts as one character before the repair and may merge after it.)
    head = F.substring(F.col(S.RAW_FULL), 1, 4 * RAW_MAX_CHARS)
    raw = F.when(reason.isNotNull(), F.substring(make_valid_utf8(head), 1, RAW_MAX_CHARS))
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
    return df.select(
        F.col(S.ID).alias(C.ID),
        F.col(S.TEXT).alias(C.TEXT),
        drop_stage.cast("string").alias(C.DROP_STAGE),
        drop_reason.cast("string").alias(C.DROP_REASON),
        *[F.col(S.quoted(m)) for m in metadata],
        source.alias(SOURCE),
        raw.alias(RAW),
    )


def _settle_ids(df: DataFrame) -> DataFrame:
    """Missing ids derived (sha256(text) prefix, ``-n`` for the n-th exact duplicate); given ids
    that repeat rejected after their first row, as ``read:duplicate_id``."""
    missing = F.col(S.ID).isNull()
    key = F.coalesce(F.col(S.TEXT), F.col(S.RAW_FULL), F.lit(""))
    # The hash is taken before the shuffle, so the window moves 32 characters, not the text twice.
    digest = F.substring(F.sha2(key, 256), 1, ID_HEX_CHARS)
    keyed = df.withColumn("__read_base", F.when(missing, digest))
    # Rows that have an id are partitioned by it, so they spread evenly; a repeat is numbered.
    window = Window.partitionBy(missing, F.coalesce(S.ID, "__read_base")).orderBy(S.SRC, S.ORDER)
    nth = F.row_number().over(window) - 1
    base = F.col("__read_base")
    derived = F.when(nth == 0, base).otherwise(F.concat(base, F.lit("-"), nth.cast("string")))
    repeat = ~missing & (nth > 0) & F.col(S.REASON).isNull()
    others = [c for c in df.columns if c not in (S.ID, S.REASON)]
    return keyed.select(
        F.when(missing, derived).otherwise(F.col(S.ID)).alias(S.ID),
        F.when(repeat, F.lit(REASON_DUPLICATE_ID)).otherwise(F.col(S.REASON)).alias(S.REASON),
        *[F.col(S.quoted(c)) for c in others],
    )


def _relative_to(source, root_path: str):
    """The part of ``source`` (a decoded URI) below ``root_path`` (a decoded path, no scheme)."""
    path = F.regexp_replace(source, r"^[A-Za-z][A-Za-z0-9+.-]*:(//[^/]*)?", "")
    prefix = root_path.rstrip("/") + "/"
    return F.when(path.startswith(prefix), F.substring(path, len(prefix) + 1, 1 << 30)).otherwise(
        path
    )
