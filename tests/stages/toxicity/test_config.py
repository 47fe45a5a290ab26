"""Toxicity config: validation messages name the field and the fix."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from curation.stages.toxicity.config import (
    FastTextBackendConfig,
    LexiconBackendConfig,
    ToxicityConfig,
)


def test_config_errors_name_the_field_and_fix():
    with pytest.raises(ValidationError, match="no term list for 'xx'"):
        LexiconBackendConfig(languages=("xx",))
    with pytest.raises(ValidationError, match="names .* must be distinct"):
        ToxicityConfig(backends=(LexiconBackendConfig(), LexiconBackendConfig()))
    ft_doc = FastTextBackendConfig(
        model_path="m.bin",
        labels={"__label__hate": "tox_ft_hate"},
        dimensions={"__label__hate": ("race",)},
    )
    with pytest.raises(ValidationError, match="remove_spans needs a backend that scores sentences"):
        ToxicityConfig(backends=(ft_doc,), on_toxic="remove_spans")
    ft_nodims = FastTextBackendConfig(model_path="m.bin", labels={"__label__hate": "tox_ft_hate"})
    with pytest.raises(ValidationError, match="none gives dimension scores"):
        ToxicityConfig(backends=(ft_nodims,))
    with pytest.raises(ValidationError, match="thresholds"):
        FastTextBackendConfig(model_path="m.bin", labels={"a": "b"}, thresholds=(0.9, 0.5, 0.95))
    with pytest.raises(ValidationError):
        ToxicityConfig(on_mild="delete")
