"""Word n-gram repetition: Gopher's top-n-gram and duplicated-n-gram character fractions.

Definitions follow datatrove's ``GopherRepetitionFilter`` (the reference implementation the
thresholds were tuned with), over the token list of ``words.tokenize`` (punctuation included):

* ``top_ngram_chars(n)``: the most frequent n-gram, written with single spaces between tokens,
  times its count. Ties go to the n-gram seen first, and a document with no repeated n-gram still
  has a "top" n-gram of count 1 (its first), as in datatrove.
* ``dup_ngram_chars(n)``: scan left to right; an n-gram already seen adds its characters (tokens
  written without spaces) and the scan jumps past it, so overlapping repeats count once.

Speed: tokens are hashed once (Python's ``hash``, C speed), n-gram hashes are built with a
polynomial roll over numpy ``uint64`` (wrap-around is the modulus), and only positions whose
n-gram occurs at least twice are visited in Python. A duplicated n-gram for n > 5 contains
duplicated 5-grams at both ends, so n = 6..10 look only at those positions. Two different n-grams
share a 64-bit hash with probability ~2^-64 per pair: ignored.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Sequence

import numpy as np

# Odd 64-bit multiplier (2^64 / golden ratio): consecutive token positions mix well.
_MULT = np.uint64(0x9E3779B97F4A7C15)


def _token_hashes(tokens: Sequence[str]) -> np.ndarray:
    return np.fromiter(map(hash, tokens), dtype=np.int64, count=len(tokens)).view(np.uint64)


def _counts(h: np.ndarray) -> np.ndarray:
    """For each element, how often its value occurs in ``h``."""
    if h.size < 128:  # below this, numpy's per-call overhead costs more than a Counter
        hl = h.tolist()
        c = Counter(hl)
        return np.fromiter(map(c.__getitem__, hl), dtype=np.int64, count=len(hl))
    order = h.argsort()
    hs = h[order]
    new = np.empty(hs.size, dtype=bool)
    new[0] = True
    np.not_equal(hs[1:], hs[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    sizes = np.empty_like(starts)
    sizes[:-1] = starts[1:] - starts[:-1]
    sizes[-1] = hs.size - starts[-1]
    out = np.empty(h.size, dtype=np.int64)
    out[order] = np.repeat(sizes, sizes)
    return out


def _chars(tokens: Sequence[str], pos: int, n: int) -> int:
    """Characters of the n-gram at ``pos`` with its tokens joined without spaces."""
    return sum(map(len, tokens[pos : pos + n]))


def _greedy_dup_chars(
    tokens: Sequence[str], positions: list[int], hashes: list[int], n: int
) -> int:
    """datatrove's scan restricted to repeated positions (others are never "seen before")."""
    seen: set[int] = set()
    hit_positions: list[int] = []
    k = 0
    end = len(positions)
    while k < end:
        h = hashes[k]
        if h in seen:
            pos = positions[k]
            hit_positions.append(pos)
            # jump past the repeat: positions inside it are neither counted nor marked seen.
            # Repeated positions are strictly increasing, so if the one n places on is pos + n,
            # that is where the jump lands (the common case in repetitive text).
            j = k + n
            k = j if j < end and positions[j] == pos + n else bisect_left(positions, pos + n, k + 1)
        else:
            seen.add(h)
            k += 1
    if len(hit_positions) < 64:
        return sum(_chars(tokens, p, n) for p in hit_positions)
    # many hits: one prefix sum of token lengths instead of a slice per hit
    cum = np.zeros(len(tokens) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens)), out=cum[1:])
    hits = np.asarray(hit_positions, dtype=np.int64)
    return int((cum[hits + n] - cum[hits]).sum())


def repetition_chars(
    tokens: Sequence[str], top_ns: Sequence[int], dup_ns: Sequence[int]
) -> tuple[list[int], list[int]]:
    """Top-n-gram and duplicated-n-gram character counts for each requested n (n >= 2).

    >>> repetition_chars("a b a b a b".split(), (2,), (3,))  # "a b" x3; "aba" again at 2
    ([9], [3])
    """
    if not isinstance(tokens, list):
        tokens = list(tokens)
    h1 = _token_hashes(tokens)
    top = dict.fromkeys(top_ns, 0)
    dup = dict.fromkeys(dup_ns, 0)
    last = min(max((*top_ns, *dup_ns), default=0), len(tokens))
    h = h1
    # Positions (ascending) whose n-gram may repeat; None = all. An n-gram at i repeats only if
    # the (n-1)-grams at i and i + 1 both do, so each n narrows the next.
    cand: np.ndarray | None = None
    for n in range(2, last + 1):
        if cand is not None and not cand.size:
            # nothing repeats from here on: each top n-gram is the first one, with count 1
            for k in top_ns:
                if n <= k <= last:
                    top[k] = _chars(tokens, 0, k) + k - 1
            break
        h = h[:-1] * _MULT + h1[n - 1 :]
        if cand is None:
            counts = _counts(h)
            positions = np.arange(h.size)
        else:
            counts = _counts(h[cand])
            positions = cand
        if n in top:
            best = int(counts.max()) if counts.size else 1
            # datatrove's Counter.most_common(1): the first-seen n-gram among the most frequent,
            # and a count-1 "top" n-gram (the first) when nothing repeats
            pos = 0 if best == 1 else int(positions[int(np.argmax(counts == best))])
            top[n] = (_chars(tokens, pos, n) + n - 1) * best
        rep = positions[counts > 1]
        if n in dup and rep.size:
            dup[n] = _greedy_dup_chars(tokens, rep.tolist(), h[rep].tolist(), n)
        cand = rep[:-1][(rep[1:] - rep[:-1]) == 1]
    return [top[n] for n in top_ns], [dup[n] for n in dup_ns]
