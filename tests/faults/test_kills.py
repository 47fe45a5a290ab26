"""kill -9 of the driver at each segment boundary and in the middle of a commit, then a re-run
with the same run id: the outputs equal an uninterrupted run's, nothing lost or duplicated.

Each crash is a real process killed with SIGKILL (``tests/crash_run.py``); the resume runs in
this test's session. The recipe has row passes, exact dedup and near dedup (which also
appends to ``dedup_index``), so every kind of commit a run makes is interrupted once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from recipes import outputs, write_corpus

from curation.config import load_config
from curation.delta import open_store
from curation.driver import Pipeline

pytestmark = [pytest.mark.fault, pytest.mark.slow]

CRASH = Path(__file__).resolve().parents[1] / "crash_run.py"
STAGES = [
    {"kind": "length", "min_words": 20, "max_words": 100_000},
    {"kind": "quality"},
    {"kind": "exact_dedup"},
    {"kind": "near_dedup", "num_perm": 64, "bands": 8, "rows": 8},
]


@pytest.fixture(scope="module")
def corpus(spark, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("kills") / "corpus"
    write_corpus(spark, path)
    return path


def _recipe(tmp_path: Path, corpus: Path, out: Path) -> Path:
    path = tmp_path / "recipe.json"
    path.write_text(
        json.dumps(
            {
                "input": {"path": str(corpus), "format": "delta"},
                "output": str(out),
                "storage": {"engine": "rust"},
                "spark": {"master": "local[2]", "shuffle_partitions": 4, "ui": False},
                "stages": STAGES,
            }
        )
    )
    return path


def _run(spark, recipe: Path, run_id: str) -> None:
    Pipeline(load_config(recipe), spark, open_store(spark, "rust")).run(run_id)


def _index_rows(spark, root: Path) -> list[tuple]:
    df = open_store(spark, "rust").read(f"{root}/dedup_index").drop("run_id")
    return sorted(tuple(r) for r in df.select(sorted(df.columns)).collect())


@pytest.fixture(scope="module")
def reference(spark, corpus, tmp_path_factory) -> tuple[dict, list]:
    tmp = tmp_path_factory.mktemp("kills-reference")
    out = tmp / "out"
    _run(spark, _recipe(tmp, corpus, out), "k")
    return outputs(spark, out), _index_rows(spark, out)


@pytest.mark.parametrize(
    "mode, where",
    [
        ("after-segment", "0"),  # the first segment committed
        ("after-segment", "1"),  # the second committed (quality's C4 rewrite has its own pass)
        ("mid-commit", "dedup_index"),  # near dedup's index rows written, not committed
        ("mid-commit", "rejected"),  # documents appended, rejected and stats not yet
    ],
)
def test_killed_anywhere_resumes_to_the_uninterrupted_outputs(
    spark, corpus, reference, tmp_path, run_cli, mode, where
):
    out = tmp_path / "out"
    recipe = _recipe(tmp_path, corpus, out)
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    proc = subprocess.run(
        [sys.executable, str(CRASH), str(recipe), "k", mode, where],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == -9, proc.stderr[-3000:]
    store = open_store(spark, "rust")
    assert not store.exists(f"{out}/stats")  # it died before the run finished

    resumed = run_cli("run", str(recipe), "--run-id", "k")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    if mode == "after-segment":  # the committed segments are not run again
        assert "already committed in run k; resuming after it" in resumed.stdout
    assert outputs(spark, out) == reference[0]
    assert _index_rows(spark, out) == reference[1]
    # Uncommitted Parquet files of the killed write are not part of any table.
    docs = store.read(f"{out}/documents")
    assert docs.count() == docs.select("id").distinct().count()
