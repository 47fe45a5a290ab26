"""JSONL -> staged documents: every line is one record, judged on its own.

Lines come from Spark's text reader (plain files, and codecs only Hadoop reads) or from
``compressed.py`` (.gz, .bz2, .zst, decoded in Python so a damaged file keeps its good lines).
A line is a document when it holds exactly one JSON object with a string text; otherwise it is
rejected, and its reason says why:

- ``read:too_large``: longer than ``input.max_record_bytes``, or valid JSON whose parsed form
  would exceed Spark's 128 MiB; the id is then found in the raw line (no parse needed);
- ``read:invalid_utf8``, ``read:bad_json`` (also: anything but whitespace after the object),
  ``read:not_object``, ``read:missing_text``, ``read:null_text``, ``read:text_not_string``;
- ``read:truncated_file`` / ``read:corrupt_file``: one row per damaged compressed file, holding
  its partial last line (its id: ``<file>#truncated`` or ``<file>#corrupt``).

One pass over the input precedes the main one: it infers the metadata columns, and finds out
whether any id is missing or repeated and whether any file is damaged.
"""

from __future__ import annotations

import json

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from curation.errors import ConfigError
from curation.readers import json_python as P
from curation.readers import staging as S
from curation.readers.compressed import (
    STATUS_TRUNCATED,
    CorruptInputError,
    codec_of,
    compressed_lines,
    opens_in_python,
)
from curation.readers.config import InputConfig, MiB
from curation.readers.listing import Listing, glob_escaped
from curation.readers.variant_schema import merge_variant_schemas
from curation.spark_compat import has_variant, lone_surrogate_escape

# Below this size a line's parsed form cannot outgrow Spark's 128 MiB variant limit (it is at
# most about 3x the text, for long arrays of one-digit numbers); above it, a line that did not
# parse is checked again with a parser that has no such limit, to tell too large from bad.
VARIANT_SAFE_BYTES = 16 * MiB
# Ids are checked for repeats per bucket of their hash, in the same aggregation that infers the
# schema. Spark's object aggregation sorts its input past 128 groups per task, so stay below.
ID_BUCKETS = 120
_ID_WINDOW_CHARS = MiB  # where the id of a line too large to parse is looked for, at each end

_VALUE = "__read_value"
_STATUS = "__read_status"
_HASH = "__read_line_hash"
_WRAPPED = "__read_wrapped"
_VAR = "__read_variant"
_TOO_LARGE = "__read_too_large"
_SIZE = "__read_line_bytes"
_WRAPPED_BIG = "__read_wrapped_big"
_HUGE = "__read_valid_but_huge"
_TEXT_VAR = "__read_text_var"
_META = "__read_meta"
# _VAR is the parsed [record, hash] array (see _parsed); the record is its first element. Read
# through this path, so no step copies the record out of the array.
_RECORD = "$[0]"
# Jackson's default longest string (StreamReadConstraints), which try_parse_json keeps; a line
# shorter than this cannot hold a longer string, and try_parse_json is the faster parser.
_JACKSON_MAX_STRING = 20_000_000


def stage_jsonl(
    spark: SparkSession, cfg: InputConfig, listing: Listing, check: S.FieldCheck | None = None
) -> S.Staged:
    lines = _lines(spark, cfg, listing)
    # Spark 3.5 has no VARIANT: there each pass parses the lines in Python (json_python.py).
    in_python = not has_variant(spark)
    if in_python:
        sized = _sized(lines, cfg).select(
            "*",
            F.col(_VALUE).cast("binary").alias(P.IN_BYTES),
            F.col(_STATUS).alias(P.IN_STATUS),
            (F.col(_SIZE) > cfg.max_record_bytes).alias(P.IN_TOO_LARGE),
            F.when(
                F.col(_SIZE) > cfg.max_record_bytes, _raw_id_token(F.col(_VALUE), cfg.id_column)
            ).alias(P.IN_ID_TOKEN),
        )
        passed = [S.SRC, S.ORDER, _STATUS, _SIZE]
        parsed = P.parse_lines(sized, passed, cfg.id_column, cfg.text_column, None)
        summary = _summary(
            parsed.select(
                F.col(P.P_SCHEMA).alias(_VAR), _python_id(cfg).alias(S.ID), _STATUS, S.SRC, _SIZE
            ),
            F.collect_set(_VAR),
        )
    else:
        parsed = _parsed(lines, cfg)
        summary = _summary(_variant_keyed(parsed, cfg), F.schema_of_variant_agg(_VAR))
        if summary["longest_line"] <= VARIANT_SAFE_BYTES:
            parsed = _parsed(lines, cfg, long_lines=False)
    _check_damaged(cfg, summary["damaged"])
    object_type = merge_variant_schemas(summary["schemas"])
    fields = list(object_type.fields) if isinstance(object_type, T.StructType) else []
    if fields and all(f.name != cfg.text_column for f in fields):
        raise ConfigError(
            f"no JSON object in {cfg.path!r} has the field {cfg.text_column!r} "
            f"(input.text_column); fields found: {S.shown([f.name for f in fields])}; "
            "set input.text_column"
        )
    meta_fields = [f for f in fields if f.name not in (cfg.id_column, cfg.text_column)]
    renames = check([f.name for f in meta_fields], None) if check else {}
    out_names = [renames.get(f.name, f.name) for f in meta_fields]
    S.check_names(cfg, out_names, present=[f.name for f in fields])
    if in_python:
        meta_type = T.StructType(meta_fields)
        parsed = P.parse_lines(sized, passed, cfg.id_column, cfg.text_column, meta_type)
        staged = _python_staged(parsed, cfg, meta_fields, out_names)
    else:
        staged = _variant_staged(parsed, cfg, meta_fields, out_names)
    return S.Staged(
        staged,
        out_names,
        needs_derived_ids=summary["missing_ids"] > 0,
        may_have_duplicate_ids=summary["repeated_ids"] > 0,
    )


