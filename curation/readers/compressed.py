"""Compressed JSONL decoded on the executors in Python, so a damaged file loses only its tail.

Hadoop's codecs throw at the first bad byte of a ``.gz``, ``.bz2`` or ``.zst`` file and the read
fails with it (``spark.sql.files.ignoreCorruptFiles`` keeps the lines before the damage but
says nothing about which file lost what). Here each file is streamed through Python's zlib/bz2
and zstandard decoders, which stop cleanly where the data ends or breaks: every complete line
before that point comes out, followed by one *marker* row for the damaged file, whose value is
the partial last line and whose status says ``truncated`` (the stream ends early) or
``corrupt`` (the decoder rejects a byte). Lines are cut with numpy and Arrow on large decoded
chunks, so reading stays close to Spark's own reader (see the README for measurements).

    compressed_lines(spark, [("file:/data/a.jsonl.gz", 1234)])
    # value (binary), source, line (0-based), status (null, or truncated/corrupt on a marker)

Files are opened with pyarrow.fs through ``curation.storage`` (local, S3, GCS, ABFS, HDFS);
``opens_in_python`` tells the reader whether that works for an input, else Hadoop reads it.
"""

from __future__ import annotations

import bz2
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import zstandard
from pyspark.sql import DataFrame, SparkSession

from curation.errors import CurationError, StorageError
from curation.session import is_connect
from curation.storage import Location, current_options

# The suffixes decoded here; other Hadoop codecs (.deflate, .lz4, .snappy) frame their data in
# Hadoop's own block format, so Spark keeps reading those.
CODECS = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd", ".zstd": "zstd"}

LINES_SCHEMA = "value binary, source string, line long, status string"
STATUS_TRUNCATED = "truncated"
STATUS_CORRUPT = "corrupt"

_ARROW_SCHEMA = pa.schema(
    [("value", pa.binary()), ("source", pa.string()), ("line", pa.int64()), ("status", pa.string())]
)
_READ_BYTES = 256 << 10  # compressed bytes read (and decoded) per call
_SPLIT_BYTES = 8 << 20  # decoded bytes gathered before cutting them into lines: one Arrow batch
_REPLAY_BYTES = 1 << 10  # on a decoding error, how finely zlib re-decodes to the bad byte
# Spark's defaults for packing files into tasks (spark.sql.files.maxPartitionBytes and
# openCostInBytes): a compressed file cannot be split, so these decide how files share tasks.
_MAX_TASK_BYTES = 128 << 20
_OPEN_COST_BYTES = 4 << 20
_DECODE_ERRORS = (zlib.error, OSError, EOFError, ValueError, zstandard.ZstdError)


class CorruptInputError(CurationError):
    """A compressed input file is damaged and ``input.on_corrupt_file`` is ``fail``."""


def codec_of(path: str) -> str | None:
    """The codec decoded here for a file name, or None (plain files, Hadoop-only codecs)."""
    lower = path.lower()
    return next((codec for suffix, codec in CODECS.items() if lower.endswith(suffix)), None)


def opens_in_python(path: str) -> bool:
    """Whether pyarrow.fs reaches ``path`` here (it must on the executors too)."""
    try:
        loc = Location.of(path)
        return loc.fs.get_file_info(loc.fs_path).size is not None
    except (StorageError, OSError, pa.ArrowException):
        return False


