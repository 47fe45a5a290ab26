"""The decontamination kernel: normalisation, hashed n-gram lookup, span removal.

Each property is checked against a plain-Python reference (strings and sets), so a bug in the
vectorised hashing, the index layout or the span mapping shows up as a disagreement.
"""

from __future__ import annotations

import string
from collections import Counter

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from curation.text.ngrams_hash import (
    build_index,
    cut_spans,
    match_documents,
    matched_char_spans,
    normalize_words,
    word_counts,
)
from curation.text.shingles import hash_bytes

WORD = st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=6)
VOCAB_A = [f"a{i}" for i in range(6)]  # tiny vocabularies: many shared n-grams by chance
VOCAB_B = [f"b{i}" for i in range(40)]


def norm(text: str) -> str:
    return normalize_words(pa.array([text]))[0].as_py()


def ref_grams(words: list[str], n: int, min_words: int, as_item: bool) -> set[str]:
    """Reference: the grams of an item (n-grams, or the whole item if short) as strings."""
    if len(words) >= n:
        return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}
    if as_item and len(words) >= min_words:
        return {" ".join(words)}
    return set()


def doc_grams(words: list[str], lengths: set[int]) -> set[str]:
    return {" ".join(words[i : i + k]) for k in lengths for i in range(len(words) - k + 1)}


def formatted(words: list[str], style: int) -> str:
    """The same words written differently: case, punctuation, spacing, full-width letters."""
    if style == 0:
        return " ".join(words)
    if style == 1:
        return "  ".join(w.upper() for w in words) + "."
    if style == 2:
        return ",\n".join(f"({w})" for w in words)
    if style == 3:  # full-width Latin letters: NFKC maps them back
        return " ".join("".join(chr(ord(c) + 0xFEE0) for c in w) for w in words)
    return " \u00a0".join(f'"{w}"!' for w in words)  # non-breaking spaces, quotes


@settings(deadline=None)
@given(st.lists(WORD, min_size=1, max_size=30), st.integers(0, 4))
def test_formatting_does_not_change_the_words(words, style):
    assert norm(formatted(words, style)) == " ".join(words)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_words_of_the_whole_text_are_the_words_of_its_chunks(text):
    # Span removal maps words back to whitespace-separated chunks normalised one by one; that is
    # only right if normalising the whole text gives the same words.
    chunks = normalize_words(pa.array(text.split(), pa.large_string())).to_pylist()
    assert norm(text) == " ".join(c for c in chunks if c)


def test_normalisation_examples():
    assert norm("Don’t ＦＵＬＬ ﬁne well-known U.S. CAFÉ") == "dont full fine well known u s café"
    assert norm("") == "" and normalize_words(pa.array([None]))[0].as_py() == ""
    assert word_counts(normalize_words(pa.array(["a b  c", "", "!!"]))).tolist() == [3, 0, 0]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from(VOCAB_A), min_size=0, max_size=12), min_size=1, max_size=6),
    st.lists(st.lists(st.sampled_from(VOCAB_A), min_size=0, max_size=25), min_size=1, max_size=5),
    st.integers(2, 5),
    st.integers(1, 5),
)
def test_lookup_agrees_with_set_intersection(items, docs, n, min_words):
    min_words = min(min_words, n)
    index, counts = build_index(pa.array([" ".join(w) for w in items]), n, min_words)
    item_sets = [ref_grams(w, n, min_words, as_item=True) for w in items]
    assert index.item_grams.tolist() == [len(s) for s in item_sets]
    assert counts.tolist() == [len(w) for w in items]
    lengths = {len(g.split()) for s in item_sets for g in s} | {n}
    found = match_documents(index, pa.array([" ".join(w) for w in docs]), n)
    for d, words in enumerate(docs):
        grams = doc_grams(words, lengths)
        shared = [grams & s for s in item_sets]
        assert found.matched[d] == len(grams & set().union(*item_sets))
        assert found.items[d] == sum(1 for s in shared if s)
        assert found.ngrams[d] == max(len(words) - n + 1, 0)
        fracs = [len(sh) / len(s) if s else 0.0 for sh, s in zip(shared, item_sets, strict=True)]
        if not any(shared):
            assert found.best_item[d] == -1 and found.best_frac[d] == 0
        else:
            assert np.isclose(found.best_frac[d], max(fracs))
            # ties: more grams found, then the earlier item
            key = [(-f, -len(sh), i) for i, (f, sh) in enumerate(zip(fracs, shared, strict=True))]
            assert found.best_item[d] == min(key)[2]


