"""Listing input paths: the local (os) and Hadoop listings give the same files and roots."""

from __future__ import annotations

from curation.readers.documents import detect_format
from curation.readers.listing import _list_hadoop, _list_local


def write_lines(path, lines: list[bytes], end: bytes = b"\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\n".join(lines) + end)


def test_local_and_hadoop_listings_agree(spark, tmp_path):
    """Local paths are listed with os (fast); other file systems with Hadoop. Same answer."""
    root = tmp_path / "tree"
    write_lines(root / "a.jsonl", [b"{}"])
    write_lines(root / "lang=en" / "b.jsonl", [b"{}"])
    write_lines(root / "deep" / "er" / "c d+e.jsonl", [b"{}"])
    (root / "empty.jsonl").write_bytes(b"")
    (root / "_SUCCESS").write_bytes(b"")
    write_lines(root / "_tmp" / "x.jsonl", [b"{}"])
    write_lines(root / ".cache" / "y.jsonl", [b"{}"])
    for path in (str(root), str(root / "*.jsonl"), str(root / "{a,empty}.jsonl")):
        local, hadoop = _list_local(path), _list_hadoop(spark, path)
        assert sorted(local.files) == sorted(hadoop.files), path
        assert (local.root, local.is_delta) == (hadoop.root, hadoop.is_delta) == (str(root), False)
    names = sorted(p.rsplit("/tree/", 1)[1] for p, _ in _list_local(str(root)).files)
    assert names == ["a.jsonl", "deep/er/c d+e.jsonl", "empty.jsonl", "lang=en/b.jsonl"]
    assert detect_format(spark, str(root / "{a,empty}.jsonl")) == "jsonl"
