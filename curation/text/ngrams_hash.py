"""Hashed word n-grams for benchmark decontamination: normalise, hash, look up, find spans.

Normalisation, applied alike to benchmark items and documents, so that formatting does not hide
an overlap (GPT-3, Brown et al. 2020, appendix C, lower-cases, removes punctuation and splits on
whitespace; datatrove's ``simplify_text`` also lower-cases and removes punctuation):

1. Unicode NFKC, so compatibility forms match their plain letters: full-width ``Ｆｕｌｌ``,
   ligatures ``ﬁ``, superscripts, non-breaking spaces;
2. apostrophes (``'`` and ``’``) deleted, so ``don't`` = ``dont`` and curly = straight quotes;
3. lower-case, then every run of characters that are not letters, digits or combining marks
   becomes one space (``shingles.normalize``): other punctuation separates words, so
   ``well-known`` = ``well known`` and ``U.S.`` = ``u s``.

Not ``words.tokenize``: its spaCy-like tokens keep joined forms whole (``end.Next``, ``3.5``,
``e-mail`` split but ``UTF-8`` not) and it runs one regex per document in Python; this
normaliser runs over a whole Arrow batch, numpy for ASCII text, like near-dedup's shingles.

An n-gram is ``n`` consecutive normalised words; its hash is the 64-bit hash of its UTF-8 bytes
with single spaces (``shingles.hash_spans``: deterministic in every process, unlike ``hash``).
An item shorter than ``n`` words but at least ``min_words`` long is indexed whole, as one gram of
its own length, and documents are then also cut into grams of that length. Text that many items
share (a licence line, an instruction) can be left out of the index (``build_index``'s
``template_min_items``): a page quoting it is not a copy of any one item.

>>> index, _ = build_index(pa.array(["the quick brown fox jumps"]), n=3, min_words=2)
>>> match_documents(index, pa.array(["The QUICK, brown fox!"]), n=3).matched
array([2])
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.text.shingles import hash_shingles, normalize, shingle_spans

_APOSTROPHES = ("'", "\u2019")


def normalize_words(texts: pa.Array | pa.ChunkedArray) -> pa.LargeStringArray:
    """Each text as its normalised words joined by single spaces (nulls become "")."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    texts = pc.fill_null(texts.cast(pa.large_string()), "")
    ascii_mask = pc.string_is_ascii(texts).to_numpy(zero_copy_only=False)
    if not ascii_mask.all():  # ASCII text is its own NFKC form: only the others take the pass
        other = pa.array(np.flatnonzero(~ascii_mask))
        fixed = pc.utf8_normalize(texts.take(other), form="NFKC")
        parts = pa.concat_arrays([texts.filter(pa.array(ascii_mask)), fixed])
        back = np.empty(len(texts), dtype=np.int64)
        back[np.concatenate([np.flatnonzero(ascii_mask), np.flatnonzero(~ascii_mask)])] = np.arange(
            len(texts)
        )
        texts = parts.take(pa.array(back))
    for mark in _APOSTROPHES:
        texts = pc.replace_substring(texts, mark, "")
    return normalize(texts)


def word_counts(normalized: pa.Array) -> np.ndarray:
    """Words in each normalised text (single spaces, no spaces at the ends)."""
    spaces = pc.count_substring(normalized, " ").to_numpy(zero_copy_only=False)
    empty = pc.utf8_length(normalized).to_numpy(zero_copy_only=False) == 0
    return np.where(empty, 0, spaces + 1).astype(np.int64)


@dataclass(frozen=True)
class Grams:
    """All k-grams of a batch: gram ``i`` belongs to document ``doc[i]`` and covers its words
    ``start[i]`` to ``start[i] + k - 1``."""

    hashes: np.ndarray  # uint64
    doc: np.ndarray  # int64
    start: np.ndarray  # int64 word index within the document
    k: int