def ref_template_grams(items: list[list[str]], n: int, min_words: int, t: int) -> list[set[str]]:
    """Reference of the template rule: words in a run of ceil(n/2) words that t items share are
    template; an n-gram needs ceil(n/2) other words; a short item needs fewer than t twins."""
    half = (n + 1) // 2
    owners: dict[str, set[int]] = {}
    for i, w in enumerate(items):
        for j in range(len(w) - half + 1):
            owners.setdefault(" ".join(w[j : j + half]), set()).add(i)
    whole = Counter(" ".join(w) for w in items)
    out = []
    for w in items:
        flags = [False] * len(w)
        for j in range(len(w) - half + 1):
            if len(owners[" ".join(w[j : j + half])]) >= t:
                flags[j : j + half] = [True] * half
        if len(w) >= n:
            out.append(
                {
                    " ".join(w[j : j + n])
                    for j in range(len(w) - n + 1)
                    if n - sum(flags[j : j + n]) >= half
                }
            )
        elif len(w) >= min_words and whole[" ".join(w)] < t:
            out.append({" ".join(w)})
        else:
            out.append(set())
    return out


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from(VOCAB_B), min_size=0, max_size=14), min_size=1, max_size=8),
    st.lists(st.sampled_from(VOCAB_A), min_size=0, max_size=8),
    st.integers(3, 7),
    st.integers(2, 4),
)
def test_template_text_shared_by_many_items_is_not_indexed(items, template, n, t):
    # every other item carries the same template run, as benchmark items carry a licence line
    items = [w + template if i % 2 else w for i, w in enumerate(items)]
    index, _ = build_index(pa.array([" ".join(w) for w in items]), n, min(3, n), t)
    expected = ref_template_grams(items, n, min(3, n), t)
    assert index.item_grams.tolist() == [len(s) for s in expected]
    for i, grams_of in enumerate(expected):
        got = {int(h) for h, it in zip(index.hashes, index.items, strict=True) if it == i}
        assert got == {hash_bytes(g.encode()) for g in grams_of}


def test_hashes_are_the_bytes_hash_of_the_normalised_gram():
    # Deterministic in every process (Python's hash() is salted per process; this one is not).
    index, _ = build_index(pa.array(["Alpha, beta GAMMA"]), 3, 3)
    assert index.hashes.tolist() == [hash_bytes(b"alpha beta gamma")]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(VOCAB_B), min_size=0, max_size=30),
    st.lists(st.sampled_from(VOCAB_A), min_size=13, max_size=40),
    st.lists(st.sampled_from(VOCAB_B), min_size=0, max_size=30),
    st.integers(0, 4),
)
def test_cut_removes_the_item_and_keeps_every_other_word(before, item, after, style):
    index, _ = build_index(pa.array([" ".join(item)]), 13, 8)
    text = " ".join(before) + "\n" + formatted(item, style) + "\n" + " ".join(after)
    spans = matched_char_spans(index, text, 13)
    new = cut_spans(text, spans)
    assert norm(new).split() == before + after
    assert match_documents(index, pa.array([new]), 13).matched[0] == 0


def test_cut_spans_joins_the_pieces():
    assert cut_spans("keep this. DROP THAT. keep too", [(11, 21)]) == "keep this. keep too"
    assert cut_spans("head\nDROP\ntail", [(5, 9)]) == "head\ntail"
    assert cut_spans("ALL OF IT", [(0, 9)]) == ""


def test_short_items_are_whole_grams_or_skipped():
    items = pa.array(["one two three four five six seven eight nine", "too short item", ""])
    index, counts = build_index(items, 13, 8)
    assert counts.tolist() == [9, 3, 0]
    assert index.item_grams.tolist() == [1, 0, 0] and index.lengths == (9,)
    docs = pa.array(
        [
            "Before: One two three four five six seven eight nine, after.",
            "one two three four five six seven eight",  # 8 of the 9 words: no match
            "too short item " * 5,
        ]
    )
    found = match_documents(index, docs, 13)
    assert found.matched.tolist() == [1, 0, 0] and found.best_item.tolist() == [0, -1, -1]
