"""A Spark standalone cluster on 127.0.0.1 for tests: one master and N workers, separate JVMs.

Started from the installed pyspark (its ``bin/spark-class``), on free ports, each JVM in its own
process group so teardown also ends the executors and Python workers it spawned. Teardown runs on
success, on failure and at interpreter exit.

    with standalone_cluster(workers=2) as cluster:
        cluster.submit("jobs/run_pipeline.py", "conf/local_demo.yaml")
        cluster.run_python("tests/platforms/cluster_delta_job.py", cluster.master_url, "/tmp/out")

In tests, use the session-scoped ``spark_cluster`` fixture (and ``packed_env`` for `make package`).
conftest.py registers both; a test module that imports them would get a second cluster (and a
second `make package` check) of its own.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

HOST = "127.0.0.1"
REPO = Path(__file__).resolve().parents[1]
# `make package`'s packed environment, for executors of clusters without curation installed.
PACKED_ENV = REPO / "dist" / "curation-env.tar.gz"


def spark_home() -> Path:
    """The Spark distribution inside the installed pyspark package (bin/, jars/)."""
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@dataclass
class _Daemon:
    name: str
    process: subprocess.Popen
    log: Path

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(text[-lines:])


@dataclass
class StandaloneCluster:
    """A running cluster: its master URL, and helpers to run jobs against it."""

    master_url: str
    web_url: str
    work_dir: Path
    worker_dirs: list[Path]
    daemons: list[_Daemon] = field(default_factory=list, repr=False)

    def state(self) -> dict:
        """The master's JSON status (workers, running and completed applications)."""
        with urllib.request.urlopen(f"{self.web_url}/json/", timeout=5) as response:
            return json.load(response)

    def workers_that_ran(self, app_id: str) -> list[int]:
        """Indexes of the workers that launched an executor for ``app_id`` (from their logs: a
        finished application's folder is cleaned away within seconds)."""
        line = f"Asked to launch executor {app_id}/"
        return [
            i
            for i in range(len(self.worker_dirs))
            if line in (self.work_dir / f"worker-{i}.log").read_text(errors="replace")
        ]

    def alive_workers(self) -> int:
        return sum(1 for w in self.state().get("workers", []) if w.get("state") == "ALIVE")

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """Environment for drivers: this venv's Python everywhere, Spark bound to loopback."""
        env = dict(os.environ)
        env.update(
            {
                "SPARK_HOME": str(spark_home()),
                "PYSPARK_PYTHON": sys.executable,
                "PYSPARK_DRIVER_PYTHON": sys.executable,
                "SPARK_LOCAL_IP": HOST,
                "PYTHONPATH": os.pathsep.join(
                    p for p in (str(REPO), env.get("PYTHONPATH", "")) if p
                ),
            }
        )
        env.update(extra or {})
        return env

    def submit(
        self,
        script: str | Path,
        *args: str,
        conf: dict[str, str] | None = None,
        timeout: float = 600,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess:
        """``spark-submit --master <this cluster>`` a Python script; output is captured."""
        settings = {
            "spark.executor.memory": "512m",
            "spark.driver.memory": "1g",
            "spark.driver.host": HOST,
            "spark.ui.enabled": "false",
            "spark.pyspark.python": sys.executable,
            "spark.pyspark.driver.python": sys.executable,
            **(conf or {}),
        }
        command = [str(spark_home() / "bin" / "spark-submit"), "--master", self.master_url]
        for key, value in settings.items():
            command += ["--conf", f"{key}={value}"]
        command += [str(script), *args]
        return _run(command, self.env(env), timeout)

    def run_python(
        self,
        script: str | Path,
        *args: str,
        timeout: float = 600,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess:
        """Run a Python script with this venv's interpreter (it builds its own session)."""
        return _run([sys.executable, str(script), *args], self.env(env), timeout)

    def stop(self) -> None:
        _stop_all(self.daemons)


def _run(
    command: Sequence[str], env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess:
    # Own process group, so a timeout ends the driver JVM along with its Python parent.
    process = subprocess.Popen(
        command,
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process, grace=5)
        out, err = process.communicate()
        err += f"\n[cluster.py] killed after {timeout:.0f} s"
    return subprocess.CompletedProcess(command, process.returncode, out, err)


def _start(name: str, args: Sequence[str], log: Path, env: dict[str, str]) -> _Daemon:
    # spark-class execs the JVM, so the process we hold is the daemon itself.
    command = [str(spark_home() / "bin" / "spark-class"), *args]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return _Daemon(name, process, log)


def _kill_group(process: subprocess.Popen, grace: float) -> None:
    """SIGTERM the process group we created for ``process``, SIGKILL what is left after grace."""
    try:
        group = os.getpgid(process.pid)
    except ProcessLookupError:
        group = None
    if group is None or group != process.pid:  # not (or no longer) the group we made
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        group = None
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)
    if group is not None:
        # Executors and Python workers of this daemon share its group; end stragglers too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


def _stop_all(daemons: list[_Daemon]) -> None:
    # Workers first (they end their executors), then the master.
    for daemon in reversed(daemons):
        _kill_group(daemon.process, grace=10)
    daemons.clear()


@contextlib.contextmanager
def standalone_cluster(
    workers: int = 2,
    cores: int = 1,
    memory: str = "1g",
    work_dir: Path | None = None,
    timeout: float = 180,
) -> Iterator[StandaloneCluster]:
    """Start a master and ``workers`` workers; yield once all registered; always tear down."""
    if work_dir is None:
        import tempfile

        work_dir = Path(tempfile.mkdtemp(prefix="spark-cluster-"))
    work_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        {
            "SPARK_HOME": str(spark_home()),
            "SPARK_LOCAL_IP": HOST,
            "SPARK_DAEMON_MEMORY": "256m",  # master and worker daemons need little
            "PYSPARK_PYTHON": sys.executable,
            # Each application unpacks its archives (a packed venv: ~700 MB) into the worker's
            # work dir; remove a finished application's folder within seconds, as a long-lived
            # cluster does after days (spark.worker.cleanup.*), so a run's disk use stays flat.
            "SPARK_WORKER_OPTS": "-Dspark.worker.cleanup.enabled=true "
            "-Dspark.worker.cleanup.interval=10 -Dspark.worker.cleanup.appDataTtl=5",
        }
    )
    master_port, master_ui = free_port(), free_port()
    cluster = StandaloneCluster(
        master_url=f"spark://{HOST}:{master_port}",
        web_url=f"http://{HOST}:{master_ui}",
        work_dir=work_dir,
        worker_dirs=[work_dir / f"worker-{i}" for i in range(workers)],
    )
    atexit.register(cluster.stop)  # a crashed test run must not leave JVMs behind
    try:
        cluster.daemons.append(
            _start(
                "master",
                [
                    "org.apache.spark.deploy.master.Master",
                    "--host", HOST,
                    "--port", str(master_port),
                    "--webui-port", str(master_ui),
                ],
                work_dir / "master.log",
                env,
            )
        )  # fmt: skip
        for i, worker_dir in enumerate(cluster.worker_dirs):
            worker_dir.mkdir(parents=True, exist_ok=True)
            cluster.daemons.append(
                _start(
                    f"worker-{i}",
                    [
                        "org.apache.spark.deploy.worker.Worker",
                        "--host", HOST,
                        "--port", str(free_port()),
                        "--webui-port", str(free_port()),
                        "--cores", str(cores),
                        "--memory", memory,
                        "--work-dir", str(worker_dir),
                        cluster.master_url,
                    ],
                    work_dir / f"worker-{i}.log",
                    env,
                )
            )  # fmt: skip
        _wait_until_registered(cluster, workers, timeout)
        yield cluster
    finally:
        cluster.stop()
        atexit.unregister(cluster.stop)


def _wait_until_registered(cluster: StandaloneCluster, workers: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    alive = 0
    while time.monotonic() < deadline:
        for daemon in cluster.daemons:
            if daemon.process.poll() is not None:
                raise RuntimeError(
                    f"Spark {daemon.name} exited with {daemon.process.returncode} while the "
                    f"cluster started; its log ({daemon.log}):\n{daemon.tail()}"
                )
        with contextlib.suppress(OSError, ValueError):
            alive = cluster.alive_workers()
            if alive >= workers:
                return
        time.sleep(0.5)
    logs = "\n\n".join(f"--- {d.name} ({d.log}):\n{d.tail(15)}" for d in cluster.daemons)
    raise RuntimeError(
        f"only {alive} of {workers} Spark workers registered within {timeout:.0f} s\n{logs}"
    )


@pytest.fixture(scope="session")
def spark_cluster(tmp_path_factory) -> Iterator[StandaloneCluster]:
    """A two-worker standalone cluster shared by the cluster tests of one xdist worker."""
    with standalone_cluster(workers=2, work_dir=tmp_path_factory.mktemp("spark-cluster")) as c:
        yield c


@pytest.fixture(scope="session")
def packed_env() -> Path:
    """`make package` (the wheel and dist/curation-env.tar.gz); make reuses what is up to date."""
    started = time.monotonic()
    PACKED_ENV.parent.mkdir(exist_ok=True)
    # Test files that need it may run on several xdist workers: one builds, the others wait
    # and then find it up to date.
    with open(PACKED_ENV.parent / ".package.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        proc = subprocess.run(
            # -o: this venv is the one running the tests; do not let make reinstall it under them.
            ["make", "-o", ".venv/.installed", "package", f"PYTHON={sys._base_executable}"],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=1800,
        )
    assert proc.returncode == 0, (
        f"make package failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    )
    print(
        f"make package: {time.monotonic() - started:.0f} s, {PACKED_ENV.stat().st_size >> 20} MiB"
    )
    return PACKED_ENV
