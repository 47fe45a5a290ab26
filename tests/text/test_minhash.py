"""Pure kernels: shingles, their hashes, MinHash signatures, LSH parameters (no Spark)."""

from __future__ import annotations

import json
import random

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from datasketch import MinHash
from datasketch.lsh import _optimal_param
from hypothesis import given, settings
from hypothesis import strategies as st

from curation.text import minhash as mh
from curation.text import shingles as sh

# Text with the characters that matter: ASCII punctuation and spacing, accents, CJK, combining
# marks (Devanagari vowel signs), emoji, and non-breaking space.
TEXT = st.text(
    alphabet=st.sampled_from(list("ab cAB,.!?-_'\n\t 0123456789") + list("éÜß東京हिन्दी🙂\u00a0—")),
    max_size=60,
)
ASCII = st.text(alphabet=st.characters(max_codepoint=127), max_size=60)


def _docs(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    vocab = ["the", "of", "and", "to", "in", "is", "was", "for", "on", "that", "with", "as"]
    vocab += ["naïve", "café", "Zürich", "東京", "हिन्दी", "x-ray", "e-mail", "U.S.A."]
    return [
        " ".join(rng.choice(vocab) for _ in range(rng.randint(0, 300))) + rng.choice(["", "!"])
        for _ in range(n)
    ]


# ---- normalisation and shingles ---------------------------------------------------------------


def test_normalize_lowercases_and_collapses_separators():
    got = sh.normalize(pa.array(["  Hello,  World!\n", "Émile—Zola's", None, "", "!!!"]))
    assert got.to_pylist() == ["hello world", "émile zola s", "", "", ""]


@given(st.lists(ASCII, min_size=1, max_size=6))
@settings(max_examples=60, deadline=None)
def test_ascii_fast_path_equals_unicode_regex_path(texts):
    arr = pc.fill_null(pa.array(texts, type=pa.large_string()), "")
    assert sh._normalize_ascii(arr).to_pylist() == sh._normalize_unicode(arr).to_pylist()


@given(st.lists(st.one_of(TEXT, ASCII, st.none()), min_size=1, max_size=6))
@settings(max_examples=60, deadline=None)
def test_mixed_batches_keep_document_order(texts):
    arr = pa.array(texts, type=pa.large_string())
    expected = [
        sh._normalize_unicode(pa.array([t or ""], pa.large_string()))[0].as_py() for t in texts
    ]
    assert sh.normalize(arr).to_pylist() == expected


@pytest.mark.parametrize(("unit", "n"), [("word", 5), ("word", 1), ("char", 4), ("char", 1)])
@given(texts=st.lists(st.one_of(TEXT, st.none()), min_size=1, max_size=5))
@settings(max_examples=30, deadline=None)
def test_vectorised_shingle_hashes_equal_scalar_reference(unit, n, texts):
    hashes, offsets = sh.shingle_hashes(pa.array(texts, type=pa.large_string()), n, unit)
    for d, text in enumerate(texts):
        expected = [sh.hash_bytes(s.encode()) for s in sh.shingle_strings(text, n, unit)]
        assert hashes[offsets[d] : offsets[d + 1]].tolist() == expected


def test_short_and_empty_documents():
    assert sh.shingle_strings("One two", 5) == ["one two"]  # fewer words than n: one shingle
    assert sh.shingle_strings("!!", 5) == []
    assert sh.shingle_strings("a b c d e f", 5) == ["a b c d e", "b c d e f"]
    assert sh.shingle_strings("abcd", 3, "char") == ["abc", "bcd"]


def test_hashing_in_chunks_matches_one_pass(monkeypatch):
    texts = pa.array(_docs(60), type=pa.large_string())
    whole, offsets = sh.shingle_hashes(texts, 5)
    monkeypatch.setattr(sh, "_CHUNK_BYTES", 97)  # many chunk boundaries, some inside a document
    chunked, offsets2 = sh.shingle_hashes(texts, 5)
    assert np.array_equal(offsets, offsets2)
    assert np.array_equal(whole, chunked)


@given(st.lists(st.tuples(TEXT, TEXT), min_size=1, max_size=6))
@settings(max_examples=40, deadline=None)
def test_pairwise_jaccard_equals_set_jaccard(pairs):
    left, right = [a for a, _ in pairs], [b for _, b in pairs]
    got = sh.pairwise_jaccard(pa.array(left), pa.array(right), 2)
    for k, (a, b) in enumerate(pairs):
        sa, sb = set(sh.shingle_strings(a, 2)), set(sh.shingle_strings(b, 2))
        want = len(sa & sb) / len(sa | sb) if sa | sb else 0.0
        assert got[k] == pytest.approx(want)


def test_pairwise_jaccard_over_many_pairs_in_chunks():
    rng = random.Random(9)
    vocab = [f"v{i}" for i in range(12)]
    left = [" ".join(rng.choice(vocab) for _ in range(rng.randint(0, 12))) for _ in range(9000)]
    right = [" ".join(rng.choice(vocab) for _ in range(rng.randint(0, 12))) for _ in range(9000)]
    got = sh.pairwise_jaccard(pa.array(left), pa.array(right), 2)  # more than one chunk of 8192
    for k in range(0, 9000, 37):
        sa, sb = set(sh.shingle_strings(left[k], 2)), set(sh.shingle_strings(right[k], 2))
        want = len(sa & sb) / len(sa | sb) if sa | sb else 0.0
        assert got[k] == pytest.approx(want), k


# ---- MinHash ----------------------------------------------------------------------------------


def _signatures(texts: list[str], scheme: str, num_perm: int, seed: int, n: int = 5):
    hasher = mh.MinHasher(num_perm, seed, scheme)
    spans = sh.shingle_spans(sh.normalize(pa.array(texts)), n, "word")
    if scheme == "fast":
        inputs = hasher.input_hashes(sh.hash_shingles(spans))
    else:
        inputs = hasher.input_hashes(None, [s for d in range(len(texts)) for s in spans.strings(d)])
    return hasher.signatures(inputs, spans.offsets)


@pytest.mark.parametrize(
    ("scheme", "ds_scheme"), [("datasketch", "affine32"), ("datasketch_legacy", "legacy")]
)
@pytest.mark.parametrize(("num_perm", "seed"), [(128, 1), (64, 42)])
def test_datasketch_modes_are_bit_identical(scheme, ds_scheme, num_perm, seed):
    texts = _docs(150, seed) + ["", "one", "Ünïcödé — ok 東京 タワー " * 3]
    ours = _signatures(texts, scheme, num_perm, seed)
    for d, text in enumerate(texts):
        ref = MinHash(num_perm=num_perm, seed=seed, scheme=ds_scheme)
        ref.update_batch([s.encode("utf-8") for s in sh.shingle_strings(text, 5)])
        assert np.array_equal(ours[d].astype(np.uint64), ref.hashvalues.astype(np.uint64)), d


def test_datasketch_mode_on_real_text(shared_data):
    texts = []
    with open(shared_data / "text" / "spamassassin.jsonl", encoding="utf-8") as fh:
        for line in fh:
            texts.append(json.loads(line)["text"])
            if len(texts) == 300:
                break
    ours = _signatures(texts, "datasketch", 128, 1)
    for d, text in enumerate(texts):
        ref = MinHash(num_perm=128, seed=1)
        ref.update_batch([s.encode("utf-8") for s in sh.shingle_strings(text, 5)])
        assert np.array_equal(ours[d], ref.hashvalues), d


def test_chunked_signatures_equal_per_document(monkeypatch):
    texts = _docs(40, 3)
    whole = _signatures(texts, "fast", 64, 7)
    monkeypatch.setattr(mh, "_CHUNK_ROWS", 50)
    chunked = _signatures(texts, "fast", 64, 7)
    single = np.vstack([_signatures([t], "fast", 64, 7) for t in texts])
    assert np.array_equal(whole, chunked)
    assert np.array_equal(whole, single)


def test_empty_document_has_the_empty_signature():
    sig = _signatures(["", "!!!", "word"], "fast", 16, 1)
    assert (sig[0] == mh.EMPTY).all() and (sig[1] == mh.EMPTY).all()
    assert not (sig[2] == mh.EMPTY).all()


def test_fast_scheme_estimates_jaccard_without_bias():
    rng = np.random.default_rng(5)
    hasher = mh.MinHasher(256, 1, "fast")
    errors = []
    for _ in range(60):
        size, shared = 400, int(rng.integers(50, 400))
        common = rng.integers(0, 2**63, shared, dtype=np.uint64)
        a = np.concatenate([common, rng.integers(0, 2**63, size - shared, dtype=np.uint64)])
        b = np.concatenate([common, rng.integers(0, 2**63, size - shared, dtype=np.uint64)])
        true_j = shared / (2 * size - shared)
        h = sh.fmix64(np.concatenate([a, b]))
        sig = hasher.signatures(hasher.input_hashes(h), np.array([0, size, 2 * size]))
        errors.append(mh.estimated_jaccard(sig[0], sig[1]) - true_j)
    # Standard error at 256 permutations is at most 0.031 per pair; the mean of 60 is ~0.004.
    assert abs(np.mean(errors)) < 0.015
    assert np.mean(np.abs(errors)) < 0.04


def test_band_hashes_collide_exactly_when_band_values_are_equal():
    rng = np.random.default_rng(0)
    sig = rng.integers(0, 2**32, (4, 12), dtype=np.uint64).astype(np.uint32)
    sig[1] = sig[0]
    sig[2, :4] = sig[0, :4]  # same first band only
    bands = mh.band_hashes(sig, 3, 4)
    assert bands.dtype == np.int64 and bands.shape == (4, 3)
    assert (bands[0] == bands[1]).all()
    assert bands[2, 0] == bands[0, 0] and (bands[2, 1:] != bands[0, 1:]).all()
    assert (bands[3] != bands[0]).all()
    with pytest.raises(ValueError, match="exceeds num_perm"):
        mh.band_hashes(sig, 4, 4)


# ---- LSH parameters ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("threshold", "num_perm", "weights"),
    [
        (0.5, 128, (0.5, 0.5)),
        (0.7, 128, (0.5, 0.5)),
        (0.8, 128, (0.5, 0.5)),
        (0.9, 128, (0.5, 0.5)),
        (0.8, 256, (0.5, 0.5)),
        (0.8, 112, (0.5, 0.5)),
        (0.75, 64, (0.3, 0.7)),
        (0.85, 200, (0.9, 0.1)),
    ],
)
def test_optimal_params_equal_datasketch(threshold, num_perm, weights):
    assert mh.optimal_lsh_params(threshold, num_perm, *weights) == _optimal_param(
        threshold, num_perm, *weights
    )


def test_optimal_params_reject_bad_threshold():
    with pytest.raises(ValueError, match="threshold"):
        mh.optimal_lsh_params(1.0, 128)
