"""``curation train-toxicity``: the semantic backend's heads (and a fastText screen) from labelled
sources.

A config (YAML)::

    sources:
      davidson: {path: ../shared/data/toxicity/davidson.jsonl, format: davidson, max_rows: 6000}
      ethos:    {path: ../shared/data/toxicity/ethos.jsonl, format: ethos}
      toxigen:  {path: ../shared/data/toxicity/toxigen_statements.jsonl, format: toxigen}
    output: models/toxicity_heads.npz           # the file a recipe's semantic backend points at
    fasttext_output: models/toxicity_screen.bin  # optional: the cascade's fastText screen

Every text is embedded once (``curation.stages.toxicity.embeddings``, cached under
``cache_dir``), then logistic regressions are fitted on the embeddings: P(hate) on all rows and
P(dimension | hate) on the hateful rows with dimension labels (``heads.py``). Sources are
weighted equally (each source's rows share one unit of weight), so 24k tweets do not outvote a
thousand comments: the point is a model that holds on text unlike any one source.

The data is small (tens of thousands of short texts), so it is read on the driver without Spark.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from pydantic import Field, model_validator

from curation.errors import ConfigError
from curation.frozen import FrozenModel
from curation.stages.toxicity.embeddings import PACKAGED_ENCODER, cached_embeddings
from curation.stages.toxicity.heads import Heads
from curation.stages.toxicity.screen import FT_HATE, FT_OTHER, FT_PREP, fasttext_hate
from curation.text.fasttext_prep import prepare_texts
from curation.text.toxicity_lexicon import DIMENSIONS
from curation.train.config import load_yaml_model
from curation.train.fasttext_fit import train_supervised
from curation.train.toxicity_data import UNLABELLED, LabelledRows, SourceFormat, read_source

# fastText's tutorial settings for short texts (bigrams, 10 epochs); small buckets for small data.
FT_PARAMS = {"epoch": 10, "lr": 0.2, "wordNgrams": 2, "dim": 64, "minCount": 1, "bucket": 200_000}
# Fewer labelled examples than this and a dimension head is left untrained (probability 0).
MIN_DIMENSION_POSITIVES = 8


class ToxicitySource(FrozenModel):
    """One labelled JSONL file."""

    path: str = Field(min_length=1, description="JSONL file with text and label fields.")
    format: SourceFormat = Field(description="Its layout: davidson | ethos | toxigen.")
    max_rows: int | None = Field(
        None,
        ge=10,
        le=10_000_000,
        description="Keep a seeded sample this large, stratified by "
        "label (embedding costs ~10 ms a text on one CPU core). Null: every row.",
    )


class ToxicityTrainConfig(FrozenModel):
    """One heads training run."""

    sources: dict[str, ToxicitySource] = Field(description="Name -> labelled file.")
    output: str = Field(min_length=1, description="Heads file to write (.npz).")
    fasttext_output: str | None = Field(
        None, min_length=1, description="Also train a fastText hate model here (the screen)."
    )
    encoder: str = Field(PACKAGED_ENCODER, description="Sentence-transformers model directory.")
    # MiniLM was trained on 128 word pieces; tweets and comments are far shorter.
    max_tokens: int = Field(128, ge=8, le=512, description="Word pieces embedded per text.")
    cache_dir: str = Field(".cache/toxicity", description="Where embeddings are cached.")
    # sklearn's default strength; the evaluation's folds showed no gain from tuning it.
    c: float = Field(1.0, gt=0.0, le=1e6, description="Inverse L2 strength of the heads.")
    balance_sources: bool = Field(True, description="Give every source the same total weight.")
    seed: int = Field(13, ge=0, le=2**31 - 1, description="Sampling and fastText seed.")

    @model_validator(mode="after")
    def _check(self) -> ToxicityTrainConfig:
        if not self.sources:
            raise ValueError("sources: name at least one labelled file")
        return self


def load_toxicity_config(path: str | Path, overrides: Iterable[str] = ()) -> ToxicityTrainConfig:
    return load_yaml_model(ToxicityTrainConfig, path, overrides)


def read_sources(cfg: ToxicityTrainConfig) -> LabelledRows:
    rows = LabelledRows()
    for name, src in cfg.sources.items():
        rows.extend(read_source(src.path, src.format, name, src.max_rows, cfg.seed))
    return rows


def source_weights(sources: list[str], balance: bool) -> np.ndarray:
    """Per-row weights: each source sums to n / (number of sources) when ``balance``."""
    s = np.asarray(sources)
    if not balance or len(s) == 0:
        return np.ones(len(s))
    names, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    return len(s) / (len(names) * counts[inverse])


def fit_heads(
    vectors: np.ndarray, rows: LabelledRows, c: float, balance: bool, encoder: str, max_tokens: int
) -> Heads:
    """Logistic-regression heads on ``vectors`` (one per row of ``rows``)."""
    from sklearn.linear_model import LogisticRegression

    w = source_weights(rows.sources, balance)
    y = rows.y
    if len(set(y.tolist())) < 2:
        raise ConfigError("sources: the training rows need both hateful and other rows")
    hate = LogisticRegression(C=c, max_iter=2000).fit(vectors, y, sample_weight=w)
    d = vectors.shape[1]
    dim_w = np.zeros((len(DIMENSIONS), d))
    dim_b = np.zeros(len(DIMENSIONS))
    trained = np.zeros(len(DIMENSIONS), dtype=bool)
    labels = rows.dim_labels
    counts = {}
    for j, dim in enumerate(DIMENSIONS):
        use = (y == 1) & (labels[:, j] != UNLABELLED)
        yd = labels[use, j]
        counts[dim] = {"positive": int(yd.sum()), "negative": int((yd == 0).sum())}
        if yd.sum() < MIN_DIMENSION_POSITIVES or (yd == 0).sum() < MIN_DIMENSION_POSITIVES:
            continue
        head = LogisticRegression(C=c, max_iter=2000).fit(vectors[use], yd, sample_weight=w[use])
        dim_w[j], dim_b[j], trained[j] = head.coef_[0], head.intercept_[0], True
    meta = {"sources": rows.counts(), "dimension_rows": counts, "c": c, "balance": balance}
    return Heads(
        hate_w=hate.coef_[0].astype(np.float64),
        hate_b=float(hate.intercept_[0]),
        dim_w=dim_w,
        dim_b=dim_b,
        dim_trained=trained,
        encoder=encoder,
        max_tokens=max_tokens,
        meta=meta,
    )


def fit_fasttext(rows: LabelledRows, balance: bool, seed: int):
    """A fastText hate-vs-other model on ``rows``; smaller sources repeated when ``balance``."""
    sources = np.asarray(rows.sources)
    names, counts = np.unique(sources, return_counts=True)
    # fastText takes no sample weights: repeat a small source's rows (at most 20 times).
    repeat = {
        n: max(1, min(20, round(counts.max() / k))) if balance else 1
        for n, k in zip(names, counts, strict=True)
    }
    prepared = prepare_texts(rows.texts, FT_PREP)
    with tempfile.TemporaryDirectory(prefix="tox-ft-") as work:
        path = os.path.join(work, "train.txt")
        with open(path, "w", encoding="utf-8") as fh:
            for text, src, y in zip(prepared, rows.sources, rows.hate, strict=True):
                line = f"{FT_HATE if y else FT_OTHER} {text}\n"
                fh.write(line * repeat[src])
        return train_supervised(path, seed=seed, thread=1, verbose=0, **FT_PARAMS)


def fasttext_hate_probability(model, texts: list[str]) -> np.ndarray:
    return fasttext_hate(model, texts, FT_HATE)


def train_toxicity(cfg: ToxicityTrainConfig, progress: Callable[[str], None] = print) -> dict:
    """Read the sources, embed, fit and save; returns what was written and the row counts."""
    rows = read_sources(cfg)
    progress(f"{len(rows):,} labelled rows: {rows.counts()}")
    vectors = cached_embeddings(rows.texts, cfg.cache_dir, cfg.encoder, cfg.max_tokens, progress)
    heads = fit_heads(vectors, rows, cfg.c, cfg.balance_sources, cfg.encoder, cfg.max_tokens)
    heads.save(cfg.output)
    progress(
        f"wrote {cfg.output} (dimension heads: "
        f"{[d for d, t in zip(DIMENSIONS, heads.dim_trained, strict=True) if t]})"
    )
    out = {"output": cfg.output, "rows": rows.counts()}
    if cfg.fasttext_output:
        model = fit_fasttext(rows, cfg.balance_sources, cfg.seed)
        os.makedirs(os.path.dirname(os.path.abspath(cfg.fasttext_output)), exist_ok=True)
        model.save_model(cfg.fasttext_output)
        progress(f"wrote {cfg.fasttext_output}")
        out["fasttext_output"] = cfg.fasttext_output
    return out