def compressed_lines(spark: SparkSession, files: list[tuple[str, int]]) -> DataFrame:
    """The lines of ``files`` ((path, size) pairs, as listed), decoded on the executors."""
    bins = pack_files(files, _parallelism(spark))
    # The driver's storage options (endpoint, credentials), shipped in the closure: executors'
    # Python workers never see the recipe.
    options = current_options()

    def run(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for index in batch.column(0).to_pylist():
                for path in bins[index]:
                    yield from file_batches(path, _open_stream(path, options))

    # One task per bin: range(n, n partitions) puts exactly one index in each partition.
    return spark.range(0, len(bins), 1, len(bins)).mapInArrow(run, LINES_SCHEMA)


def pack_files(files: list[tuple[str, int]], parallelism: int) -> list[list[str]]:
    """Files into task bins as Spark packs file splits: largest first, next fit."""
    # Zero-length files hold no line; Spark's file sources skip them too.
    files = sorted(((p, s) for p, s in files if s > 0), key=lambda f: (-f[1], f[0]))
    total = sum(s + _OPEN_COST_BYTES for _, s in files)
    limit = min(_MAX_TASK_BYTES, max(_OPEN_COST_BYTES, total // max(parallelism, 1)))
    bins: list[list[str]] = []
    size = 0
    for path, length in files:
        if not bins or (size + length > limit and bins[-1]):
            bins.append([])
            size = 0
        bins[-1].append(path)
        size += length + _OPEN_COST_BYTES
    return bins


def file_batches(source: str, chunks: Iterable[bytes]) -> Iterator[pa.RecordBatch]:
    """Arrow batches of one file's lines; a marker row last if the file is damaged."""
    splitter = LineSplitter()
    decoded = Decoded(codec_of(source) or "gzip", chunks)
    pending: list[bytes] = []
    size = 0
    for piece in decoded:
        pending.append(piece)
        size += len(piece)
        if size >= _SPLIT_BYTES:
            yield from _to_batches(splitter.split(b"".join(pending)), source)
            pending, size = [], 0
    if pending:
        yield from _to_batches(splitter.split(b"".join(pending)), source)
    rest = splitter.rest()
    if decoded.status is not None:
        yield _batch(pa.array([rest], pa.binary()), source, splitter.line, decoded.status)
    elif rest:  # a last line without a newline
        yield _batch(pa.array([rest], pa.binary()), source, splitter.line, None)


@dataclass
class Decoded:
    """Decoded bytes of a compressed stream, member after member; ``status`` once exhausted.

    Stops at the first undecodable byte (status ``corrupt``) or where the input ends inside a
    member (``truncated``), after yielding everything decoded before that point.
    """

    codec: str
    chunks: Iterable[bytes]
    status: str | None = field(default=None, init=False)

    def __iter__(self) -> Iterator[bytes]:
        decoder = _new_decoder(self.codec)
        open_member = False  # input went into the current member and its end was not seen
        for chunk in self.chunks:
            data = chunk
            while data:
                out, failed = _decode(decoder, data)
                if out:
                    yield out
                if failed:
                    self.status = STATUS_CORRUPT
                    return
                if not decoder.eof:
                    open_member = True
                    break
                # A member ended: what follows is the next member (concatenated gzip, bz2
                # streams and zstd frames are one file to every reader).
                data = decoder.unused_data
                if self.codec == "gzip":
                    data = data.lstrip(b"\0")  # padding after a member, which gzip ignores
                decoder = _new_decoder(self.codec)
                open_member = False
        if open_member:
            self.status = STATUS_TRUNCATED


class LineSplitter:
    """Cuts decoded bytes into lines as Hadoop does (``\\n``, ``\\r\\n`` or ``\\r`` ends one)."""

    def __init__(self) -> None:
        self.carry: list[bytes] = []  # the unfinished last line, in pieces (lines can be huge)
        self.line = 0  # number of the next line

    def split(self, buf: bytes) -> list[tuple[pa.Array, int]]:
        """Complete lines in ``carry + buf`` as (binary array, first line number) pairs."""
        if b"\r" in buf:
            return self._split_slow(buf)
        first = buf.find(b"\n")
        if first < 0:
            self.carry.append(buf)
            return []
        last = buf.rfind(b"\n")
        out: list[tuple[pa.Array, int]] = []
        start = 0
        if self.carry:
            self.carry.append(buf[:first])
            out.append(self._emit(pa.array([b"".join(self.carry)], pa.binary())))
            start = first + 1
        if last >= start:
            out.append(self._emit(_split_on_newlines(buf, start, last)))
        self.carry = [buf[last + 1 :]] if last + 1 < len(buf) else []
        return out

    def rest(self) -> bytes:
        return b"".join(self.carry)

    def _split_slow(self, buf: bytes) -> list[tuple[pa.Array, int]]:
        text = b"".join([*self.carry, buf])
        cut = max(text.rfind(b"\n"), text.rfind(b"\r"))
        if cut < 0:
            self.carry = [text]
            return []
        # bytes.splitlines splits on \n, \r\n and \r only, as Hadoop's LineReader does. A \r\n
        # cut between two chunks leaves one empty line, which the reader skips as blank.
        self.carry = [text[cut + 1 :]] if cut + 1 < len(text) else []
        return [self._emit(pa.array(text[: cut + 1].splitlines(), pa.binary()))]

    def _emit(self, lines: pa.Array) -> tuple[pa.Array, int]:
        first = self.line
        self.line += len(lines)
        return lines, first


def _split_on_newlines(buf: bytes, start: int, end: int) -> pa.Array:
    """The lines of ``buf[start:end]`` (``buf[end]`` is a newline), without copying in Python."""
    data = pa.py_buffer(buf).slice(start, end - start)
    offsets = pa.py_buffer(np.array([0, end - start], dtype=np.int32))
    whole = pa.Array.from_buffers(pa.binary(), 1, [None, offsets, data])
    return pc.split_pattern(whole, b"\n").flatten()


def _to_batches(pieces: list[tuple[pa.Array, int]], source: str) -> Iterator[pa.RecordBatch]:
    for lines, first in pieces:
        yield _batch(lines, source, first, None)


def _batch(values: pa.Array, source: str, first_line: int, status: str | None) -> pa.RecordBatch:
    n = len(values)
    return pa.RecordBatch.from_arrays(
        [
            values,
            pa.array([source], pa.string()).take(np.zeros(n, dtype=np.int32)),
            pa.array(np.arange(first_line, first_line + n, dtype=np.int64)),
            pa.array([status] * n, pa.string()) if status else pa.nulls(n, pa.string()),
        ],
        schema=_ARROW_SCHEMA,
    )


def _new_decoder(codec: str):
    if codec == "gzip":
        return zlib.decompressobj(31)  # wbits 31: a gzip header and trailer around deflate
    if codec == "bz2":
        return bz2.BZ2Decompressor()
    return zstandard.ZstdDecompressor().decompressobj()


def _decode(decoder, data: bytes) -> tuple[bytes, bool]:
    """Decoded ``data`` and whether the decoder failed; on failure, what preceded the bad byte.

    zlib's decoder can be copied, so a failing chunk is decoded again in small steps to keep
    the output up to the damage; the others lose at most what one chunk would have yielded.
    """
    saved: Callable | None = getattr(decoder, "copy", None)
    before = saved() if saved is not None else None
    try:
        return decoder.decompress(data), False
    except _DECODE_ERRORS:
        if before is None:
            return b"", True
    out = []
    for i in range(0, len(data), _REPLAY_BYTES):
        try:
            out.append(before.decompress(data[i : i + _REPLAY_BYTES]))
        except _DECODE_ERRORS:
            break
    return b"".join(out), True


def _open_stream(path: str, options: dict[str, str]) -> Iterator[bytes]:
    loc = Location.of(path, options)
    # compression=None: pyarrow would otherwise decode .gz itself, and fail where we stop.
    with loc.fs.open_input_stream(loc.fs_path, compression=None) as stream:
        while chunk := stream.read(_READ_BYTES):
            yield chunk


def _parallelism(spark: SparkSession) -> int:
    if is_connect(spark):
        return 8  # a Connect client cannot ask the cluster; enough tasks for a small one
    return spark.sparkContext.defaultParallelism
