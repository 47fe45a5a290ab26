"""The semantic toxicity backend at run time: screen, embed, heads, 0-3 scores.

Per batch: split documents into sentences (or keep whole documents, ``unit: document``), keep
the units a screen passes (``screen.py``), embed those with the encoder (``embeddings.py``),
and turn the heads' output into 0-3 scores (``Heads.grades``): P(hate) against the thresholds
(>= t1 -> 1, >= t2 -> 2, >= t3 -> 3) on each dimension the hate more likely than not targets. A document's score per dimension is
the maximum over its units, and ``tox_<name>_hate`` the maximum P(hate). Units the screens
reject score 0 without being embedded.

The heads file and the fastText screen are shipped to executors and load once per Python worker
(``curation.models``); the encoder loads once per worker from the installed package.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation import columns as C
from curation.models import ModelRef, cached_model, load_fasttext
from curation.stages.toxicity.backends import BackendScores, ScoredSpan
from curation.stages.toxicity.config import SemanticBackendConfig
from curation.stages.toxicity.embeddings import embed
from curation.stages.toxicity.heads import Heads
from curation.stages.toxicity.screen import TermScreen, fasttext_hate
from curation.text.sentences import split_batch

_SCREENS: dict[str, TermScreen] = {}


def load_heads(ref: ModelRef) -> Heads:
    return cached_model(ref, Heads.load)


def _term_screen() -> TermScreen:
    # The built-in English lists; built once per worker (compiling the pattern takes ~20 ms).
    if "en" not in _SCREENS:
        _SCREENS["en"] = TermScreen.for_languages(["en"])
    return _SCREENS["en"]


class SemanticBackend:
    """Scores a batch with screens, the encoder and the heads."""

    def __init__(
        self, cfg: SemanticBackendConfig, heads_ref: ModelRef, screen_ref: ModelRef | None
    ):
        self.cfg = cfg
        self.heads_ref = heads_ref
        self.screen_ref = screen_ref

    def units(self, arr: pa.Array) -> tuple[pa.Array, np.ndarray, np.ndarray, np.ndarray]:
        """(unit texts, owning row, start, end) for a batch's texts."""
        if self.cfg.unit == "sentence":
            sb = split_batch(arr)
            return sb.pieces, sb.doc, sb.start, sb.end
        rows = np.flatnonzero(~np.asarray(arr.is_null().to_numpy(zero_copy_only=False)))
        pieces = arr.take(pa.array(rows, pa.int64()))
        ends = pc.utf8_length(pieces).to_numpy(zero_copy_only=False).astype(np.int64)
        return pieces, rows, np.zeros(len(rows), np.int64), ends

    def passes(self, pieces: pa.Array) -> np.ndarray:
        """Which units go to the encoder."""
        screen = self.cfg.screen
        n = len(pieces)
        if not screen.screens():
            return np.ones(n, dtype=bool)
        hit = _term_screen().passes(pieces) if screen.terms else np.zeros(n, dtype=bool)
        if self.screen_ref is not None:
            rest = np.flatnonzero(~hit)
            if len(rest):
                model = load_fasttext(self.screen_ref)
                texts = pieces.take(pa.array(rest, pa.int64())).to_pylist()
                p = fasttext_hate(model, texts, screen.fasttext_label)
                hit[rest[p >= screen.fasttext_threshold]] = True
        return hit

    def score(self, texts: list[str | None], batch: pa.RecordBatch) -> BackendScores:
        n = len(texts)
        arr = batch.column(C.TEXT)
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        pieces, owner, starts, ends = self.units(arr)
        chosen = np.flatnonzero(self.passes(pieces)) if len(pieces) else np.zeros(0, np.int64)
        unit_texts = pieces.take(pa.array(chosen, pa.int64())).to_pylist()
        keep = [k for k, t in enumerate(unit_texts) if t and not t.isspace()]
        chosen, unit_texts = chosen[keep], [unit_texts[k] for k in keep]
        doc_dims = np.zeros((n, 5), dtype=np.int64)
        doc_hate = np.zeros(n)
        sentences: list[list[ScoredSpan]] | None = (
            [[] for _ in range(n)] if self.cfg.unit == "sentence" else None
        )
        if unit_texts:
            heads = load_heads(self.heads_ref)
            vectors = embed(
                unit_texts,
                self.cfg.encoder or heads.encoder,
                batch_size=self.cfg.batch_size,
                max_tokens=heads.max_tokens,
                threads=self.cfg.threads,
            )
            p_hate, unit_dims = heads.grades(vectors, self.cfg.thresholds)
            own = owner[chosen]
            np.maximum.at(doc_dims, own, unit_dims)
            np.maximum.at(doc_hate, own, p_hate)
            if sentences is not None:
                for k in np.flatnonzero(unit_dims.any(axis=1)):
                    sentences[own[k]].append(
                        (int(starts[chosen[k]]), int(ends[chosen[k]]), tuple(unit_dims[k].tolist()))
                    )
        null = [t is None for t in texts]
        dims = [None if null[i] else tuple(int(x) for x in doc_dims[i]) for i in range(n)]
        hate = pa.array(doc_hate, type=pa.float64(), mask=np.asarray(null, dtype=bool))
        return BackendScores(dims=dims, sentences=sentences, columns={self.cfg.hate_column: hate})
