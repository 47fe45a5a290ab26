"""The token-count kernel: counts are whole encodings, missing texts stay missing."""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer, models, pre_tokenizers, processors

from curation.models import load_count, load_tokenizer, local_ref
from curation.text.tokens import count_tokens

WORDS = ["the", "cat", "sat", "on", "mat"]


def word_tokenizer(words=WORDS) -> Tokenizer:
    """One token per whitespace-separated word; unknown words are [UNK], still one token."""
    vocab = {"[UNK]": 0, "[BOS]": 1, "[EOS]": 2} | {w: i + 3 for i, w in enumerate(words)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return tok


texts = st.lists(
    st.one_of(
        st.none(),
        st.text(alphabet=string.ascii_letters + " \n\t", max_size=200),
        st.lists(st.sampled_from(WORDS), max_size=50).map(" ".join),
    ),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(texts)
def test_a_word_level_count_is_the_number_of_words(batch):
    assert count_tokens(word_tokenizer(), batch) == [
        None if t is None else len(t.split()) for t in batch
    ]


@settings(max_examples=100, deadline=None)
@given(texts)
def test_special_tokens_and_eos_add_what_they_say(batch):
    tok = word_tokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[BOS] $A [EOS]", special_tokens=[("[BOS]", 1), ("[EOS]", 2)]
    )
    plain = count_tokens(tok, batch, add_special_tokens=False)
    assert plain == [None if t is None else len(t.split()) for t in batch]
    with_special = count_tokens(tok, batch)  # the tokenizers default: special tokens added
    assert with_special == [None if n is None else n + 2 for n in plain]
    with_eos = count_tokens(tok, batch, add_special_tokens=False, count_eos_token=True)
    assert with_eos == [None if n is None else n + 1 for n in plain]


def test_a_saved_max_length_or_padding_does_not_cap_counts(tmp_path):
    """A tokenizer.json saved for training may truncate at 4 and pad to 16; counts ignore both."""
    tok = word_tokenizer()
    tok.enable_truncation(max_length=4)
    tok.enable_padding(length=16, pad_id=0, pad_token="[UNK]")
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    raw = Tokenizer.from_file(str(path))
    assert len(raw.encode("the cat sat on the mat").ids) == 16  # cut to 4, then padded to 16

    ref = local_ref(str(path))
    loaded = load_tokenizer(ref)
    texts = ["the cat sat on the mat", "cat", "", " ".join(["mat"] * 40)]
    assert count_tokens(loaded, texts) == [6, 1, 0, 40]
    assert load_tokenizer(ref) is loaded and load_count(ref) == 1  # once per process
