"""Real English sentences for the sample corpus, loaded once on the driver.

The pool is every sentence of the source texts in file order, so a run of consecutive entries
reads like the original prose. ``shared`` is Brown plus the Wikipedia sample from the shared data
folder next to the repository; a directory path means every ``*.jsonl`` file in it (field
``text``), in name order so that the pool, and with it every generated document, is reproducible.
"""

from __future__ import annotations

import functools
import json
import random
import re
from pathlib import Path

# The repository's sibling folder (this file is <repo>/curation/datasets/real_text.py). Not
# curation.__file__: under the editable install it is None when the package resolves as a
# namespace package (e.g. run from outside the repository).
SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
SHARED_FILES = ("text/brown.jsonl", "text/wikipedia_sample.jsonl")

_PARAGRAPH = re.compile(r"\n\s*\n")
# A sentence ends at . ? ! before a capital, digit or quote, except after the commonest titles
# (splitting "Mr. Smith" would start a run mid-sentence).
_SENTENCE_END = re.compile(r"(?<=[.?!])(?<!Mr\.)(?<!Mrs\.)(?<!Dr\.)(?<!St\.)\s+(?=[\"'(A-Z0-9])")
# Headings, captions and list debris are short; they would read as noise in running prose.
MIN_WORDS = 5
MIN_CHARS = 30
# Longer "sentences" are tables or lists flattened by the Wikipedia clean-up.
MAX_CHARS = 1000


def shared_available() -> bool:
    return all((SHARED_DATA / name).is_file() for name in SHARED_FILES)


def source_files(base: str) -> list[Path]:
    """The JSONL files behind ``base`` ("shared" or a directory); ValueError if they are missing."""
    if base == "shared":
        files = [SHARED_DATA / name for name in SHARED_FILES]
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise ValueError(
                f"base='shared' needs {', '.join(missing)} (shared data folder absent)"
            )
        return files
    folder = Path(base)
    if not folder.is_dir():
        raise ValueError(f"base={base!r} is neither 'builtin', 'shared', 'auto' nor a directory")
    files = sorted(folder.glob("*.jsonl"))
    if not files:
        raise ValueError(f"base directory {folder} has no *.jsonl files")
    return files


def split_sentences(text: str) -> list[str]:
    out = []
    for para in _PARAGRAPH.split(text):
        # A Wikipedia heading sits on its own line inside a paragraph; lines keep it out of the
        # sentence that follows.
        for line in para.splitlines():
            for sent in _SENTENCE_END.split(line.strip()):
                if MIN_CHARS <= len(sent) <= MAX_CHARS and len(sent.split()) >= MIN_WORDS:
                    out.append(sent)
    return out


@functools.lru_cache(maxsize=4)
def _load(files: tuple[Path, ...]) -> tuple[str, ...]:
    pool: list[str] = []
    for path in files:
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    pool.extend(split_sentences(json.loads(line).get("text") or ""))
    return tuple(pool)


def load_sentences(base: str) -> tuple[str, ...]:
    """The sentence pool of ``base`` ("shared" or a directory of JSONL files)."""
    files = tuple(f.resolve() for f in source_files(base))
    pool = _load(files)
    if len(pool) < 1000:
        raise ValueError(f"{len(pool)} usable sentences in {[str(f) for f in files]}; need 1000+")
    return pool


def run(rng: random.Random, pool: tuple[str, ...], max_chars: int) -> str:
    """A paragraph: 2-6 consecutive sentences from a random position of the pool, stopping early
    (after two) rather than grow past ``max_chars``."""
    k = rng.randint(2, 6)
    start = rng.randrange(len(pool) - k)
    sents = list(pool[start : start + 2])
    size = sum(map(len, sents))
    for sent in pool[start + 2 : start + k]:
        size += len(sent) + 1
        if size > max_chars:
            break
        sents.append(sent)
    return " ".join(sents)
