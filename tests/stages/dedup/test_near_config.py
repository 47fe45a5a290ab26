"""Validation of the dedup configs: LSH shape, bounds, normalisation, survivor policy."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from curation.stages.dedup import ExactDedupConfig, NearDedupConfig
from curation.stages.dedup.common import SurvivorPolicy


def test_config_validation():
    with pytest.raises(ValidationError, match="set both"):
        NearDedupConfig(bands=14)
    with pytest.raises(ValidationError, match="exceeds num_perm"):
        NearDedupConfig(num_perm=64, bands=14, rows=8)
    with pytest.raises(ValidationError):
        NearDedupConfig(threshold=1.0)
    with pytest.raises(ValidationError):
        ExactDedupConfig(normalization="stem")
    with pytest.raises(ValidationError, match="repeats"):
        SurvivorPolicy(order=("id", "id"))
    assert NearDedupConfig(num_perm=112, bands=14, rows=8).lsh_params == (14, 8)
