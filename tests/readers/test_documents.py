"""Reading inputs into the document schema: every input record comes out, bad ones with a reason."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from pydantic import ValidationError
from pyspark.sql import types as T

from curation.errors import ConfigError
from curation.readers.config import InputConfig
from curation.readers.documents import (
    RAW,
    RAW_MAX_CHARS,
    SOURCE,
    count_read_rejects,
    detect_format,
    read_documents,
)


def write_lines(path, lines: list[bytes], end: bytes = b"\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\n".join(lines) + end)


def by_id(df) -> dict[str, dict]:
    return {row["id"]: row.asDict(recursive=True) for row in df.collect()}


def sha_id(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


# (line, the id the reader recovers or None when nothing is recoverable, expected reason)
MALFORMED = [
    (b'{"id": "ok", "text": "a fine document"}', "ok", None),
    (b'{"id": "empty", "text": ""}', "empty", None),  # a document; later stages judge it
    (b'{"id": "num", "text": 123}', "num", "read:text_not_string"),
    (b'{"id": "list", "text": ["a", "b"]}', "list", "read:text_not_string"),
    (b'{"id": "obj", "text": {"a": 1}}', "obj", "read:text_not_string"),
    (b'{"id": "bool", "text": true}', "bool", "read:text_not_string"),
    (b'{"id": "null", "text": null}', "null", "read:null_text"),
    (b'{"id": "missing", "body": "under another key"}', "missing", "read:missing_text"),
    (b'{"id": "latin1", "text": "caf\xe9 au lait"}', "latin1", "read:invalid_utf8"),
    (b'{"id": "bad", "text": "unclosed string}', None, "read:bad_json"),
    (b"[1, 2, 3]", None, "read:not_object"),
    (b'"just a string"', None, "read:not_object"),
    (b"not json at all", None, "read:bad_json"),
    # A truncated last record (no closing brace, no newline), as an interrupted write leaves it.
    (b'{"id": "cut", "text": "half a rec', None, "read:bad_json"),
]


def test_every_malformed_record_comes_out_with_its_reason(spark, tmp_path):
    write_lines(tmp_path / "in.jsonl", [line for line, _, _ in MALFORMED], end=b"")
    df = read_documents(spark, InputConfig(path=str(tmp_path / "in.jsonl")))
    rows = df.collect()

    assert len(rows) == len(MALFORMED)  # nothing lost
    assert all(r["id"] for r in rows) and len({r["id"] for r in rows}) == len(rows)
    by_key = {r["id"]: r for r in rows} | {r[RAW]: r for r in rows if r[RAW]}
    for line, key, reason in MALFORMED:
        row = by_key[key or line.decode()]
        assert (row["drop_stage"], row["drop_reason"]) == (reason and "read", reason), line
        if reason:
            assert row["text"] is None, line
    assert by_key["ok"]["text"] == "a fine document" and by_key["empty"]["text"] == ""
    # Values are never coerced into text: 123 does not become the document "123".
    assert by_key["num"][RAW] == '{"id": "num", "text": 123}'
    # The undecodable line is kept (bad bytes replaced) so a user can find it, with its file.
    assert by_key["latin1"][RAW] == '{"id": "latin1", "text": "caf\ufffd au lait"}'
    assert by_key["latin1"][SOURCE].endswith("/in.jsonl")

    assert count_read_rejects(df) == {
        "read:text_not_string": 4,
        "read:null_text": 1,
        "read:missing_text": 1,
        "read:invalid_utf8": 1,
        "read:bad_json": 3,
        "read:not_object": 2,
    }


def test_whitespace_only_lines_are_skipped_but_nothing_else(spark, tmp_path):
    lines = [
        b'{"id": "1", "text": "one"}',
        b"",
        b"   \t",
        b'{"id": "2", "text": "two"}\r',  # CRLF files
        b"\xc2\xa0",  # a no-break space is not JSON whitespace: a bad record, not a blank line
        b'  {"id": "3", "text": "indented"}',
    ]
    write_lines(tmp_path / "in.jsonl", lines)
    df = read_documents(spark, InputConfig(path=str(tmp_path / "in.jsonl")))
    rows = by_id(df.where("drop_reason IS NULL"))
    assert {k: v["text"] for k, v in rows.items()} == {"1": "one", "2": "two", "3": "indented"}
    assert df.count() == 4
    assert count_read_rejects(df) == {"read:bad_json": 1}


def test_raw_is_truncated(spark, tmp_path):
    long_line = b'{"id": "x", "text": ["' + b"9" * 5000 + b'"]}'
    write_lines(tmp_path / "in.jsonl", [long_line])
    (row,) = read_documents(spark, InputConfig(path=str(tmp_path / "in.jsonl"))).collect()
    assert row["drop_reason"] == "read:text_not_string"
    assert row[RAW] == long_line.decode()[:RAW_MAX_CHARS]


def test_gzip_and_zstd_jsonl_read_like_plain(spark, tmp_path):
    lines = [
        json.dumps({"id": f"d{i}", "text": f"doc {i} \u00e9\u4e2d"}).encode() for i in range(50)
    ]
    payload = b"\n".join(lines) + b"\n"
    (tmp_path / "in").mkdir()
    half = payload.index(b"\n", len(payload) // 2) + 1
    (tmp_path / "in" / "a.jsonl.gz").write_bytes(gzip.compress(payload[:half]))
    # In a subdirectory that is not a key=value partition, which Spark's default would skip.
    (tmp_path / "in" / "more").mkdir()
    zst = zstandard.ZstdCompressor().compress(payload[half:])
    (tmp_path / "in" / "more" / "b.jsonl.zst").write_bytes(zst)
    path = str(tmp_path / "in")
    assert detect_format(spark, path) == "jsonl"
    df = read_documents(spark, InputConfig(path=path))
    got = {r["id"]: r["text"] for r in df.collect()}
    assert got == {f"d{i}": f"doc {i} \u00e9\u4e2d" for i in range(50)}
    assert count_read_rejects(df) == {}
    sources = {r[SOURCE].rsplit("/", 1)[1] for r in df.select(SOURCE).distinct().collect()}
    assert sources == {"a.jsonl.gz", "b.jsonl.zst"}


def test_metadata_passes_through_with_types(spark, tmp_path):
    records = [
        {
            "id": "a",
            "text": "x",
            "n": 1,
            "score": 0.5,
            "flag": True,
            "tags": ["p", "q"],
            "meta": {"url": "http://a", "depth": 2, "inner": {"k": 1.25}},
            "mixed": 1,
        },
        {
            "id": "b",
            "text": "y",
            "n": 2,
            "score": 2,
            "flag": False,
            "tags": [],
            "meta": {"url": "http://b", "depth": 3},
            "mixed": "two",
            "rare": None,
        },
    ]
    write_lines(tmp_path / "in.jsonl", [json.dumps(r).encode() for r in records])
    df = read_documents(spark, InputConfig(path=str(tmp_path / "in.jsonl")))
    types = {f.name: f.dataType for f in df.schema}
    assert list(df.columns)[:4] == ["id", "text", "drop_stage", "drop_reason"]
    assert list(df.columns)[-2:] == [SOURCE, RAW]
    assert types["n"] == T.LongType()
    assert types["score"] == T.DoubleType()  # 0.5 and 2 merge to double, as spark.read.json does
    assert types["flag"] == T.BooleanType()
    assert types["tags"] == T.ArrayType(T.StringType())
    assert types["meta"] == T.StructType(
        [
            T.StructField("depth", T.LongType()),
            T.StructField("inner", T.StructType([T.StructField("k", T.DoubleType())])),
            T.StructField("url", T.StringType()),
        ]
    )
    # A field whose JSON type differs between rows keeps each value as text.
    assert types["mixed"] == T.StringType()
    rows = by_id(df)
    assert rows["a"]["meta"] == {"depth": 2, "inner": {"k": 1.25}, "url": "http://a"}
    assert rows["b"]["meta"] == {"depth": 3, "inner": None, "url": "http://b"}
    assert (rows["a"]["n"], rows["b"]["score"], rows["a"]["tags"]) == (1, 2.0, ["p", "q"])
    assert (rows["a"]["mixed"], rows["b"]["mixed"]) == ("1", "two")


def test_derived_ids_are_stable_and_distinct_for_duplicates(spark, tmp_path):
    texts = ["alpha", "beta", "alpha", "gamma", "alpha", "beta"]
    write_lines(tmp_path / "a.jsonl", [json.dumps({"text": t}).encode() for t in texts[:3]])
    write_lines(tmp_path / "b.jsonl", [json.dumps({"text": t}).encode() for t in texts[3:]])
    cfg = InputConfig(path=str(tmp_path / "*.jsonl"))
    assert detect_format(spark, cfg.path) == "jsonl"
    first = sorted((r["id"], r["text"]) for r in read_documents(spark, cfg).collect())
    second = sorted((r["id"], r["text"]) for r in read_documents(spark, cfg).collect())
    assert first == second
    ids = [i for i, _ in first]
    assert len(ids) == len(set(ids)) == len(texts)
    alpha = sha_id("alpha")
    assert sorted(i for i, t in first if t == "alpha") == [alpha, f"{alpha}-1", f"{alpha}-2"]
    assert {i for i, t in first if t == "gamma"} == {sha_id("gamma")}
    # Duplicates are numbered in file order: a.jsonl's copies come before b.jsonl's.
    df = read_documents(spark, cfg)
    b_beta = df.where(f"text = 'beta' AND {SOURCE} LIKE '%b.jsonl'").first()["id"]
    assert b_beta == f"{sha_id('beta')}-1"


def test_rows_with_null_or_absent_id_get_derived_ids(spark, tmp_path):
    write_lines(
        tmp_path / "in.jsonl",
        [
            b'{"id": "keep-me", "text": "one"}',
            b'{"id": null, "text": "two"}',
            b'{"text": "three"}',
            b'{"id": 42, "text": "numeric id"}',
            b"{broken",
        ],
    )
    df = read_documents(spark, InputConfig(path=str(tmp_path / "in.jsonl")))
    got = {r["text"]: r["id"] for r in df.where("drop_reason IS NULL").collect()}
    assert got == {
        "one": "keep-me",
        "two": sha_id("two"),
        "three": sha_id("three"),
        "numeric id": "42",
    }
    (broken,) = df.where("drop_reason = 'read:bad_json'").collect()
    assert broken["id"] == sha_id("{broken")


def test_parquet_columns_pass_through_and_text_is_checked(spark, tmp_path):
    table = pa.table(
        {
            "doc_id": pa.array([1, 2, 3, 4], pa.int64()),
            "text": pa.array([b"hello", b"caf\xe9", None, b""], pa.binary()),
            "n": pa.array([1, 2, 3, 4], pa.int32()),
            "info": pa.array([{"lang": "en", "p": 0.5}, None, {"lang": "fr", "p": 0.25}, None]),
        }
    )
    pq.write_table(table, tmp_path / "part-0.parquet")
    df = read_documents(spark, InputConfig(path=str(tmp_path), id_column="doc_id"))
    types = {f.name: f.dataType for f in df.schema}
    assert types["n"] == T.IntegerType()  # not widened
    assert types["info"] == T.StructType(
        [T.StructField("lang", T.StringType()), T.StructField("p", T.DoubleType())]
    )
    rows = by_id(df)
    assert set(rows) == {"1", "2", "3", "4"}
    assert (rows["1"]["text"], rows["1"]["drop_reason"], rows["1"]["info"]) == (
        "hello",
        None,
        {"lang": "en", "p": 0.5},
    )
    assert (rows["2"]["text"], rows["2"]["drop_reason"]) == (None, "read:invalid_utf8")
    assert (rows["3"]["text"], rows["3"]["drop_reason"]) == (None, "read:null_text")
    assert (rows["4"]["text"], rows["4"]["drop_reason"]) == ("", None)
    assert rows["2"]["n"] == 2 and rows["2"][SOURCE].endswith("part-0.parquet")


def test_parquet_non_string_text_is_rejected_not_cast(spark, tmp_path):
    pq.write_table(pa.table({"text": pa.array([7, 8], pa.int64())}), tmp_path / "x.parquet")
    df = read_documents(spark, InputConfig(path=str(tmp_path / "x.parquet")))
    rows = df.collect()
    assert [r["drop_reason"] for r in rows] == ["read:text_not_string"] * 2
    assert sorted(r[RAW] for r in rows) == ['{"text":7}', '{"text":8}']
    assert len({r["id"] for r in rows}) == 2


def test_delta_input_with_time_travel(spark, tmp_path):
    deltalake = pytest.importorskip("deltalake")
    # Named like a Parquet directory: the _delta_log decides, or removed files would come back.
    path = str(tmp_path / "table.parquet")
    schema = pa.schema([("id", pa.string()), ("text", pa.string()), ("n", pa.int32())])

    def commit(ids, texts, mode):
        rows = {"id": ids, "text": texts, "n": list(range(len(ids)))}
        deltalake.write_deltalake(path, pa.table(rows, schema=schema), mode=mode)

    commit(["a", "b"], ["one", "two"], "append")  # version 0
    commit(["c"], [None], "append")  # version 1
    commit(["d"], ["four"], "overwrite")  # version 2
    assert detect_format(spark, path) == "delta"

    v1 = read_documents(spark, InputConfig(path=path, version=1))
    assert {r["id"]: r["text"] for r in v1.collect()} == {"a": "one", "b": "two", "c": None}
    assert count_read_rejects(v1) == {"read:null_text": 1}
    assert {f.name: f.dataType for f in v1.schema}["n"] == T.IntegerType()
    latest = read_documents(spark, InputConfig(path=path))
    assert [(r["id"], r["text"]) for r in latest.collect()] == [("d", "four")]


def test_plain_text_directory_one_document_per_file(spark, tmp_path):
    root = tmp_path / "corpus"
    (root / "sub dir").mkdir(parents=True)
    (root / "a.txt").write_bytes(b"first line\nsecond line\n")
    (root / "sub dir" / "b+c.txt").write_bytes("\u00e9t\u00e9".encode())
    (root / "empty.txt").write_bytes(b"")
    (root / "latin1.txt").write_bytes(b"na\xefve")
    (root / "z.txt.gz").write_bytes(gzip.compress(b"zipped"))
    (root / "_SUCCESS").write_bytes(b"")  # hidden, as Spark treats it
    (root / ".hidden.txt").write_bytes(b"secret")
    df = read_documents(spark, InputConfig(path=str(root)))
    rows = by_id(df)
    assert set(rows) == {"a.txt", "sub dir/b+c.txt", "empty.txt", "latin1.txt", "z.txt.gz"}
    assert rows["a.txt"]["text"] == "first line\nsecond line\n"
    assert rows["sub dir/b+c.txt"]["text"] == "\u00e9t\u00e9"
    assert (rows["empty.txt"]["text"], rows["empty.txt"]["drop_reason"]) == ("", None)
    assert rows["z.txt.gz"]["text"] == "zipped"
    assert rows["latin1.txt"]["drop_reason"] == "read:invalid_utf8"
    assert rows["latin1.txt"][RAW] == "na\ufffdve"
    assert rows["sub dir/b+c.txt"][SOURCE].endswith("/corpus/sub dir/b+c.txt")


def test_existing_decisions_are_kept(spark, tmp_path):
    """A table from an earlier run keeps its decisions; read rejects only fill the gaps."""
    pq.write_table(
        pa.table(
            {
                "id": ["a", "b", "c"],
                "text": ["kept", "dropped earlier", None],
                "drop_stage": [None, "length", None],
                "drop_reason": [None, "length:too_few_words", None],
            }
        ),
        tmp_path / "t.parquet",
    )
    rows = by_id(read_documents(spark, InputConfig(path=str(tmp_path / "t.parquet"))))
    assert [(rows[k]["drop_stage"], rows[k]["drop_reason"]) for k in "abc"] == [
        (None, None),
        ("length", "length:too_few_words"),
        ("read", "read:null_text"),
    ]


def test_configuration_errors_name_the_fix(spark, tmp_path):
    write_lines(tmp_path / "in.jsonl", [b'{"id": "1", "body": "x"}'])
    with pytest.raises(ConfigError, match="text_column"):
        read_documents(spark, InputConfig(path=str(tmp_path / "in.jsonl")))
    with pytest.raises(ConfigError, match="id_column"):
        write_lines(tmp_path / "two.jsonl", [b'{"id": "1", "doc": "d", "text": "x"}'])
        read_documents(spark, InputConfig(path=str(tmp_path / "two.jsonl"), id_column="doc"))
    with pytest.raises(ValidationError, match="Delta"):
        InputConfig(path="x.jsonl", format="jsonl", version=1)
    mixed = tmp_path / "mixed"
    write_lines(mixed / "a.jsonl", [b'{"text": "x"}'])
    (mixed / "b.txt").write_text("y")
    with pytest.raises(ConfigError, match="mixes formats"):
        read_documents(spark, InputConfig(path=str(mixed)))
    with pytest.raises(ConfigError, match="does not exist"):
        read_documents(spark, InputConfig(path=str(tmp_path / "nothing.jsonl"), format="jsonl"))
    with pytest.raises(ConfigError, match="matches no files"):
        read_documents(spark, InputConfig(path=str(tmp_path / "nothing" / "*.jsonl")))


@pytest.mark.shared_data
def test_shared_corpus_reads_without_rejects(spark, shared_data):
    path = shared_data / "web" / "dolma_cc_samples.jsonl"
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    df = read_documents(spark, InputConfig(path=str(path)))
    assert count_read_rejects(df) == {}
    got = {r["id"]: r for r in df.collect()}
    assert set(got) == {d["id"] for d in lines}
    for doc in lines:
        assert got[doc["id"]]["text"] == doc["text"]
        assert got[doc["id"]]["url"] == doc["url"]


def test_plain_and_compressed_jsonl_in_one_directory(spark, tmp_path):
    """Compressed files are decoded by curation, the others by Spark given by name: a name
    with glob characters is still one file."""
    root = tmp_path / "mixed"
    root.mkdir()
    (root / "a[1]{x}.jsonl").write_bytes(b'{"id": "p", "text": "plain"}\n')
    (root / "b.jsonl.gz").write_bytes(gzip.compress(b'{"id": "g", "text": "gzip"}\n'))
    (root / "c.jsonl.bz2").write_bytes(bz2.compress(b'{"id": "b", "text": "bz"}'))
    df = read_documents(spark, InputConfig(path=str(root)))
    got = {r["id"]: (r["text"], r[SOURCE].rsplit("/", 1)[1]) for r in df.collect()}
    assert got == {
        "p": ("plain", "a[1]{x}.jsonl"),
        "g": ("gzip", "b.jsonl.gz"),
        "b": ("bz", "c.jsonl.bz2"),
    }


def test_a_delta_table_read_as_files_is_refused(spark, tmp_path):
    deltalake = pytest.importorskip("deltalake")
    path = str(tmp_path / "t")
    deltalake.write_deltalake(path, pa.table({"id": ["a"], "text": ["x"]}))
    with pytest.raises(ConfigError, match="is a Delta table root.*input.format: delta"):
        read_documents(spark, InputConfig(path=path, format="jsonl"))


def test_a_runs_output_table_with_earlier_columns_already_is_refused(spark, tmp_path):
    pq.write_table(
        pa.table(
            {
                "id": ["a"],
                "text": ["x"],
                "drop_stage": ["length"],
                "drop_reason": ["length:too_few_words"],
                "run_id": ["r2"],
                "earlier_drop_reason": ["length:too_few_words"],
            }
        ),
        tmp_path / "t.parquet",
    )
    with pytest.raises(ConfigError, match="'drop_reason' and 'earlier_drop_reason'"):
        read_documents(spark, InputConfig(path=str(tmp_path / "t.parquet")))
