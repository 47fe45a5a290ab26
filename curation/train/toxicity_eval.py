"""``curation eval-toxicity``: leave-one-source-out evaluation of every toxicity backend.

For each source of the training config in turn, the trainable backends are fitted on the other
sources and scored on the held-out one, so each number says how a model does on text of a kind
it never saw:

* ``semantic``: the heads of ``train-toxicity`` on MiniLM embeddings (P(hate); P(dimension));
* ``semantic+screen``: the same behind the cascade's term screen (a text no lexicon or identity
  term passes scores 0), as the stage runs it by default;
* ``lexicon+semantic+screen``: the default recipe's pair of backends, scored by the larger of
  the screened P(hate) and the lexicon's strongest dimension / 3 (so at 0.5: P(hate) >= 0.5 or
  an explicit term);
* ``fasttext``: a fastText hate model trained on the same rows;
* ``lexicon``: the built-in term lists (no training; ranked by ``tox_sum``, decided at any
  dimension >= 2);
* ``alt-profanity-check`` (the peer, when ``profanity_check`` imports): its pre-trained
  linear model, scored on the same rows. It was trained on data that includes Davidson et
  al.'s tweets, so on that source it is not held out.

Hate-vs-not: ROC-AUC, and precision, recall and F1 at probability 0.5. Per Celadon dimension,
where the held-out source labels dimensions: ETHOS, rows whose hate targets the dimension
against rows that are not hateful toward it; ToxiGen, hateful against neutral statements about
the groups of that dimension. Bias guard: the share of ToxiGen's neutral statements scored
hateful (P(hate) >= 0.5), and given class mild or toxic by the default stage (lexicon and
screened semantic scores), per group, when ToxiGen is held out. Screen: how much of the semantic model's recall
on true hate the term screen (and, as a curve, a fastText screen at several thresholds) keeps,
and which share of texts it sends to the encoder.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np

from curation.stages.toxicity.embeddings import cached_embeddings
from curation.stages.toxicity.screen import TermScreen
from curation.text.toxicity_lexicon import DIMENSIONS, Lexicon, toxicity_class
from curation.train.metrics import binary_metrics, roc_auc
from curation.train.toxicity import (
    ToxicityTrainConfig,
    fasttext_hate_probability,
    fit_fasttext,
    fit_heads,
    read_sources,
)
from curation.train.toxicity_data import UNLABELLED, LabelledRows

PEER = "alt-profanity-check"
# fastText screen thresholds for the trade-off curve (0 = every text passes).
SCREEN_THRESHOLDS = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.01)


def _metrics(y: np.ndarray, score: np.ndarray, threshold: float = 0.5) -> dict:
    m = binary_metrics(y, score, threshold)
    return {k: m[k] for k in ("roc_auc", "precision", "recall", "f1", "n_positive", "n_negative")}


def peer_scores(texts: list[str]) -> np.ndarray | None:
    try:
        from profanity_check import predict_prob
    except ImportError:
        return None
    return np.asarray(predict_prob(texts), dtype=np.float64)


def _dimension_cases(rows: LabelledRows, j: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(row mask, label) for dimension ``j`` on a held-out source, or None if it labels none."""
    dim = DIMENSIONS[j]
    topics = np.asarray([t or "" for t in rows.topics])
    if topics.any():  # ToxiGen: statements about groups of this dimension, hate vs neutral
        mask = topics == dim
        return (mask, rows.y[mask]) if mask.any() else None
    labels = rows.dim_labels[:, j]
    if not (labels == 1).any():
        return None
    mask = (rows.y == 0) | (labels != UNLABELLED)
    return mask, (labels[mask] == 1).astype(np.int64)


