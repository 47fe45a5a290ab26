"""Toxicity backends at run time: each scores a batch of documents on the five dimensions.

``LexiconBackend`` runs the term lists; ``ModelBackend`` wraps a model predictor (texts ->
``ModelOutput``) with units (documents or sentences), nulls and the per-document maximum.
``output_from_probs`` (through ``dims_from_probs``) is the one place label probabilities become
0-3 dimension scores, for fastText here and for transformers in ``transformers.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from curation import columns as C
from curation.errors import ConfigError
from curation.models import ModelRef, load_fasttext
from curation.stages.toxicity.config import (
    FastTextBackendConfig,
    LexiconBackendConfig,
    TransformersBackendConfig,
)
from curation.text.fasttext_prep import prepare_texts
from curation.text.sentences import sentence_spans
from curation.text.toxicity_lexicon import DIMENSIONS, Lexicon, Term

# A scored sentence: (start, end, five scores), offsets into the document's text.
ScoredSpan = tuple[int, int, tuple[int, ...]]


@dataclass
class BackendScores:
    """One backend's output for a batch of documents."""

    dims: list[tuple[int, ...] | None] | None  # per document; None: gives no dimensions
    sentences: list[list[ScoredSpan]] | None  # per document, non-zero sentences; None: doc level
    columns: dict[str, pa.Array]  # the backend's own columns (label probabilities)


@dataclass
class ModelOutput:
    """What a model predictor returns for a list of texts."""

    dims: np.ndarray | None  # (n, 5) int 0-3, or None
    probs: dict[str, np.ndarray]  # output column -> (n,) probability


def dims_from_probs(
    probs: dict[str, np.ndarray],
    dimensions: dict[str, Sequence[str]],
    thresholds: Sequence[float],
    n: int,
) -> np.ndarray:
    """(n, 5) scores: for each dimension, the highest score any mapped label's probability earns.

    >>> dims_from_probs({"hate": np.array([0.95, 0.6])}, {"hate": ["race"]}, (0.5, 0.7, 0.9), 2)[:, 0]
    array([3, 1])
    """
    out = np.zeros((n, len(DIMENSIONS)), dtype=np.int64)
    cuts = np.asarray(thresholds, dtype=np.float64)
    for label, dims in dimensions.items():
        p = probs.get(label)
        if p is None:
            continue
        score = np.searchsorted(cuts, p, side="right")  # number of cut-offs reached
        for d in dims:
            j = DIMENSIONS.index(d)
            out[:, j] = np.maximum(out[:, j], score)
    return out


def output_from_probs(
    cfg: FastTextBackendConfig | TransformersBackendConfig, probs: dict[str, np.ndarray], n: int
) -> ModelOutput:
    """A model backend's output from its label probabilities: the ``labels`` columns, and the
    dimension scores (through ``thresholds``) when the backend maps labels to ``dimensions``."""
    dims = dims_from_probs(probs, cfg.dimensions, cfg.thresholds, n) if cfg.dimensions else None
    return ModelOutput(dims, {col: probs[label] for label, col in cfg.labels.items()})


class LexiconBackend:
    """Runs the lexicon kernel over a batch; one compiled Lexicon per language."""

    def __init__(self, cfg: LexiconBackendConfig, terms: dict[str, list[Term]]):
        self.cfg = cfg
        if cfg.language_column:
            self.by_lang = {lang: Lexicon(ts) for lang, ts in terms.items()}
            self.merged = None
        else:
            self.by_lang = {}
            self.merged = Lexicon([t for ts in terms.values() for t in ts])

    def score(self, texts: list[str | None], batch: pa.RecordBatch) -> BackendScores:
        dims: list[tuple[int, ...] | None] = []
        sentences: list[list[ScoredSpan]] = []
        text_arr = batch.column(C.TEXT)
        if self.merged is not None:
            for d, s in self.merged.score_batch(text_arr):
                dims.append(d)
                sentences.append(s)
            return BackendScores(dims=dims, sentences=sentences, columns={})
        # One batch call per language present; rows of other languages stay null.
        langs = batch.column(self.cfg.language_column).to_pylist()
        dims = [None] * len(texts)
        sentences = [[] for _ in texts]
        for lang, lex in self.by_lang.items():
            rows = [i for i, lg in enumerate(langs) if lg == lang]
            if not rows:
                continue
            for i, (d, s) in zip(rows, lex.score_batch(text_arr.take(pa.array(rows))), strict=True):
                dims[i] = d
                sentences[i] = s
        return BackendScores(dims=dims, sentences=sentences, columns={})


