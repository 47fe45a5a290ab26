"""Spark's variant schema strings (``schema_of_variant_agg`` output) -> Spark types.

The JSONL reader infers its metadata columns from one aggregation over the parsed records; this
turns the type string that aggregation returns into a type a Parquet/Delta table can hold.
"""

from __future__ import annotations

from pyspark.sql import types as T


def parse_variant_schema(text: str) -> T.DataType:
    """Turn ``schema_of_variant_agg`` output into a Spark type a Parquet/Delta table can hold.

    JSON numbers with a fraction become DOUBLE (as ``spark.read.json`` infers them); a field
    whose type differs between rows (VARIANT), an always-null field (VOID) and an empty object
    become STRING, so the value survives as its JSON text.

    >>> parse_variant_schema("OBJECT<n: BIGINT, m: OBJECT<x: DECIMAL(2,1)>, `a b`: VARIANT>")
    ... # struct<n: bigint, m: struct<x: double>, `a b`: string>
    """
    parser = _TypeParser(text)
    result = parser.parse_type()
    parser.expect_end()
    return result


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
            # Parquet cannot store a struct without fields; keep "{}" as text instead.
            return T.StructType(fields) if fields else T.StringType()
        if word == "ARRAY":
            self._eat("<")
            element = self.parse_type()
            self._eat(">")
            return T.ArrayType(element)
        if word == "DECIMAL":
            self._eat("(")
            while not self._try_eat(")"):
                self.pos += 1
            return T.DoubleType()
        return self._SCALARS.get(word, T.StringType())  # VARIANT, VOID and anything new

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
