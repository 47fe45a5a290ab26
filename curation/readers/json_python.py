"""JSONL lines parsed in Python, for a Spark without VARIANT (3.5): the answers of jsonl.py's
VARIANT path, line by line.

Spark 4 parses each line with ``try_parse_json`` and reads the id, the text and the metadata out
of the VARIANT; Spark 3.5 has none of that, and its ``from_json`` cannot tell a text ``"42"``
from ``42`` or see a repeated key. So on 3.5 one ``mapInArrow`` pass per read parses every line
with Python's ``json`` under Spark's rules (one value per line, no NaN, no repeated key, no lone
surrogate, no leading zeros or raw control characters) and returns what the VARIANT path
computes: the id as VARIANT renders it as a string, the text or the reason, the schema of the
object in ``schema_of_variant`` terms (merged per Arrow batch) and, in the main pass, the
metadata converted to the inferred struct.

    parse_line(b'{"id": 1.50, "text": "hi"}')  # -> ({'id': Decimal('1.50'), 'text': 'hi'}, None)
    variant_string(Decimal("1.50"))              # -> '1.5', as try_variant_get(..., 'string')

What differs from Spark 4: a line over 16 MiB whose parsed form would outgrow VARIANT's 128 MiB
is judged by an estimate of that form's size (``variant_bytes``), not by Spark failing to build
it, so a record within a few percent of the limit may be judged differently; and control
characters inside metadata rendered as JSON text are escaped with lower-case hex digits.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator
from decimal import Decimal

import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import types as T
from pyspark.sql.pandas.types import to_arrow_type

from curation.readers import staging as S
from curation.readers.variant_schema import merge_types, variant_schema_string

# Output columns of the Python pass (besides SRC, ORDER and the status, passed through).
P_ID = "__read_py_id"  # the given id as a string, or null
P_TEXT = "__read_py_text"
P_REASON = "__read_py_reason"  # null, or a read reason (not the damaged-file ones)
P_RAW = "__read_py_raw"  # the line's bytes, on rejected rows only
P_SCHEMA = "__read_py_schema"  # the batch's merged object type, on its first row only
P_META = "__read_py_meta"

# Input columns the caller provides.
IN_BYTES = "__read_py_bytes"  # the line (binary: its bytes may not be UTF-8)
IN_STATUS = "__read_py_status"
IN_TOO_LARGE = "__read_py_too_large"
IN_ID_TOKEN = "__read_py_id_token"  # for a line too large to parse: the id's JSON token or null

_DECIMAL_DIGITS = 38  # VARIANT keeps a number as DECIMAL up to this precision, else DOUBLE
_LONG = (-(1 << 63), (1 << 63) - 1)
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abAB]")
VARIANT_LIMIT = 128 << 20  # the largest VARIANT value Spark builds
_SAFE_LINE = 16 << 20  # below this a line's parsed form cannot reach the limit (see jsonl.py)


class _BadJson(ValueError):
    pass


def _object(pairs: list[tuple[str, object]]) -> dict:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise _BadJson("repeated key")  # Spark's VARIANT refuses repeated keys
    return out


def _constant(name: str) -> object:
    raise _BadJson(name)  # NaN, Infinity: not JSON, and Spark's parser refuses them


def _int(text: str) -> object:
    value = int(text)
    if _LONG[0] <= value <= _LONG[1] or len(text.lstrip("-")) <= _DECIMAL_DIGITS:
        return value
    return float(value)


def _float(text: str) -> object:
    if "e" in text or "E" in text:
        return float(text)  # VARIANT keeps exponent forms as DOUBLE
    value = Decimal(text)
    return value if len(value.as_tuple().digits) <= _DECIMAL_DIGITS else float(text)


_DECODER = json.JSONDecoder(
    object_pairs_hook=_object, parse_constant=_constant, parse_int=_int, parse_float=_float
)


def _has_lone_surrogate(value: object) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


_NOTHING = object()


def parse_line(line: bytes) -> tuple[object, str | None]:
    """(the JSON value or _NOTHING, the read reason or None).

    A line that is not valid UTF-8 is rejected, but still parsed with its bad bytes replaced
    (as Spark 4 parses it), so its id and metadata come out like any other rejected line's.
    """
    reason = None
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        text, reason = line.decode("utf-8", errors="replace"), S.REASON_INVALID_UTF8
    if text.startswith("\ufeff"):  # a byte order mark is not part of the record
        text = text[1:]
    try:
        value = _DECODER.decode(text)
    except (ValueError, RecursionError):
        return _NOTHING, reason or S.REASON_BAD_JSON
    if _SURROGATE_ESCAPE.search(line) and _has_lone_surrogate(value):
        return _NOTHING, reason or S.REASON_BAD_JSON
    return value, reason


# --------------------------------------------------------------------------------------------
# what VARIANT would say about a value


def java_double(x: float) -> str:
    """``Double.toString``: plain between 1e-3 and 1e7, else ``d.dddE±n`` (shortest digits)."""
    if x == 0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    sign, digits, exponent = Decimal(repr(x)).as_tuple()
    text = "".join(map(str, digits)).rstrip("0") or "0"
    point = len(digits) + exponent  # digits before the decimal point
    minus = "-" if sign else ""
    if 1e-3 <= abs(x) < 1e7:
        if point <= 0:
            return f"{minus}0.{'0' * -point}{text}"
        whole, frac = text[:point].ljust(point, "0"), text[point:]
        return f"{minus}{whole}.{frac or '0'}"
    return f"{minus}{text[0]}.{text[1:] or '0'}E{point - 1}"


def _decimal_string(value: Decimal) -> str:
    if value == 0:
        return "0"
    return format(value.normalize(), "f")  # trailing zeros dropped, as VARIANT stores it


def variant_string(value: object) -> str | None:
    """``try_variant_get(v, '$', 'string')`` of the parsed value: JSON text for containers."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return _json_text(value)


