"""The seeded sample corpus: the default output is pinned, every document is a pure function of
(seed, index), and the opt-in real-text base, web lengths and recorded near-duplicate edits do what
they promise."""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections import Counter

import numpy as np
import pyarrow as pa
import pytest

from curation.datasets import builtin_text as B
from curation.datasets import real_text as R
from curation.datasets import sample as S
from curation.text.shingles import pairwise_jaccard, shingle_hashes, unique_per_doc

# Computed with the generator as it was before base/lengths/edits existed (seed 42, 500 docs):
# sha256 over repr((id, text, url, gen_kind, gen_source, gen_lang)) of every row in id order.
PINNED_DIGEST = "2d00c0c0990bc7e4169fa608ea4085b8928ff20bad5f77ac30465a25975e9bbf"
PINNED_TEXTS = {  # document index -> (kind, sha256(text)[:16])
    0: ("clean", "b65d4f3e26404eaf"),
    1: ("foreign", "9457b251e0997af5"),
    9: ("exact_dup", "8fdb881b0fee401e"),
    43: ("near_dup", "c3fe7973207098f5"),
    123: ("clean", "76e3385e8d2a03fd"),
    304: ("toxic", "ad9f1602131ac5ec"),
    499: ("clean", "52a5efba7c577835"),
}
PINNED_KINDS = {
    "clean": 329,
    "near_dup": 36,
    "boilerplate": 29,
    "exact_dup": 27,
    "spam": 21,
    "foreign": 14,
    "code": 13,
    "too_short": 12,
    "repeated_lines": 12,
    "toxic": 4,
    "lorem": 3,
}
LIGHT_EDITS = re.compile(r"replace=0\.\d{3}(;footer)?(;truncate=0\.05)?")
RECORDED_EDITS = re.compile(
    r"replace=0\.\d{3};insert=0\.\d{3};delete=0\.\d{3}"
    r"(;shuffle_paragraphs)?(;truncate=0\.\d\d)?(;footer)?"
)


def _rows(df) -> list[tuple]:
    return sorted(tuple(r) for r in df.select(*S.COLUMNS).collect())


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _max_pair_jaccard(texts: list[str], n: int = 5) -> float:
    """Highest word n-gram Jaccard over all pairs, counting only shingles two documents share."""
    hashes, offsets = unique_per_doc(*shingle_hashes(pa.array(texts), n))
    sizes = np.diff(offsets)
    doc = np.repeat(np.arange(len(texts)), sizes)
    order = np.argsort(hashes, kind="stable")
    hashes, doc = hashes[order], doc[order]
    starts = np.flatnonzero(np.r_[True, hashes[1:] != hashes[:-1]])
    counts = np.diff(np.r_[starts, len(hashes)])
    shared: Counter[tuple[int, int]] = Counter()
    for s, c in zip(starts[counts > 1], counts[counts > 1], strict=True):
        docs = doc[s : s + c]
        shared.update((int(a), int(b)) for k, a in enumerate(docs) for b in docs[k + 1 :])
    return max(
        (inter / (sizes[a] + sizes[b] - inter) for (a, b), inter in shared.items()), default=0.0
    )


def test_default_output_is_unchanged(spark):
    rows = _rows(S.generate_corpus(spark, 500, seed=42))
    digest = hashlib.sha256()
    for row in rows:
        digest.update(repr(row[:6]).encode())
    assert digest.hexdigest() == PINNED_DIGEST
    assert Counter(r[3] for r in rows) == PINNED_KINDS
    for i, (kind, sha) in PINNED_TEXTS.items():
        assert (rows[i][3], _sha(rows[i][1])) == (kind, sha)
    for _, _, _, kind, _, _, edits in rows:
        assert (edits is not None) == (kind == "near_dup")
        assert edits is None or LIGHT_EDITS.fullmatch(edits), edits


def test_documents_are_a_pure_function_of_seed_and_index(spark):
    kwargs = {"lengths": "web", "edits": "recorded"}
    one = _rows(S.generate_corpus(spark, 300, seed=7, partitions=1, **kwargs))
    four = _rows(S.generate_corpus(spark, 300, seed=7, partitions=4, **kwargs))
    opts = S.resolve_options(**kwargs)
    backwards = [S.make_document(7, i, opts) for i in reversed(range(300))]
    assert one == four == sorted(backwards)


def test_option_errors(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="lengths"):
        S.resolve_options(lengths="long")
    with pytest.raises(ValueError, match="neither"):
        S.resolve_options(base=str(tmp_path / "nowhere"))
    monkeypatch.setattr(R, "SHARED_DATA", tmp_path / "absent")
    with pytest.raises(ValueError, match=re.escape(str(tmp_path / "absent" / "text"))):
        S.resolve_options(base="shared")
    assert S.resolve_options(base="auto").pool == ()


