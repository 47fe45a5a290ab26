"""The lexicon kernel and the sentence splitter (pure Python, no Spark)."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from curation.text.sentences import sentence_spans, sentence_spans_batch, split_sentences
from curation.text.toxicity_lexicon import (
    DIMENSIONS,
    Lexicon,
    Term,
    read_terms,
    remove_spans,
    toxicity_class,
)

RACE, GENDER, RELIGION, ABILITY, VIOLENCE = range(5)


@pytest.fixture(scope="module")
def lex() -> Lexicon:
    return Lexicon.for_languages(["en"])


# Neutral sentences that name religions, ethnicities, origins, genders, sexualities and
# disabilities, several next to words the lexicon watches (killed, attack, hate crime, black).
NEUTRAL_IDENTITY_SENTENCES = [
    "My neighbour is a Muslim doctor.",
    "She uses a wheelchair and works as an engineer.",
    "The synagogue on Main Street hosts a Jewish film festival every spring.",
    "Hindu families celebrate Diwali with lights and sweets.",
    "He is a gay man who coaches the local football team.",
    "Our new manager is a transgender woman with twenty years of experience.",
    "Black and white photographs of the 1963 march hang in the museum.",
    "Many Mexican immigrants settled in Chicago in the 1920s.",
    "The deaf students performed the play in sign language.",
    "Autistic adults are often underemployed despite strong skills.",
    "The Sikh community opened a free kitchen for anyone who is hungry.",
    "Asian Americans reported a rise in hate crimes in 2021.",
    "The report documents hate speech against refugees on social media.",
    "Three people were killed in an attack on a mosque in 2019.",
    "Historians estimate that millions of Jews were murdered in the Holocaust.",
    "Christians were killed during the persecution under Diocletian.",
    "The blind pianist won the competition.",
    "Women won the right to vote in 1920 in the United States.",
    "She is a lesbian author whose novels have been widely translated.",
    "The Catholic church on the hill was built in 1850.",
    "Arab scholars preserved and extended Greek mathematics.",
    "Indigenous languages are taught at the community school.",
    "The disabled veterans association meets on Tuesdays.",
    "He was diagnosed with dyslexia at the age of seven.",
    "Refugees from Syria found work in the local bakery.",
    "The atheist and the Buddhist monk debated the meaning of happiness.",
    "Latino voters turned out in record numbers.",
    "The Mormon pioneers reached the Salt Lake valley in 1847.",
    "A Pakistani cricket player scored a century yesterday.",
    "The bill protects workers with disabilities from discrimination.",
    "Girls outperformed boys in the reading assessment.",
    "The imam and the rabbi held a joint prayer for peace.",
    "Evangelical groups ran the food bank during the storm.",
    "People with Down syndrome took part in the art exhibition.",
    "The black hole at the centre of the galaxy was imaged in 2019.",
    "Nonbinary athletes will compete in a separate category.",
    "The Korean restaurant downstairs serves excellent noodles.",
    "Muslim and Christian neighbours rebuilt the school together.",
    "The study compared mental illness rates among migrants and natives.",
    "Nigerian writers dominated the literary prize shortlist.",
    "Feminist historians revisited the archives of the suffrage movement.",
    "Her mother, a deaf Jewish immigrant, ran a bakery in Brooklyn.",
    "The documentary covers the massacre of Armenians in 1915.",
    "A bisexual politician was elected mayor of the city.",
]


def test_bias_guard_neutral_identity_sentences_score_at_most_one(lex):
    assert len(NEUTRAL_IDENTITY_SENTENCES) >= 40
    over = {
        s: lex.score_sentence(s)
        for s in NEUTRAL_IDENTITY_SENTENCES
        if max(lex.score_sentence(s)) > 1
    }
    assert over == {}
    for s in NEUTRAL_IDENTITY_SENTENCES:
        dims, _ = lex.score_document(s)
        assert toxicity_class(dims) == "none", s


def test_identity_term_alone_is_zero_and_with_hostility_raises_that_dimension(lex):
    assert lex.score_sentence("Muslims live in this town.") == (0, 0, 0, 0, 0)
    hostile = lex.score_sentence("Muslims are vermin.")
    assert hostile[RELIGION] == 3 and hostile[RACE] == 0
    contempt = lex.score_sentence("Those filthy immigrants should be deported.")
    assert contempt[RACE] == 2
    # Hostile words with no group named are not one of the five dimensions.
    assert lex.score_sentence("This weather is disgusting and I hate it.") == (0, 0, 0, 0, 0)


def test_slur_is_severe_and_overt_with_hostile_or_violent_language(lex):
    assert lex.score_sentence("He called him a faggot.")[GENDER] == 3
    assert lex.score_sentence("You are a bitch")[GENDER] == 2
    assert lex.score_sentence("You are a filthy bitch")[GENDER] == 3
    assert lex.score_sentence("Those retards should be shot.") == (0, 0, 0, 3, 3)


def test_violence_scale_and_incitement_needs_a_target(lex):
    assert lex.score_sentence("The man was killed in a car accident.")[VIOLENCE] == 1
    assert lex.score_sentence("They tortured the prisoners.")[VIOLENCE] == 2
    assert lex.score_sentence("Death to the traitors!")[VIOLENCE] == 3
    # "kill all" aimed at a group is incitement; aimed at processes it is not.
    assert lex.score_sentence("We should kill all the immigrants.") == (3, 0, 0, 0, 3)
    assert lex.score_sentence("Kill all running processes before the upgrade.")[VIOLENCE] == 2
    # A plain mention of violence against a group is not a score on the group's dimension.
    assert lex.score_sentence("Christians were killed in the riot.")[RELIGION] == 0


def test_matching_is_nfkc_casefolded_word_bounded_and_phrase_aware(lex):
    full_width = "ＤＥＡＴＨ ＴＯ ＡＬＬ ＭＵＳＬＩＭＳ"
    assert lex.score_sentence(full_width) == (0, 0, 3, 0, 3)
    assert lex.score_document(full_width)[0] == (0, 0, 3, 0, 3)
    # Word boundaries: "skilled" contains "kill", "Scunthorpe" contains a slur.
    assert lex.score_sentence("A skilled worker from Scunthorpe.") == (0, 0, 0, 0, 0)
    # Phrases match across punctuation and whitespace between their words.
    assert lex.score_sentence("Death,\n to   the Jews")[RELIGION] == 3
    # A neutral phrase hides its words: "hate crime" is not hate.
    assert lex.score_sentence("Hate crimes against Muslims rose.") == (0, 0, 0, 0, 0)
    assert lex.score_sentence("I hate Muslims.")[RELIGION] == 2


def test_document_score_is_max_over_sentences_and_lists_spans(lex):
    text = "The weather was fine. Death to all Muslims! The tortured prisoners were freed."
    dims, hits = lex.score_document(text)
    assert dims == (0, 0, 3, 0, 3)
    assert [text[s:e].strip() for s, e, _ in hits] == [
        "Death to all Muslims!",
        "The tortured prisoners were freed.",
    ]
    assert hits[0][2] == (0, 0, 3, 0, 3)
    assert hits[1][2] == (0, 0, 0, 0, 2)


def test_batch_equals_single_documents_and_handles_null_and_empty(lex):
    texts = [
        None,
        "",
        "Nothing to see here.",
        "Kill all the immigrants. The retards are filth.",
        "ＤＥＡＴＨ ＴＯ ＡＬＬ ＭＵＳＬＩＭＳ",
        "café owners hate Jews",
    ]
    for vectorised in (True, False):
        batch = lex.score_batch(texts, vectorised=vectorised)
        assert batch[0] == ((0, 0, 0, 0, 0), []) and batch[1] == ((0, 0, 0, 0, 0), [])
        for text, got in zip(texts[2:], batch[2:], strict=True):
            assert got == lex.score_document(text)
        assert batch[3][0] == (3, 0, 0, 3, 3)


@pytest.mark.parametrize(
    ("dims", "cls"),
    [
        ((0, 0, 0, 0, 0), "none"),
        ((1, 1, 1, 0, 0), "none"),
        ((2, 1, 0, 0, 0), "none"),
        ((3, 0, 0, 0, 0), "mild"),  # a single dimension at 3
        ((2, 2, 0, 0, 0), "mild"),  # sum 4
        ((2, 2, 2, 0, 0), "mild"),  # sum 6
        ((3, 2, 0, 0, 2), "toxic"),  # sum 7
        ((3, 3, 3, 3, 3), "toxic"),
    ],
)
def test_celadon_class_thresholds(dims, cls):
    assert toxicity_class(dims) == cls


@given(st.lists(st.integers(0, 3), min_size=5, max_size=5))
def test_class_rules_hold_for_every_score_vector(dims):
    cls, total = toxicity_class(dims), sum(dims)
    if cls == "none":
        assert total <= 3 and max(dims) <= 2
    elif cls == "mild":
        assert 4 <= total <= 6 or (max(dims) == 3 and total < 7)
    else:
        assert total >= 7


_WORDS = st.sampled_from(
    [
        "Muslims",
        "kill",
        "all",
        "the",
        "vermin",
        "bitch",
        "death",
        "to",
        "women",
        "are",
        "nice",
        "Dr.",
        "J.",
        "ＫＩＬＬ",
        "hate",
        "crime",
        "!",
        ".",
        "?",
        "\n",
        " ",
        "  ",
        "。",
        "é",
        "\x00",
    ]
)


_TEXTS = st.lists(_WORDS, max_size=40).map(
    lambda ws: "".join(w + " " * (i % 2) for i, w in enumerate(ws))
)


@settings(max_examples=40, deadline=None)
@given(st.lists(_TEXTS, min_size=1, max_size=30))
# Found by this test: an abbreviation's period followed by spaces and a line break.
@example(["Dr.  \nkill "])
@example(["Dr.  \nMuslims "])
def test_scores_are_bounded_spans_tile_and_vectorised_path_agrees(texts):
    lex = _shared_lexicon()
    singles = [lex.score_document(t) for t in texts]
    for text, (dims, hits) in zip(texts, singles, strict=True):
        assert len(dims) == 5 and all(0 <= d <= 3 for d in dims)
        for s, e, scores in hits:
            assert 0 <= s < e <= len(text)
            assert all(sc <= d for sc, d in zip(scores, dims, strict=True))
        assert "".join(text[s:e] for s, e in sentence_spans(text)) == text
    # The Arrow/RE2 path (prefilter, batch splitter) gives exactly the plain Python result.
    assert lex.score_batch([*texts, None], vectorised=True) == [*singles, ((0, 0, 0, 0, 0), [])]
    assert sentence_spans_batch(texts) == [sentence_spans(t) for t in texts]


_LEX: list[Lexicon] = []


def _shared_lexicon() -> Lexicon:
    if not _LEX:
        _LEX.append(Lexicon.for_languages(["en"]))
    return _LEX[0]


def test_sentence_splitter_boundaries():
    assert split_sentences("Hi there. How are you?\nFine") == [
        "Hi there. ",
        "How are you?\n",
        "Fine",
    ]
    assert split_sentences("Dr. Smith met J. Doe. He left!  Done.") == [
        "Dr. Smith met J. Doe. ",
        "He left!  ",
        "Done.",
    ]
    assert split_sentences("这是第一句。这是第二句！好") == ["这是第一句。", "这是第二句！", "好"]
    assert split_sentences('"Stop." She said.') == ['"Stop." ', "She said."]
    assert split_sentences("") == [] and split_sentences(None) == []
    assert sentence_spans_batch(["a. b", None, ""]) == [[(0, 3), (3, 4)], [], []]


def test_remove_spans_joins_the_rest():
    text = "Keep this. Drop this. Keep too."
    assert remove_spans(text, [(11, 22)]) == "Keep this. Keep too."
    assert remove_spans(text, [(0, len(text))]) == ""


def test_term_list_errors_name_file_line_and_fix(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("# comment\nzorblat\trace\t3\tslur\nfoo\trace\t9\tslur\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.tsv:3: term 'foo': weight 9 must be in 1..3"):
        read_terms(bad)
    bad.write_text("foo\tcolour\t2\tslur\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.tsv:1: .*dimension 'colour' is not valid"):
        read_terms(bad)
    bad.write_text("foo\trace\t2\n", encoding="utf-8")
    with pytest.raises(ValueError, match="expected 4 tab-separated fields"):
        read_terms(bad)
    with pytest.raises(ValueError, match="kind 'insult' is not one of"):
        Term("x", "race", 1, "insult")


def test_user_list_adds_terms_and_optional_suffix(tmp_path):
    extra = tmp_path / "extra.tsv"
    extra.write_text("zorblat(s)\trace\t3\tslur\n", encoding="utf-8")
    lex = Lexicon.from_files([extra])
    assert lex.size == 2
    assert lex.score_sentence("Zorblats everywhere")[RACE] == 3
    assert lex.score_sentence("zorblat")[RACE] == 3


def test_builtin_list_is_valid_and_covers_every_dimension():
    from curation.text.toxicity_lexicon import builtin_lexicon_path

    terms = read_terms(builtin_lexicon_path("en"))
    for dim in DIMENSIONS:
        assert any(t.dimension == dim and t.weight > 0 for t in terms), dim
    for dim in DIMENSIONS[:4]:
        assert any(t.dimension == dim and t.kind == "identity" for t in terms), dim