def _given_id(status: Column, parsed_id: Column) -> Column:
    """A damaged file's marker row is named after its file; other rows carry their own id."""
    return F.when(status.isNotNull(), F.concat(F.col(S.SRC), F.lit("#"), status)).otherwise(
        parsed_id
    )


def _is_object(value: Column, var: Column) -> Column:
    # Objects start with "{"; the regex runs only for lines that do not (indented or odd ones).
    return var.isNotNull() & F.when(value.startswith("{"), F.lit(True)).otherwise(
        value.rlike("^\ufeff?\\s*\\{")
    )


def _variant_id(cfg: InputConfig) -> Column:
    value, var = F.col(_VALUE), F.col(_VAR)
    return _given_id(
        F.col(_STATUS),
        F.when(F.col(_TOO_LARGE), _id_in_raw_line(value, cfg.id_column)).otherwise(
            F.try_variant_get(var, _json_path(cfg.id_column, "id_column"), "string")
        ),
    )


def _variant_keyed(parsed: DataFrame, cfg: InputConfig) -> DataFrame:
    """What the first pass aggregates: the record (objects only), id, status, source, size."""
    var = F.col(_VAR)
    return parsed.select(
        F.when(_is_object(F.col(_VALUE), var), F.try_variant_get(var, _RECORD, "variant")).alias(
            _VAR
        ),
        _variant_id(cfg).alias(S.ID),
        _STATUS,
        S.SRC,
        _SIZE,
    )


def _variant_staged(
    parsed: DataFrame, cfg: InputConfig, meta_fields: list[T.StructField], out_names: list[str]
) -> DataFrame:
    value, status, var = F.col(_VALUE), F.col(_STATUS), F.col(_VAR)
    meta = F.try_variant_get(var, _RECORD, _ddl(T.StructType(meta_fields))) if meta_fields else None
    # Each projection names what the next one reads, so Spark evaluates every parse and lookup
    # once: it does not merge projections that would duplicate an expensive expression.
    looked_up = parsed.select(
        _VALUE,
        S.SRC,
        S.ORDER,
        _STATUS,
        _VAR,
        _TOO_LARGE,
        _variant_id(cfg).alias(S.ID),
        F.try_variant_get(var, _json_path(cfg.text_column, "text_column"), "variant").alias(
            _TEXT_VAR
        ),
        (meta if meta is not None else F.lit(None)).alias(_META),
    )
    text_var = F.col(_TEXT_VAR)
    reason = (
        F.when(status == STATUS_TRUNCATED, F.lit(S.REASON_TRUNCATED_FILE))
        .when(status.isNotNull(), F.lit(S.REASON_CORRUPT_FILE))
        .when(F.col(_TOO_LARGE), F.lit(S.REASON_TOO_LARGE))
        .when(~F.is_valid_utf8(value), F.lit(S.REASON_INVALID_UTF8))
        .when(var.isNull(), F.lit(S.REASON_BAD_JSON))
        .when(
            text_var.isNull(),
            F.when(_is_object(value, var), F.lit(S.REASON_MISSING_TEXT)).otherwise(
                F.lit(S.REASON_NOT_OBJECT)
            ),
        )
        .when(F.is_variant_null(text_var), F.lit(S.REASON_NULL_TEXT))
        .when(F.schema_of_variant(text_var) != "STRING", F.lit(S.REASON_TEXT_NOT_STRING))
    )
    decided = looked_up.select("*", reason.alias(S.REASON))
    rejected = F.col(S.REASON).isNotNull()
    return decided.select(
        S.ID,
        F.when(~rejected, F.variant_get(text_var, "$", "string")).alias(S.TEXT),
        S.REASON,
        F.when(rejected, value).alias(S.RAW_FULL),
        S.SRC,
        S.ORDER,
        *[
            F.col(_META).getField(f.name).alias(n)
            for f, n in zip(meta_fields, out_names, strict=True)
        ],
    )