def _json_text(value: object) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return _decimal_string(value)
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, list):
        return "[" + ",".join(_json_text(v) for v in value) + "]"
    # VARIANT stores an object's keys sorted
    items = sorted(value.items())
    return (
        "{"
        + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{_json_text(v)}" for k, v in items)
        + "}"
    )


def value_type(value: object) -> T.DataType:
    """``schema_of_variant`` of the value, as the Spark type ``variant_schema`` parses it to."""
    if value is None:
        return T.NullType()
    if isinstance(value, bool):
        return T.BooleanType()
    if isinstance(value, int):
        return T.LongType() if _LONG[0] <= value <= _LONG[1] else T.DecimalType(38, 0)
    if isinstance(value, Decimal):
        return T.DecimalType(38, 0)  # the precision does not matter: stored as DOUBLE
    if isinstance(value, float):
        return T.DoubleType()
    if isinstance(value, str):
        return T.StringType()
    if isinstance(value, list):
        element: T.DataType = T.NullType()
        for v in value:
            element = merge_types(element, value_type(v))
        return T.ArrayType(element)
    return T.StructType([T.StructField(k, value_type(value[k])) for k in sorted(value)])


def convert(value: object, data_type: T.DataType) -> object:
    """The parsed value as ``try_variant_get(v, '$', <data_type>)`` returns it (None if it
    does not fit; the inferred type fits every value it was inferred from)."""
    if value is None:
        return None
    if isinstance(data_type, T.StringType):
        return variant_string(value)
    if isinstance(data_type, T.BooleanType):
        return value if isinstance(value, bool) else None
    if isinstance(value, bool):
        return None
    if isinstance(data_type, T.LongType):
        return value if isinstance(value, int) and _LONG[0] <= value <= _LONG[1] else None
    if isinstance(data_type, T.DoubleType):
        return float(value) if isinstance(value, (int, float, Decimal)) else None
    if isinstance(data_type, T.ArrayType):
        if not isinstance(value, list):
            return None
        return [convert(v, data_type.elementType) for v in value]
    if isinstance(data_type, T.StructType):
        if not isinstance(value, dict):
            return None
        return {f.name: convert(value.get(f.name), f.dataType) for f in data_type.fields}
    return None


# --------------------------------------------------------------------------------------------
# the pass