def grams(normalized: pa.Array, k: int, counts: np.ndarray | None = None) -> Grams:
    """Every k-gram of every normalised text with at least ``k`` words (shorter texts give none)."""
    counts = word_counts(normalized) if counts is None else counts
    spans = shingle_spans(normalized, k, "word")
    hashes = hash_shingles(spans)
    per_doc = np.diff(spans.offsets)
    doc = np.repeat(np.arange(len(per_doc), dtype=np.int64), per_doc)
    start = np.arange(len(hashes), dtype=np.int64) - spans.offsets[:-1][doc]
    # shingle_spans gives a text with fewer than k words one shingle (the whole text): not a k-gram
    full = counts[doc] >= k
    return Grams(hashes[full], doc[full], start[full], k)


@dataclass(frozen=True)
class NgramIndex:
    """Benchmark grams, sorted by hash: one row per distinct (gram, item) pair.

    ``item_grams[i]`` is the number of distinct grams of item ``i`` (0: not indexed); ``lengths``
    the gram sizes present (``n`` and the lengths of short items indexed whole).
    """

    hashes: np.ndarray  # uint64, sorted
    items: np.ndarray  # int32, the item of each row
    item_grams: np.ndarray  # int32, per item
    lengths: tuple[int, ...]

    @property
    def nbytes(self) -> int:
        return int(self.hashes.nbytes + self.items.nbytes + self.item_grams.nbytes)


def count_index_rows(normalized: pa.Array, n: int, min_words: int) -> int:
    """An upper bound of the index rows ``build_index`` makes (before removing repeats)."""
    counts = word_counts(normalized)
    return int(np.where(counts >= n, counts - n + 1, (counts >= min_words).astype(np.int64)).sum())


def _shared(hashes: np.ndarray, owners: np.ndarray, min_items: int) -> np.ndarray:
    """True for each hash that at least ``min_items`` distinct owners have."""
    if not len(hashes):
        return np.zeros(0, dtype=bool)
    pairs = np.unique(np.stack([hashes.view(np.int64), owners]), axis=1)
    uniq, per = np.unique(pairs[0], return_counts=True)
    common = uniq[per >= min_items]
    return np.isin(hashes.view(np.int64), common)


def template_words(normalized: pa.Array, counts: np.ndarray, k: int, min_items: int) -> np.ndarray:
    """One flag per word of all items (in order): does it lie in a run of ``k`` words that at
    least ``min_items`` items share? Such runs are template (instructions, licence lines)."""
    total = int(counts.sum())
    g = grams(normalized, k, counts)
    first_word = np.concatenate([[0], np.cumsum(counts)[:-1]])
    starts = first_word[g.doc] + g.start
    shared = starts[_shared(g.hashes, g.doc, min_items)]
    diff = np.zeros(total + 1, dtype=np.int64)
    np.add.at(diff, shared, 1)
    np.add.at(diff, shared + k, -1)
    return np.cumsum(diff)[:total] > 0


