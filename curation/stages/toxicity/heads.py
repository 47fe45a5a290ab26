"""The semantic backend's model file: linear heads over sentence embeddings.

One ``.npz`` (numpy only, no pickle), written by ``curation train-toxicity``:

* ``hate_w`` (d,), ``hate_b`` (): logistic regression for P(hate) on a text's embedding;
* ``dim_w`` (5, d), ``dim_b`` (5,), ``dim_trained`` (5,): logistic regressions for
  P(dimension | hate), one per Celadon dimension (``dim_trained`` is False for a dimension the
  training data did not label; its probability is then 0);
* ``encoder`` and ``max_tokens``: the embedding model the heads were trained on and how many word
  pieces it kept (the backend embeds with the same, or the scores would be meaningless);
* ``meta``: JSON text with the training sources and counts, for people.

P(dimension) = P(hate) x P(dimension | hate): hate is learned from every labelled row, and which
group it targets from the hateful rows that say so, so a source with hate labels but no
dimension labels (tweets) still teaches the first factor.

>>> heads = Heads.load("models/toxicity_heads.npz")       # doctest: +SKIP
>>> p_hate, p_dims = heads.predict(vectors)                # (n,), (n, 5)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np

from curation.errors import ConfigError
from curation.text.toxicity_lexicon import DIMENSIONS

_KEYS = ("hate_w", "hate_b", "dim_w", "dim_b", "dim_trained", "encoder", "max_tokens")


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40.0, 40.0)))


@dataclass(frozen=True)
class Heads:
    """Loaded heads; ``predict`` maps (n, d) embeddings to P(hate) and P(dimension)."""

    hate_w: np.ndarray
    hate_b: float
    dim_w: np.ndarray
    dim_b: np.ndarray
    dim_trained: np.ndarray
    encoder: str
    max_tokens: int
    meta: dict

    def predict(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(vectors, dtype=np.float64)
        p_hate = _sigmoid(x @ self.hate_w + self.hate_b)
        p_given = _sigmoid(x @ self.dim_w.T + self.dim_b) * self.dim_trained
        return p_hate, p_hate[:, None] * p_given

    def grades(
        self, vectors: np.ndarray, thresholds, min_given: float = 0.5
    ) -> tuple[np.ndarray, np.ndarray]:
        """P(hate) and (n, 5) 0-3 scores: how confident the hate is (P(hate) against the
        thresholds: >= t1 -> 1, >= t2 -> 2, >= t3 -> 3), on each dimension it is more likely than
        not to target (P(dimension | hate) >= ``min_given``).

        Not the thresholds on P(dimension) itself: that product of two probabilities rarely
        reaches a high cut-off even when both factors are confident (0.92 x 0.91 = 0.84).
        """
        x = np.asarray(vectors, dtype=np.float64)
        p_hate = _sigmoid(x @ self.hate_w + self.hate_b)
        p_given = _sigmoid(x @ self.dim_w.T + self.dim_b) * self.dim_trained
        level = np.searchsorted(np.asarray(thresholds, dtype=np.float64), p_hate, side="right")
        return p_hate, np.where(p_given >= min_given, level[:, None], 0).astype(np.int64)

    def save(self, path: str) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp.npz"
        np.savez(
            tmp,
            hate_w=self.hate_w,
            hate_b=np.float64(self.hate_b),
            dim_w=self.dim_w,
            dim_b=self.dim_b,
            dim_trained=self.dim_trained.astype(bool),
            encoder=np.str_(self.encoder),
            max_tokens=np.int64(self.max_tokens),
            meta=np.str_(json.dumps(self.meta, sort_keys=True)),
        )
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str) -> Heads:
        try:
            with np.load(path, allow_pickle=False) as z:
                missing = [k for k in _KEYS if k not in z.files]
                if missing:
                    raise ConfigError(
                        f"model {path!r} is not a toxicity heads file (missing {missing}); "
                        "write one with `curation train-toxicity`"
                    )
                heads = cls(
                    hate_w=z["hate_w"].astype(np.float64),
                    hate_b=float(z["hate_b"]),
                    dim_w=z["dim_w"].astype(np.float64),
                    dim_b=z["dim_b"].astype(np.float64),
                    dim_trained=z["dim_trained"].astype(bool),
                    encoder=str(z["encoder"]),
                    max_tokens=int(z["max_tokens"]),
                    meta=json.loads(str(z["meta"])) if "meta" in z.files else {},
                )
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"model {path!r} cannot be read as a toxicity heads file ({exc}); "
                "write one with `curation train-toxicity`"
            ) from None
        if heads.dim_w.shape != (len(DIMENSIONS), heads.hate_w.shape[0]):
            raise ConfigError(
                f"model {path!r}: dimension heads of shape {heads.dim_w.shape}, expected "
                f"({len(DIMENSIONS)}, {heads.hate_w.shape[0]}); retrain it"
            )
        return heads
