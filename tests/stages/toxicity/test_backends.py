"""Toxicity backends: label probabilities to 0-3 dimension scores."""

from __future__ import annotations

from curation.stages.toxicity.backends import dims_from_probs


def test_dims_from_probs_uses_thresholds():
    import numpy as np

    probs = {"hate": np.array([0.2, 0.5, 0.75, 0.95]), "threat": np.array([0.0, 0.0, 0.0, 0.6])}
    dims = dims_from_probs(probs, {"hate": ["race"], "threat": ["violence"]}, (0.5, 0.7, 0.9), 4)
    assert dims[:, 0].tolist() == [0, 1, 2, 3]
    assert dims[:, 4].tolist() == [0, 0, 0, 1]