def _python_id(cfg: InputConfig) -> Column:
    return _given_id(F.col(_STATUS), F.col(P.P_ID))


def _python_staged(
    parsed: DataFrame, cfg: InputConfig, meta_fields: list[T.StructField], out_names: list[str]
) -> DataFrame:
    status = F.col(_STATUS)
    reason = (
        F.when(status == STATUS_TRUNCATED, F.lit(S.REASON_TRUNCATED_FILE))
        .when(status.isNotNull(), F.lit(S.REASON_CORRUPT_FILE))
        .otherwise(F.col(P.P_REASON))
    )
    return parsed.select(
        _python_id(cfg).alias(S.ID),
        F.col(P.P_TEXT).alias(S.TEXT),
        reason.alias(S.REASON),
        F.col(P.P_RAW).cast("string").alias(S.RAW_FULL),
        S.SRC,
        S.ORDER,
        *[
            F.col(P.P_META).getField(f.name).alias(n)
            for f, n in zip(meta_fields, out_names, strict=True)
        ],
    )


# --------------------------------------------------------------------------------------------
# lines


def _lines(spark: SparkSession, cfg: InputConfig, listing: Listing) -> DataFrame:
    """Every non-blank line: _VALUE, SRC, ORDER (file split start, row in it), _STATUS."""
    decode_here = [(p, size) for p, size in listing.files if codec_of(p)]
    if decode_here and not opens_in_python(decode_here[0][0]):
        decode_here = []  # storage pyarrow.fs cannot reach: Hadoop's codecs read these files
    parts = []
    if len(decode_here) < len(listing.files):
        # Every file below the path: Spark's default silently skips files in subdirectories
        # whose names are not key=value partitions.
        reader = spark.read.option("recursiveFileLookup", "true")
        if decode_here:
            taken = {p for p, _ in decode_here}
            text = reader.text([glob_escaped(p) for p, _ in listing.files if p not in taken])
        else:
            text = reader.text(cfg.path)
        meta = F.col("_metadata")
        parts.append(
            text.select(
                F.col("value").alias(_VALUE),
                S.decoded(meta.getField("file_path")).alias(S.SRC),
                # Rows of one file split are in line order; splits are ordered by their start.
                F.struct(
                    meta.getField("file_block_start").alias("block"),
                    F.monotonically_increasing_id().alias("row"),
                ).alias(S.ORDER),
                F.lit(None).cast("string").alias(_STATUS),
            )
        )
    if decode_here:
        parts.append(
            compressed_lines(spark, decode_here).select(
                F.col("value").cast("string").alias(_VALUE),
                F.col("source").alias(S.SRC),
                F.struct(F.lit(0).cast("long").alias("block"), F.col("line").alias("row")).alias(
                    S.ORDER
                ),
                F.col("status").alias(_STATUS),
            )
        )
    lines = parts[0] if len(parts) == 1 else parts[0].unionByName(parts[1])
    value = F.col(_VALUE)
    # Whitespace-only lines carry no record. Most lines start with "{" and skip the regex. A
    # damaged file's marker row stays, whatever its partial line holds.
    return lines.where(
        F.col(_STATUS).isNotNull()
        | F.when(value.startswith("{"), F.lit(True)).otherwise(value.rlike(r"\S"))
    )


def _sized(lines: DataFrame, cfg: InputConfig) -> DataFrame:
    """Lines with _SIZE (bytes); a line over ``input.max_record_bytes`` is cut to its ends."""
    value = F.col(_VALUE)
    # A line over the limit is never parsed: only its two ends are kept (its id is looked for
    # there, read_raw is its start), so no later step copies the whole line again.
    ends = F.concat(
        F.substring(value, 1, _ID_WINDOW_CHARS),
        F.lit("\n"),
        F.substring(value, -_ID_WINDOW_CHARS, _ID_WINDOW_CHARS),
    )
    length = F.octet_length(value)
    return lines.select(
        F.when(length > cfg.max_record_bytes, ends).otherwise(value).alias(_VALUE),
        S.SRC,
        S.ORDER,
        _STATUS,
        length.alias(_SIZE),
    )


