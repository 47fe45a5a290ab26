"""Spark's variant schema strings (``schema_of_variant_agg`` output) -> Spark types.

The JSONL reader infers its metadata columns from one aggregation over the parsed records (per
bucket of ids, see jsonl.py); this merges the type strings that aggregation returns and turns the
result into a type a Parquet/Delta table can hold.
"""

from __future__ import annotations

from pyspark.sql import types as T


class MixedType(T.DataType):
    """Values of more than one type: ``schema_of_variant``'s VARIANT (Spark 3.5 has no
    VariantType to stand for it); stored as their JSON text."""

    def simpleString(self) -> str:  # noqa: N802 - Spark's name
        return "variant"


def parse_variant_schema(text: str) -> T.DataType:
    """Turn ``schema_of_variant_agg`` output into a Spark type a Parquet/Delta table can hold.

    JSON numbers with a fraction become DOUBLE (as ``spark.read.json`` infers them); a field
    whose type differs between rows (VARIANT), an always-null field (VOID) and an empty object
    become STRING, so the value survives as its JSON text.

    >>> parse_variant_schema("OBJECT<n: BIGINT, m: OBJECT<x: DECIMAL(2,1)>, `a b`: VARIANT>")
    ... # struct<n: bigint, m: struct<x: double>, `a b`: string>
    """
    return merge_variant_schemas([text])


def merge_variant_schemas(texts: list[str]) -> T.DataType:
    """The type of values whose variant schemas are ``texts``, as ``parse_variant_schema`` gives.

    The same merge ``schema_of_variant_agg`` does over rows, done over its results (the reader
    aggregates per bucket of ids and merges the buckets here): equal types stay, VOID yields to
    the other, integers widen, integer and fractional numbers make DOUBLE, objects merge field
    by field, arrays by element, and anything else is VARIANT.

    >>> merge_variant_schemas(["OBJECT<a: BIGINT, b: VOID>", "OBJECT<a: DOUBLE, b: STRING>"])
    ... # struct<a: double, b: string>
    """
    merged: T.DataType = T.NullType()
    for text in texts:
        parser = _TypeParser(text)
        parsed = parser.parse_type()
        parser.expect_end()
        merged = merge_types(merged, parsed)
    return _storable(merged)


def variant_schema_string(data_type: T.DataType) -> str:
    """A type as ``schema_of_variant`` writes it, so the parser above reads it back."""
    if isinstance(data_type, T.StructType):
        fields = ", ".join(
            "`" + f.name.replace("`", "``") + "`: " + variant_schema_string(f.dataType)
            for f in data_type.fields
        )
        return f"OBJECT<{fields}>"
    if isinstance(data_type, T.ArrayType):
        return f"ARRAY<{variant_schema_string(data_type.elementType)}>"
    if isinstance(data_type, T.NullType):
        return "VOID"
    if isinstance(data_type, MixedType):
        return "VARIANT"
    if isinstance(data_type, T.DecimalType):
        return "DECIMAL(38,0)"
    return next(word for word, t in _TypeParser._SCALARS.items() if t == data_type)


_INTEGRAL_WIDTH = {T.ByteType(): 1, T.ShortType(): 2, T.IntegerType(): 4, T.LongType(): 8}
_FRACTIONAL = (T.DecimalType, T.DoubleType, T.FloatType)


def merge_types(a: T.DataType, b: T.DataType) -> T.DataType:
    """The type of values of types ``a`` and ``b`` (NullType for VOID, VariantType for mixed)."""
    if a == b:
        return a
    if isinstance(a, T.NullType):
        return b
    if isinstance(b, T.NullType):
        return a
    if a in _INTEGRAL_WIDTH and b in _INTEGRAL_WIDTH:
        return a if _INTEGRAL_WIDTH[a] >= _INTEGRAL_WIDTH[b] else b
    numeric = (*_FRACTIONAL, T.IntegralType)
    if isinstance(a, numeric) and isinstance(b, numeric):
        return T.DoubleType()  # Spark keeps a wide DECIMAL or DOUBLE; both are stored as DOUBLE
    if isinstance(a, T.ArrayType) and isinstance(b, T.ArrayType):
        return T.ArrayType(merge_types(a.elementType, b.elementType))
    if isinstance(a, T.StructType) and isinstance(b, T.StructType):
        fields = {f.name: f.dataType for f in a.fields}
        for f in b.fields:
            fields[f.name] = merge_types(fields.get(f.name, T.NullType()), f.dataType)
        return T.StructType([T.StructField(name, fields[name]) for name in sorted(fields)])
    return MixedType()


