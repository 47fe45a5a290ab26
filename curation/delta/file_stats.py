"""Delta's per-file statistics (numRecords, min/max, null counts) from a Parquet footer.

The rust engine commits files Spark wrote, so it computes the stats delta-spark would have
written; readers use them to skip files, so every bound must be safe (never narrower than the
data).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from curation.delta.schema import LIST_CHECKS, arrow_type_is

# Delta truncates string stats to a prefix of this many characters (delta-spark's default).
STRING_STATS_PREFIX = 32


def parquet_stats(meta: pq.FileMetaData, schema: pa.Schema) -> dict[str, Any]:
    """numRecords, minValues, maxValues and nullCount of one Parquet file, as Delta stores them.

    Only leaf columns outside lists and maps get stats (as delta-spark does). A bound is left
    out whenever it could be wrong: a row group without stats, NaN in floats, long strings (max
    only), types whose JSON form loses precision (decimal) or is not collected (boolean, binary).
    """
    groups = [meta.row_group(i) for i in range(meta.num_row_groups)]
    groups = [g for g in groups if g.num_rows > 0]
    mins: dict[str, Any] = {}
    maxs: dict[str, Any] = {}
    nulls: dict[str, Any] = {}
    _collect_stats(list(schema), 0, groups, mins, maxs, nulls)
    return {"numRecords": meta.num_rows, "minValues": mins, "maxValues": maxs, "nullCount": nulls}


def _leaf_count(arrow_type: pa.DataType) -> int:
    """Parquet leaf columns under one Arrow type (leaves are numbered depth-first)."""
    if pa.types.is_struct(arrow_type):
        return sum(_leaf_count(f.type) for f in arrow_type.fields)
    if pa.types.is_map(arrow_type):
        return _leaf_count(arrow_type.key_type) + _leaf_count(arrow_type.item_type)
    if arrow_type_is(arrow_type, *LIST_CHECKS):
        return _leaf_count(arrow_type.value_type)
    return 1


def _collect_stats(
    fields: list[pa.Field],
    leaf: int,
    groups: list[pq.RowGroupMetaData],
    mins: dict[str, Any],
    maxs: dict[str, Any],
    nulls: dict[str, Any],
) -> int:
    """Fill the three dicts for ``fields`` whose first leaf is ``leaf``; return the next leaf."""
    for field in fields:
        if pa.types.is_struct(field.type):
            sub_min: dict[str, Any] = {}
            sub_max: dict[str, Any] = {}
            sub_null: dict[str, Any] = {}
            leaf = _collect_stats(list(field.type.fields), leaf, groups, sub_min, sub_max, sub_null)
            for target, sub in ((mins, sub_min), (maxs, sub_max), (nulls, sub_null)):
                if sub:
                    target[field.name] = sub
            continue
        width = _leaf_count(field.type)
        if width == 1 and not pa.types.is_nested(field.type):
            low, high, null_count = _column_bounds(field.type, [g.column(leaf) for g in groups])
            if low is not None:
                mins[field.name] = low
            if high is not None:
                maxs[field.name] = high
            if null_count is not None:
                nulls[field.name] = null_count
        leaf += width
    return leaf


def _column_bounds(
    arrow_type: pa.DataType, chunks: list[pq.ColumnChunkMetaData]
) -> tuple[Any, Any, int | None]:
    """(min, max, nullCount) of one leaf column over its row groups; None where unknown."""
    stats = [c.statistics for c in chunks]
    null_count: int | None = 0
    for s in stats:
        if s is None or not s.has_null_count:
            null_count = None
            break
        null_count += s.null_count
    bounded = []
    for chunk, s in zip(chunks, stats, strict=True):
        if s is not None and s.has_min_max:
            bounded.append((s.min, s.max))
        elif s is None or not s.has_null_count or s.null_count != chunk.num_values:
            return None, None, null_count  # values of unknown range
        # else: a row group where the column is all null bounds nothing
    if not bounded:
        return None, None, null_count
    if pa.types.is_floating(arrow_type) and any(v != v for pair in bounded for v in pair):
        # parquet-mr reports NaN as a bound, other writers skip NaN: no safe bounds either way.
        return None, None, null_count
    try:
        low = min(pair[0] for pair in bounded)
        high = max(pair[1] for pair in bounded)
    except TypeError:  # values Python cannot order (should not happen for one column)
        return None, None, null_count
    return _stat_json(arrow_type, low, is_max=False), _stat_json(arrow_type, high, True), null_count


def _stat_json(arrow_type: pa.DataType, value: Any, is_max: bool) -> Any:
    """One bound in Delta's JSON form, or None when no safe form exists."""
    t = arrow_type
    if pa.types.is_integer(t) and isinstance(value, int):
        return value
    if pa.types.is_floating(t) and isinstance(value, float):
        # JSON has no infinity (and NaN never gets here, see _column_bounds).
        return value if abs(value) != float("inf") else None
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        if not isinstance(value, str):
            return None
        if len(value) <= STRING_STATS_PREFIX:
            return value
        # A prefix is a valid lower bound; a truncated max would be below the true max.
        return None if is_max else value[:STRING_STATS_PREFIX]
    if pa.types.is_date32(t) and isinstance(value, dt.date):
        return value.isoformat()
    if pa.types.is_timestamp(t) and t.unit != "ns" and isinstance(value, dt.datetime):
        # Delta keeps milliseconds: round the min down and the max up so both stay bounds.
        # (Nanosecond values would not survive Python's datetime: no stats for them.)
        micros = value.microsecond % 1000
        if micros:
            value = value - dt.timedelta(microseconds=micros)
            if is_max:
                value += dt.timedelta(milliseconds=1)
        if t.tz is not None:
            if value.tzinfo is None:  # instants in UTC, whatever pyarrow attached
                value = value.replace(tzinfo=dt.timezone.utc)
            utc = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
            return utc.isoformat(timespec="milliseconds") + "Z"
        return value.replace(tzinfo=None).isoformat(timespec="milliseconds")
    return None