def _parsed(lines: DataFrame, cfg: InputConfig, long_lines: bool = True) -> DataFrame:
    """Lines with _VAR (the parsed [line, hash] array, null unless the line is one JSON value)
    and _TOO_LARGE; ``long_lines=False`` when no line is longer than VARIANT_SAFE_BYTES."""
    value, status, size = F.col(_VALUE), F.col(_STATUS), F.col(_SIZE)
    over_limit = size > cfg.max_record_bytes
    lines = _sized(lines, cfg)
    # Spark's JSON parser refuses strings over 20 MB unless told otherwise (from_json only).
    options = {"maxStringLen": str(cfg.max_record_bytes)}
    # A UTF-8 byte order mark at the start of a file is not part of the record.
    unbommed = F.when(value.startswith("\ufeff"), F.expr(f"substr({_VALUE}, 2)")).otherwise(value)
    # Spark's parser stops after the first JSON value and ignores what follows it. Parsed as
    # [line, hash of the line], a line with anything after its value either fails or yields
    # an array whose second element is not the hash (a line cannot contain its own hash).
    wrapped = F.concat(F.lit("["), unbommed, F.lit(","), F.col(_HASH).cast("string"), F.lit("]"))
    hashed = lines.select("*", F.xxhash64(value).alias(_HASH))
    parseable = status.isNull() & ~over_limit
    parsed = hashed.select(
        "*",
        F.when(parseable & (size < _JACKSON_MAX_STRING), F.try_parse_json(wrapped)).alias(_WRAPPED),
    )
    # from_json takes a longer string limit, but has no generated code: Spark evaluates a
    # projection holding it row by row. So it gets a projection of its own, after the common
    # parse, and runs only for lines of 20 MB or more, and lines over 16 MiB that failed.
    as_strings = F.from_json(wrapped, "array<string>", options)
    valid_but_huge = (F.size(as_strings) == 2) & (as_strings[1] == F.col(_HASH).cast("string"))
    if long_lines:
        parsed = parsed.select(
            "*",
            F.when(
                parseable & (size >= _JACKSON_MAX_STRING), F.from_json(wrapped, "variant", options)
            ).alias(_WRAPPED_BIG),
            # Valid JSON that did not parse: its parsed form outgrew the variant's 128 MiB.
            F.when(
                parseable & (size > VARIANT_SAFE_BYTES) & F.col(_WRAPPED).isNull(), valid_but_huge
            ).alias(_HUGE),
        )
    else:  # the first pass saw no such line: the main pass keeps all of its code generated
        parsed = parsed.select(
            "*",
            F.lit(None).cast("variant").alias(_WRAPPED_BIG),
            F.lit(None).cast("boolean").alias(_HUGE),
        )
    outer = F.coalesce(F.col(_WRAPPED), F.col(_WRAPPED_BIG))
    one_value = (
        outer.isNotNull()
        & (F.try_variant_get(outer, "$[1]", "bigint") == F.col(_HASH))
        & F.try_variant_get(outer, "$[2]", "variant").isNull()
    )
    lone = lone_surrogate_escape(lines.sparkSession, value)
    if lone is not None:  # Spark 4.0 and 4.1 parse what 4.2 refuses: refuse it the same way
        one_value = one_value & ~lone
    too_large = (
        F.when(status.isNotNull(), F.lit(False))
        .when(over_limit, F.lit(True))
        .when(outer.isNull(), F.coalesce(F.col(_HUGE), F.lit(False)))
        .otherwise(F.lit(False))
    )
    return parsed.select(
        _VALUE,
        S.SRC,
        S.ORDER,
        _STATUS,
        _SIZE,
        F.when(one_value, outer).alias(_VAR),
        too_large.alias(_TOO_LARGE),
    )


def _id_in_raw_line(value: Column, id_column: str) -> Column:
    """The id of a line too large to parse, as a string (see _raw_id_token)."""
    return F.try_variant_get(F.try_parse_json(_raw_id_token(value, id_column)), "$", "string")


