"""Compressed JSONL decoded in Python: lines as Hadoop cuts them, damage found and reported."""

from __future__ import annotations

import bz2
import gzip
import zlib

import pytest
import zstandard

from curation.readers.compressed import (
    STATUS_CORRUPT,
    STATUS_TRUNCATED,
    Decoded,
    LineSplitter,
    compressed_lines,
    file_batches,
    pack_files,
)

PAYLOAD = b"".join(b'{"id": "%d", "text": "line %d"}\n' % (i, i) for i in range(20_000))


def pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def split_all(chunks: list[bytes]) -> tuple[list[bytes], bytes]:
    splitter = LineSplitter()
    lines: list[bytes] = []
    expected_line = 0
    for chunk in chunks:
        for array, first in splitter.split(chunk):
            assert first == expected_line  # numbered in order, without gaps
            lines += array.to_pylist()
            expected_line += len(array)
    return lines, splitter.rest()


@pytest.mark.parametrize("size", [1, 7, 64, 4096, 1 << 20])
def test_lines_are_cut_as_hadoop_cuts_them_whatever_the_chunking(size):
    data = b"a\nbb\r\nccc\rdddd\n\n" + b"e" * 10_000 + b"\nlast"
    lines, rest = split_all(pieces(data, size))
    # A \r\n split between chunks may leave one empty line (blank lines are skipped later).
    assert [line for line in lines if line] == [b"a", b"bb", b"ccc", b"dddd", b"e" * 10_000]
    assert lines.count(b"") <= 2 and rest == b"last"


def test_a_line_larger_than_any_chunk_is_joined_once():
    data = b"x" * (3 << 20) + b"\nnext\n"
    lines, rest = split_all(pieces(data, 1 << 16))
    assert lines == [b"x" * (3 << 20), b"next"] and rest == b""


def compress(codec: str, data: bytes) -> bytes:
    if codec == "gzip":
        # Two members, as parallel gzip writers and `cat a.gz b.gz` produce.
        half = len(data) // 2
        return gzip.compress(data[:half]) + gzip.compress(data[half:])
    if codec == "bz2":
        half = len(data) // 2
        return bz2.compress(data[:half]) + bz2.compress(data[half:])
    frames = [zstandard.ZstdCompressor().compress(p) for p in pieces(data, 100_000)]
    return b"".join(frames)  # several frames


@pytest.mark.parametrize("codec", ["gzip", "bz2", "zstd"])
def test_whole_files_decode_member_after_member(codec):
    decoded = Decoded(codec, pieces(compress(codec, PAYLOAD), 10_000))
    assert b"".join(decoded) == PAYLOAD and decoded.status is None


@pytest.mark.parametrize("codec", ["gzip", "bz2", "zstd"])
def test_a_cut_file_is_truncated_after_yielding_what_it_holds(codec):
    packed = compress(codec, PAYLOAD)
    decoded = Decoded(codec, pieces(packed[: len(packed) * 3 // 4], 10_000))
    out = b"".join(decoded)
    assert decoded.status == STATUS_TRUNCATED
    assert len(out) > len(PAYLOAD) // 3 and PAYLOAD.startswith(out)


def test_gzip_padding_after_the_last_member_is_not_damage():
    decoded = Decoded("gzip", [gzip.compress(PAYLOAD) + b"\0" * 512])
    assert b"".join(decoded) == PAYLOAD and decoded.status is None


def test_corrupt_gzip_keeps_the_output_up_to_the_bad_byte():
    packed = gzip.compress(PAYLOAD, compresslevel=1)
    middle = len(packed) // 2
    damaged = packed[:middle] + bytes(b ^ 0xFF for b in packed[middle : middle + 200])
    damaged += packed[middle + 200 :]
    decoded = Decoded("gzip", [damaged])  # one chunk: zlib is replayed finely after the error
    out = b"".join(decoded)
    intact = zlib.decompressobj(31).decompress(packed[:middle])
    assert decoded.status == STATUS_CORRUPT
    assert out[: len(intact)] == intact


def test_file_batches_end_with_a_marker_for_a_damaged_file():
    packed = gzip.compress(PAYLOAD)
    batches = list(file_batches("file:/x/a.jsonl.gz", [packed[: len(packed) // 2]]))
    rows = [row for batch in batches for row in batch.to_pylist()]
    marker = rows[-1]
    assert marker["status"] == STATUS_TRUNCATED and marker["source"] == "file:/x/a.jsonl.gz"
    assert [r["line"] for r in rows] == list(range(len(rows)))
    assert all(r["status"] is None for r in rows[:-1])
    assert b"\n".join(r["value"] for r in rows) == zlib.decompressobj(31).decompress(
        packed[: len(packed) // 2]
    )


def test_a_last_line_without_newline_is_a_line():
    rows = [
        r for b in file_batches("a.jsonl.gz", [gzip.compress(b"one\ntwo")]) for r in b.to_pylist()
    ]
    assert [(r["value"], r["line"], r["status"]) for r in rows] == [
        (b"one", 0, None),
        (b"two", 1, None),
    ]


def test_files_are_packed_into_tasks_as_spark_packs_splits():
    mb = 1 << 20
    files = [("big", 300 * mb), ("a", mb), ("b", mb), ("c", mb), ("empty", 0)]
    bins = pack_files(files, parallelism=2)
    assert bins[0] == ["big"]  # alone: larger than a task's share
    assert sorted(p for b in bins[1:] for p in b) == ["a", "b", "c"]  # empty files: no task
    assert pack_files([], 2) == []


def test_compressed_lines_on_spark(spark, tmp_path):
    (tmp_path / "a.jsonl.gz").write_bytes(gzip.compress(b"1\n2\n"))
    (tmp_path / "b.jsonl.bz2").write_bytes(bz2.compress(b"3\n"))
    zst = zstandard.ZstdCompressor().compress(b"4\n5\n6\n")
    (tmp_path / "c.jsonl.zst").write_bytes(zst[:-3])
    files = [(f"file:{p}", p.stat().st_size) for p in sorted(tmp_path.iterdir())]
    rows = compressed_lines(spark, files).collect()
    got = sorted((r["source"].rsplit("/", 1)[1], r["line"], r["value"], r["status"]) for r in rows)
    assert got[:3] == [
        ("a.jsonl.gz", 0, b"1", None),
        ("a.jsonl.gz", 1, b"2", None),
        ("b.jsonl.bz2", 0, b"3", None),
    ]
    # The cut zstd frame: what decodes of it, then the marker holding the partial last line.
    readable = zstandard.ZstdDecompressor().decompressobj().decompress(zst[:-3]).split(b"\n")
    assert compressed_lines(spark, [(f"file:{tmp_path}/none.gz", 0)]).count() == 0
    assert got[3:] == [
        *[("c.jsonl.zst", i, line, None) for i, line in enumerate(readable[:-1])],
        ("c.jsonl.zst", len(readable) - 1, readable[-1], STATUS_TRUNCATED),
    ]
