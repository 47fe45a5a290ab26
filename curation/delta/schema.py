"""Spark, Arrow and Delta schemas: type mapping, the checks that data fits a table, and the
merge of the two when an append may add columns.

Delta's schemaString is Spark's StructType JSON; Parquet footers come as Arrow. Schemas are
compared on column names and types only (see ``loose_type``).
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import types as T

from curation.errors import DeltaError


def spark_schema_from_delta(schema_json: str) -> T.StructType:
    """The Spark schema of a Delta table from its schemaString (the same JSON format)."""
    try:
        parsed = T.StructType.fromJson(json.loads(schema_json))
    except Exception as err:  # noqa: BLE001 - any parse failure means a type Spark lacks
        raise DeltaError(f"the table schema has a type Spark cannot read: {err}") from err
    return parsed


def spark_type_from_arrow(arrow_type: pa.DataType) -> T.DataType:
    """The Spark type Spark's Parquet reader gives a column that Arrow reads as ``arrow_type``."""
    t = arrow_type
    if pa.types.is_dictionary(t):
        return spark_type_from_arrow(t.value_type)
    simple = [
        (pa.types.is_boolean, T.BooleanType),
        (pa.types.is_int8, T.ByteType),
        (pa.types.is_int16, T.ShortType),
        (pa.types.is_int32, T.IntegerType),
        (pa.types.is_int64, T.LongType),
        (pa.types.is_float32, T.FloatType),
        (pa.types.is_float64, T.DoubleType),
        (pa.types.is_date32, T.DateType),
    ]
    for check, spark_type in simple:
        if check(t):
            return spark_type()
    if arrow_type_is(t, "is_string", "is_large_string", "is_string_view"):
        return T.StringType()
    if arrow_type_is(t, "is_binary", "is_large_binary", "is_binary_view", "is_fixed_size_binary"):
        return T.BinaryType()
    if pa.types.is_timestamp(t):
        # Parquet's isAdjustedToUTC surfaces as a time zone in Arrow: Spark TIMESTAMP; else NTZ.
        return T.TimestampType() if t.tz is not None else T.TimestampNTZType()
    if pa.types.is_decimal(t):
        return T.DecimalType(t.precision, t.scale)
    if pa.types.is_map(t):
        return T.MapType(spark_type_from_arrow(t.key_type), spark_type_from_arrow(t.item_type))
    if arrow_type_is(t, *LIST_CHECKS):
        return T.ArrayType(spark_type_from_arrow(t.value_type))
    if pa.types.is_struct(t):
        return T.StructType(
            [T.StructField(f.name, spark_type_from_arrow(f.type)) for f in t.fields]
        )
    raise DeltaError(f"Arrow type {t} has no Spark equivalent in a Delta table")


LIST_CHECKS = (
    "is_list",
    "is_large_list",
    "is_fixed_size_list",
    "is_list_view",
    "is_large_list_view",
)


def arrow_type_is(arrow_type: pa.DataType, *checks: str) -> bool:
    """Any of pyarrow.types' ``checks`` holds (the newer ones are absent from older pyarrow)."""
    return any(getattr(pa.types, name, lambda _t: False)(arrow_type) for name in checks)


def spark_schema_from_arrow(schema: pa.Schema) -> T.StructType:
    return T.StructType([T.StructField(f.name, spark_type_from_arrow(f.type)) for f in schema])


def loose_type(data_type: T.DataType) -> T.DataType:
    """``data_type`` with every nullability flag set and field metadata dropped.

    Tables we create are all-nullable (as delta-spark makes them), and schemas are compared on
    names and types only: a DataFrame whose column happens to be non-null still fits.
    """
    if isinstance(data_type, T.StructType):
        return T.StructType([T.StructField(f.name, loose_type(f.dataType)) for f in data_type])
    if isinstance(data_type, T.ArrayType):
        return T.ArrayType(loose_type(data_type.elementType), True)
    if isinstance(data_type, T.MapType):
        return T.MapType(loose_type(data_type.keyType), loose_type(data_type.valueType), True)
    if isinstance(data_type, (T.CharType, T.VarcharType)):
        return T.StringType()  # Spark writes both as plain strings
    return data_type


