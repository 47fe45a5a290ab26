"""Stop-word lists by language code, shipped in ``curation/data/stopwords/<lang>.txt``.

Two uses:

* RedPajama-V2's ``stop_word_fraction``: the share of (lowercased) words in the language's list;
* Gopher's stop-word rule: a document must contain at least two *distinct* words of a short list.
  For English that is Gopher's own list (Rae et al. 2021, appendix A: "the, be, to, of, and, that,
  have, with", datatrove's ``STOP_WORDS``); for other languages the shipped list stands in.

A language without a list gets ``None``: its stop-word signals are null and no rule fires on them.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

# Package data next to this module; plain paths work for wheels and editable installs alike.
_FOLDER = Path(__file__).resolve().parent.parent / "data" / "stopwords"

GOPHER_STOP_WORDS_EN = frozenset(("the", "be", "to", "of", "and", "that", "have", "with"))


def _base_lang(lang: str) -> str:
    # "en", "en-US", "en_Latn", "eng_Latn"-style codes all start with the base code; FineWeb-2's
    # three-letter codes are left as they are (a file named e.g. "deu.txt" would serve them).
    return lang.replace("-", "_").split("_", 1)[0].lower()


@lru_cache(maxsize=256)
def stop_words(lang: str) -> frozenset[str] | None:
    """The shipped stop-word list for ``lang`` (lowercase words), or None when there is none."""
    name = _base_lang(lang)
    if not name.isalnum():
        return None
    path = _FOLDER / f"{name}.txt"
    if not path.is_file():
        return None
    words = (w.strip() for w in path.read_text(encoding="utf-8").splitlines())
    return frozenset(w for w in words if w and not w.startswith("#"))


def gopher_stop_words(lang: str) -> frozenset[str] | None:
    """Words for Gopher's "at least two distinct stop words" rule (case-sensitive, as Gopher)."""
    if _base_lang(lang) == "en":
        return GOPHER_STOP_WORDS_EN
    return stop_words(lang)


def available_languages() -> list[str]:
    """Language codes that have a shipped list."""
    return sorted(p.stem for p in _FOLDER.glob("*.txt"))