def evaluate_loso(
    cfg: ToxicityTrainConfig, use_peer: bool = True, progress: Callable[[str], None] = print
) -> dict:
    started = time.time()
    rows = read_sources(cfg)
    progress(f"{len(rows):,} labelled rows: {rows.counts()}")
    vectors = cached_embeddings(rows.texts, cfg.cache_dir, cfg.encoder, cfg.max_tokens, progress)
    lex = Lexicon.for_languages(["en"])
    lex_dims = np.array([d for d, _ in lex.score_batch(rows.texts)], dtype=np.int64)
    screen = TermScreen.for_languages(["en"])
    passes_terms = screen.passes(rows.texts)
    peer = peer_scores(rows.texts) if use_peer else None
    if peer is None:
        progress(f"{PEER} not importable: the peer column is left out")
    sources = np.asarray(rows.sources)
    folds = {}
    for held in dict.fromkeys(rows.sources):
        test = sources == held
        train_rows, test_rows = rows.take(~test), rows.take(test)
        progress(f"fold: held out {held} ({test.sum():,} rows), training on {(~test).sum():,}")
        heads = fit_heads(
            vectors[~test], train_rows, cfg.c, cfg.balance_sources, cfg.encoder, cfg.max_tokens
        )
        p_hate, p_dims = heads.predict(vectors[test])
        ft = fit_fasttext(train_rows, cfg.balance_sources, cfg.seed)
        p_ft = fasttext_hate_probability(ft, test_rows.texts)
        y = test_rows.y
        screened = passes_terms[test]
        lex_sum = lex_dims[test].sum(axis=1).astype(float)
        lex_hit = (lex_dims[test].max(axis=1) >= 2).astype(float)
        lexicon = _metrics(y, lex_hit)
        lexicon["roc_auc"] = roc_auc(y, lex_sum)  # ranked by tox_sum, not the 0/1 decision
        backends = {
            "semantic": _metrics(y, p_hate),
            "semantic+screen": _metrics(y, p_hate * screened),
            # What the default recipe's stage decides on: the lexicon's strongest dimension (a
            # 2 is an explicit mention) next to the screened semantic P(hate).
            "lexicon+semantic+screen": _metrics(
                y, np.maximum(p_hate * screened, lex_dims[test].max(axis=1) / 3.0)
            ),
            "fasttext": _metrics(y, p_ft),
            "lexicon": lexicon,
        }
        if peer is not None:
            backends[PEER] = _metrics(y, peer[test])
        fold = {
            "n_train": int((~test).sum()),
            "n_test": int(test.sum()),
            "hate_vs_not": backends,
            "dimensions": _dimensions(test_rows, p_dims, lex_dims[test], heads.dim_trained),
            "screen": _screen_curve(y, p_hate, screened, p_ft),
        }
        if any(test_rows.topics):
            # The default stage's class: the lexicon's and the screened semantic scores' maximum.
            _, grades = heads.grades(vectors[test], (0.5, 0.7, 0.9))
            stage_dims = np.maximum(lex_dims[test], grades * screened[:, None])
            classed = np.array([toxicity_class(d) != "none" for d in stage_dims.tolist()])
            fold["neutral_false_positive_rate"] = _bias(
                test_rows, p_hate, screened, classed, peer, test
            )
        folds[held] = fold
    return {
        "what": "leave-one-source-out toxicity evaluation (curation eval-toxicity)",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(time.time() - started, 1),
        "config": cfg.model_dump(mode="json"),
        "rows": rows.counts(),
        "folds": folds,
        "environment": {
            "python": sys.version.split()[0],
            "machine": platform.machine(),
            "load_average": list(os.getloadavg()),
        },
    }


def _dimensions(rows: LabelledRows, p_dims, lex_dims, trained) -> dict:
    out = {}
    for j, dim in enumerate(DIMENSIONS):
        case = _dimension_cases(rows, j)
        if case is None:
            continue
        mask, y = case
        if len(set(y.tolist())) < 2:
            continue
        out[dim] = {
            "semantic": _metrics(y, p_dims[mask, j]) if trained[j] else None,
            "lexicon": {"roc_auc": roc_auc(y, lex_dims[mask, j].astype(float))},
        }
        if not trained[j]:
            out[dim]["note"] = "no training rows label this dimension in the other sources"
    return out


def _screen_curve(y, p_hate, screened, p_ft) -> dict:
    """Recall on true hate of the semantic model alone and behind screens, and the pass share."""
    flagged = p_hate >= 0.5
    base = float((flagged & (y == 1)).sum()) or 1.0
    curve = []
    for t in SCREEN_THRESHOLDS:
        for with_terms in (True, False):
            passes = (p_ft >= t) | (screened if with_terms else False)
            kept = float((flagged & passes & (y == 1)).sum())
            curve.append(
                {
                    "terms": with_terms,
                    "fasttext_threshold": t,
                    "pass_share": float(passes.mean()),
                    "recall_kept": kept / base,
                    "recall": kept / max(1, int((y == 1).sum())),
                }
            )
    return {
        "semantic_recall": float((flagged & (y == 1)).sum()) / max(1, int((y == 1).sum())),
        "terms_pass_share": float(screened.mean()),
        "terms_recall_kept": float((flagged & screened & (y == 1)).sum()) / base,
        "curve": curve,
    }


