"""Classifier training: real Spark reading real files, real fastText, sidecar and rounds."""

from __future__ import annotations

import json
import random
from pathlib import Path

import fasttext
import pytest
from train_tables import TOPIC, line, train_config, write_jsonl

from curation.errors import ConfigError, TrainingError
from curation.readers import InputConfig
from curation.stages.classifier import sidecar_path
from curation.text.fasttext_prep import prepare_text
from curation.train.config import ClassSource
from curation.train.trainer import (
    chunk_text,
    class_frame,
    register_tables,
    seeded_sample,
    train_classifier,
)


def test_trains_separable_classes_and_writes_sidecar(spark, tables, tmp_path):
    out = tmp_path / "models" / "q.bin"
    result = train_classifier(spark, train_config(tables, out))
    # Pools: 200 positives, 240 spam rows; balanced to 200 each, 40 of each held out.
    assert result.sizes["pool"] == {"positive": 200, "negative": 240}
    assert result.sizes["validation"] == {"positive": 40, "negative": 40}
    assert result.sizes["train"] == {"positive": 160, "negative": 160}
    m = result.metrics
    assert m["n_positive"] == 40 and m["n_negative"] == 40
    assert m["precision"] > 0.9 and m["recall"] > 0.9 and m["f1"] > 0.9
    assert m["roc_auc"] > 0.95
    assert out.is_file() and result.model_path == str(out)

    side = json.loads(Path(sidecar_path(str(out))).read_text())
    assert side["positive_label"] == "__label__hq" and side["negative_label"] == "__label__cc"
    assert side["prep"] == "dclm" and side["seed"] == 5
    assert side["hyperparameters"]["dim"] == 64 and side["hyperparameters"]["wordNgrams"] == 2
    assert side["sizes"] == result.sizes
    assert side["metrics"]["f1"] == pytest.approx(m["f1"])
    assert side["inputs"]["good"] == {"path": tables["good"], "format": "jsonl"}
    assert side["negatives"]["query"].startswith("SELECT text FROM mail")
    assert len(side["rounds"]) == 1 and side["rounds"][0]["negatives"] == "random"
    assert "created_at" in side

    # The saved model gives the stated scores: recompute a prediction on a fresh positive.
    model = fasttext.load_model(str(out))
    text = prepare_text(line(random.Random(99), TOPIC), "dclm")
    labels, probs = model.predict(text, k=-1)
    assert dict(zip(labels, probs, strict=True))["__label__hq"] > 0.5
    assert "precision" in result.summary()


def test_seeded_sample_ignores_partitioning_and_follows_the_seed(spark, tables):
    register_tables(spark, {"good": InputConfig(path=tables["good"])})
    source = ClassSource(tables=("good",))

    def sample(seed, partitions):
        df = class_frame(spark, source, min_chars=20, seed=seed).repartition(partitions)
        return [row["text"] for row in seeded_sample(df, 30)]

    first = sample(5, 1)
    assert len(first) == 30 and len(set(first)) == 30
    assert sample(5, 7) == first
    other = sample(6, 3)
    assert other != first and len(set(other) - set(first)) > 10


def test_max_per_class_and_ultrafineweb_prep(spark, tables, tmp_path):
    cfg = train_config(tables, tmp_path / "u.bin", max_per_class=50, prep="ultrafineweb")
    result = train_classifier(spark, cfg)
    assert result.sizes["per_class"] == 50
    assert result.sizes["validation"] == {"positive": 10, "negative": 10}
    assert result.sizes["train"] == {"positive": 40, "negative": 40}
    side = json.loads(Path(result.sidecar_path).read_text())
    assert side["prep"] == "ultrafineweb"


