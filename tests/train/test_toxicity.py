"""`curation train-toxicity` and `curation eval-toxicity` on small labelled files in the three
layouts (real MiniLM embeddings, real scikit-learn and fastText fits)."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from curation.datasets import builtin_text as B
from curation.errors import ConfigError
from curation.text.toxicity_lexicon import DIMENSIONS
from curation.train.toxicity_data import read_source

GROUPS = {"immigrants": "race", "muslims": "religion", "women": "gender", "jews": "religion"}


def _hateful(i: int) -> tuple[str, str]:
    group = list(GROUPS)[i % len(GROUPS)]
    template = B.TOXIC[i % len(B.TOXIC)]
    return template.format(group=group, group_cap=group.capitalize()), group


def _plain(i: int) -> str:
    return B.sentence(random.Random(i))


def _write(path, rows) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


@pytest.fixture
def sources(tmp_path) -> dict[str, str]:
    dav = [{"id": f"d{i}", "text": _hateful(i)[0], "label": "hate"} for i in range(8)]
    dav += [{"id": f"o{i}", "text": _plain(i) + " damn", "label": "offensive"} for i in range(6)]
    dav += [{"id": f"n{i}", "text": _plain(100 + i), "label": "neither"} for i in range(10)]
    eth = []
    for i in range(10):
        text, group = _hateful(i + 3)
        aspect = {"race": "race", "religion": "religion", "gender": "gender"}[GROUPS[group]]
        eth.append({"id": f"e{i}", "text": text, "label": "hate", "violence": 1.0, aspect: 1.0})
    eth += [{"id": f"f{i}", "text": _plain(200 + i), "label": "not_hate"} for i in range(10)]
    tox = []
    for i in range(10):
        text, group = _hateful(i + 1)
        tox.append(
            {"text": text, "label": "hate", "target_group": group, "dimension": GROUPS[group]}
        )
        tox.append(
            {
                "text": f"Many {group} live in this city.",
                "label": "neutral",
                "target_group": group,
                "dimension": GROUPS[group],
            }
        )
    return {
        "davidson": _write(tmp_path / "d.jsonl", dav),
        "ethos": _write(tmp_path / "e.jsonl", eth),
        "toxigen": _write(tmp_path / "t.jsonl", tox),
    }


def _config(tmp_path, sources: dict[str, str], **extra) -> str:
    cfg = {
        "sources": {name: {"path": p, "format": name} for name, p in sources.items()},
        "output": str(tmp_path / "m" / "heads.npz"),
        "fasttext_output": str(tmp_path / "m" / "screen.bin"),
        "cache_dir": str(tmp_path / "cache"),
        **extra,
    }
    path = tmp_path / "train.json"
    path.write_text(json.dumps(cfg))
    return str(path)


def test_sources_read_into_hate_and_dimension_labels(sources):
    eth = read_source(sources["ethos"], "ethos", "ethos")
    hateful = [d for d, h in zip(eth.dims, eth.hate, strict=True) if h]
    assert all(d[DIMENSIONS.index("violence")] == 1 for d in hateful)
    tox = read_source(sources["toxigen"], "toxigen", "toxigen")
    assert set(tox.topics) == {"race", "religion", "gender"}
    assert all(
        d[DIMENSIONS.index("violence")] == -1 for d, h in zip(tox.dims, tox.hate, strict=True) if h
    )
    dav = read_source(sources["davidson"], "davidson", "davidson", max_rows=12)
    assert len(dav) == 12 and sum(dav.hate) == 4  # stratified: 8 of 24 rows are hate
    with pytest.raises(
        ConfigError,
        match=r"sources\.x: row .* has label '\w+', not one of the toxigen labels; check format: toxigen",
    ):
        read_source(sources["davidson"], "toxigen", "x")


def test_train_toxicity_writes_heads_and_screen(run_cli, tmp_path, sources):
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("sklearn")
    from curation.stages.toxicity.embeddings import embed
    from curation.stages.toxicity.heads import Heads

    res = run_cli("train-toxicity", _config(tmp_path, sources))
    assert res.returncode == 0, res.stderr
    heads = Heads.load(str(tmp_path / "m" / "heads.npz"))
    assert heads.dim_trained[DIMENSIONS.index("religion")]
    assert not heads.dim_trained[DIMENSIONS.index("ability")]  # no labelled rows
    assert heads.meta["sources"]["ethos"] == {"hate": 10, "not_hate": 10}
    p_hate, p_dims = heads.predict(embed([_hateful(0)[0], _plain(999)]))
    assert p_hate[0] > 0.5 > p_hate[1]
    assert p_dims[0, DIMENSIONS.index("ability")] == 0.0
    assert (tmp_path / "m" / "screen.bin").is_file()
    assert list((tmp_path / "cache").glob("embeddings-*.npz"))  # reused by the next run


def test_eval_toxicity_reports_every_fold_backend_and_dimension(run_cli, tmp_path, sources):
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("sklearn")
    out = tmp_path / "res" / "loso.json"
    res = run_cli("eval-toxicity", _config(tmp_path, sources), "--out", str(out))
    assert res.returncode == 0, res.stderr
    result = json.loads(out.read_text())
    assert set(result["folds"]) == {"davidson", "ethos", "toxigen"}
    for fold in result["folds"].values():
        backends = fold["hate_vs_not"]
        assert {"semantic", "semantic+screen", "fasttext", "lexicon"} <= set(backends)
        for m in backends.values():
            assert set(m) >= {"roc_auc", "precision", "recall", "f1"}
    assert "religion" in result["folds"]["toxigen"]["dimensions"]
    assert "violence" in result["folds"]["ethos"]["dimensions"]
    assert result["folds"]["ethos"]["dimensions"]["violence"]["semantic"] is None  # untrained
    bias = result["folds"]["toxigen"]["neutral_false_positive_rate"]
    assert set(bias) == {"immigrants", "muslims", "women", "jews"}
    assert (tmp_path / "res" / "loso.md").read_text().startswith("# Toxicity")
    # The synthetic hate is easy: a fold that learnt nothing would fail this.
    assert result["folds"]["toxigen"]["hate_vs_not"]["semantic"]["roc_auc"] > 0.8
    assert np.isfinite(result["seconds"])


def test_bad_train_config_is_one_line_exit_2(run_cli, tmp_path, sources):
    path = _config(tmp_path, sources)
    res = run_cli("train-toxicity", path, "--set", "sources.ethos.format=reddit")
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and "sources.ethos.format" in res.stderr
    assert "reddit" in res.stderr
