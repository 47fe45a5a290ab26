"""spark-submit of jobs/*.py: on local Spark, on a standalone cluster, and with `make package`'s
packed environment on the executors. Every run must equal the same recipe run through the library
in this process, and reject what the generated corpus says it must.

The small recipe names an unreachable master: a job that built its own session from the recipe
instead of taking the one spark-submit created would fail to connect. The compose jobs run
conf/local_demo.yaml as it is; its local[*] master is ignored, as the cluster's record of the
application shows.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cluster import REPO, spark_home  # spark_cluster and packed_env come from conftest.py
from recipes import (
    DOCS,
    check_outcome,
    compose_submit_jobs,
    demo_overrides,
    outputs,
    run_demo_in_process,
    run_in_process,
    write_corpus,
    write_recipe,
)

RUN_PIPELINE = REPO / "jobs" / "run_pipeline.py"
PROBE = Path(__file__).with_name("worker_probe_job.py")
# Nothing listens on the discard port: a session built from the recipe could not start.
UNREACHABLE_MASTER = "spark://127.0.0.1:9"


def _ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, (
        f"exit {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    )
    return proc.stdout


def _result(proc: subprocess.CompletedProcess) -> dict:
    lines = [line for line in _ok(proc).splitlines() if line.startswith("RESULT ")]
    assert lines, proc.stdout[-2000:]
    return json.loads(lines[-1][len("RESULT ") :])


@pytest.fixture(scope="module")
def corpus(spark, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("submit") / "corpus"
    write_corpus(spark, path)
    return path


@pytest.fixture(scope="module")
def reference(spark, corpus, tmp_path_factory) -> dict:
    """The recipe's outputs when run through the library in this process."""
    root = tmp_path_factory.mktemp("reference") / "out"
    run_in_process(spark, corpus, root, run_id="reference")
    return outputs(spark, root)


def _recipe(tmp_path: Path, corpus: Path, out: Path) -> Path:
    return write_recipe(
        tmp_path / "recipe.yaml", corpus, out, master=UNREACHABLE_MASTER, app_name="from-recipe"
    )


def test_spark_submit_on_local_spark_takes_the_submitted_session(
    spark, corpus, reference, tmp_path
):
    out = tmp_path / "out"
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    command = [
        str(spark_home() / "bin" / "spark-submit"),
        "--master", "local[2]",
        "--conf", "spark.ui.enabled=false",
        "--conf", "spark.driver.memory=1g",
        str(RUN_PIPELINE), str(_recipe(tmp_path, corpus, out)), "--run-id", "local-submit",
    ]  # fmt: skip
    proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO, timeout=900)
    stdout = _ok(proc)
    assert "run local-submit:" in stdout and "dedup:exact" in stdout
    check_outcome(spark, corpus, out)
    assert outputs(spark, out) == reference


def _in(data: Path, arg: str) -> str:
    """A compose command argument with the `work` volume (/data) moved to ``data``."""
    return re.sub(r"(^|=)/data/", lambda m: f"{m.group(1)}{data}/", arg)


@pytest.mark.cluster
def test_the_compose_jobs_on_a_standalone_cluster(spark, spark_cluster, packed_env, tmp_path):
    """docker/compose.yaml's `submit` service, job for job: generate the sample, train the demo
    classifier, run conf/local_demo.yaml; here with /data in tmp_path and a 60-document sample.

    The pipeline job's executors run `make package`'s packed environment, as a cluster without
    curation installed would (one cluster run covers both; each costs a driver and two executors).
    """
    data = tmp_path / "data"
    name = f"curation-submit-{os.getpid()}-{time.monotonic_ns()}"
    jobs = compose_submit_jobs()
    assert [Path(script).name for script, _ in jobs] == [
        "generate_sample.py", "train_classifier.py", "run_pipeline.py"
    ]  # fmt: skip
    for script, args in jobs:
        args = [_in(data, a) for a in args]
        if "--docs" in args:
            args[args.index("--docs") + 1] = str(DOCS)
        conf = {}
        if script.endswith("run_pipeline.py"):
            args += ["--run-id", "compose"]
            # _with_env also waits for both executors, so both workers do Python work.
            conf = {**_with_env(packed_env), "spark.app.name": name}
        _ok(spark_cluster.submit(REPO / script, *args, conf=conf))

    sample, model, out = (
        data / "sample",
        data / "models" / "demo_quality.bin",
        data / "out" / "demo",
    )
    check_outcome(
        spark, sample, out, {"foreign": "langid"}, frozenset({"langid:not_allowed", "dedup:exact"})
    )
    # The same recipe and model through the library here gives the same tables.
    reference = tmp_path / "reference"
    run_demo_in_process(spark, demo_overrides(sample, reference, model), run_id="reference")
    assert outputs(spark, out) == outputs(spark, reference)
    # It ran on this cluster under the submitted name, with an executor on each worker.
    (app,) = [a for a in spark_cluster.state()["completedapps"] if a["name"] == name]
    assert spark_cluster.workers_that_ran(app["id"]) == [0, 1], app["id"]


def _with_env(archive: Path) -> dict[str, str]:
    return {
        "spark.archives": f"{archive}#env",
        "spark.pyspark.python": "./env/bin/python",
        "spark.pyspark.driver.python": sys.executable,  # client mode: the driver runs here
        "spark.scheduler.minRegisteredResourcesRatio": "1.0",
        "spark.scheduler.maxRegisteredResourcesWaitingTime": "60s",
    }


@pytest.mark.cluster
def test_executors_run_the_packed_environment(packed_env, spark_cluster):
    result = _result(spark_cluster.submit(PROBE, "python", conf=_with_env(packed_env)))
    assert result["workers"], result
    for worker in result["workers"]:
        env = Path(worker["cwd"]) / "env"
        # The archive, unpacked in the executor's directory on a worker, is the interpreter ...
        assert worker["executable"] == str(env / "bin" / "python"), worker
        assert any(worker["cwd"].startswith(str(d)) for d in spark_cluster.worker_dirs), worker
        # ... and curation comes from it, not from this checkout, while pyspark is the one Spark
        # puts on every Python worker's path (why the archive can leave pyspark's jars out).
        assert worker["curation"].startswith(str(env / "lib")), worker
        assert "pyspark.zip" in worker["pyspark"], worker
    used = {next(i for i, d in enumerate(spark_cluster.worker_dirs) if w["cwd"].startswith(str(d)))
            for w in result["workers"]}  # fmt: skip
    assert used == {0, 1}, result["workers"]
