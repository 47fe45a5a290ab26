"""Word tokenizer: one regex pass, no model, no download.

datatrove tokenizes English with spaCy's rule-based tokenizer (``spacy.blank("en")``): punctuation
becomes tokens of its own and counts in the denominators of several Gopher and FineWeb ratios,
and in the n-grams of the repetition rules. We approximate spaCy with one compiled regex
(~140-250 us per 3.3 KB document here; all signals of a document together run ~70x faster than
datatrove's four filters, benchmarks/bench_quality.py):

* a *URL* (``http://``, ``https://``, ``ftp://``) is one token, without trailing punctuation;
* a *word* is a run of word characters (see ``charclasses``; not starting with ``_``), which may
  continue across single joiners: ``. , / @ _`` always (``3.5``, ``1,000``, ``www.example.org``,
  ``snake_case``, ``me@example.org``), an apostrophe unless a clitic follows (``don't``,
  ``O'Brien``), ``- – :`` before a digit (``UTF-8``, ``10:30``; but ``e-mail`` is three tokens);
  a final period stays on a single capital and on common abbreviations (``U.S.A.``, ``J.``,
  ``Mrs.``, ``e.g.``), as spaCy's suffix rules and exceptions do;
* a *clitic* (``'s 're 've 'll 'd 'm``) is a token of its own: ``it's`` is ``it`` + ``'s``;
* a *punctuation token* is a run of periods (``...``), a run of hyphens (``-----``), a run of
  ``~ | ^ \\``, an ``@mention``, or any other single punctuation character: ``,"`` is two tokens
  and ``=====`` five, as for spaCy, so separator lines repeat in n-grams as they do for datatrove.

>>> tokenize("It's 3.5% off, e-mail Mrs. Doe!")
['It', "'s", '3.5', '%', 'off', ',', 'e', '-', 'mail', 'Mrs.', 'Doe', '!']

Where spaCy still differs (measured in benchmarks/conformance_datatrove.py):

* ``don't`` is one token (spaCy: ``do`` + ``n't``), ``cannot`` too (spaCy: ``can`` + ``not``);
* abbreviations outside our short list (``Gov.`` is in it, ``Ala.`` is not) lose their period;
* spaCy leaves ``- / @ \\ ^ | ~ •`` and arrows glued to the words around them (``a|b``,
  ``-word-``); we split them off (except the joiners above);
* datatrove counts a token of bullets, ``©`` or emoji as a word; for us any Unicode punctuation
  or symbol character is punctuation;
* scripts without spaces: spaCy's English rules keep a whole Chinese paragraph, inner ``，`` and
  ``。`` included, as one token; we split at every punctuation mark. Neither is word
  segmentation (datatrove's Chinese pipeline uses jieba, which we do not ship).
"""

from __future__ import annotations

import re

from curation.text.charclasses import PUNCT_CHARS, WORD_CLASS

_W = f"[{WORD_CLASS}]"
_P = rf"[^\s{WORD_CLASS}]"
# A URL continues the word "http", "https" or "ftp" (so no extra alternative is tried at every
# token start); its last character is not sentence punctuation.
_URL_TAIL = (
    r"://(?:(?<=\bhttp://)|(?<=\bhttps://)|(?<=\bftp://))"
    r"""[^\s<>"'(){}\[\]]*[^\s<>"'(){}\[\].,;:!?]"""
)
_CLITIC = r"['’](?i:s|re|ve|ll|d|m)(?!\w)"  # it's -> it 's, we've -> we 've (as spaCy)
# Joiners between word-character runs: . , / @ _ always; an apostrophe unless a clitic
# follows; - – : only before a digit (UTF-8, 10:30; but e-mail splits, as for spaCy).
# One character class first, so the common case (a space after the word) fails in one test.
_JOIN = r"[.,/@_'’:\-–](?:(?<=[.,/@_])|(?<=['’])(?!(?i:s|re|ve|ll|d|m)(?!\w))|(?=\d))"
# Words whose final period is part of the word (spaCy's suffix rule keeps it after a single
# capital; its exceptions list common abbreviations), grouped by length because a lookbehind must
# have a fixed width. Each entry is a lookbehind body ending in "\.".
ABBREVIATION_ENDINGS = (
    r"(?<!\w)[A-Z]\.",
    r"\b(?:Mr|Ms|Dr|St|Jr|Sr|Mt|Ft|Co|Lt|vs)\.",
    r"\b(?:Mrs|Gen|Gov|Sen|Rep|Rev|Col|Sgt|Inc|Ltd|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
    r"|e\.g|i\.e|a\.m|p\.m)\.",
    r"\b(?:Prof|Capt|Corp|Bros|Sept)\.",
)
_ABBREV = "|".join(f"(?<={body})" for body in ABBREVIATION_ENDINGS)
_WORD = rf"{_W}++(?:{_JOIN}{_W}++)*+(?:{_URL_TAIL}|\.(?:{_ABBREV}))?+"
# Alternatives, in this order: "_" (no word starts with it; \w includes it); word or URL;
# clitic; @mention; period run; hyphen run; run of ~ | ^ \ (spaCy never splits those); any
# other single punctuation character. Possessive quantifiers skip backtracking bookkeeping.
TOKEN_RE = re.compile(rf"_|{_WORD}|{_CLITIC}|@{_W}++|\.++|-++|[~|^\\]++|{_P}")
"""A URL, a word (possibly joined by ``.,'’/@_``), a clitic or a punctuation token."""


def tokenize(text: str) -> list[str]:
    """Words and punctuation runs of ``text``, in order; whitespace separates and is dropped."""
    return TOKEN_RE.findall(text)


def word_tokens(tokens: list[str]) -> list[str]:
    """The tokens that are words (not punctuation): Gopher's "non-symbol words"."""
    return [t for t in tokens if is_word(t)]


def is_word(token: str) -> bool:
    """Whether a token from ``tokenize`` is a word rather than punctuation.

    Punctuation tokens start and end with punctuation; words may have it on one side only
    (``'s``, ``Mrs.``, ``@user``).
    """
    return bool(token) and (token[0] not in PUNCT_CHARS or token[-1] not in PUNCT_CHARS)
