"""Toxicity stage in real Spark: lexicon and fastText backends, policies, span removal."""

from __future__ import annotations

import random

import fasttext
import pytest
from pyspark.sql.types import StringType, StructField, StructType

from curation.errors import ConfigError
from curation.stages import STAGES_BY_KIND, build_stage
from curation.stages.rowwise import apply_row_stages
from curation.stages.toxicity.config import (
    FastTextBackendConfig,
    LexiconBackendConfig,
    ToxicityConfig,
)
from curation.stages.toxicity.stage import Toxicity

SCHEMA = StructType([StructField("id", StringType(), False), StructField("text", StringType())])
LANG_SCHEMA = StructType([*SCHEMA.fields, StructField("lang", StringType())])

NEUTRAL = "The library opens at nine. My neighbour is a Muslim doctor."
MILD = "The match ended late. He called him a faggot."  # one slur at 3: gender=3
TOXIC = "Kill all the niggers and the Jews. Muslims are vermin."  # race 3, religion 3, violence 3
MIXED = "We planted tomatoes in May. Death to all Muslims! The harvest was good."


def _run(spark, cfg: ToxicityConfig, rows, schema=SCHEMA):
    stage = Toxicity(cfg)
    stage.prepare(spark)
    df = spark.createDataFrame(rows, schema).repartition(2)
    return {r["id"]: r for r in apply_row_stages(df, [stage]).collect()}


def test_registered_under_its_kind():
    assert STAGES_BY_KIND["toxicity"] is Toxicity
    assert isinstance(build_stage(ToxicityConfig()), Toxicity)


def test_default_policy_drops_toxic_flags_mild_keeps_the_rest(spark):
    rows = [("n", NEUTRAL), ("m", MILD), ("t", TOXIC), ("null", None), ("empty", "")]
    out = _run(spark, ToxicityConfig(), rows)
    assert len(out) == len(rows)  # scoring adds columns, never drops rows

    t = out["t"]
    assert (t.tox_race, t.tox_gender, t.tox_religion, t.tox_ability, t.tox_violence) == (
        3,
        0,
        3,
        0,
        3,
    )
    assert (t.tox_sum, t.tox_class) == (9, "toxic")
    assert (t.drop_stage, t.drop_reason) == ("toxicity", "toxicity:toxic")
    assert t.tox_lex_race == 3  # the per-backend column

    m = out["m"]
    assert (m.tox_gender, m.tox_class, m.drop_reason) == (3, "mild", None)
    assert m.content_warning == "toxicity:mild (gender=3)"

    for key in ("n", "null", "empty"):
        r = out[key]
        assert (r.tox_sum, r.tox_class, r.drop_reason, r.content_warning) == (0, "none", None, None)
    assert out["null"].text is None  # bad input is carried through, scored as nothing found


def test_mild_drop_and_toxic_keep_policies(spark):
    cfg = ToxicityConfig(on_mild="drop", on_toxic="keep")
    out = _run(spark, cfg, [("m", MILD), ("t", TOXIC), ("n", NEUTRAL)])
    assert out["m"].drop_reason == "toxicity:mild"
    assert out["t"].drop_reason is None and out["t"].tox_class == "toxic"
    assert out["n"].drop_reason is None
    assert "content_warning" not in out["t"].asDict()  # no flag policy, no column


def test_remove_spans_cuts_offending_sentences_and_keeps_original_length(spark):
    cfg = ToxicityConfig(on_mild="remove_spans", on_toxic="remove_spans")
    rows = [("mixed", MIXED), ("t", TOXIC), ("n", NEUTRAL), ("null", None)]
    out = _run(spark, cfg, rows)

    mixed = out["mixed"]
    assert mixed.text == "We planted tomatoes in May. The harvest was good."
    assert mixed.tox_orig_chars == len(MIXED)
    assert mixed.tox_removed_chars == len(MIXED) - len(mixed.text)
    # Scores describe the text before removal; the document stays.
    assert (mixed.tox_religion, mixed.tox_violence, mixed.tox_class) == (3, 3, "mild")
    assert mixed.drop_reason is None

    # Every sentence offended: nothing is left, so the document goes with its class reason.
    assert out["t"].text == "" and out["t"].drop_reason == "toxicity:toxic"

    assert out["n"].text == NEUTRAL and out["n"].tox_removed_chars == 0
    assert out["n"].drop_reason is None
    assert out["null"].text is None and out["null"].drop_reason is None


def test_language_column_scores_rows_with_their_language_list(spark):
    cfg = ToxicityConfig(backends=(LexiconBackendConfig(language_column="lang"),))
    stage = Toxicity(cfg)
    assert "lang" in stage.requires()
    rows = [("en", TOXIC, "en"), ("fr", TOXIC, "fr"), ("none", TOXIC, None)]
    out = _run(spark, cfg, rows, LANG_SCHEMA)
    assert out["en"].tox_class == "toxic" and out["en"].drop_reason == "toxicity:toxic"
    for key in ("fr", "none"):  # no list for the language: not scored (null), not dropped
        assert out[key].tox_class is None and out[key].tox_race is None
        assert out[key].drop_reason is None


def test_user_term_list_from_config_is_read_on_the_driver(spark, tmp_path):
    extra = tmp_path / "my_terms.tsv"
    extra.write_text("# site-specific slur\nzorblat(s)\trace\t3\tslur\n", encoding="utf-8")
    cfg = ToxicityConfig(backends=(LexiconBackendConfig(extra_lists={"en": (str(extra),)}),))
    out = _run(spark, cfg, [("z", "Those zorblats again."), ("n", NEUTRAL)])
    assert out["z"].tox_race == 3 and out["z"].content_warning == "toxicity:mild (race=3)"
    assert out["n"].tox_class == "none"