def _bias(rows: LabelledRows, p_hate, screened, classed, peer, test) -> dict:
    groups = np.asarray([g or "" for g in rows.groups])
    neutral = rows.y == 0
    out = {}
    for g in sorted(set(groups[neutral].tolist())):
        m = neutral & (groups == g)
        out[g] = {
            "n": int(m.sum()),
            "semantic": float((p_hate[m] >= 0.5).mean()),
            "semantic+screen": float(((p_hate * screened)[m] >= 0.5).mean()),
            "stage class mild or toxic": float(classed[m].mean()),
        }
        if peer is not None:
            out[g][PEER] = float((peer[test][m] >= 0.5).mean())
    return out


def markdown(result: dict) -> str:
    """The tables the README quotes."""
    lines = [
        "# Toxicity: leave-one-source-out",
        "",
        f"{result['date']}, {result['seconds']} s, load average "
        f"{', '.join(f'{x:.1f}' for x in result['environment']['load_average'])}; rows "
        f"{result['rows']}. Reproduce: `curation eval-toxicity conf/train_toxicity.yaml`.",
        "",
        "## Hate vs not, per held-out source (ROC-AUC; P / R / F1 at 0.5)",
        "",
        "| held out | backend | ROC-AUC | precision | recall | F1 |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for held, fold in result["folds"].items():
        for name, m in fold["hate_vs_not"].items():
            lines.append(
                f"| {held} | {name} | {_f(m['roc_auc'])} | {_f(m['precision'])} | "
                f"{_f(m['recall'])} | {_f(m['f1'])} |"
            )
    lines += [
        "",
        "## Per Celadon dimension (held-out sources with dimension labels)",
        "",
        "| held out | dimension | semantic ROC-AUC | P / R / F1 | lexicon ROC-AUC |",
        "|---|---|---:|---|---:|",
    ]
    for held, fold in result["folds"].items():
        for dim, d in fold["dimensions"].items():
            s = d["semantic"]
            prf = f"{_f(s['precision'])} / {_f(s['recall'])} / {_f(s['f1'])}" if s else "-"
            auc = _f(s["roc_auc"]) if s else d.get("note", "-")
            lines.append(f"| {held} | {dim} | {auc} | {prf} | {_f(d['lexicon']['roc_auc'])} |")
    lines += [
        "",
        "## Screen: share of texts sent to the encoder, recall kept",
        "",
        "| held out | screen | pass share | semantic recall kept |",
        "|---|---|---:|---:|",
    ]
    for held, fold in result["folds"].items():
        sc = fold["screen"]
        lines.append(
            f"| {held} | terms | {_f(sc['terms_pass_share'])} | {_f(sc['terms_recall_kept'])} |"
        )
        for c in sc["curve"]:
            if 0.0 < c["fasttext_threshold"] <= 1.0:
                name = ("terms + " if c["terms"] else "") + f"fastText >= {c['fasttext_threshold']}"
                lines.append(
                    f"| {held} | {name} | {_f(c['pass_share'])} | {_f(c['recall_kept'])} |"
                )
    for held, fold in result["folds"].items():
        bias = fold.get("neutral_false_positive_rate")
        if not bias:
            continue
        names = list(next(iter(bias.values())))[1:]
        lines += [
            "",
            f"## Bias guard: neutral statements scored hateful ({held} held out)",
            "",
            "| group | n | " + " | ".join(names) + " |",
            "|---|---:|" + "---:|" * len(names),
        ]
        for g, b in bias.items():
            lines.append(f"| {g} | {b['n']} | " + " | ".join(_f(b[k]) for k in names) + " |")
    return "\n".join(lines) + "\n"


def _f(x) -> str:
    return "-" if x is None else f"{x:.3f}"


def write_results(result: dict, out: str) -> tuple[str, str]:
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=2)
        fh.write("\n")
    md = os.path.splitext(out)[0] + ".md"
    with open(md, "w", encoding="utf-8") as fh:
        fh.write(markdown(result))
    return out, md
