"""Character classes shared by the text kernels: word characters, punctuation, sentence ends.

Built once at import from ``unicodedata`` (about 0.1 s), so every Python worker agrees with
itself whatever the Python build; nothing is downloaded.

* A *word character* is one that Python's ``\\w`` matches (letters, digits, ``_``) plus combining
  marks (Unicode M*) and format characters (Cf: ZWJ/ZWNJ, soft hyphen). ``\\w`` alone would cut
  Devanagari, Thai or Arabic words at every vowel sign, and Persian words at every ZWNJ.
* A *punctuation character* is any other non-space character: Unicode punctuation (P*), symbols
  (S*, so emoji and bullets too) and control characters; and ``_`` where it does not join words.
* A *sentence terminal* is a character with the Unicode ``Sentence_Terminal`` property (full stops,
  question and exclamation marks of many scripts), the same notion as datatrove's
  ``TERMINAL_PUNCTUATION`` (listed here by code point from the Unicode Character Database).
"""

from __future__ import annotations

import re
import sys
import unicodedata


def _ranges(pred, lo: int, hi: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    start = None
    for cp in range(lo, hi):
        if pred(cp):
            if start is None:
                start = cp
        elif start is not None:
            out.append((start, cp - 1))
            start = None
    if start is not None:
        out.append((start, hi - 1))
    return out


def _class_body(ranges: list[tuple[int, int]]) -> str:
    parts = []
    for a, b in ranges:
        parts.append(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}")
    return "".join(parts)


def _is_mark_or_format(cp: int) -> bool:
    cat = unicodedata.category(chr(cp))
    return cat[0] == "M" or cat == "Cf"


# Only the Basic Multilingual Plane goes into the regex class: Python's regex engine checks
# characters above U+FFFF against a linear list of ranges, which made every non-matching character
# ~5x slower to scan. Astral marks (historic scripts) are rare enough to ignore.
_EXTRA_WORD = _class_body(_ranges(_is_mark_or_format, 0x80, 0x10000))
WORD_CLASS = rf"\w{_EXTRA_WORD}"
"""Body of a regex character class for word characters (use as ``[{WORD_CLASS}]``)."""

_PUNCT_CHAR = re.compile(rf"[^\s{WORD_CLASS}]")

# Planes 0 and 1 hold every punctuation or symbol character in common use (emoji are in plane 1);
# plane 2+ is CJK ideographs (letters) and private use.
# plane 2+ is CJK ideographs (letters), tags and private use. One regex pass over all candidate
# characters is ~10x faster than testing them one by one. A token that starts with an unassigned
# or private-use character above U+1FFFF therefore counts as a word (a defined, rare outcome).
# "_" is a word character for ``\w`` but punctuation for spaCy ("____" is four tokens); the
# tokenizer lets it join words (snake_case) but never start one.
PUNCT_CHARS: frozenset[str] = frozenset(
    _PUNCT_CHAR.findall("".join(map(chr, (*range(0xD800), *range(0xE000, 0x20000)))))
) | {"_"}
"""Every character in planes 0-1 that starts a punctuation token (all punctuation, and "_")."""

SENTENCE_TERMINALS: frozenset[str] = frozenset(
    chr(cp)
    for cp in (
        # Latin, Armenian, Arabic, Syriac, NKo, Samaritan, Devanagari, Myanmar, Ethiopic
        0x0021,
        0x002E,
        0x003F,
        0x0589,
        0x061D,
        0x061E,
        0x061F,
        0x06D4,
        0x0700,
        0x0701,
        0x0702,
        0x07F9,
        0x0837,
        0x0839,
        0x083D,
        0x083E,
        0x0964,
        0x0965,
        0x104A,
        0x104B,
        0x1362,
        0x1367,
        0x1368,
        # Canadian syllabics, Philippine, Mongolian, Limbu, Tai Tham, Balinese, Lepcha, Ol Chiki
        0x166E,
        0x1735,
        0x1736,
        0x1803,
        0x1809,
        0x1944,
        0x1945,
        0x1AA8,
        0x1AA9,
        0x1AAA,
        0x1AAB,
        0x1B5A,
        0x1B5B,
        0x1B5E,
        0x1B5F,
        0x1B7D,
        0x1B7E,
        0x1C3B,
        0x1C3C,
        0x1C7E,
        0x1C7F,
        # Khmer, general punctuation (‼ ‽ ⁇ ⁈ ⁉), supplemental punctuation, CJK
        0x17D4,
        0x17D5,
        0x203C,
        0x203D,
        0x2047,
        0x2048,
        0x2049,
        0x2E2E,
        0x2E3C,
        0x2E53,
        0x2E54,
        0x3002,
        # Lisu, Vai, Bamum, Phags-pa, Saurashtra, Kayah Li, Javanese, Cham, Meetei Mayek
        0xA4FF,
        0xA60E,
        0xA60F,
        0xA6F3,
        0xA6F7,
        0xA876,
        0xA877,
        0xA8CE,
        0xA8CF,
        0xA92F,
        0xA9C8,
        0xA9C9,
        0xAA5D,
        0xAA5E,
        0xAA5F,
        0xAAF0,
        0xAAF1,
        0xABEB,
        # small and full-width forms
        0xFE52,
        0xFE56,
        0xFE57,
        0xFF01,
        0xFF0E,
        0xFF1F,
        0xFF61,
        # plane 1: Kharoshthi, Sogdian, Old Uyghur, Brahmi, Kaithi, Chakma, Sharada, Khojki,
        # Multani, Newa, Siddham, Modi, Ahom, Dives Akuru, Zanabazar, Soyombo, Bhaiksuki,
        # Makasar, Kawi, Mro, Bassa Vah, Pahawh Hmong, Medefaidrin, Duployan, Sutton SignWriting
        0x10A56,
        0x10A57,
        0x10F55,
        0x10F56,
        0x10F57,
        0x10F58,
        0x10F59,
        0x10F86,
        0x10F87,
        0x10F88,
        0x10F89,
        0x11047,
        0x11048,
        0x110BE,
        0x110BF,
        0x110C0,
        0x110C1,
        0x11141,
        0x11142,
        0x11143,
        0x111C5,
        0x111C6,
        0x111CD,
        0x111DE,
        0x111DF,
        0x11238,
        0x11239,
        0x1123B,
        0x1123C,
        0x112A9,
        0x1144B,
        0x1144C,
        0x115C2,
        0x115C3,
        0x115C9,
        0x115CA,
        0x115CB,
        0x115CC,
        0x115CD,
        0x115CE,
        0x115CF,
        0x115D0,
        0x115D1,
        0x115D2,
        0x115D3,
        0x115D4,
        0x115D5,
        0x115D6,
        0x115D7,
        0x11641,
        0x11642,
        0x1173C,
        0x1173D,
        0x1173E,
        0x11944,
        0x11946,
        0x11A42,
        0x11A43,
        0x11A9B,
        0x11A9C,
        0x11C41,
        0x11C42,
        0x11EF7,
        0x11EF8,
        0x11F43,
        0x11F44,
        0x16A6E,
        0x16A6F,
        0x16AF5,
        0x16B37,
        0x16B38,
        0x16B44,
        0x16E98,
        0x1BC9F,
        0x1DA88,
    )  # fmt: skip
)
"""Characters with the Unicode Sentence_Terminal property (FineWeb's line-end test)."""

if sys.maxunicode < 0x10FFFF:  # pragma: no cover - narrow builds no longer exist (PEP 393)
    raise RuntimeError("curation.text needs a Python build with full Unicode support")