def test_term_list_errors_at_prepare_name_the_file_and_fix(spark, tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("zorblat\trace\tthree\tslur\n", encoding="utf-8")
    cfg = ToxicityConfig(backends=(LexiconBackendConfig(extra_lists={"en": (str(bad),)}),))
    with pytest.raises(ConfigError, match=r"bad.tsv:1: weight 'three' is not an integer"):
        Toxicity(cfg).prepare(spark)
    missing = ToxicityConfig(
        backends=(LexiconBackendConfig(extra_lists={"en": (str(tmp_path / "nope.tsv"),)}),)
    )
    with pytest.raises(ConfigError, match="extra_lists.en: cannot read"):
        Toxicity(missing).prepare(spark)


# --- fastText backend ------------------------------------------------------------------------

HATE_WORDS = [
    "vermin",
    "exterminate",
    "subhuman",
    "filth",
    "invaders",
    "purge",
    "disgusting",
    "parasites",
]
OK_WORDS = ["garden", "recipe", "football", "museum", "library", "concert", "weather", "holiday"]
SHARED = ["the", "and", "people", "they", "are", "we", "all", "of"]


@pytest.fixture(scope="module")
def ft_model(tmp_path_factory):
    """A tiny real fastText model: __label__hate vs __label__ok, trained on generated lines."""
    rng = random.Random(11)
    root = tmp_path_factory.mktemp("tox_ft")
    train = root / "train.txt"
    with open(train, "w", encoding="utf-8") as fh:
        for _ in range(200):
            for label, words in (("hate", HATE_WORDS), ("ok", OK_WORDS)):
                tokens = rng.choices(words, k=5) + rng.choices(SHARED, k=4)
                fh.write(f"__label__{label} " + " ".join(tokens) + "\n")
    # wordNgrams=2: with unigrams only, this perfectly separable toy set hits fastText's
    # "Encountered NaN" (seen here for several seeds).
    model = fasttext.train_supervised(
        str(train), epoch=10, lr=0.1, wordNgrams=2, dim=16, thread=1, seed=1, verbose=0
    )
    path = root / "tox.bin"
    model.save_model(str(path))
    return str(path)


def test_fasttext_backend_in_spark_matches_direct_predict(spark, ft_model):
    ft = FastTextBackendConfig(
        model_path=ft_model,
        labels={"__label__hate": "tox_ft_hate"},
        dimensions={"__label__hate": ("race", "violence")},
    )
    cfg = ToxicityConfig(backends=(LexiconBackendConfig(), ft), on_mild="keep", on_toxic="drop")
    hateful = "vermin filth parasites exterminate subhuman"
    benign = "garden recipe museum concert weather"
    rows = [("h", hateful), ("b", benign), ("t", TOXIC), ("null", None)]
    out = _run(spark, cfg, rows)

    model = fasttext.load_model(ft_model)
    for key, text in (("h", hateful), ("b", benign)):
        labels, probs = model.predict(text, k=-1)
        expected = dict(zip(labels, probs, strict=True))["__label__hate"]
        assert out[key].tox_ft_hate == pytest.approx(min(1.0, expected), abs=1e-5)
    assert out["h"].tox_ft_hate > 0.9 > 0.1 > out["b"].tox_ft_hate
    # p > 0.9 -> score 3 on the mapped dimensions; the combined column is the max over backends.
    assert (out["h"].tox_ft_race, out["h"].tox_ft_violence, out["h"].tox_ft_gender) == (3, 3, 0)
    assert (out["h"].tox_race, out["h"].tox_lex_race) == (3, 0)
    assert out["b"].tox_ft_race == 0 and out["b"].tox_class == "none"
    assert out["h"].tox_class == "mild" and out["h"].drop_reason is None  # mild: keep
    assert out["t"].drop_reason == "toxicity:toxic"
    assert out["null"].tox_ft_hate is None and out["null"].tox_ft_race == 0


def test_fasttext_sentence_unit_drives_span_removal(spark, ft_model):
    ft = FastTextBackendConfig(
        model_path=ft_model,
        labels={"__label__hate": "tox_ft_hate"},
        dimensions={"__label__hate": ("race", "religion", "violence")},
        unit="sentence",
    )
    cfg = ToxicityConfig(backends=(ft,), on_mild="remove_spans", on_toxic="remove_spans")
    text = "We visited the museum and the library.\nVermin filth parasites, exterminate the subhuman invaders.\nThe concert was lovely."
    out = _run(spark, cfg, [("d", text)])
    d = out["d"]
    assert d.tox_class == "toxic" and d.drop_reason is None
    assert d.text == "We visited the museum and the library.\nThe concert was lovely."
    assert d.tox_orig_chars == len(text)


def test_fasttext_label_missing_from_model_is_a_config_error(spark, ft_model):
    ft = FastTextBackendConfig(
        model_path=ft_model,
        labels={"__label__toxic": "tox_ft_toxic"},
        dimensions={"__label__toxic": ("race",)},
    )
    stage = Toxicity(ToxicityConfig(backends=(ft,)))
    stage.prepare(spark)
    import pyarrow as pa

    with pytest.raises(ConfigError, match=r"labels \['__label__toxic'\] are not in the model"):
        stage.scorer()(pa.RecordBatch.from_pydict({"id": ["a"], "text": ["hello"]}))
