"""Line and paragraph statistics of a document (Gopher and FineWeb line rules).

Each family splits lines its own way, and we keep each reference's split because the ratios
depend on it (datatrove 0.10 ``GopherQualityFilter``, ``GopherRepetitionFilter``,
``FineWebQualityFilter``):

* Gopher quality: ``str.splitlines()`` (also splits on ``\\r``, ``\\v``, ``\\f``, U+2028 ...);
* Gopher repetition: lines are split on runs of ``\\n`` (``re.split("\\n+")``), paragraphs on
  runs of two or more (after stripping the text);
* FineWeb: ``split("\\n")``, blank lines dropped, lines not stripped.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from curation.text.charclasses import SENTENCE_TERMINALS

# Spelled with a literal first "\n" so the regex engine can scan for it fast (\n{2,} is ~10x
# slower to search here); same matches as datatrove's "\n+" and "\n{2,}".
_LINE_RUNS = re.compile("\n\n*")
_PARAGRAPH_BREAK = re.compile("\n\n+")
_BULLETS = ("•", "-")  # Gopher: lines "starting with a bullet point"
_ELLIPSES = ("...", "…")


def duplicates(items: Sequence[str]) -> tuple[int, int]:
    """Number of items that repeat an earlier one, and their characters.

    >>> duplicates(["a", "bb", "a", "bb", "bb"])
    (3, 5)
    """
    counts = Counter(items)
    n_dup = len(items) - len(counts)
    if n_dup == 0:
        return 0, 0
    return n_dup, sum(len(item) * (c - 1) for item, c in counts.items() if c > 1)


@dataclass(frozen=True, slots=True)
class GopherLineStats:
    """Fractions of ``splitlines()`` lines that start with a bullet / end with an ellipsis."""

    n_lines: int
    bullet_lines: int
    ellipsis_lines: int


def gopher_line_stats(text: str) -> GopherLineStats:
    lines = text.splitlines()
    bullets = sum(1 for s in lines if s.lstrip().startswith(_BULLETS))
    ellipses = sum(1 for s in lines if s.rstrip().endswith(_ELLIPSES))
    return GopherLineStats(len(lines), bullets, ellipses)


@dataclass(frozen=True, slots=True)
class RepetitionLineStats:
    """Duplicated lines and paragraphs (Gopher repetition), counts and characters."""

    n_paragraphs: int
    dup_paragraphs: int
    dup_paragraph_chars: int
    n_lines: int
    dup_lines: int
    dup_line_chars: int


def repetition_line_stats(text: str) -> RepetitionLineStats:
    paragraphs = _PARAGRAPH_BREAK.split(text.strip())
    lines = _LINE_RUNS.split(text)
    dup_p, dup_p_chars = duplicates(paragraphs)
    dup_l, dup_l_chars = duplicates(lines)
    return RepetitionLineStats(len(paragraphs), dup_p, dup_p_chars, len(lines), dup_l, dup_l_chars)


@dataclass(frozen=True, slots=True)
class FineWebLineStats:
    """FineWeb's line counts over non-blank ``split("\\n")`` lines."""

    n_lines: int
    punct_end_lines: int  # last character is a Unicode sentence terminal
    short_lines: int  # at most ``short_line_length`` characters
    dup_line_chars: int  # characters of lines that repeat an earlier line


def fineweb_line_stats(text: str, short_line_length: int) -> FineWebLineStats:
    lines = [line for line in text.split("\n") if line and not line.isspace()]
    terminals = SENTENCE_TERMINALS
    punct = sum(1 for line in lines if line[-1] in terminals)
    short = sum(1 for line in lines if len(line) <= short_line_length)
    return FineWebLineStats(len(lines), punct, short, duplicates(lines)[1])
