"""Transformers backend: tiny randomly initialised DeBERTa-v2 models built and saved here.

Skipped when torch/transformers (the ``transformers`` extra) are not installed.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from pyspark.sql.types import StringType, StructField, StructType  # noqa: E402

from curation.errors import ConfigError  # noqa: E402
from curation.stages.rowwise import apply_row_stages  # noqa: E402
from curation.stages.toxicity.config import (  # noqa: E402
    LexiconBackendConfig,
    ToxicityConfig,
    TransformersBackendConfig,
)
from curation.stages.toxicity.stage import Toxicity  # noqa: E402
from curation.stages.toxicity.transformers import load_model, transformers_predictor  # noqa: E402

WORDS = [
    "the",
    "a",
    "and",
    "of",
    "to",
    "is",
    "are",
    "was",
    "were",
    "they",
    "we",
    "you",
    "he",
    "she",
    "it",
    "people",
    "all",
    "kill",
    "death",
    "vermin",
    "muslims",
    "jews",
    "women",
    "immigrants",
    "garden",
    "library",
    "museum",
    "concert",
    "weather",
    "nice",
    "good",
    "bad",
    "day",
]
TEXTS = [
    "the garden is nice",
    "death to all vermin",
    "they are people and we are people",
    "kill all the immigrants",
    "a good day at the museum",
    "women and jews and muslims",
    "bad weather",
]


def _tiny_config(**kw):
    return transformers.DebertaV2Config(
        vocab_size=len(WORDS) + 5,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        # Large random weights so that outputs differ from text to text.
        initializer_range=1.0,
        **kw,
    )


def _tokenizer(root):
    vocab = root / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    return transformers.BertTokenizerFast(vocab_file=str(vocab), do_lower_case=True)


class CeladonLike(transformers.DebertaV2PreTrainedModel):
    """The Celadon layout: DeBERTa encoder, dropout, five linear heads of four classes on [CLS]."""

    def __init__(self, config):
        super().__init__(config)
        self.deberta = transformers.DebertaV2Model(config)
        self.heads = torch.nn.ModuleList(torch.nn.Linear(config.hidden_size, 4) for _ in range(5))
        self.dropout = torch.nn.Dropout(config.hidden_dropout_prob)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None):
        first = self.deberta(input_ids=input_ids, attention_mask=attention_mask)[0][:, 0, :]
        return torch.stack([h(self.dropout(first)) for h in self.heads], dim=1)


def _reference(model, tokenizer, texts):
    enc = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        return model.eval()(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])


@pytest.fixture(scope="module")
def celadon_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("celadon")
    torch.manual_seed(0)
    model = CeladonLike(_tiny_config())
    with torch.no_grad():  # spread the head outputs so argmax varies between texts and heads
        for head in model.heads:
            head.weight.normal_(0.0, 3.0)
    model.save_pretrained(root)
    _tokenizer(root).save_pretrained(root)
    expected = _reference(model, _tokenizer(root), TEXTS).argmax(dim=-1).numpy()
    return root, expected


@pytest.fixture(scope="module")
def seqcls_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("seqcls")
    torch.manual_seed(1)
    labels = {0: "neither", 1: "offensive", 2: "hate"}
    cfg = _tiny_config(num_labels=3, id2label=labels, label2id={v: k for k, v in labels.items()})
    model = transformers.DebertaV2ForSequenceClassification(cfg)
    model.save_pretrained(root)
    _tokenizer(root).save_pretrained(root)
    logits = _reference(model, _tokenizer(root), TEXTS).logits
    return root, torch.softmax(logits, dim=-1).numpy()


def test_celadon_layout_loads_weights_and_scores_each_head(celadon_dir):
    root, expected = celadon_dir
    cfg = TransformersBackendConfig(model_dir=str(root), batch_size=3)
    out = transformers_predictor(cfg)(TEXTS)
    assert out.dims.shape == (len(TEXTS), 5)
    # Same argmax as the model that wrote the checkpoint: weights were loaded, not re-initialised.
    assert out.dims.tolist() == expected.tolist()
    assert len({tuple(r) for r in expected.tolist()}) > 1  # the check can fail
    assert load_model(cfg).layout == "celadon"
    assert load_model(cfg) is load_model(cfg)  # loaded once per process


def test_head_dimensions_reorder_the_heads(celadon_dir):
    root, expected = celadon_dir
    order = ("violence", "ability", "religion", "gender", "race")
    cfg = TransformersBackendConfig(model_dir=str(root), head_dimensions=order)
    out = transformers_predictor(cfg)(TEXTS)
    assert out.dims.tolist() == expected[:, ::-1].tolist()


def test_sequence_classification_probabilities_and_dimensions(seqcls_dir):
    root, probs = seqcls_dir
    cfg = TransformersBackendConfig(
        model_dir=str(root),
        labels={"hate": "tox_tf_hate", "offensive": "tox_tf_offensive"},
        dimensions={"hate": ("race",)},
        thresholds=(0.3, 0.34, 0.4),
        batch_size=2,
    )
    out = transformers_predictor(cfg)(TEXTS)
    assert out.probs["tox_tf_hate"] == pytest.approx(probs[:, 2], abs=1e-5)
    assert out.probs["tox_tf_offensive"] == pytest.approx(probs[:, 1], abs=1e-5)
    expected_race = [sum(p >= t for t in (0.3, 0.34, 0.4)) for p in probs[:, 2]]
    assert out.dims[:, 0].tolist() == expected_race
    assert load_model(cfg).layout == "sequence_classification"


def test_layout_and_label_errors(celadon_dir, seqcls_dir):
    with pytest.raises(ConfigError, match="has no heads"):
        load_model(TransformersBackendConfig(model_dir=str(seqcls_dir[0]), layout="celadon"))
    with pytest.raises(ConfigError, match="5 heads but head_dimensions names 2"):
        load_model(
            TransformersBackendConfig(
                model_dir=str(celadon_dir[0]), head_dimensions=("race", "gender"), device="cpu"
            )
        )
    with pytest.raises(ConfigError, match=r"labels \['toxic'\] are not in the model"):
        load_model(
            TransformersBackendConfig(
                model_dir=str(seqcls_dir[0]), labels={"toxic": "tox_tf_toxic"}, device="cpu"
            )
        )


def test_transformers_backend_in_spark_with_lexicon(spark, celadon_dir):
    root, expected = celadon_dir
    cfg = ToxicityConfig(
        backends=(LexiconBackendConfig(), TransformersBackendConfig(model_dir=str(root))),
        on_mild="keep",
        on_toxic="keep",
    )
    stage = Toxicity(cfg)
    stage.prepare(spark)
    schema = StructType([StructField("id", StringType(), False), StructField("text", StringType())])
    rows = [(f"d{i}", t) for i, t in enumerate(TEXTS)] + [("null", None)]
    # One partition: one Python worker imports torch (several seconds), not two.
    df = spark.createDataFrame(rows, schema).coalesce(1)
    out = {r["id"]: r for r in apply_row_stages(df, [stage]).collect()}
    dims = ("race", "gender", "religion", "ability", "violence")
    for i in range(len(TEXTS)):
        r = out[f"d{i}"]
        assert [r[f"tox_tf_{d}"] for d in dims] == expected[i].tolist()
        assert [r[f"tox_{d}"] for d in dims] == [
            max(r[f"tox_tf_{d}"], r[f"tox_lex_{d}"]) for d in dims
        ]
    assert [out["null"][f"tox_tf_{d}"] for d in dims] == [0] * 5
