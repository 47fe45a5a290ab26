"""The pipeline as a Spark Connect client (shared/serverless Databricks, Spark 4 clients).

A real Spark Connect server is started from the installed pyspark (its jars ship
spark-connect_2.13) on a free loopback port. Over Connect there is no SparkContext, no JVM in the
client, no accumulators and no SparkFiles on the client: models go to the workers as session
artifacts (``spark.addArtifacts(..., file=True)``). A process cannot hold a classic session and a
Connect session at once, so the Connect side runs in subprocesses, as a user's would.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster import HOST, REPO, free_port, spark_home
from recipes import (
    DEMO_RECIPE,
    TRAIN_RECIPE,
    check_outcome,
    decisions,
    demo_overrides,
    outputs,
    run_demo_in_process,
    run_in_process,
    write_corpus,
)

from curation.config import load_config
from curation.delta import open_store
from curation.stages.langid import bundled_lid_model
from curation.train import load_train_config, train_classifier

pytest.importorskip("grpc", reason="Spark Connect client needs the `connect` extra (grpcio ...)")

# A Connect server JVM of its own and a classic run beside it.
pytestmark = pytest.mark.slow

PROBE = Path(__file__).with_name("worker_probe_job.py")
NOTEBOOK = REPO / "jobs" / "databricks" / "curation_notebook.py"
SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"


def _connect_jar() -> Path | None:
    return next((spark_home() / "jars").glob("spark-connect_*.jar"), None)


@pytest.fixture(scope="module")
def connect_url(tmp_path_factory) -> Iterator[str]:
    """sc://127.0.0.1:PORT of a Spark Connect server on local[2], stopped after the module."""
    if _connect_jar() is None:
        pytest.skip("the installed pyspark has no spark-connect jar to start a server from")
    port = free_port()
    log = tmp_path_factory.mktemp("connect-server") / "server.log"
    env = {
        **os.environ,
        "SPARK_HOME": str(spark_home()),
        "SPARK_LOCAL_IP": HOST,
        "PYSPARK_PYTHON": sys.executable,  # the server's Python workers: this venv
    }
    command = [
        str(spark_home() / "bin" / "spark-submit"),
        "--class", SERVER_CLASS,
        "--master", "local[2]",
        "--conf", f"spark.connect.grpc.binding.address={HOST}",
        "--conf", f"spark.connect.grpc.binding.port={port}",
        "--conf", "spark.ui.enabled=false",
        "--conf", "spark.driver.memory=1g",
        "--conf", "spark.sql.shuffle.partitions=4",
    ]  # fmt: skip
    with log.open("wb") as sink:
        server = subprocess.Popen(
            command, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 300
        while not _listening(port):
            if server.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-3000:]
                pytest.fail(f"Spark Connect server did not start (exit {server.poll()}):\n{tail}")
            time.sleep(1)
        yield f"sc://{HOST}:{port}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((HOST, port)) == 0


def _client(
    *args: str, timeout: float = 900, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    # No PYSPARK_GATEWAY_PORT or JVM: a plain Python client process.
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def _ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, (
        f"exit {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    )
    return proc.stdout


def test_demo_recipe_over_connect_equals_the_classic_run(spark, connect_url, tmp_path):
    """conf/local_demo.yaml, every stage: the fastText quality model and the language-ID model
    go to the server's workers as artifacts, dedup checkpoints on the server, delta-rs commits in
    the client."""
    corpus, model = tmp_path / "corpus", tmp_path / "models" / "quality.bin"
    write_corpus(spark, corpus)
    train_classifier(
        spark, load_train_config(TRAIN_RECIPE, [f"tables.sample.path={corpus}", f"output={model}"])
    )
    classic = tmp_path / "classic"
    run_demo_in_process(spark, demo_overrides(corpus, classic, model), run_id="classic")

    out = tmp_path / "connect"
    sets = [*demo_overrides(corpus, out, model), f"spark.connect_url={connect_url}"]
    args = ["-m", "curation.cli", "run", str(DEMO_RECIPE), "--run-id", "over-connect"]
    stdout = _ok(_client(*args, *(x for s in sets for x in ("--set", s))))
    assert "Delta engine: rust" in stdout and "run over-connect:" in stdout
    check_outcome(
        spark, corpus, out, {"foreign": "langid"}, frozenset({"langid:not_allowed", "dedup:exact"})
    )
    assert outputs(spark, out) == outputs(spark, classic)
    ran = {r.stage for r in open_store(spark, "rust").read(f"{out}/stats").collect()}
    assert {s.stage_name for s in load_config(DEMO_RECIPE).stages} < ran


def test_models_reach_workers_as_session_artifacts(connect_url, tmp_path):
    model = tmp_path / "lid-copy.ftz"
    shutil.copyfile(bundled_lid_model(), model)
    proc = _client(str(PROBE), "connect-model", connect_url, str(model))
    lines = [line for line in _ok(proc).splitlines() if line.startswith("RESULT ")]
    result = json.loads(lines[-1][len("RESULT ") :])
    assert not model.exists()  # the job deleted it after shipping: workers used the artifact
    assert (result["shipped"], result["name"]) == ("artifact", model.name)
    assert {(r["want"], r["got"]) for r in result["rows"]} == {
        ("en", "en"),
        ("fr", "fr"),
        ("de", "de"),
    }
    paths = {r["path"] for r in result["rows"]}
    assert len(paths) == 1 and Path(paths.pop()).name == model.name


def test_databricks_notebook_over_connect_decides_as_the_driver(spark, connect_url, tmp_path):
    """The notebook as serverless or standard-access Databricks runs it: a Connect client with
    no JVM of its own, so any use of ``_jvm``, ``_jsc`` or delta-spark's internal classes on its
    path fails the run."""
    corpus, out = tmp_path / "corpus", tmp_path / "out"
    write_corpus(spark, corpus)
    env = {
        "CURATION_NOTEBOOK_INPUT": str(corpus),
        "CURATION_NOTEBOOK_OUTPUT": str(out),
        "CURATION_NOTEBOOK_CONNECT_URL": connect_url,
    }
    stdout = _ok(_client(str(NOTEBOOK), env=env))
    assert "== wrote documents" in stdout and "== wrote rejected" in stdout
    reference = tmp_path / "reference"
    run_in_process(spark, corpus, reference, run_id="reference")
    assert decisions(spark, out) == decisions(spark, reference)
