"""Token counts of documents under a Hugging Face ``tokenizers`` tokenizer (no Spark here).

A count is the length of the document's whole encoding: the tokenizer's truncation and padding
are switched off when it is loaded (``whole_document``), since a ``tokenizer.json`` saved for
training often carries a ``max_length`` that would cap every long document at it.

>>> count_tokens(tok, ["Hello world", None, ""])   # [2, None, 0] with a word-level tokenizer
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def whole_document(tokenizer: Any) -> Any:
    """``tokenizer`` with truncation and padding off, so counts are of whole documents."""
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def count_tokens(
    tokenizer: Any,
    texts: Sequence[str | None],
    *,
    add_special_tokens: bool = True,
    count_eos_token: bool = False,
) -> list[int | None]:
    """Tokens per text (None for a missing text), encoding all texts in one Rust call.

    ``add_special_tokens`` lets the tokenizer's post-processor add what it adds in training
    (e.g. a BOS token); ``count_eos_token`` adds one per document for the separator a packed
    training sequence puts between documents.
    """
    present = [t for t in texts if t is not None]
    # encode_batch_fast skips the character offsets, which a count does not need.
    encoded = iter(tokenizer.encode_batch_fast(present, add_special_tokens=add_special_tokens))
    extra = 1 if count_eos_token else 0
    return [None if t is None else len(next(encoded)) + extra for t in texts]