def build_index(
    items: pa.Array, n: int, min_words: int, template_min_items: int | None = None
) -> tuple[NgramIndex, np.ndarray]:
    """The index of ``items`` (raw texts), and each item's word count after normalisation.

    Items of ``n`` words or more give their n-grams; items of ``min_words`` to ``n - 1`` words
    give one gram, the whole item; shorter items give nothing (their ``item_grams`` is 0).

    With ``template_min_items``, text that many items share is template, not evidence that one
    item leaked: an n-gram is indexed only if at least half its words (rounded up) are not
    template words (``template_words`` with runs of that many words), and a whole short item
    is indexed only if fewer items than that have the same text.
    """
    if not 1 <= min_words <= n:
        raise ValueError(f"need 1 <= min_words <= n, got min_words={min_words}, n={n}")
    normalized = normalize_words(items)
    counts = word_counts(normalized)
    parts_h, parts_i = [], []
    lengths = set()
    long_items = grams(normalized, n, counts)
    keep_long = np.ones(len(long_items.hashes), dtype=bool)
    half = (n + 1) // 2
    if template_min_items is not None and len(long_items.hashes):
        flags = template_words(normalized, counts, half, template_min_items)
        in_run = np.concatenate([[0], np.cumsum(flags)])
        first_word = np.concatenate([[0], np.cumsum(counts)[:-1]])
        at = first_word[long_items.doc] + long_items.start
        keep_long = (n - (in_run[at + n] - in_run[at])) >= half
    parts_h.append(long_items.hashes[keep_long])
    parts_i.append(long_items.doc[keep_long])
    if keep_long.any():
        lengths.add(n)
    short = np.flatnonzero((counts >= min_words) & (counts < n))
    if len(short):
        whole = _whole_hashes(normalized.take(pa.array(short)))
        keep = np.ones(len(short), dtype=bool)
        if template_min_items is not None:
            keep = ~_shared(whole, short, template_min_items)
        parts_h.append(whole[keep])
        parts_i.append(short[keep])
        lengths |= {int(c) for c in counts[short][keep]}
    h = np.concatenate(parts_h) if parts_h else np.zeros(0, np.uint64)
    it = np.concatenate(parts_i).astype(np.int64) if parts_i else np.zeros(0, np.int64)
    order = np.lexsort((it, h))
    h, it = h[order], it[order]
    keep = np.ones(len(h), dtype=bool)
    keep[1:] = (h[1:] != h[:-1]) | (it[1:] != it[:-1])
    h, it = h[keep], it[keep]
    item_grams = np.bincount(it, minlength=len(items)).astype(np.int32)
    index = NgramIndex(h.astype(np.uint64), it.astype(np.int32), item_grams, tuple(sorted(lengths)))
    return index, counts


def _whole_hashes(normalized: pa.Array) -> np.ndarray:
    """The hash of each whole normalised text (non-empty texts only), as one gram."""
    spans = shingle_spans(normalized, 1 << 30, "word")  # fewer words than n: one whole shingle
    return hash_shingles(spans)


@dataclass(frozen=True)
class Matches:
    """What each document shares with the index (arrays of one value per document).

    ``ngrams``: the document's n-grams; ``matched``: distinct index grams found in it;
    ``items``: distinct items those belong to; ``best_item``: the item with the largest share of
    its grams found (ties: more grams found, then the earlier item; -1: none) and ``best_frac``
    that share.
    """

    ngrams: np.ndarray
    matched: np.ndarray
    items: np.ndarray
    best_item: np.ndarray
    best_frac: np.ndarray


