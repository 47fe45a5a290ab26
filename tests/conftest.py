"""Shared fixtures: one local SparkSession for the whole test run, and the shared data folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from cluster import spark_cluster  # noqa: F401 - registered here so every module shares one cluster

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def spark():
    from curation.session import SparkSettings, get_session

    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = get_session(
        SparkSettings(
            master="local[2]",
            ui=False,
            shuffle_partitions=4,
            driver_memory="2g",
            conf={
                "spark.default.parallelism": "4",
                "spark.sql.adaptive.enabled": "false",
                "spark.python.worker.reuse": "true",
            },
        )
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (real text and labelled toxicity data); tests skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"needs the shared data folder {SHARED_DATA} (absent in a user's fresh clone)")
    return SHARED_DATA
