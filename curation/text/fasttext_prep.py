"""Text preparation for fastText: the same function at training and at scoring time.

fastText reads one example per line, so every mode removes newlines. Modes:

* ``dclm`` (DCLM's fastText quality filter): newlines become spaces, nothing else changes.
    "Title\\n\\nBody"  ->  "Title  Body"
* ``ultrafineweb`` (Ultra-FineWeb's classifier input): NFKD, diacritics (combining marks)
  removed, lowercased, every whitespace run (blank lines included) collapsed to one space,
  trimmed.
    "Crème\\n\\n\\nBRÛLÉE"  ->  "creme brulee"
  Stripping combining marks also removes e.g. Japanese dakuten (デ -> テ); that is what the mode
  does, so use it for the languages the classifier was trained on.

Both work on whole Arrow arrays with Arrow compute kernels (no Python loop per row). Nulls stay
null.
"""

from __future__ import annotations

from typing import Literal, get_args

import pyarrow as pa
import pyarrow.compute as pc

PrepMode = Literal["dclm", "ultrafineweb"]
PREP_MODES: tuple[str, ...] = get_args(PrepMode)


def prepare_array(texts: pa.Array | pa.ChunkedArray, mode: PrepMode) -> pa.Array:
    """Prepare a string array for fastText in ``mode``; the result has no newline characters."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    if pa.types.is_large_string(texts.type) or pa.types.is_string_view(texts.type):
        texts = texts.cast(pa.string())
    if mode == "dclm":
        return pc.replace_substring(texts, "\n", " ")
    if mode == "ultrafineweb":
        out = pc.utf8_normalize(texts, "NFKD")
        out = pc.replace_substring_regex(out, r"\p{Mn}+", "")
        out = pc.utf8_lower(out)
        # RE2's \s is ASCII-only; \p{Z} adds Unicode spaces and the line/paragraph separators.
        out = pc.replace_substring_regex(out, r"[\s\p{Z}]+", " ")
        return pc.utf8_trim_whitespace(out)
    raise ValueError(f"unknown fastText prep mode {mode!r}; use one of: {', '.join(PREP_MODES)}")


def prepare_texts(texts: list[str | None], mode: PrepMode) -> list[str | None]:
    """``prepare_array`` for a Python list (training files, tests)."""
    return prepare_array(pa.array(texts, type=pa.string()), mode).to_pylist()


def prepare_text(text: str, mode: PrepMode) -> str:
    """``prepare_array`` for one string.

    >>> prepare_text("Crème\\n\\nBRÛLÉE", "ultrafineweb")
    'creme brulee'
    """
    return prepare_texts([text], mode)[0]
