"""Heuristic quality signals of one document, all in one pass over its tokens and lines.

The signals are what the Gopher quality and repetition rules (Rae et al. 2021, appendix A), C4
(Raffel et al. 2020) and FineWeb (Penedo et al. 2024) threshold, plus RedPajama-V2's document
signals (Weber et al. 2024); definitions follow datatrove 0.10's filters so that their published
thresholds mean the same here. Where RedPajama-V2 defines a signal differently (it normalises
words by lowercasing and deleting punctuation), we keep one column with datatrove's definition
and say so below.

Order: when ``c4_rewrite`` is on, C4's line filter rewrites the text first and every other
signal is computed on the rewritten text (``c4_orig_chars`` keeps the original length).

Conventions: a ratio whose denominator is 0 equals its numerator (so an empty text has 0.0
everywhere and an all-newline text has a newline ratio above any threshold); a null text gives
null signals. Words are ``words.tokenize`` tokens that are not punctuation runs.

>>> text, values = score_document("The cat sat on the mat.", SignalParams())
>>> dict(zip(SIGNAL_NAMES, values))["q_word_count"]
6
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import filterfalse

import numpy as np

from curation.text.c4 import C4Params, c4_filter
from curation.text.charclasses import PUNCT_CHARS
from curation.text.lines import fineweb_line_stats, gopher_line_stats, repetition_line_stats
from curation.text.ngrams import repetition_chars
from curation.text.stopwords import GOPHER_STOP_WORDS_EN, stop_words
from curation.text.words import TOKEN_RE

TOP_NGRAMS = (2, 3, 4)  # Gopher: fraction of characters in the most common 2-, 3-, 4-gram
DUP_NGRAMS = (5, 6, 7, 8, 9, 10)  # Gopher: fraction of characters in duplicated 5..10-grams

# (column, type): int, float or bool. Names say what is measured; rules live in the stage.
SIGNALS: tuple[tuple[str, str], ...] = (
    ("q_c4_orig_chars", "int"),  # characters before C4's line filter
    ("q_n_chars", "int"),  # characters of the scored (possibly rewritten) text
    ("q_n_tokens", "int"),  # words + punctuation runs (datatrove's word-tokenizer count)
    ("q_word_count", "int"),  # words (Gopher's "non-symbol words"; RPv2 rps_doc_word_count)
    ("q_mean_word_length", "float"),  # characters per word (Gopher; RPv2 mean_word_length)
    ("q_frac_unique_words", "float"),  # distinct lowercased words / words (RPv2)
    ("q_unigram_entropy", "float"),  # entropy (nats) of lowercased word counts (RPv2)
    ("q_stop_word_frac", "float"),  # words in the language's stop list / words (RPv2); null
    ("q_gopher_stop_words", "int"),  # distinct Gopher stop words present (case-sensitive); null
    ("q_hash_word_ratio", "float"),  # "#" per token (Gopher symbol-to-word ratio, hash)
    ("q_ellipsis_word_ratio", "float"),  # "..." or "…" per token (Gopher, ellipsis)
    ("q_symbol_word_ratio", "float"),  # both per token (RPv2 symbol_to_word_ratio)
    ("q_bullet_lines_frac", "float"),  # lines starting with "•" or "-" (Gopher)
    ("q_ellipsis_lines_frac", "float"),  # lines ending in "..." or "…" (Gopher; RPv2)
    ("q_frac_no_alpha_words", "float"),  # tokens without a letter / tokens (Gopher; RPv2)
    ("q_dup_para_frac", "float"),  # paragraphs repeating an earlier one / paragraphs
    ("q_dup_para_char_frac", "float"),  # their characters / characters
    ("q_dup_line_frac", "float"),  # lines repeating an earlier one / lines
    ("q_dup_line_char_frac", "float"),  # their characters / characters
    *((f"q_top_{n}gram_char_frac", "float") for n in TOP_NGRAMS),
    *((f"q_dup_{n}gram_char_frac", "float") for n in DUP_NGRAMS),
    ("q_c4_num_sentences", "int"),  # sentences in the lines C4 keeps
    ("q_c4_lorem_ipsum", "bool"),  # a line C4 would keep says "lorem ipsum"
    ("q_c4_curly_bracket", "bool"),  # a line C4 would keep has "{"
    ("q_c4_lines_removed", "int"),  # non-blank lines C4's line filter removes
    ("q_fw_line_punct_ratio", "float"),  # non-blank lines ending in a sentence terminal
    ("q_fw_short_line_ratio", "float"),  # non-blank lines of <= short_line_length characters
    ("q_fw_char_dup_ratio", "float"),  # chars of repeated non-blank lines / non-newline chars
    ("q_fw_newline_ratio", "float"),  # newlines per token
    ("q_lorem_ipsum_ratio", "float"),  # "lorem ipsum" occurrences per character (RPv2)
    ("q_curly_bracket_ratio", "float"),  # "{" and "}" per character (RPv2)
)
SIGNAL_NAMES: tuple[str, ...] = tuple(name for name, _ in SIGNALS)
_NULL_ROW = (None,) * len(SIGNALS)


@dataclass(frozen=True)
class SignalParams:
    """Everything that changes signal values (as opposed to thresholds, which change decisions)."""

    c4: C4Params = field(default_factory=C4Params)
    c4_rewrite: bool = True  # replace the text by C4's kept lines before scoring the rest
    short_line_length: int = 30  # FineWeb: a line of at most this many characters is short
    stop_words: frozenset[str] | None = field(default_factory=lambda: stop_words("en"))
    gopher_stop_words: frozenset[str] | None = GOPHER_STOP_WORDS_EN


def _ratio(num: float, den: float) -> float:
    return num / den if den else float(num)


def _entropy(counts: Counter) -> float:
    if len(counts) <= 1:
        return 0.0
    c = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
    total = c.sum()
    return float(np.log(total) - (c * np.log(c)).sum() / total)


def _no_alpha(word: str) -> bool:
    return not any(ch.isalpha() for ch in word)


def score_document(text: str | None, params: SignalParams) -> tuple[str | None, tuple]:
    """(scored text, signal values in ``SIGNAL_NAMES`` order) for one document."""
    if text is None:
        return None, _NULL_ROW
    orig_chars = len(text)
    c4 = c4_filter(text, params.c4)
    if params.c4_rewrite:
        text = c4.text
    n_chars = len(text)

    tokens = TOKEN_RE.findall(text)
    n_tok = len(tokens)
    # a token is punctuation when it starts and ends with punctuation ("'s" and "Mrs." are words)
    punct = PUNCT_CHARS
    words = [t for t in tokens if t[0] not in punct or t[-1] not in punct]
    n_words = len(words)
    lowered = Counter(map(str.lower, words))
    # punctuation has no letter; of the distinct words, only those not all letters need a look
    no_alpha = n_tok - n_words
    for w in filterfalse(str.isalpha, lowered):
        if _no_alpha(w):
            no_alpha += lowered[w]
    stop = params.stop_words
    stop_frac = (
        None
        if stop is None
        else _ratio(sum(lowered[w] for w in stop.intersection(lowered)), n_words)
    )
    gopher_stop = params.gopher_stop_words
    n_gopher_stop = None if gopher_stop is None else len(gopher_stop.intersection(words))

    n_hash = text.count("#")
    n_ellipsis = text.count("...") + text.count("…")
    glines = gopher_line_stats(text)
    rlines = repetition_line_stats(text)
    top, dup = repetition_chars(tokens, TOP_NGRAMS, DUP_NGRAMS)
    fw = fineweb_line_stats(text, params.short_line_length)
    n_newlines = text.count("\n")
    n_curly = text.count("{") + text.count("}")
    n_lorem = text.lower().count("lorem ipsum")

    values = (
        orig_chars,
        n_chars,
        n_tok,
        n_words,
        _ratio(sum(map(len, words)), n_words),
        _ratio(len(lowered), n_words),
        _entropy(lowered),
        stop_frac,
        n_gopher_stop,
        _ratio(n_hash, n_tok),
        _ratio(n_ellipsis, n_tok),
        _ratio(n_hash + n_ellipsis, n_tok),
        _ratio(glines.bullet_lines, glines.n_lines),
        _ratio(glines.ellipsis_lines, glines.n_lines),
        _ratio(no_alpha, n_tok),
        _ratio(rlines.dup_paragraphs, rlines.n_paragraphs),
        _ratio(rlines.dup_paragraph_chars, n_chars),
        _ratio(rlines.dup_lines, rlines.n_lines),
        _ratio(rlines.dup_line_chars, n_chars),
        *(_ratio(c, n_chars) for c in top),
        *(_ratio(c, n_chars) for c in dup),
        c4.n_sentences,
        c4.lorem_ipsum,
        c4.curly_bracket,
        c4.lines_removed,
        _ratio(fw.punct_end_lines, fw.n_lines),
        _ratio(fw.short_lines, fw.n_lines),
        _ratio(fw.dup_line_chars, n_chars - n_newlines),
        _ratio(n_newlines, n_tok),
        _ratio(n_lorem, n_chars),
        _ratio(n_curly, n_chars),
    )
    return text, values


def score_documents(
    texts: Sequence[str | None], params: Sequence[SignalParams]
) -> tuple[list[str | None], dict[str, list]]:
    """Score many documents: (scored texts, {signal name: values}) with one params per text."""
    out_texts: list[str | None] = []
    rows: list[tuple] = []
    for text, p in zip(texts, params, strict=True):
        t, row = score_document(text, p)
        out_texts.append(t)
        rows.append(row)
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in SIGNALS]
    return out_texts, {name: list(col) for name, col in zip(SIGNAL_NAMES, columns, strict=True)}
