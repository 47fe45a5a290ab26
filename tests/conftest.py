"""Shared fixtures: one local SparkSession for the whole test run, and the shared data folder."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

# Registered here so every module shares one cluster, one packed environment and one S3 server.
from cluster import packed_env, spark_cluster  # noqa: F401
from s3_server import s3_bucket, s3_server  # noqa: F401

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
# Every Spark JVM the suite starts (sessions, spawned processes, cluster daemons, executors) runs
# with the settings in tests/spark-conf: the quick JIT compiler only, see the file for why.
_SPARK_CONF = Path(__file__).resolve().parent / "spark-conf"
os.environ.setdefault("SPARK_CONF_DIR", str(_SPARK_CONF))
os.environ.setdefault("SPARK_DAEMON_JAVA_OPTS", "-XX:TieredStopAtLevel=1")


def pytest_configure(config):
    # Registered here rather than in pyproject.toml, whose pytest section other work edits.
    config.addinivalue_line(
        "markers",
        "compat: runs the demo and near dedup in a venv per pyspark version (benchmarks/compat.py)",
    )


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


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def run_cli(spark, capsys):
    """``curation ARGS`` in this process, on the suite's Spark session: no JVM start-up.

    For tests of what a command does; a test of the process itself (exit at interpreter
    shutdown, no JVM on PATH, a hard kill) runs ``python -m curation.cli`` instead.
    """
    from curation.cli import main

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exc:
            code = exc.code
        out, err = capsys.readouterr()
        return CliResult(int(code or 0), out, err)

    return run


# tryfirst: xdist reads the groups in its own collection hook, which otherwise runs before this.
# (pytest 9 ignores the group xdist 3.8 writes into node ids: pyproject pins pytest < 9.)
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Under pytest-xdist (``make test`` runs ``-n 4 --dist loadgroup``): a test file runs on one
    worker, so its module fixtures (a corpus, a pipeline run, a tool venv) are built once. A
    worker starts its own standalone cluster when one of its files needs it; the packed
    environment is built once, under a lock (tests/cluster.py). Files with a slow test go
    first: xdist hands out files in this order, and a long one started last is the run's tail."""
    slow = {
        item.path
        for item in items
        if any(item.get_closest_marker(m) for m in ("slow", "cluster", "compat"))
    }
    items.sort(key=lambda item: item.path not in slow)  # stable: files stay in their order
    for item in items:
        item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