class ModelBackend:
    """Wraps a predictor (fastText or transformers) with units, nulls and aggregation."""

    def __init__(self, cfg: Any, predict):
        self.cfg = cfg
        self.predict = predict  # list[str] -> ModelOutput
        self.gives_dims = cfg.gives_dimensions()

    def score(self, texts: list[str | None], batch: pa.RecordBatch) -> BackendScores:
        n = len(texts)
        units: list[str] = []
        owner: list[int] = []
        spans: list[tuple[int, int]] = []
        for i, text in enumerate(texts):
            if not text or text.isspace():
                continue
            if self.cfg.unit == "document":
                units.append(text)
                owner.append(i)
                spans.append((0, len(text)))
                continue
            for s, e in sentence_spans(text):
                if not text[s:e].isspace():
                    units.append(text[s:e])
                    owner.append(i)
                    spans.append((s, e))
        out = self.predict(units) if units else ModelOutput(None, {})
        own = np.asarray(owner, dtype=np.int64)
        columns = {}
        for col in self.cfg.labels.values():
            p = out.probs.get(col, np.zeros(len(units)))
            doc = np.full(n, -1.0)
            if len(units):
                np.maximum.at(doc, own, p)
            columns[col] = pa.array(doc, type=pa.float64(), mask=doc < 0)
        if not self.gives_dims:
            return BackendScores(dims=None, sentences=None, columns=columns)
        unit_dims = out.dims if out.dims is not None else np.zeros((len(units), 5), np.int64)
        doc_dims = np.zeros((n, 5), dtype=np.int64)
        if len(units):
            np.maximum.at(doc_dims, own, unit_dims)
        dims = [tuple(int(x) for x in row) for row in doc_dims]
        sentences = None
        if self.cfg.unit == "sentence":
            sentences = [[] for _ in range(n)]
            for k in np.flatnonzero(unit_dims.any(axis=1)):
                s, e = spans[k]
                sentences[owner[k]].append((s, e, tuple(int(x) for x in unit_dims[k])))
        return BackendScores(dims=dims, sentences=sentences, columns=columns)


def fasttext_predictor(cfg: FastTextBackendConfig, ref: ModelRef):
    """list[str] -> ModelOutput with one batched ``predict(k=-1)``; the model loads once."""
    wanted = set(cfg.labels) | set(cfg.dimensions)

    def predict(texts: list[str]) -> ModelOutput:
        model = load_fasttext(ref)
        missing = wanted - set(model.get_labels())
        if missing:
            raise ConfigError(
                f"toxicity backend {cfg.name!r}: labels {sorted(missing)} are not in the model "
                f"(its labels: {model.get_labels()[:10]}); fix labels/dimensions"
            )
        prepared = prepare_texts(texts, cfg.prep)
        labels, probs = model.predict(prepared, k=-1, on_unicode_error="replace")
        by_label = {lab: np.zeros(len(texts)) for lab in wanted}
        for i, (labs, ps) in enumerate(zip(labels, probs, strict=True)):
            for lab, p in zip(labs, ps, strict=True):
                if lab in by_label:
                    by_label[lab][i] = p
        by_label = {k: np.clip(v, 0.0, 1.0) for k, v in by_label.items()}
        return output_from_probs(cfg, by_label, len(texts))

    return predict
