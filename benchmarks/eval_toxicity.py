"""Evaluate toxicity scoring on labelled data: a fastText classifier trained here vs. the lexicon.

    .venv/bin/python benchmarks/eval_toxicity.py [--data ../shared/data/toxicity/davidson.jsonl]
        [--out benchmarks/results/toxicity_eval.json] [--seed 13] [--test-fraction 0.2]
        [--model-out PATH]

Data: Davidson et al. 2017 tweets labelled hate / offensive / neither (JSONL with ``text`` and
``label``). A seeded, stratified split holds out ``test_fraction`` of each label.

Label mapping. The fastText model is trained on all three labels (nothing is thrown away, and
"hate vs. offensive" is exactly the distinction Davidson et al. found hardest), then evaluated
two ways on the held-out split:

* ``toxic`` = hate or offensive vs. neither (primary): Davidson's "offensive" class is mostly
  sexist slurs and insults (bitch, hoe, pussy) that a pretraining filter wants to find too, and
  it is what the lexicon's gender dimension covers. fastText score: P(hate) + P(offensive).
* ``hate`` vs. the rest (secondary, 6% positives): closer to Celadon's notion of toxic content.

The lexicon backend has no training; its classes are mapped to a binary decision two ways:
``class != none`` (what the stage would flag or drop by default) and ``any dimension >= 2``
(an explicit mention on one dimension, which catches single slurs Celadon's class rules call
"none"). Metrics come from ``curation.train.metrics.binary_metrics`` (the quality trainer's), so
both classifiers are scored the same way. fastText is trained directly on the driver: the shared
``curation train-classifier`` samples two balanced classes from tables, while this evaluation
needs three labels and the natural class balance on the held-out split.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from curation.text.fasttext_prep import prepare_texts  # noqa: E402
from curation.text.toxicity_lexicon import Lexicon, toxicity_class  # noqa: E402
from curation.train.metrics import binary_metrics, roc_auc  # noqa: E402

LABELS = ("hate", "offensive", "neither")
# Tweets: lower-case, accents folded, whitespace collapsed (the stage's prep "ultrafineweb"),
# so the saved model can be used by the toxicity stage's fastText backend with that prep.
PREP = "ultrafineweb"
# Davidson et al. 2017 tuned a logistic regression on word n-grams; these fastText settings
# (bigrams, 10 epochs) are fastText's text-classification tutorial values, not tuned here.
FT_PARAMS = {"epoch": 10, "lr": 0.2, "wordNgrams": 2, "dim": 64, "minCount": 1, "loss": "softmax"}


def load_rows(path: str) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            if r.get("label") in LABELS and isinstance(r.get("text"), str):
                rows.append({"id": r.get("id"), "text": r["text"], "label": r["label"]})
    return rows


def stratified_split(rows: list[dict], test_fraction: float, seed: int):
    """Seeded split holding out ``test_fraction`` of every label."""
    rng = random.Random(seed)
    train, test = [], []
    for label in LABELS:
        group = sorted((r for r in rows if r["label"] == label), key=lambda r: r["id"])
        rng.shuffle(group)
        k = round(len(group) * test_fraction)
        test.extend(group[:k])
        train.extend(group[k:])
    rng.shuffle(train)
    return train, test


def train_fasttext(train: list[dict], seed: int, workdir: str):
    import fasttext

    prepared = prepare_texts([r["text"] for r in train], PREP)
    path = os.path.join(workdir, "train.txt")
    with open(path, "w", encoding="utf-8") as fh:
        for r, text in zip(train, prepared, strict=True):
            fh.write(f"__label__{r['label']} {text}\n")
    return fasttext.train_supervised(path, seed=seed, thread=1, verbose=0, **FT_PARAMS)


def fasttext_probabilities(model, texts: list[str]) -> dict[str, np.ndarray]:
    prepared = prepare_texts(texts, PREP)
    labels, probs = model.predict(prepared, k=-1)
    out = {lab: np.zeros(len(texts)) for lab in LABELS}
    for i, (labs, ps) in enumerate(zip(labels, probs, strict=True)):
        for lab, p in zip(labs, ps, strict=True):
            out[lab.removeprefix("__label__")][i] = min(1.0, float(p))
    return out


def evaluate(data: str, test_fraction: float, seed: int, model_out: str | None) -> dict:
    rows = load_rows(data)
    if not rows:
        raise SystemExit(f"no rows with a text and a label in {LABELS} in {data}")
    train, test = stratified_split(rows, test_fraction, seed)
    y_toxic = np.array([r["label"] != "neither" for r in test])
    y_hate = np.array([r["label"] == "hate" for r in test])
    texts = [r["text"] for r in test]

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tox-eval-") as work:
        model = train_fasttext(train, seed, work)
        if model_out:
            model.save_model(model_out)
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    p = fasttext_probabilities(model, texts)
    ft_predict_s = time.perf_counter() - t0
    p_toxic = np.clip(p["hate"] + p["offensive"], 0.0, 1.0)

    lex = Lexicon.for_languages(["en"])
    t0 = time.perf_counter()
    scored = lex.score_batch(texts)
    lex_s = time.perf_counter() - t0
    dims = np.array([d for d, _ in scored])
    classes = [toxicity_class(d) for d in dims.tolist()]
    lex_flag = np.array([c != "none" for c in classes], dtype=float)
    lex_explicit = (dims.max(axis=1) >= 2).astype(float)
    lex_sum = dims.sum(axis=1).astype(float)

    def lexicon_metrics(pred: np.ndarray, y: np.ndarray) -> dict:
        m = binary_metrics(y, pred, threshold=0.5)
        m["roc_auc"] = roc_auc(y, lex_sum)  # ranking by tox_sum, not by the 0/1 decision
        return m

    return {
        "data": os.path.abspath(data),
        "seed": seed,
        "test_fraction": test_fraction,
        "n_train": len(train),
        "n_test": len(test),
        "label_counts_test": dict(Counter(r["label"] for r in test)),
        "fasttext": {
            "params": FT_PARAMS,
            "prep": PREP,
            "train_seconds": round(train_s, 2),
            "predict_docs_per_s": round(len(texts) / ft_predict_s) if ft_predict_s else None,
            "toxic_vs_neither": binary_metrics(y_toxic, p_toxic, threshold=0.5),
            "hate_vs_rest": binary_metrics(y_hate, p["hate"], threshold=0.5),
        },
        "lexicon": {
            "terms": lex.size,
            "docs_per_s": round(len(texts) / lex_s) if lex_s else None,
            "class_counts_test": dict(Counter(classes)),
            "toxic_vs_neither": {
                "class_not_none": lexicon_metrics(lex_flag, y_toxic),
                "any_dimension_ge_2": lexicon_metrics(lex_explicit, y_toxic),
            },
            "hate_vs_rest": {
                "class_not_none": lexicon_metrics(lex_flag, y_hate),
                "any_dimension_ge_2": lexicon_metrics(lex_explicit, y_hate),
            },
        },
        "environment": {"python": sys.version.split()[0], "machine": platform.machine()},
    }


def _default_data() -> str:
    return str(
        Path(__file__).resolve().parents[2] / "shared" / "data" / "toxicity" / "davidson.jsonl"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python benchmarks/eval_toxicity.py", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--data", default=_default_data(), help="JSONL with text and label fields")
    ap.add_argument("--out", default="benchmarks/results/toxicity_eval.json")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--test-fraction", type=float, default=0.2)
    ap.add_argument("--model-out", default=None, help="also save the fastText model here")
    args = ap.parse_args(argv)
    if not 0.0 < args.test_fraction < 1.0:
        ap.error(f"--test-fraction {args.test_fraction} must be between 0 and 1")
    if not os.path.isfile(args.data):
        ap.error(f"--data {args.data!r} does not exist")
    result = evaluate(args.data, args.test_fraction, args.seed, args.model_out)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=2)
        fh.write("\n")
    ft, lx = result["fasttext"], result["lexicon"]
    print(f"held-out rows: {result['n_test']} {result['label_counts_test']}")
    for name, m in (
        ("fastText toxic-vs-neither", ft["toxic_vs_neither"]),
        ("fastText hate-vs-rest", ft["hate_vs_rest"]),
        ("lexicon class!=none toxic-vs-neither", lx["toxic_vs_neither"]["class_not_none"]),
        ("lexicon dim>=2 toxic-vs-neither", lx["toxic_vs_neither"]["any_dimension_ge_2"]),
        ("lexicon class!=none hate-vs-rest", lx["hate_vs_rest"]["class_not_none"]),
        ("lexicon dim>=2 hate-vs-rest", lx["hate_vs_rest"]["any_dimension_ge_2"]),
    ):
        print(f"{name:40s} P={m['precision']:.3f} R={m['recall']:.3f} F1={m['f1']:.3f}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
