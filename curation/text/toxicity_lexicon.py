"""Lexicon toxicity scoring on the five Celadon dimensions, sentence by sentence.

Model: "Toxicity of the Commons" (Arnett et al. 2024, arXiv:2410.22587; the Celadon classifier).
Each of race/origin, gender/sex, religion, ability and violence gets 0 (none or an objective
mention) to 3 (overt promotion). A lexicon cannot read intent, so it approximates with four kinds
of term, matched per sentence:

* ``slur`` (race|gender|religion|ability, weight 1-3): derogatory by itself; scores its dimension.
* ``identity`` (same dimensions, weight 0): names a group ("Muslim", "wheelchair"). Alone it
  scores nothing: mentioning a group is not toxic (the bias guard in the tests holds us to this).
* ``hostile`` (``any`` or one identity dimension, weight 1-3): dehumanising or contemptuous
  language ("vermin", "inferior"). It scores the identity dimensions targeted in the same
  sentence (by an identity term or a slur), and nothing when no group is named.
* ``violent`` (violence, weight 1-3): scores violence by itself (1 = a plain mention such as
  "killed", 3 = a threat or incitement such as "death to"). With dimension ``any`` it is a call
  to violence that needs a target ("kill all", "wipe them out"): full weight when the sentence
  names a group, weight - 1 otherwise ("kill all processes" is not incitement). A violence
  score of 3 raises every targeted identity dimension to 3; a lower one raises them to
  score - 1, so "Christians were killed" is no religion score while "kill all Christians" is.
* ``neutral`` (weight 0): a phrase that hides its words from the other kinds ("hate crime",
  "black hole"), so reporting about hostility is not read as hostility.

A slur in a sentence that also has strong (weight >= 2) hostile or violent language is overt:
its dimension goes to 3.
A document's dimension score is the maximum over its sentences: one overtly hostile sentence is
enough, and a long neutral article does not dilute it. The class follows Celadon's thresholds
(``toxicity_class``).

Matching: text is NFKC-normalised and case-folded, split into ``\\w+`` tokens; single-token terms
are a dict lookup, multi-token terms a phrase table keyed by first token, longest match first.
Speed: a batch is first filtered with one RE2 alternation of the trigger terms (slur, hostile,
violent); only documents that match are split into sentences, and only matching sentences are
tokenised and scored in Python (see ``score_batch``).
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.text.sentences import sentence_spans, split_batch

DIMENSIONS: tuple[str, ...] = ("race", "gender", "religion", "ability", "violence")
IDENTITY_DIMENSIONS: tuple[str, ...] = DIMENSIONS[:4]
KINDS: tuple[str, ...] = ("slur", "identity", "hostile", "violent", "neutral")
CLASSES: tuple[str, ...] = ("none", "mild", "toxic")
ZERO: tuple[int, ...] = (0, 0, 0, 0, 0)

# Below this many texts a batch is scored in plain Python (see Lexicon.score_batch).
ARROW_MIN_BATCH = 64

_DIM_INDEX = {d: i for i, d in enumerate(DIMENSIONS)}
_VIOLENCE = _DIM_INDEX["violence"]
_TOKEN = re.compile(r"\w+")
_OPTIONAL_SUFFIX = re.compile(r"^(.*\w)\(([^()\s]+)\)$")
_DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "toxicity"


def toxicity_class(dims: Sequence[int]) -> str:
    """Celadon's class for five 0-3 scores.

    none: sum <= 3 and no dimension above 2; mild: sum 4-6, or a single dimension at 3;
    toxic: sum >= 7 (Toxic Commons README, "Pipeline", step two).

    >>> toxicity_class((3, 0, 0, 0, 0)), toxicity_class((2, 2, 0, 0, 0)), toxicity_class((3, 2, 0, 0, 2))
    ('mild', 'mild', 'toxic')
    """
    total = sum(dims)
    if total >= 7:
        return "toxic"
    if total >= 4 or max(dims) >= 3:
        return "mild"
    return "none"


def normalize(text: str) -> str:
    """NFKC then case-fold: full-width, ligature and case variants match the same entry."""
    return unicodedata.normalize("NFKC", text).casefold()


def tokens(text: str) -> list[str]:
    """Word tokens of already normalised text."""
    return _TOKEN.findall(text)


@dataclass(frozen=True)
class Term:
    """One lexicon entry. ``dimension`` is ``any`` for hostile terms aimed at whatever is named."""

    term: str
    dimension: str
    weight: int
    kind: str

    def __post_init__(self) -> None:
        where = f"term {self.term!r}"
        if self.kind not in KINDS:
            raise ValueError(f"{where}: kind {self.kind!r} is not one of {', '.join(KINDS)}")
        allowed = {
            "slur": IDENTITY_DIMENSIONS,
            "identity": IDENTITY_DIMENSIONS,
            "hostile": (*IDENTITY_DIMENSIONS, "any"),
            "violent": ("violence", "any"),
            "neutral": (*DIMENSIONS, "any"),
        }[self.kind]
        if self.dimension not in allowed:
            raise ValueError(
                f"{where}: dimension {self.dimension!r} is not valid for kind {self.kind!r}; "
                f"use one of {', '.join(allowed)}"
            )
        lo = 0 if self.kind in ("identity", "neutral") else 1
        hi = 0 if self.kind in ("identity", "neutral") else 3
        if not lo <= self.weight <= hi:
            raise ValueError(f"{where}: weight {self.weight} must be in {lo}..{hi} for {self.kind}")
        if not tokens(normalize(self.term)):
            raise ValueError(f"{where}: has no word characters")


def read_terms(path: str | Path) -> list[Term]:
    """Terms from a TSV file: ``term<TAB>dimension<TAB>weight<TAB>kind``; ``#`` starts a comment.

    ``word(s)`` in the term field is shorthand for the two entries ``word`` and ``words``.
    Errors name the file and line.
    """
    out: list[Term] = []
    with open(path, encoding="utf-8", newline="") as fh:
        for lineno, row in enumerate(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE), 1):
            if not row or not row[0].strip() or row[0].lstrip().startswith("#"):
                continue
            if len(row) != 4:
                raise ValueError(
                    f"{path}:{lineno}: expected 4 tab-separated fields "
                    f"(term, dimension, weight, kind), got {len(row)}"
                )
            term, dim, weight, kind = (c.strip() for c in row)
            try:
                w = int(weight)
            except ValueError:
                raise ValueError(f"{path}:{lineno}: weight {weight!r} is not an integer") from None
            try:
                out.extend(Term(t, dim, w, kind) for t in _expand(term))
            except ValueError as exc:
                raise ValueError(f"{path}:{lineno}: {exc}") from None
    return out


def _expand(term: str) -> list[str]:
    m = _OPTIONAL_SUFFIX.match(term)
    return [m.group(1), m.group(1) + m.group(2)] if m else [term]


def builtin_lexicon_path(lang: str) -> Path | None:
    """The packaged term list for ``lang`` (``curation/data/toxicity/<lang>.tsv``), if any."""
    # Next to the package's code (package-data), so it works from a wheel, a zip-less install
    # and an editable checkout alike.
    path = _DATA_DIR / f"{lang}.tsv"
    return path if path.is_file() else None


# A matched entry, compiled: (kind, dimension index or -1 for "any", weight).
_Entry = tuple[str, int, int]


class Lexicon:
    """Compiled term lists; scores sentences and documents. Build once per worker, reuse."""

    def __init__(
        self, terms: Iterable[Term], gate_kinds: Sequence[str] = ("slur", "hostile", "violent")
    ):
        """``gate_kinds``: the kinds whose terms ``may_score`` looks for (the ones that can
        make a score; a screen that also wants group mentions adds ``identity``)."""
        self._single: dict[str, list[_Entry]] = {}
        # first token -> [(rest tokens, entries)], longest phrase first
        self._phrases: dict[str, list[tuple[tuple[str, ...], list[_Entry]]]] = {}
        triggers: set[tuple[str, ...]] = set()
        phrase_map: dict[tuple[str, ...], list[_Entry]] = {}
        n = 0
        for t in terms:
            toks = tuple(tokens(normalize(t.term)))
            entry = (t.kind, _DIM_INDEX.get(t.dimension, -1), t.weight)
            if len(toks) == 1:
                self._single.setdefault(toks[0], []).append(entry)
            else:
                phrase_map.setdefault(toks, []).append(entry)
            if t.kind in gate_kinds:
                triggers.add(toks)
            n += 1
        for toks, entries in phrase_map.items():
            self._phrases.setdefault(toks[0], []).append((toks[1:], entries))
        for options in self._phrases.values():
            options.sort(key=lambda o: -len(o[0]))
        self._gate_ascii, self._gate_other = _gate_patterns(triggers)
        self.size = n

    @classmethod
    def from_files(cls, paths: Iterable[str | Path]) -> Lexicon:
        terms: list[Term] = []
        for p in paths:
            terms.extend(read_terms(p))
        return cls(terms)

    @classmethod
    def for_languages(
        cls, languages: Iterable[str], extra: dict[str, Sequence[str]] | None = None
    ) -> Lexicon:
        """The built-in list of each language plus the user's extra lists for it, merged."""
        paths: list[str | Path] = []
        for lang in languages:
            builtin = builtin_lexicon_path(lang)
            if builtin is not None:
                paths.append(builtin)
            paths.extend((extra or {}).get(lang, ()))
        return cls.from_files(paths)

    def matches(self, sentence: str) -> list[tuple[str, _Entry]]:
        """(matched text, entry) pairs in one sentence, longest phrase first; for explanations."""
        return list(self._match(tokens(normalize(sentence))))

    def _match(self, toks: list[str]) -> Iterable[tuple[str, _Entry]]:
        i, n = 0, len(toks)
        phrases, single = self._phrases, self._single
        while i < n:
            tok = toks[i]
            step = 1
            for rest, entries in phrases.get(tok, ()):
                k = len(rest)
                if tuple(toks[i + 1 : i + 1 + k]) == rest:
                    step = k + 1
                    for e in entries:
                        yield " ".join(toks[i : i + step]), e
                    break
            else:
                for e in single.get(tok, ()):
                    yield tok, e
            i += step

    def score_sentence(self, sentence: str) -> tuple[int, ...]:
        """Five 0-3 scores for one sentence (see the module docstring for the rules)."""
        slur = [0, 0, 0, 0]
        targeted = [False, False, False, False]
        hostile_any = 0
        hostile_dim = [0, 0, 0, 0]
        violent = 0
        incite = 0
        for _text, (kind, dim, weight) in self._match(tokens(normalize(sentence))):
            if kind == "neutral":
                continue
            if kind == "slur":
                slur[dim] = max(slur[dim], weight)
                targeted[dim] = True
            elif kind == "identity":
                targeted[dim] = True
            elif kind == "hostile":
                if dim < 0:
                    hostile_any = max(hostile_any, weight)
                else:
                    hostile_dim[dim] = max(hostile_dim[dim], weight)
            elif dim < 0:  # violent, needs a target
                incite = max(incite, weight)
            else:  # violent
                violent = max(violent, weight)
        if not (any(slur) or violent or incite or hostile_any or any(hostile_dim)):
            return ZERO
        if incite:
            violent = max(violent, incite if any(targeted) else incite - 1)
        from_violence = 3 if violent == 3 else max(0, violent - 1)
        out = [0, 0, 0, 0, violent]
        for d in range(4):
            if not targeted[d]:
                continue
            hostile = max(hostile_any, hostile_dim[d])
            if slur[d] and (hostile >= 2 or violent >= 2):
                out[d] = 3  # a slur with strong hostile or violent language around it is overt
            else:
                out[d] = max(slur[d], hostile, from_violence)
        return tuple(out)

    def may_score(self, texts: pa.Array) -> np.ndarray:
        """Boolean mask: False where a text has no slur, hostile or violent term (all scores 0).

        A prefilter in Arrow's RE2 over the raw text (ASCII text is already NFKC), and over the
        NFKC form for the non-ASCII rows, case-insensitive, with the same word boundaries as the
        tokenizer: it can let through texts that score 0, never drop one that does not. (Case
        folds that change length, like German sharp s to "ss", are the exception; lists should
        spell both forms.)
        """
        n = len(texts)
        hit = np.zeros(n, dtype=bool)
        if n == 0:
            return hit
        for pattern in (self._gate_ascii, self._gate_other):
            if pattern is not None:
                hit |= _mask(pc.match_substring_regex(texts, pattern, ignore_case=True))
        # Non-ASCII text that NFKC would change (full-width letters, ligatures) gets a second
        # look in normal form. Python's quick check is ~1 us; Arrow's normalize ~50 us per doc.
        other = np.flatnonzero(~hit & ~_mask(pc.string_is_ascii(texts)))
        if len(other):
            raw = texts.take(pa.array(other)).to_pylist()
            changed = [
                k for k, t in enumerate(raw) if t and not unicodedata.is_normalized("NFKC", t)
            ]
            other = other[changed]
        if len(other):
            sub = pa.array([unicodedata.normalize("NFKC", raw[k]) for k in changed], pa.string())
            for pattern in (self._gate_ascii, self._gate_other):
                if pattern is not None:
                    hit[other] |= _mask(pc.match_substring_regex(sub, pattern, ignore_case=True))
        return hit

    def score_batch(
        self, texts: Sequence[str | None] | pa.Array, vectorised: bool | None = None
    ) -> list[DocumentScore]:
        """``score_document`` for many texts; the prefilter and the splitter run once per batch.

        Only texts that pass the prefilter are split, and only sentences that pass it too are
        scored in Python, so a batch of clean text costs little more than two RE2 scans. Each
        Arrow call compiles its pattern (~20 ms for the English list), so batches smaller than
        ``ARROW_MIN_BATCH`` take the plain Python path (``vectorised`` forces either).
        """
        if vectorised is None:
            vectorised = len(texts) >= ARROW_MIN_BATCH
        if not vectorised:
            rows = texts.to_pylist() if isinstance(texts, pa.Array) else texts
            return [self.score_document(t) for t in rows]
        arr = texts if isinstance(texts, pa.Array) else pa.array(texts, pa.string())
        if not pa.types.is_string(arr.type):
            arr = arr.cast(pa.string())
        out: list[DocumentScore] = [(ZERO, []) for _ in range(len(arr))]
        maybe = np.flatnonzero(self.may_score(arr))
        if not len(maybe):
            return out
        sents = split_batch(arr.take(pa.array(maybe)))
        live = np.flatnonzero(self.may_score(sents.pieces))
        if not len(live):
            return out
        pieces = sents.pieces.take(pa.array(live)).to_pylist()
        docs = maybe[sents.doc[live]].tolist()
        starts, ends = sents.start[live].tolist(), sents.end[live].tolist()
        hits: dict[int, list[ScoredSpan]] = {}
        for piece, d, a, b in zip(pieces, docs, starts, ends, strict=True):
            sc = self.score_sentence(piece)
            if any(sc):
                hits.setdefault(d, []).append((a, b, sc))
        for d, spans in hits.items():
            doc = tuple(max(col) for col in zip(*(sc for _, _, sc in spans), strict=True))
            out[d] = (doc, spans)
        return out

    def score_document(self, text: str | None) -> DocumentScore:
        """Document scores (max over sentences) and the scored sentences as (start, end, scores).

        Only sentences with a non-zero score are listed; spans index into ``text``.

        >>> lex.score_document("Nice day. Death to all Muslims!")  # doctest: +SKIP
        ((0, 0, 3, 0, 3), [(10, 31, (0, 0, 3, 0, 3))])
        """
        if not text:
            return ZERO, []
        hits: list[ScoredSpan] = []
        for start, end in sentence_spans(text):
            sc = self.score_sentence(text[start:end])
            if any(sc):
                hits.append((start, end, sc))
        if not hits:
            return ZERO, []
        return tuple(max(col) for col in zip(*(sc for _, _, sc in hits), strict=True)), hits


