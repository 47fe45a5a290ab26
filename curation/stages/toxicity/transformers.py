"""Transformers backend for the toxicity stage (optional extra ``transformers``: torch, transformers).

Two layouts, both loaded from a local directory (no hub access at run time):

* ``celadon``: an encoder (e.g. DeBERTa-v3-small) whose first-token state feeds ``heads.N``,
  N linear layers of four classes; the argmax of head N is the 0-3 score of dimension N. This is
  the layout of PleIAs' Celadon (weights ``<encoder>.*`` and ``heads.<i>.weight|bias``), so its
  checkpoint loads here without its own model code.
* ``sequence_classification``: any ``AutoModelForSequenceClassification``; the softmax
  probability of each configured label goes to a column and, optionally, to dimensions.

Inference is batched, texts sorted by length so a batch pads little, under ``inference_mode``
on CPU or GPU. The model loads once per Python worker (module-level cache).

Importing this module does not import torch: the stage imports it whatever its backends are, and
torch is only there when the extra is installed.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from curation.errors import ConfigError
from curation.stages.toxicity.backends import ModelOutput, output_from_probs
from curation.text.toxicity_lexicon import DIMENSIONS

_CACHE: dict[tuple, Any] = {}
_LOCK = threading.Lock()


def _require_torch():
    # Imported here, not at the top: torch and transformers are an optional extra, and a run
    # without a transformers backend must not need them (nor pay torch's import time).
    try:
        import torch
        import transformers
    except ImportError:
        raise ConfigError(
            "the transformers toxicity backend needs the `transformers` extra: "
            "pip install 'curation[transformers]' (torch and transformers)"
        ) from None
    return torch, transformers


def transformers_predictor(cfg: Any) -> Callable[[list[str]], Any]:
    """list[str] -> ModelOutput for a TransformersBackendConfig; the model loads on first use."""

    def predict(texts: list[str]) -> ModelOutput:
        model = load_model(cfg)
        if model.layout == "celadon":
            return ModelOutput(model.celadon_scores(texts), {})
        return output_from_probs(cfg, model.label_probabilities(texts), len(texts))

    return predict


def load_model(cfg: Any) -> ToxicityModel:
    """The model for ``cfg``, loaded at most once per process."""
    key = (os.path.abspath(cfg.model_dir), cfg.layout, cfg.device, cfg.head_dimensions)
    model = _CACHE.get(key)
    if model is None:
        with _LOCK:
            model = _CACHE.get(key)
            if model is None:
                model = _CACHE[key] = ToxicityModel(cfg)
    return model


def read_state_dict(model_dir: str) -> dict[str, Any]:
    """Weights of a saved model: safetensors (single or sharded) or pytorch_model.bin."""
    torch, _ = _require_torch()
    single = os.path.join(model_dir, "model.safetensors")
    index = os.path.join(model_dir, "model.safetensors.index.json")
    legacy = os.path.join(model_dir, "pytorch_model.bin")
    if os.path.isfile(single) or os.path.isfile(index):
        from safetensors.torch import load_file

        if os.path.isfile(single):
            return load_file(single)
        with open(index, encoding="utf-8") as fh:
            shards = sorted(set(json.load(fh)["weight_map"].values()))
        state: dict[str, Any] = {}
        for shard in shards:
            state.update(load_file(os.path.join(model_dir, shard)))
        return state
    if os.path.isfile(legacy):
        return torch.load(legacy, map_location="cpu", weights_only=True)
    raise ConfigError(
        f"model_dir {model_dir!r} has no model.safetensors or pytorch_model.bin; "
        "save the model with save_pretrained"
    )


def _build_heads_module(torch, transformers, config, prefix: str, n_heads: int, n_classes: int):
    """Encoder + n linear heads on the first token, attribute names matching the checkpoint."""

    class HeadsModel(torch.nn.Module):
        def __init__(self):
            super().__init__()
            setattr(self, prefix, transformers.AutoModel.from_config(config))
            self.heads = torch.nn.ModuleList(
                torch.nn.Linear(config.hidden_size, n_classes) for _ in range(n_heads)
            )

        def forward(self, input_ids, attention_mask):
            encoder = getattr(self, prefix)
            first = encoder(input_ids=input_ids, attention_mask=attention_mask)[0][:, 0, :]
            return torch.stack([head(first) for head in self.heads], dim=1)

    return HeadsModel()


class ToxicityModel:
    """A loaded model, tokenizer and layout; ``celadon_scores`` or ``label_probabilities``."""

    def __init__(self, cfg: Any):
        torch, transformers = _require_torch()
        self.torch = torch
        self.cfg = cfg
        model_dir = cfg.model_dir
        if not os.path.isdir(model_dir):
            raise ConfigError(f"transformers backend: model_dir {model_dir!r} is not a directory")
        device = cfg.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
        config = transformers.AutoConfig.from_pretrained(model_dir)
        state = None
        layout = cfg.layout
        if layout != "sequence_classification":
            state = read_state_dict(model_dir)
            has_heads = any(k.startswith("heads.") for k in state)
            if layout == "auto":
                layout = "celadon" if has_heads else "sequence_classification"
            elif not has_heads:
                raise ConfigError(
                    f"transformers backend: layout celadon but {model_dir!r} has no heads.* "
                    "weights; use layout: sequence_classification"
                )
        self.layout = layout
        if layout == "celadon":
            self.model = self._load_celadon(transformers, config, state)
        else:
            self.model = transformers.AutoModelForSequenceClassification.from_pretrained(model_dir)
            self._check_labels()
        self.model.to(self.device).eval()

    def _load_celadon(self, transformers, config, state: dict[str, Any]):
        cfg = self.cfg
        if cfg.labels or cfg.dimensions:
            raise ConfigError(
                "transformers backend: a celadon layout scores dimensions per head; "
                "remove labels/dimensions (use head_dimensions to name the heads)"
            )
        head_ids = sorted({int(k.split(".")[1]) for k in state if k.startswith("heads.")})
        if head_ids != list(range(len(cfg.head_dimensions))):
            raise ConfigError(
                f"transformers backend: the model has {len(head_ids)} heads but head_dimensions "
                f"names {len(cfg.head_dimensions)}; make them match"
            )
        n_classes = state["heads.0.weight"].shape[0]
        if n_classes != 4:
            raise ConfigError(
                f"transformers backend: celadon heads must have 4 classes (scores 0-3), "
                f"the model's have {n_classes}"
            )
        prefixes = {k.split(".")[0] for k in state if ".embeddings." in k}
        if len(prefixes) != 1:
            raise ConfigError(
                f"transformers backend: cannot find the encoder's weights (prefixes {prefixes})"
            )
        prefix = prefixes.pop()
        module = _build_heads_module(
            self.torch, transformers, config, prefix, len(head_ids), n_classes
        )
        result = module.load_state_dict(state, strict=False)
        # Buffers such as position_ids may be absent from newer checkpoints; weights may not.
        missing = [k for k in result.missing_keys if not k.endswith("position_ids")]
        unexpected = [k for k in result.unexpected_keys if not k.endswith("position_ids")]
        if missing or unexpected:
            raise ConfigError(
                f"transformers backend: checkpoint does not fit the celadon layout "
                f"(missing {missing[:5]}, unexpected {unexpected[:5]})"
            )
        return module

    def _check_labels(self) -> None:
        names = set(self.model.config.id2label.values())
        wanted = set(self.cfg.labels) | set(self.cfg.dimensions)
        if wanted - names:
            raise ConfigError(
                f"transformers backend: labels {sorted(wanted - names)} are not in the model "
                f"(its labels: {sorted(names)}); fix labels/dimensions"
            )

    def _logits(self, texts: list[str]) -> np.ndarray:
        """Model outputs for ``texts`` in their order, computed in length-sorted batches."""
        torch = self.torch
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        chunks: list[np.ndarray] = []
        bs = self.cfg.batch_size
        with torch.inference_mode():
            for k in range(0, len(order), bs):
                batch = [texts[i] for i in order[k : k + bs]]
                enc = self.tokenizer(
                    batch,
                    padding=True,
                    truncation=True,
                    max_length=self.cfg.max_length,
                    return_tensors="pt",
                )
                ids = enc["input_ids"].to(self.device)
                mask = enc["attention_mask"].to(self.device)
                if self.layout == "celadon":
                    out = self.model(input_ids=ids, attention_mask=mask)
                else:
                    out = self.model(input_ids=ids, attention_mask=mask).logits
                chunks.append(out.float().cpu().numpy())
        stacked = np.concatenate(chunks, axis=0)
        result = np.empty_like(stacked)
        result[np.asarray(order)] = stacked
        return result

    def celadon_scores(self, texts: list[str]) -> np.ndarray:
        """(n, 5) int scores: argmax of each head, placed at its dimension."""
        out = np.zeros((len(texts), len(DIMENSIONS)), dtype=np.int64)
        if not texts:
            return out
        logits = self._logits(texts)  # (n, heads, 4)
        argmax = logits.argmax(axis=-1)
        for h, dim in enumerate(self.cfg.head_dimensions):
            out[:, DIMENSIONS.index(dim)] = argmax[:, h]
        return out

    def label_probabilities(self, texts: list[str]) -> dict[str, np.ndarray]:
        """Label name -> softmax probability, for the configured labels."""
        wanted = set(self.cfg.labels) | set(self.cfg.dimensions)
        if not texts:
            return {lab: np.zeros(0) for lab in wanted}
        logits = self._logits(texts)
        z = logits - logits.max(axis=1, keepdims=True)
        probs = np.exp(z)
        probs /= probs.sum(axis=1, keepdims=True)
        id2label = self.model.config.id2label
        return {id2label[i]: probs[:, i] for i in range(probs.shape[1]) if id2label[i] in wanted}
