"""A real standalone cluster (master + two workers, separate JVMs): Delta writes from executors."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
from cluster import HOST, standalone_cluster  # spark_cluster comes from conftest.py
from deltalake import DeltaTable

pytestmark = pytest.mark.cluster

JOB = Path(__file__).with_name("cluster_delta_job.py")
ROWS = 2000
# Text is "word " repeated (i % 50 + 1) times for i in 0..ROWS-1.
CHARS = sum(5 * (i % 50 + 1) for i in range(ROWS))


def _result(proc) -> dict:
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, f"job failed ({proc.returncode}):\n{proc.stderr[-4000:]}"
    return json.loads(lines[-1][len("RESULT ") :])


def _check(result: dict, table: Path, cluster) -> None:
    assert result["engine"] == "rust"
    assert result["master"] == cluster.master_url
    assert result["version"] == 0 and result["retry"] is None  # the retry committed nothing
    assert (result["rows"], result["ids"], result["chars"]) == (ROWS, ROWS, CHARS)
    # Python UDF work ran on both executors, one per worker (identified by working directory).
    workers_used = {
        next(i for i, d in enumerate(cluster.worker_dirs) if cwd.startswith(str(d)))
        for cwd in (e.split("|")[2] for e in result["executors"])
    }
    assert workers_used == {0, 1}, result["executors"]
    # The table is plain Delta: delta-rs reads what the executors wrote.
    assert DeltaTable(str(table)).to_pyarrow_table().num_rows == ROWS


def test_delta_round_trip_with_python_udfs_on_two_executors(spark_cluster, tmp_path):  # noqa: F811
    assert spark_cluster.alive_workers() == 2
    table = tmp_path / "docs"
    proc = spark_cluster.run_python(JOB, spark_cluster.master_url, str(table), str(ROWS))
    _check(_result(proc), table, spark_cluster)


def test_spark_submit_runs_the_same_job(spark_cluster, tmp_path):  # noqa: F811
    table = tmp_path / "docs"
    proc = spark_cluster.submit(JOB, spark_cluster.master_url, str(table), str(ROWS))
    _check(_result(proc), table, spark_cluster)
    apps = spark_cluster.state()["completedapps"]
    # Under spark-submit the session is spark-submit's, named by it (the script, without --name).
    assert any(app["name"] == JOB.name for app in apps)


def test_cluster_is_torn_down_when_the_body_fails(tmp_path):
    class Boom(Exception):
        pass

    seen = {}
    with pytest.raises(Boom), standalone_cluster(workers=1, work_dir=tmp_path) as cluster:
        seen["pids"] = [d.process.pid for d in cluster.daemons]
        seen["port"] = int(cluster.master_url.rsplit(":", 1)[1])
        assert cluster.alive_workers() == 1
        raise Boom
    assert len(seen["pids"]) == 2
    for pid in seen["pids"]:  # the JVMs are gone (reaped, not zombies)
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    with socket.socket() as sock:  # and the master's port is free again
        assert sock.connect_ex((HOST, seen["port"])) != 0