def _raw_id_token(value: Column, id_column: str) -> Column:
    """The JSON token of the id of a line too large to parse, found by a regex: ``"id": "x"`` or ``"id": 42``.

    Searched in the first 2**20 characters of the line, then in its last (ids come first or
    last in the records of every corpus we know), so a 100 MB line costs little more than a
    small one. The key must be a real key (its quote not escaped); the first match wins, which
    is the record's own id unless a nested object with the same key comes before it.
    """
    key = json.dumps(id_column, ensure_ascii=False)
    # Java regex: a backslash before any non-alphanumeric character makes it literal.
    literal = "".join(ch if ch.isalnum() else "\\" + ch for ch in key)
    token = (
        r'"(?:[^"\\]|\\.){0,1024}"'
        r"|-?[0-9]{1,64}(?:\.[0-9]{1,64})?(?:[eE][+-]?[0-9]{1,4})?"
    )
    pattern = r"(?<!\\)(?:\\\\)*" + literal + r"\s*:\s*(" + token + ")"
    # Windows of characters: each is a copy of its own size, never of the whole line.
    head = F.substring(value, 1, _ID_WINDOW_CHARS)
    tail = F.substring(value, -_ID_WINDOW_CHARS, _ID_WINDOW_CHARS)
    return F.coalesce(
        F.nullif(F.regexp_extract(head, pattern, 1), F.lit("")),
        F.nullif(F.regexp_extract(tail, pattern, 1), F.lit("")),
    )


# --------------------------------------------------------------------------------------------
# the first pass


def _summary(keyed: DataFrame, schema_agg: Column) -> dict:
    """Schema strings, rows without an id, repeated ids, damaged files and the longest line (in
    bytes), in one aggregation.

    Grouped by a bucket of the id's hash so that repeats are found within each bucket (a list
    of 8-byte hashes), while the schema is inferred per bucket and merged on the driver.
    """
    ids = F.col(S.ID)
    hashed = F.xxhash64(ids)
    bucket = F.when(ids.isNotNull(), F.pmod(hashed, F.lit(ID_BUCKETS))).otherwise(ID_BUCKETS)
    hashes = F.collect_list(F.when(ids.isNotNull(), hashed))
    damaged = F.when(F.col(_STATUS).isNotNull(), F.struct(S.SRC, _STATUS))
    rows = (
        keyed.groupBy(bucket.alias("bucket"))
        .agg(
            schema_agg.alias("schema"),
            F.count_if(ids.isNull()).alias("missing"),
            (F.size(hashes) - F.size(F.array_distinct(hashes))).alias("repeated"),
            F.collect_set(damaged).alias("damaged"),
            F.max(_SIZE).alias("longest"),
        )
        .collect()
    )
    return {
        # one string per bucket (VARIANT), or a set of them (json_python.py's, per batch)
        "schemas": [
            text
            for r in rows
            for text in ([r["schema"]] if isinstance(r["schema"], str) else r["schema"] or [])
            if text
        ],
        "missing_ids": sum(r["missing"] for r in rows),
        "repeated_ids": sum(r["repeated"] for r in rows),
        "damaged": sorted({(d[0], d[1]) for r in rows for d in r["damaged"]}),
        "longest_line": max((r["longest"] or 0 for r in rows), default=0),
    }


def _check_damaged(cfg: InputConfig, damaged: list[tuple[str, str]]) -> None:
    if not damaged or cfg.on_corrupt_file != "fail":
        return
    path, status = damaged[0]
    what = (
        "truncated (its compressed stream ends before its end marker)"
        if status == STATUS_TRUNCATED
        else "corrupt (its compressed data cannot be decoded past some point)"
    )
    more = f"; {len(damaged) - 1} more input files are damaged too" if len(damaged) > 1 else ""
    raise CorruptInputError(
        f"input file {path!r} is {what}{more}; input.on_corrupt_file is 'fail'. Replace the "
        "file, or set input.on_corrupt_file: skip_rest to keep the lines before the damage "
        "and reject the rest as read:truncated_file / read:corrupt_file"
    )


# --------------------------------------------------------------------------------------------
# helpers


def _json_path(name: str, field: str) -> str:
    """The path of a field of the record inside its [record, hash] wrapper."""
    if "'" not in name:
        return f"{_RECORD}['{name}']"
    if '"' not in name:
        return f'{_RECORD}["{name}"]'
    raise ConfigError(
        f"input.{field}={name!r} has both ' and \", which a JSON path cannot quote; rename the field"
    )


def _ddl(data_type: T.DataType) -> str:
    """A type string Spark parses back, with every field name quoted (simpleString does not)."""
    if isinstance(data_type, T.StructType):
        return (
            "struct<" + ",".join(f"{S.quoted(f.name)}:{_ddl(f.dataType)}" for f in data_type) + ">"
        )
    if isinstance(data_type, T.ArrayType):
        return f"array<{_ddl(data_type.elementType)}>"
    return data_type.simpleString()
