"""open_store (curation/delta/__init__.py): which engine a session gets."""

from __future__ import annotations

import pytest

from curation.delta import open_store
from curation.errors import DeltaError
from curation.session import has_delta_jars


def test_auto_picks_rust_without_jars(spark):
    expected = "spark" if has_delta_jars(spark) else "rust"
    assert open_store(spark).engine == expected


def test_spark_engine_refused_without_jars(spark):
    if has_delta_jars(spark):
        pytest.skip("delta-spark jars are loaded: the spark engine is available")
    with pytest.raises(DeltaError, match="delta-spark"):
        open_store(spark, "spark")