def _lookup(index: NgramIndex, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(positions of the hashes found, the first index row of each)."""
    if not len(index.hashes) or not len(hashes):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    # Binary searches for sorted keys walk the index in order (5x faster than random keys on a
    # memory-mapped index, measured); the few values found are then located in the batch.
    keys = np.sort(hashes)
    lo = np.searchsorted(index.hashes, keys, side="left")
    ok = lo < len(index.hashes)
    ok[ok] = index.hashes[lo[ok]] == keys[ok]
    values = np.unique(keys[ok])
    if not len(values):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    at = np.minimum(np.searchsorted(values, hashes), len(values) - 1)
    where = np.flatnonzero(values[at] == hashes)
    return where, np.searchsorted(index.hashes, hashes[where], side="left")


def _doc_grams(index: NgramIndex, normalized: pa.Array, n: int) -> tuple[list[Grams], np.ndarray]:
    counts = word_counts(normalized)
    sizes = sorted(set(index.lengths) | {n})
    return [grams(normalized, k, counts) for k in sizes], counts


def match_documents(index: NgramIndex, texts: pa.Array | pa.ChunkedArray, n: int) -> Matches:
    """Overlap of each raw text with the index."""
    normalized = normalize_words(texts)
    all_grams, counts = _doc_grams(index, normalized, n)
    m = len(counts)
    docs, rows = [], []
    for g in all_grams:
        where, first = _lookup(index, g.hashes)
        docs.append(g.doc[where])
        rows.append(first)
    doc = np.concatenate(docs) if docs else np.zeros(0, np.int64)
    first = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    ngrams = np.maximum(counts - n + 1, 0)
    matched = np.zeros(m, np.int64)
    n_items = np.zeros(m, np.int64)
    best_item = np.full(m, -1, np.int64)
    best_frac = np.zeros(m, np.float64)
    if len(doc):
        # Every (document, index row) pair: a gram shared by several items has one row per item.
        last = np.searchsorted(index.hashes, index.hashes[first], side="right")
        width = last - first
        pair_doc = np.repeat(doc, width)
        pair_row = np.repeat(first - np.cumsum(width) + width, width) + np.arange(width.sum())
        pairs = np.unique(np.stack([pair_doc, pair_row]), axis=1)  # a repeated gram counts once
        pair_doc, pair_row = pairs
        hashes = index.hashes[pair_row]
        distinct = np.unique(np.stack([pair_doc, hashes.view(np.int64)]), axis=1)
        matched = np.bincount(distinct[0], minlength=m)
        item = index.items[pair_row].astype(np.int64)
        di, per = np.unique(np.stack([pair_doc, item]), axis=1, return_counts=True)
        n_items = np.bincount(di[0], minlength=m)
        frac = per / index.item_grams[di[1]]
        # best per document: sort by (doc, -frac, -found, item) and take each document's first
        order = np.lexsort((di[1], -per, -frac, di[0]))
        d_sorted = di[0][order]
        head = np.ones(len(order), dtype=bool)
        head[1:] = d_sorted[1:] != d_sorted[:-1]
        best_item[d_sorted[head]] = di[1][order][head]
        best_frac[d_sorted[head]] = frac[order][head]
    return Matches(ngrams, matched, n_items, best_item, best_frac)


# -- span removal (per document, only for documents that matched) -----------------------------

_CHUNK = re.compile(r"\S+")


def matched_char_spans(index: NgramIndex, text: str, n: int) -> list[tuple[int, int]]:
    """Character spans of ``text`` covered by grams found in the index, merged and sorted.

    Words are mapped back to the whitespace-separated chunk they came from, so a cut removes whole
    chunks (``(word),`` goes with its brackets and comma).
    """
    chunks = [(m.start(), m.end()) for m in _CHUNK.finditer(text)]
    if not chunks:
        return []
    chunk_words = normalize_words(pa.array([text[s:e] for s, e in chunks], pa.large_string()))
    per_chunk = word_counts(chunk_words)
    owner = np.repeat(np.arange(len(chunks)), per_chunk)
    joined = " ".join(w for w in chunk_words.to_pylist() if w)
    found: list[tuple[int, int]] = []
    for g in _doc_grams(index, pa.array([joined], pa.large_string()), n)[0]:
        where, _ = _lookup(index, g.hashes)
        for s in g.start[where].tolist():
            found.append((chunks[owner[s]][0], chunks[owner[s + g.k - 1]][1]))
    found.sort()
    merged: list[tuple[int, int]] = []
    for s, e in found:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def cut_spans(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` without ``spans`` (sorted, disjoint); the pieces left are joined by a newline
    where the text between them had one, else by a space.

    >>> cut_spans("keep this. DROP THAT. keep too", [(11, 21)])
    'keep this. keep too'
    """
    bounds = [0, *(x for span in spans for x in span), len(text)]
    out: list[str] = []
    gap_start = 0  # where the text between the last kept piece and the next one starts
    for lo, hi in zip(bounds[::2], bounds[1::2], strict=True):
        piece = text[lo:hi]
        body = piece.strip()
        if not body:
            continue
        start = lo + (len(piece) - len(piece.lstrip()))
        if out:
            out.append("\n" if "\n" in text[gap_start:start] else " ")
        out.append(body)
        gap_start = start + len(body)
    return "".join(out)