def _storable(data_type: T.DataType) -> T.DataType:
    """A merged type as a table column: DECIMAL -> DOUBLE; VOID, VARIANT, OBJECT<> -> STRING."""
    if isinstance(data_type, T.StructType):
        # Parquet cannot store a struct without fields; keep "{}" as text instead.
        if not data_type.fields:
            return T.StringType()
        return T.StructType([T.StructField(f.name, _storable(f.dataType)) for f in data_type])
    if isinstance(data_type, T.ArrayType):
        return T.ArrayType(_storable(data_type.elementType))
    if isinstance(data_type, T.DecimalType):
        return T.DoubleType()
    if isinstance(data_type, (T.NullType, MixedType)):
        return T.StringType()
    return data_type


class _TypeParser:
    _SCALARS = {
        "BIGINT": T.LongType(),
        "INT": T.IntegerType(),
        "SMALLINT": T.ShortType(),
        "TINYINT": T.ByteType(),
        "DOUBLE": T.DoubleType(),
        "FLOAT": T.FloatType(),
        "BOOLEAN": T.BooleanType(),
        "STRING": T.StringType(),
        "DATE": T.DateType(),
        "TIMESTAMP": T.TimestampType(),
        "TIMESTAMP_NTZ": T.TimestampNTZType(),
        "BINARY": T.BinaryType(),
    }

    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def parse_type(self) -> T.DataType:
        word = self._word()
        if word == "OBJECT":
            self._eat("<")
            fields: list[T.StructField] = []
            if not self._try_eat(">"):
                while True:
                    name = self._name()
                    self._eat(":")
                    fields.append(T.StructField(name, self.parse_type()))
                    if self._try_eat(">"):
                        break
                    self._eat(",")
            return T.StructType(fields)
        if word == "ARRAY":
            self._eat("<")
            element = self.parse_type()
            self._eat(">")
            return T.ArrayType(element)
        if word == "DECIMAL":
            self._eat("(")
            while not self._try_eat(")"):
                self.pos += 1
            return T.DecimalType()  # the precision does not matter: it is stored as DOUBLE
        if word == "VOID":
            return T.NullType()
        return self._SCALARS.get(word, MixedType())  # VARIANT and anything new

    def expect_end(self) -> None:
        self._skip()
        if self.pos != len(self.text):
            raise ValueError(f"unexpected {self.text[self.pos :]!r} in type {self.text!r}")

    def _skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] == " ":
            self.pos += 1

    def _word(self) -> str:
        self._skip()
        start = self.pos
        while self.pos < len(self.text) and (
            self.text[self.pos].isalnum() or self.text[self.pos] == "_"
        ):
            self.pos += 1
        if start == self.pos:
            raise ValueError(f"expected a type at {self.pos} in {self.text!r}")
        return self.text[start : self.pos].upper()

    def _name(self) -> str:
        self._skip()
        if self.text.startswith("`", self.pos):
            out = []
            self.pos += 1
            while True:
                end = self.text.index("`", self.pos)
                out.append(self.text[self.pos : end])
                self.pos = end + 1
                if self.text.startswith("`", self.pos):  # `` is an escaped backtick
                    out.append("`")
                    self.pos += 1
                else:
                    return "".join(out)
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] != ":":
            self.pos += 1
        return self.text[start : self.pos].strip()

    def _eat(self, token: str) -> None:
        if not self._try_eat(token):
            raise ValueError(f"expected {token!r} at {self.pos} in {self.text!r}")

    def _try_eat(self, token: str) -> bool:
        self._skip()
        if self.text.startswith(token, self.pos):
            self.pos += len(token)
            return True
        return False