# A scored sentence (start, end, five scores) and a document's (scores, scored sentences).
ScoredSpan = tuple[int, int, tuple[int, ...]]
DocumentScore = tuple[tuple[int, ...], list[ScoredSpan]]


# Python's \w is letters, digits and underscore. RE2's \b and \W are ASCII-only, which is exact
# for terms whose tokens are ASCII (a Unicode non-word neighbour is also an ASCII non-word one)
# and fast; terms with non-ASCII tokens get explicit Unicode classes, which RE2 runs far slower
# (measured: ~3 ms against ~9 us per 3 KB document), so they go in a second pattern.
_NON_WORD = r"[^\p{L}\p{N}_]"


def _gate_patterns(triggers: Iterable[tuple[str, ...]]) -> tuple[str | None, str | None]:
    """RE2 alternations of every trigger term (ASCII terms, other terms); tokens joined by any
    non-word run."""
    ascii_alts = sorted({r"\W+".join(t) for t in triggers if all(x.isascii() for x in t)})
    other = sorted({(_NON_WORD + "+").join(t) for t in triggers if not all(x.isascii() for x in t)})
    fast = r"\b(?:" + "|".join(ascii_alts) + r")\b" if ascii_alts else None
    slow = f"(?:^|{_NON_WORD})(?:{'|'.join(other)})(?:$|{_NON_WORD})" if other else None
    return fast, slow


def _mask(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return np.asarray(arr.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool).copy()


def remove_spans(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """``text`` without the given half-open spans, stripped; spans may be unsorted.

    >>> remove_spans("Keep this. Drop this. Keep too.", [(11, 22)])
    'Keep this. Keep too.'
    """
    out, pos = [], 0
    for s, e in sorted(spans):
        if s > pos:
            out.append(text[pos:s])
        pos = max(pos, e)
    out.append(text[pos:])
    return "".join(out).strip()
