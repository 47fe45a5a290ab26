"""Inputs that never crash a run, record by record: each record gets a defined outcome.

Huge records, damaged compressed files, duplicate ids, trailing garbage, empty directories and
a run's own `rejected` table as input: every case is read, rejected with a named reason, or
refused with one line that says what to do.
"""

from __future__ import annotations

import gzip
import json
import zlib

import pytest
import yaml
import zstandard

from curation.delta import open_store
from curation.errors import ConfigError
from curation.readers import InputConfig, count_read_rejects, read_documents
from curation.readers.documents import RAW, SOURCE

pytestmark = pytest.mark.fault

MiB = 1 << 20


def words(n: int, tag: str) -> str:
    return " ".join(f"{tag}{i}" for i in range(n))


def jsonl(records: list[dict]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def recipe(tmp_path, input_path: str, out: str, **input_extra) -> str:
    cfg = {
        "input": {"path": input_path, **input_extra},
        "output": out,
        "storage": {"engine": "rust"},
        "stages": [{"kind": "length", "min_words": 5, "max_words": 1000}],
    }
    path = tmp_path / f"recipe-{abs(hash(out))}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def table_rows(path: str, spark) -> dict[str, dict]:
    rows = open_store(spark, "rust").read(path).collect()
    return {r["id"]: r.asDict() for r in rows}


def stats_reasons(out: str, spark) -> dict[tuple[str, str | None], int]:
    rows = open_store(spark, "rust").read(f"{out}/stats").collect()
    return {(r["stage"], r["reason"]): r["rows_dropped"] for r in rows}


# -- item 3: records of tens of MB --------------------------------------------------------------


def test_huge_records_parse_or_are_rejected_as_too_large_with_their_id(spark, tmp_path):
    """25 MB parses (Spark's JSON parser stops at 20 MB strings by default); 100 MB is over the
    64 MiB default limit and says so, keeping the id it had in the file."""
    path = tmp_path / "big.jsonl"
    with path.open("wb") as f:
        f.write(json.dumps({"id": "small", "text": "a small one"}).encode() + b"\n")
        f.write(b'{"id": "big25", "text": "' + b"x" * (25 * MiB) + b'", "n": 1}\n')
        # The id after the text: the reader finds it without parsing the record.
        f.write(b'{"text": "' + b"y" * (100 * MiB) + b'", "id": "big100"}\n')
    df = read_documents(spark, InputConfig(path=str(path)))
    got = {
        r["id"]: (r["drop_reason"], r["n"], r["chars"])
        for r in df.selectExpr("id", "drop_reason", "n", "length(text) AS chars").collect()
    }
    assert got == {
        "small": (None, None, 11),
        "big25": (None, 1, 25 * MiB),
        "big100": ("read:too_large", None, None),
    }


def test_the_record_size_limit_is_input_max_record_bytes(spark, tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_bytes(
        b'{"id": 7, "text": "'
        + b"a" * (2 * MiB)
        + b'"}\n'
        + b'{"text": "'
        + b"b" * (MiB // 2)
        + b'", "id": "half"}\n'
        + b'{"id": "esc\\"aped", "text": "'
        + b"c" * (2 * MiB)
        + b'"}\n'
    )
    df = read_documents(spark, InputConfig(path=str(path), max_record_bytes=MiB))
    got = {r["id"]: r["drop_reason"] for r in df.select("id", "drop_reason").collect()}
    # Ids found in the raw line are read as JSON values, as parsed ones are: 7 is "7".
    assert got == {"7": "read:too_large", "half": None, 'esc"aped': "read:too_large"}


def test_valid_json_too_large_for_sparks_parsed_form_is_too_large_not_bad_json(spark, tmp_path):
    """48 MiB of small numbers is valid JSON under the limit, but its parsed form (Spark's
    variant, 128 MiB at most) is three times the text: that is too large, not bad JSON."""
    path = tmp_path / "numbers.jsonl"
    count = 24 * MiB
    path.write_bytes(b'{"id": "nums", "text": "t", "a": [' + b"0," * (count - 1) + b"0]}\n")
    df = read_documents(spark, InputConfig(path=str(path)))
    assert [(r["id"], r["drop_reason"]) for r in df.select("id", "drop_reason").collect()] == [
        ("nums", "read:too_large")
    ]


# -- item 6: damaged compressed files -----------------------------------------------------------


def records(prefix: str, n: int) -> list[dict]:
    return [{"id": f"{prefix}{i:04d}", "text": words(8 + i % 5, f"{prefix}{i}w")} for i in range(n)]


def zstd(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=3).compress(data)


def complete_lines_before_cut(payload_prefix: bytes) -> list[dict]:
    """The records a reader can get back from a decompressed prefix: every complete line."""
    return [json.loads(line) for line in payload_prefix.split(b"\n")[:-1]]


@pytest.mark.parametrize("codec", ["gz", "zst"])
def test_truncated_compressed_file_keeps_the_records_before_the_cut(
    spark, tmp_path, run_cli, codec
):
    data = tmp_path / "in"
    data.mkdir()
    whole = records("ok", 300)
    (data / f"a.jsonl.{codec}").write_bytes(
        gzip.compress(jsonl(whole)) if codec == "gz" else zstd(jsonl(whole))
    )
    damaged = records("cut", 6000)  # several zstd blocks (128 KiB each), so a cut leaves some
    if codec == "gz":
        packed = gzip.compress(jsonl(damaged))
        cut = packed[: len(packed) // 2]
        readable = zlib.decompressobj(31).decompress(cut)
    else:
        packed = zstd(jsonl(damaged))
        cut = packed[: len(packed) // 2]
        readable = zstandard.ZstdDecompressor().decompressobj().decompress(cut)
    (data / f"b.jsonl.{codec}").write_bytes(cut)
    before_cut = complete_lines_before_cut(readable)
    assert 100 < len(before_cut) < len(damaged)  # the cut is in the middle, as meant

    out = str(tmp_path / "out")
    res = run_cli("run", recipe(tmp_path, str(data), out))
    assert res.returncode == 0, res.stderr[-3000:]
    docs = table_rows(f"{out}/documents", spark)
    rejected = table_rows(f"{out}/rejected", spark)
    # Every complete record is kept and scored; nothing else is lost or invented.
    expected = {r["id"] for r in whole} | {r["id"] for r in before_cut}
    assert set(docs) == expected
    assert all(row["len_words"] >= 8 for row in docs.values())
    # The file is reported once: one rejected row naming it, holding the partial last record.
    (marker,) = rejected.values()
    assert marker["drop_stage"] == "read" and marker["drop_reason"] == "read:truncated_file"
    assert marker[SOURCE].endswith(f"/b.jsonl.{codec}")
    assert marker[RAW] == readable[readable.rindex(b"\n") + 1 :].decode()[:1024]
    assert stats_reasons(out, spark)[("read", "read:truncated_file")] == 1
    assert "Traceback" not in res.stderr and "Py4J" not in res.stderr


def test_truncated_file_can_stop_the_run_with_one_line(spark, tmp_path, run_cli):
    data = tmp_path / "in"
    data.mkdir()
    packed = gzip.compress(jsonl(records("cut", 2000)))
    (data / "b.jsonl.gz").write_bytes(packed[: len(packed) // 2])
    out = str(tmp_path / "out")
    res = run_cli("run", recipe(tmp_path, str(data), out, on_corrupt_file="fail"))
    assert res.returncode == 2
    (line,) = res.stderr.strip().splitlines()
    assert "b.jsonl.gz" in line and "truncated" in line and "on_corrupt_file" in line


def test_corrupt_bytes_in_a_gzip_file_keep_what_precedes_them(spark, tmp_path):
    """Damage in the middle (not a cut): the lines before it are read, the file is reported."""
    original = gzip.compress(jsonl(records("bad", 3000)), compresslevel=1)
    middle = len(original) // 2
    damaged = original[:middle] + b"\xff" * 64 + original[middle + 64 :]
    path = tmp_path / "bad.jsonl.gz"
    path.write_bytes(damaged)
    intact = zlib.decompressobj(31).decompress(original[:middle])  # decoded before the damage
    df = read_documents(spark, InputConfig(path=str(path)))
    assert count_read_rejects(df)["read:corrupt_file"] == 1
    kept = {r["id"] for r in df.where("drop_reason IS NULL").select("id").collect()}
    assert {r["id"] for r in complete_lines_before_cut(intact)} <= kept


# -- item 8a: duplicate ids ---------------------------------------------------------------------


def test_duplicate_ids_keep_the_first_by_file_then_line(spark, tmp_path):
    (tmp_path / "a.jsonl").write_bytes(
        jsonl(
            [
                {"id": "x", "text": "first x, in a.jsonl line 1"},
                {"id": "y", "text": "only y"},
                {"id": "x", "text": "second x, in a.jsonl line 3"},
            ]
        )
    )
    (tmp_path / "b.jsonl").write_bytes(
        jsonl([{"id": "x", "text": "third x, in b.jsonl"}, {"id": "z", "text": "only z"}])
    )
    df = read_documents(spark, InputConfig(path=str(tmp_path / "*.jsonl")))
    rows = [(r["id"], r["text"], r["drop_reason"]) for r in df.collect()]
    assert sorted(r for r in rows if r[2] is None) == [
        ("x", "first x, in a.jsonl line 1", None),
        ("y", "only y", None),
        ("z", "only z", None),
    ]
    assert count_read_rejects(df) == {"read:duplicate_id": 2}
    assert len(rows) == 5  # nothing lost


def test_duplicate_ids_in_parquet_input(spark, tmp_path):
    df = spark.createDataFrame(
        [("p", "one"), ("q", "two"), ("p", "three")], "id string, text string"
    )
    df.coalesce(1).write.parquet(str(tmp_path / "t"))
    out = read_documents(spark, InputConfig(path=str(tmp_path / "t")))
    kept = {r["id"]: r["text"] for r in out.where("drop_reason IS NULL").collect()}
    assert kept == {"p": "one", "q": "two"}
    assert count_read_rejects(out) == {"read:duplicate_id": 1}


# -- item 8b: trailing garbage ------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        b'{"id": "g1", "text": "x"} extra',
        b'{"id": "g2", "text": "x"}}',
        b'{"id": "g3", "text": "x"} {"id": "g4", "text": "y"}',
        b'{"id": "g5", "text": "x"}]',
        b'{"id": "g6", "text": "x"}, "tail"]',
    ],
)
def test_trailing_garbage_after_the_object_is_bad_json(spark, tmp_path, line):
    (tmp_path / "in.jsonl").write_bytes(b'{"id": "fine", "text": "ok"}  \n' + line + b"\n")
    df = read_documents(spark, InputConfig(path=str(tmp_path / "in.jsonl")))
    assert count_read_rejects(df) == {"read:bad_json": 1}
    assert df.where("drop_reason IS NULL").first()["id"] == "fine"


# -- item 8c: empty directories -----------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["auto", "jsonl", "parquet", "text"])
def test_empty_directory_is_one_line_error_for_every_format(spark, tmp_path, run_cli, fmt):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "_SUCCESS").write_bytes(b"")  # hidden, as Spark treats it
    res = run_cli("run", recipe(tmp_path, str(empty), str(tmp_path / "out"), format=fmt))
    assert res.returncode == 2
    (line,) = res.stderr.strip().splitlines()
    assert str(empty) in line and "holds no input files" in line
    with pytest.raises(ConfigError, match="holds no input files"):
        read_documents(spark, InputConfig(path=str(empty), format=fmt))


# -- item 8d: a run's rejected table as input ---------------------------------------------------


def test_a_runs_rejected_table_can_be_rerun(spark, tmp_path, run_cli):
    (tmp_path / "in.jsonl").write_bytes(
        jsonl(
            [
                {"id": "long", "text": words(30, "l")},
                {"id": "short", "text": words(3, "s")},
                {"id": "tiny", "text": "one"},
            ]
        )
        + b"{broken\n"
    )
    first = str(tmp_path / "first")
    assert run_cli("run", recipe(tmp_path, str(tmp_path / "in.jsonl"), first)).returncode == 0

    # Re-run the rejected rows with a looser length rule, under another stage name.
    cfg = {
        "input": {"path": f"{first}/rejected"},
        "output": str(tmp_path / "second"),
        "storage": {"engine": "rust"},
        "stages": [{"kind": "length", "name": "loose", "min_words": 2}],
    }
    path = tmp_path / "second.yaml"
    path.write_text(yaml.safe_dump(cfg))
    res = run_cli("run", str(path))
    assert res.returncode == 0, res.stderr[-3000:]
    docs = table_rows(str(tmp_path / "second" / "documents"), spark)
    rejected = table_rows(str(tmp_path / "second" / "rejected"), spark)
    # Judged afresh: the earlier decision is kept beside each row, under earlier_*.
    assert set(docs) == {"short"}
    assert docs["short"]["earlier_drop_reason"] == "length:too_few_words"
    assert docs["short"]["earlier_run_id"] and docs["short"]["drop_reason"] is None
    # The earlier run's signals ride along too, and this run's length stage writes its own.
    assert docs["short"]["earlier_len_words"] == 3 and docs["short"]["len_words"] == 3
    reasons = {
        k: (v["drop_stage"], v["drop_reason"], v["earlier_drop_reason"])
        for k, v in rejected.items()
    }
    assert reasons.pop("tiny") == ("loose", "length:too_few_words", "length:too_few_words")
    # The unreadable line of the first run has no text to judge: rejected again, by read.
    assert list(reasons.values()) == [("read", "read:null_text", "read:bad_json")]