def schema_mismatches(table: T.StructType, data: T.StructType) -> list[str]:
    """Human-readable differences between a table schema and data to be written to it."""
    table_fields = {f.name: f for f in table}
    data_fields = {f.name: f for f in data}
    problems = []
    for name, field in table_fields.items():
        if name not in data_fields:
            problems.append(f"column '{name}' ({field.dataType.simpleString()}) is missing")
            continue
        want, got = loose_type(field.dataType), loose_type(data_fields[name].dataType)
        if want != got:
            problems.append(
                f"column '{name}' is {want.simpleString()} in the table "
                f"but {got.simpleString()} in the data"
            )
    problems.extend(
        f"column '{name}' ({field.dataType.simpleString()}) is not in the table"
        for name, field in data_fields.items()
        if name not in table_fields
    )
    return problems


def table_schema_for_write(table: T.StructType, data: T.StructType, where: str) -> T.StructType:
    """The table's schema, after checking ``data`` fits it by column name and type."""
    problems = schema_mismatches(table, data)
    if problems:
        raise DeltaError(
            f"the data does not match the schema of {where}: "
            + "; ".join(problems)
            + ". Select and cast the columns to the table's schema, or overwrite with "
            "overwrite_schema=True to replace it."
        )
    return table


def merged_schema(table: T.StructType, data: T.StructType, where: str) -> T.StructType:
    """Delta's schema merge for an append (``mergeSchema``): the table's columns, then the
    data's new ones, added as nullable. A column both have keeps one type; a column the data
    lacks must be nullable (the new rows hold null there)."""
    data_fields = {f.name: f for f in data}
    problems = []
    for field in table:
        got = data_fields.get(field.name)
        if got is None:
            if not field.nullable:
                problems.append(f"column '{field.name}' is NOT NULL in the table and missing")
        elif loose_type(field.dataType) != loose_type(got.dataType):
            problems.append(
                f"column '{field.name}' is {loose_type(field.dataType).simpleString()} in the "
                f"table but {loose_type(got.dataType).simpleString()} in the data"
            )
    if problems:
        raise DeltaError(
            f"the data cannot be appended to {where}: "
            + "; ".join(problems)
            + "; a table keeps its columns' types: write this recipe to a new output root"
        )
    known = {f.name for f in table}
    added = [T.StructField(f.name, f.dataType, True) for f in data if f.name not in known]
    return T.StructType([*table.fields, *added])


def check_file_schema(table: T.StructType, parquet_schema: pq.ParquetSchema, where: str) -> None:
    """Refuse a data file whose columns do not match the table (by name and type)."""
    int96 = [
        parquet_schema.column(i).path
        for i in range(len(parquet_schema))
        if parquet_schema.column(i).physical_type == "INT96"
    ]
    if int96:
        raise DeltaError(
            f"{where} stores timestamps as INT96 ({', '.join(int96)}), which delta-rs cannot "
            "read; set spark.sql.parquet.outputTimestampType=TIMESTAMP_MICROS"
        )
    try:
        file_schema = spark_schema_from_arrow(parquet_schema.to_arrow_schema())
    except DeltaError as err:
        raise DeltaError(f"{where}: {err}") from err
    problems = schema_mismatches(table, file_schema)
    if problems:
        raise DeltaError(f"{where} does not match the table schema: " + "; ".join(problems))


def check_column_names(schema: T.StructType, where: str) -> None:
    names = [f.name for f in schema]
    lowered = [n.lower() for n in names]
    dupes = sorted({n for n in names if lowered.count(n.lower()) > 1})
    if dupes:
        raise DeltaError(
            f"cannot write to {where}: column names must be unique ignoring case (Delta "
            f"matches them that way); duplicates: {', '.join(dupes)}"
        )


def check_non_nullable(schema: T.StructType, stats: dict[str, Any], where: str) -> None:
    """NOT NULL columns of an existing table: the footer's null counts must prove no nulls."""
    for field in schema:
        if field.nullable or isinstance(field.dataType, (T.StructType, T.ArrayType, T.MapType)):
            continue
        count = stats["nullCount"].get(field.name)
        if count != 0:
            found = "an unknown number of" if count is None else str(count)
            raise DeltaError(
                f"{where} has {found} nulls in column '{field.name}', which the table "
                "declares NOT NULL"
            )
