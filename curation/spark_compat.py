"""Spark 3.5 through 4.3 from one code base: every difference between versions is decided here.

The code is written for Spark 4; where a function or method it uses is missing in an older Spark,
the replacement lives here, next to the version test, so no other module asks for a version:

- ``is_valid_utf8`` / ``make_valid_utf8`` / ``try_url_decode`` (Spark 4.0 functions);
- ``error_condition``: ``AnalysisException.getCondition`` (4.0), ``getErrorClass`` before;
- ``to_arrow``: ``DataFrame.toArrow`` (4.0);
- ``has_variant``: whether the JSONL reader can parse with VARIANT (``try_parse_json`` and its
  family, 4.0); without it the reader parses lines in Python (``readers/json_python.py``);
- ``lone_surrogate_escape``: Spark 4.0 and 4.1's ``try_parse_json`` accept a lone UTF-16
  surrogate escape (``"\\ud800"``) that 4.2 refuses; the reader refuses those lines itself there.

>>> has_variant(spark)          # False on 3.5
>>> df.where(~is_valid_utf8(F.col("text")))
"""

from __future__ import annotations

import pyarrow as pa
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

SUPPORTED_RANGE = ">=3.5,<4.4"


def version_tuple(version: str) -> tuple[int, int]:
    """``"3.5.9"`` -> ``(3, 5)``; a suffix such as ``4.1.0.dev1`` or ``-SNAPSHOT`` is ignored."""
    parts = version.split(".")
    return int(parts[0]), int("".join(ch for ch in parts[1] if ch.isdigit()) or 0)


def spark_version(spark: SparkSession) -> tuple[int, int]:
    """The (major, minor) of the Spark that runs the queries (the server, over Connect)."""
    return version_tuple(spark.version)


def _client_has(name: str) -> bool:
    return hasattr(F, name)


def has_variant(spark: SparkSession) -> bool:
    """VARIANT and its functions: the server must be 4.0+ and the client must know them."""
    return spark_version(spark) >= (4, 0) and _client_has("try_parse_json")


# A \uD800-\uDBFF escape not followed by a \uDC00-\uDFFF one, or a low one not preceded by a
# high one; the escape's backslash must not itself be escaped (an even run of backslashes before).
_LONE_SURROGATE_ESCAPE = (
    r"(?<!\\)(?:\\\\)*(?:"
    r"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2})"
)


def lone_surrogate_escape(spark: SparkSession, line: Column) -> Column | None:
    """True where a JSON line holds a lone surrogate escape, on the Spark versions whose
    ``try_parse_json`` accepts one (4.0, 4.1); None where the parser refuses it already."""
    if spark_version(spark) not in ((4, 0), (4, 1)):
        return None
    return line.contains("\\u") & line.rlike(_LONE_SURROGATE_ESCAPE)


def is_valid_utf8(col: Column) -> Column:
    """True where the string's bytes are valid UTF-8."""
    if _client_has("is_valid_utf8"):
        return F.is_valid_utf8(col)
    # Spark 3.5 keeps a string's raw bytes; encode() goes through a Java String, which replaces
    # every malformed sequence, so the two byte strings differ exactly when the input is invalid.
    return col.cast("binary") == F.encode(col, "UTF-8")


def make_valid_utf8(col: Column) -> Column:
    """The string with every invalid UTF-8 sequence replaced by U+FFFD."""
    if _client_has("make_valid_utf8"):
        return F.make_valid_utf8(col)
    # Java's decoder replaces malformed input too (one U+FFFD per maximal bad subpart, like
    # Spark 4's make_valid_utf8 on the inputs we have checked).
    return F.decode(col.cast("binary"), "UTF-8")


def try_url_decode(col: Column) -> Column:
    """URL (form) decoding, null where the input is not validly encoded."""
    if _client_has("try_url_decode"):
        return F.try_url_decode(col)
    # reflect() returns null when the method throws, which is what try_url_decode does.
    return F.call_function(
        "reflect", F.lit("java.net.URLDecoder"), F.lit("decode"), col, F.lit("UTF-8")
    )


def error_condition(err: Exception) -> str | None:
    """The error condition (class) of a Spark error: ``PATH_NOT_FOUND``, ... or None."""
    get = getattr(err, "getCondition", None) or getattr(err, "getErrorClass", None)
    return get() if get else None


def to_arrow(df: DataFrame) -> pa.Table:
    """``df`` collected as one Arrow table on the driver."""
    if hasattr(df, "toArrow"):
        return df.toArrow()
    from pyspark.sql.pandas.types import to_arrow_schema

    # Spark 3.5's own path behind toPandas with Arrow on; it returns no schema for no rows.
    batches = df._collect_as_arrow()  # noqa: SLF001 - the public toArrow is 4.0
    if not batches:
        return to_arrow_schema(df.schema).empty_table()
    return pa.Table.from_batches(batches)