def parse_lines(
    df: DataFrame,
    passed: list[str],
    id_column: str,
    text_column: str,
    meta_type: T.StructType | None,
) -> DataFrame:
    """``df`` (IN_BYTES, IN_STATUS, IN_TOO_LARGE, IN_ID_TOKEN and the ``passed`` columns) ->
    the ``passed`` columns, P_ID, P_TEXT, P_REASON, P_RAW, P_SCHEMA (and P_META when
    ``meta_type`` is given)."""
    fields = [df.schema[name] for name in passed]
    fields += [
        T.StructField(P_ID, T.StringType()),
        T.StructField(P_TEXT, T.StringType()),
        T.StructField(P_REASON, T.StringType()),
        T.StructField(P_RAW, T.BinaryType()),
        T.StructField(P_SCHEMA, T.StringType()),
    ]
    if meta_type is not None:
        fields.append(T.StructField(P_META, meta_type))
    schema = T.StructType(fields)
    meta_arrow = to_arrow_type(meta_type) if meta_type is not None else None

    def run(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            yield _parse_batch(batch, passed, id_column, text_column, meta_type, meta_arrow)

    return df.mapInArrow(run, schema)


def _parse_batch(
    batch: pa.RecordBatch,
    passed: list[str],
    id_column: str,
    text_column: str,
    meta_type: T.StructType | None,
    meta_arrow: pa.DataType | None,
) -> pa.RecordBatch:
    lines = batch.column(IN_BYTES).to_pylist()
    statuses = batch.column(IN_STATUS).to_pylist()
    too_large = batch.column(IN_TOO_LARGE).to_pylist()
    tokens = batch.column(IN_ID_TOKEN).to_pylist()
    n = len(lines)
    ids: list[str | None] = [None] * n
    texts: list[str | None] = [None] * n
    reasons: list[str | None] = [None] * n
    raws: list[bytes | None] = [None] * n
    metas: list[dict | None] = [None] * n
    objects: T.DataType = T.NullType()
    for i, line in enumerate(lines):
        if statuses[i] is not None:  # a damaged file's marker: the caller gives its reason
            raws[i] = line
            continue
        if too_large[i]:
            reasons[i], raws[i] = S.REASON_TOO_LARGE, line
            if tokens[i]:
                token, _ = parse_line(tokens[i].encode("utf-8"))
                ids[i] = variant_string(token) if token is not _NOTHING else None
            continue
        value, reason = parse_line(line)
        if reason is None and len(line) > _SAFE_LINE and variant_bytes(value) > VARIANT_LIMIT:
            # Spark 4 cannot hold its parsed form: too large there (its id read from the raw
            # line, no metadata), so too large here too.
            ids[i] = variant_string(value.get(id_column)) if isinstance(value, dict) else None
            reasons[i], raws[i] = S.REASON_TOO_LARGE, line
            continue
        if isinstance(value, dict):
            objects = merge_types(objects, value_type(value))
            ids[i] = variant_string(value.get(id_column))
            if meta_type is not None:
                metas[i] = convert(value, meta_type)
            if reason is None:
                reason = _text_reason(value, text_column)
        elif reason is None:
            reason = S.REASON_NOT_OBJECT
        if reason is None:
            texts[i] = value[text_column]  # type: ignore[index]
        else:
            reasons[i], raws[i] = reason, line
    schemas: list[str | None] = [None] * n
    if n and isinstance(objects, T.StructType):
        schemas[0] = variant_schema_string(objects)
    arrays = [batch.column(name) for name in passed] + [
        pa.array(ids, pa.string()),
        pa.array(texts, pa.string()),
        pa.array(reasons, pa.string()),
        pa.array(raws, pa.binary()),
        pa.array(schemas, pa.string()),
    ]
    names = [*passed, P_ID, P_TEXT, P_REASON, P_RAW, P_SCHEMA]
    if meta_type is not None:
        arrays.append(pa.array(metas, meta_arrow))
        names.append(P_META)
    return pa.RecordBatch.from_arrays(arrays, names=names)


def variant_bytes(value: object) -> int:
    """About the size of ``value`` in Spark's VARIANT encoding (value part): a header byte per
    value, the smallest integer width, and offsets as wide as the data they point into."""
    if value is None or isinstance(value, bool):
        return 1
    if isinstance(value, int):
        magnitude = abs(value)
        return 1 + next((w for w in (1, 2, 4, 8) if magnitude < 1 << (8 * w - 1)), 16)
    if isinstance(value, Decimal):
        return 2 + (
            4
            if len(value.as_tuple().digits) <= 9
            else 8
            if len(value.as_tuple().digits) <= 18
            else 16
        )
    if isinstance(value, float):
        return 9
    if isinstance(value, str):
        size = len(value.encode("utf-8", errors="replace"))
        return 1 + size if size < 64 else 5 + size
    items = list(value.values()) if isinstance(value, dict) else value
    data = sum(variant_bytes(v) for v in items)
    offset = next(w for w in (1, 2, 3, 4) if data < 1 << (8 * w))
    count = 1 if len(items) < 256 else 4
    ids = len(items) * (1 if len(items) < 256 else 4) if isinstance(value, dict) else 0
    return 1 + count + ids + (len(items) + 1) * offset + data


def _text_reason(record: dict, text_column: str) -> str | None:
    if text_column not in record:
        return S.REASON_MISSING_TEXT
    text = record[text_column]
    if text is None:
        return S.REASON_NULL_TEXT
    if not isinstance(text, str):
        return S.REASON_TEXT_NOT_STRING
    return None