def test_hard_negative_rounds_are_recorded(spark, tables, tmp_path):
    cfg = train_config(tables, tmp_path / "h.bin", max_per_class=100, hard_negative_rounds=2)
    result = train_classifier(spark, cfg)
    rounds = result.rounds
    assert [r["round"] for r in rounds] == [0, 1, 2]
    assert [r["negatives"] for r in rounds] == ["random", "hard", "hard"]
    for r in rounds:
        assert r["metrics"]["n_positive"] == 20 and r["metrics"]["n_negative"] == 20
        assert 0.0 <= r["metrics"]["roc_auc"] <= 1.0
    # Hard negatives are the pool rows the previous model scored highest: their mean score is
    # above the pool's overall share of positives-looking text, and within [0, 1].
    assert all(0.0 <= r["selected_negative_mean_score"] <= 1.0 for r in rounds[1:])
    assert rounds[1]["train"]["negative"] == 80
    side = json.loads(Path(result.sidecar_path).read_text())
    assert [r["round"] for r in side["rounds"]] == [0, 1, 2]
    assert side["metrics"] == side["rounds"][-1]["metrics"]


def test_chunked_sources(spark, tables, tmp_path):
    # Long positives: 40 docs of 10 paragraphs each, chunked to ~300 chars.
    rng = random.Random(3)
    long_docs = ["\n\n".join(line(rng, TOPIC, 30) for _ in range(10)) for _ in range(40)]
    path = write_jsonl(tmp_path / "long.jsonl", long_docs)
    cfg = train_config(
        tables,
        tmp_path / "c.bin",
        tables={"long": InputConfig(path=path), "mail": InputConfig(path=tables["mail"])},
        positives=ClassSource(tables=("long",), chunk_chars=300),
    )
    result = train_classifier(spark, cfg)
    assert result.sizes["pool"]["positive"] > 40 * 3  # each doc gave several chunks
    assert result.metrics["roc_auc"] > 0.9


def test_delta_input_version_is_pinned_and_recorded(spark, tables, tmp_path):
    from pyspark.sql import functions as F

    from curation.delta import open_store

    store = open_store(spark)
    table = str(tmp_path / "good_delta")
    good = spark.read.json(tables["good"]).select("id", "text")
    early = F.expr("cast(substring_index(id, '-', -1) as int) < 100")
    store.write(good.filter(early), table, mode="append")
    version = store.write(good.filter(~early), table, mode="append")
    cfg = train_config(
        tables,
        tmp_path / "d.bin",
        tables={"good": InputConfig(path=table), "mail": InputConfig(path=tables["mail"])},
    )
    result = train_classifier(spark, cfg)
    side = json.loads(Path(result.sidecar_path).read_text())
    assert side["inputs"]["good"] == {"path": table, "format": "delta", "version": version}
    assert result.sizes["pool"]["positive"] == 200  # both commits read
    # An explicit version is honoured: the first commit only.
    first = train_config(
        tables,
        tmp_path / "d0.bin",
        tables={
            "good": InputConfig(path=table, version=version - 1),
            "mail": InputConfig(path=tables["mail"]),
        },
    )
    result0 = train_classifier(spark, first)
    assert result0.sizes["pool"]["positive"] == 100
    side0 = json.loads(Path(result0.sidecar_path).read_text())
    assert side0["inputs"]["good"]["version"] == version - 1


def test_too_little_data_is_a_training_error(spark, tables, tmp_path):
    cfg = train_config(tables, tmp_path / "x.bin", min_chars=100_000)
    with pytest.raises(TrainingError, match="too little data"):
        train_classifier(spark, cfg)


def test_query_without_text_column_is_a_config_error(spark, tables, tmp_path):
    cfg = train_config(
        tables, tmp_path / "x.bin", negatives=ClassSource(query="SELECT id FROM mail")
    )
    with pytest.raises(ConfigError, match="must return `text`"):
        train_classifier(spark, cfg)


def test_chunk_text_packs_paragraphs():
    paras = [("word " * 30).strip() for _ in range(10)]  # 149 chars each
    chunks = chunk_text("\n\n".join(paras), 400)
    assert all(len(c) <= 400 for c in chunks)
    assert len(chunks) == 5  # two paragraphs (300 chars + separator) per chunk
    assert " ".join(" ".join(chunks).split()) == " ".join(" ".join(paras).split())
    long_para = "x" * 50 + " " + "y" * 900
    cut = chunk_text(long_para, 300)
    assert all(len(c) <= 300 for c in cut) and "".join(cut).replace(" ", "") == long_para.replace(
        " ", ""
    )
    assert chunk_text("short", 300) == ["short"]
