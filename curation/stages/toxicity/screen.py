"""The cascade's cheap screens: which sentences the semantic backend sends to its encoder.

Embedding a sentence costs about a thousand times what matching a term list does, and nearly
all web text is not hateful, so the semantic backend (``semantic.py``) scores only the units a
screen passes; the rest score 0. Two screens, either or both (a unit passes if any does):

* ``TermScreen``: any term of the lexicon's lists, group names included (identity terms,
  slurs, hostile and violent words), matched by the lexicon's RE2 prefilter over the whole
  batch at once. Hate about a group nearly always names it or uses a slur for it; a sentence
  that does neither ("they are taking over our neighbourhoods") is what it misses.
* a fastText hate model (``curation train-toxicity`` writes one with ``fasttext_output``): a unit
  passes when its P(hate) reaches a threshold; a low threshold keeps the encoder's recall at the
  cost of more units embedded. ``curation eval-toxicity`` reports that trade-off.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from curation.text.fasttext_prep import prepare_texts
from curation.text.toxicity_lexicon import Lexicon, builtin_lexicon_path, read_terms

# What the fastText screen written by `curation train-toxicity` predicts, and its text prep
# (lower-case, accents folded: tweets, comments and web pages differ most in casing).
FT_HATE, FT_OTHER = "__label__hate", "__label__other"
FT_PREP = "ultrafineweb"
# Group names count: the screen looks for what hate is about, not only for hostile words.
SCREEN_KINDS = ("slur", "identity", "hostile", "violent")


class TermScreen:
    """Passes texts that contain any slur, group name, hostile or violent term of the lists."""

    def __init__(self, lexicon: Lexicon):
        self.lexicon = lexicon

    @classmethod
    def for_languages(cls, languages: Sequence[str]) -> TermScreen:
        terms = []
        for lang in languages:
            path = builtin_lexicon_path(lang)
            if path is not None:
                terms.extend(read_terms(path))
        return cls(Lexicon(terms, gate_kinds=SCREEN_KINDS))

    def passes(self, texts: Sequence[str | None] | pa.Array) -> np.ndarray:
        arr = texts if isinstance(texts, pa.Array) else pa.array(texts, pa.string())
        return self.lexicon.may_score(arr)


def fasttext_hate(model, texts: list[str], label: str = FT_HATE) -> np.ndarray:
    """P(``label``) of a fastText model for each text (0 where the model gives it none)."""
    out = np.zeros(len(texts))
    if not texts:
        return out
    labels, probs = model.predict(prepare_texts(texts, FT_PREP), k=-1, on_unicode_error="replace")
    for i, (labs, ps) in enumerate(zip(labels, probs, strict=True)):
        for lab, p in zip(labs, ps, strict=True):
            if lab == label:
                out[i] = min(1.0, float(p))
    return out
