"""Peak resident memory of a process tree, split the way a Spark user sizes a job.

A benchmarked command runs as a child process; a thread samples its whole tree every 0.2 s
(psutil) and keeps, per role, the peak of the summed RSS at one instant:

* ``driver_python``: the command's own interpreter (our driver, or a peer's Python process);
* ``jvm``: Java processes. In ``local[N]`` mode the driver JVM also hosts the executors; on a
  standalone cluster the executor JVMs are children of the workers, not of the command, and are
  not seen here;
* ``python_workers``: PySpark's daemon and workers (``pyspark.daemon`` / ``pyspark.worker``) and
  any other Python process below the command (datatrove's task processes);
* ``total``: the peak of the sum of all of them at one instant (not the sum of the peaks).

Sampling can miss a spike shorter than the interval; the JVM's heap rarely shrinks, so its peak
is stable, while Python workers come and go per task.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field

import psutil

ROLES = ("driver_python", "jvm", "python_workers")


def role_of(proc: psutil.Process, root_pid: int) -> str:
    if proc.pid == root_pid:
        return "driver_python"
    try:
        name = proc.name()
        cmd = " ".join(proc.cmdline()[:4])
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return "python_workers"
    if name == "java" or cmd.endswith("java") or "/java " in cmd:
        return "jvm"
    return "python_workers"


@dataclass
class PeakMemory:
    """Peak RSS in MiB per role, sampled until ``stop``."""

    root_pid: int
    interval: float = 0.2
    peaks: dict[str, float] = field(default_factory=lambda: dict.fromkeys((*ROLES, "total"), 0.0))
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> PeakMemory:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> dict[str, float]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return {k: round(v, 1) for k, v in self.peaks.items()}

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> None:
        try:
            root = psutil.Process(self.root_pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return
        now = dict.fromkeys(ROLES, 0.0)
        for proc in procs:
            try:
                rss = proc.memory_info().rss / 2**20
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            now[role_of(proc, self.root_pid)] += rss
        for role, mib in now.items():
            self.peaks[role] = max(self.peaks[role], mib)
        self.peaks["total"] = max(self.peaks["total"], sum(now.values()))
        self.samples += 1


@dataclass
class Measured:
    """A finished command: exit code, wall seconds, peak memory per role, captured output."""

    returncode: int
    seconds: float
    memory_mib: dict[str, float]
    stdout: str
    stderr: str


def run_measured(
    cmd: list[str], env: dict[str, str] | None = None, timeout: float = 7200
) -> Measured:
    """Run ``cmd`` to completion while sampling its process tree's memory.

    On timeout the whole process group (a JVM and its Python workers too) is killed and the
    return code is -9.
    """
    t0 = time.monotonic()
    proc = subprocess.Popen(
        cmd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    sampler = PeakMemory(proc.pid).start()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        err += f"\n[timed out after {timeout:.0f}s]"
    seconds = time.monotonic() - t0
    return Measured(proc.returncode, seconds, sampler.stop(), out, err)