def test_directory_base_uses_its_jsonl_sentences(tmp_path):
    rng = random.Random(0)
    with (tmp_path / "a.jsonl").open("w") as fh:
        for k in range(60):
            fh.write(json.dumps({"id": str(k), "text": B.paragraph(rng, 30)}) + "\n")
    opts = S.resolve_options(base=str(tmp_path))
    assert len(opts.pool) == 60 * 30 and opts.edits == "recorded"
    text = S.clean_text(1, 0, opts)
    first = text.split("\n\n")[1]
    assert any(first.startswith(s) for s in opts.pool)


def test_shared_base_is_real_text_without_accidental_near_duplicates(spark, shared_data):
    rows = _rows(S.generate_corpus(spark, 2000, seed=3, base="shared"))
    by_id = {r[0]: r for r in rows}
    clean = [r[1] for r in rows if r[3] == "clean"]
    assert len(clean) > 1000

    # Paragraphs are runs of real sentences: each starts with a sentence of the pool.
    pool = R.load_sentences("shared")
    by_prefix: dict[str, list[str]] = {}
    for s in pool:
        by_prefix.setdefault(s[:30], []).append(s)
    paras = [p for text in clean for p in text.split("\n\n")[1:]]
    real = sum(any(p.startswith(s) for s in by_prefix.get(p[:30], ())) for p in paras)
    assert real == len(paras)
    assert len({w for text in clean for w in text.split()}) > 20_000  # builtin prose has ~2,400

    assert _max_pair_jaccard(clean) < 0.3

    near = [r for r in rows if r[3] == "near_dup"]
    assert all(RECORDED_EDITS.fullmatch(r[6]) for r in near)
    sources = [by_id[r[4]][1] for r in near]
    jac = pairwise_jaccard(pa.array(sources), pa.array([r[1] for r in near]), 5)
    assert (jac >= 0.7).mean() >= 0.8
    assert all(by_id[r[4]][1] == r[1] for r in rows if r[3] == "exact_dup")
    toxic = [r for r in rows if r[3] == "toxic"]
    assert toxic and all(r[5] == "en" for r in toxic)


def test_recorded_near_duplicates_stay_near():
    opts = S.resolve_options(edits="recorded")
    near = [S.make_document(42, i, opts) for i in range(6000) if S.kind_of(42, i) == "near_dup"]
    near = [r for r in near if r[3] == "near_dup"]
    assert len(near) > 300 and all(RECORDED_EDITS.fullmatch(r[6]) for r in near)
    sources = [S.clean_text(42, int(r[4].removeprefix("doc-")), opts) for r in near]
    jac = pairwise_jaccard(pa.array(sources), pa.array([r[1] for r in near]), 5)
    assert (jac >= 0.7).mean() >= 0.8
    assert (jac >= 0.8).mean() >= 0.6  # most stay light ...
    assert ((jac >= 0.7) & (jac < 0.8)).any()  # ... but some sit just below the usual threshold


def test_web_lengths_are_long_tailed():
    # Lengths do not depend on the base; a pool of builtin sentences makes the real-text path
    # ~7x faster than generating builtin paragraphs, and needs no shared data.
    rng = random.Random(0)
    opts = S.Options(tuple(B.sentence(rng) for _ in range(20_000)), "web", "recorded")
    sizes = np.array([len(S.make_document(42, i, opts)[1]) for i in range(20_000)])
    assert 1500 <= np.median(sizes) <= 4000
    assert sizes.max() > 50_000
    assert (sizes > 100_000).sum() >= 1


def test_jsonl_output_reads_back_through_the_pipeline_reader(spark, tmp_path):
    from curation.delta import open_store
    from curation.readers import InputConfig, read_documents

    out = str(tmp_path / "corpus_jsonl")
    info = S.write_sample_corpus(spark, out, n_docs=300, seed=42, fmt="jsonl")
    assert "wrote 300 documents" in info and "JSONL" in info
    docs = read_documents(spark, InputConfig(path=out, format="jsonl"), open_store(spark, "rust"))
    got = {r["id"]: r["text"] for r in docs.select("id", "text").collect()}
    want = {d[0]: d[1] for d in (S.make_document(42, i) for i in range(300))}
    assert got == want
    with pytest.raises(ValueError, match="fmt must be"):
        S.write_sample_corpus(spark, out, n_docs=10, fmt="csv")


def test_a_sample_from_an_older_schema_is_replaced(spark, tmp_path):
    """`make run` regenerates data/sample; one written before a column was added is replaced."""
    from curation.delta import open_store

    out = str(tmp_path / "sample")
    store = open_store(spark, "rust")
    store.write(spark.createDataFrame([("old", "older text")], "id string, text string"), out)
    S.write_sample_corpus(spark, out, n_docs=40, seed=1)
    table = store.read(out)
    assert "gen_edits" in table.columns and table.count() == 40
    assert table.filter("id = 'old'").count() == 0
