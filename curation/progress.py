"""A heartbeat while a segment runs: which segment, how far Spark's tasks are, how long so far.

The driver reports each stage's rows when its segment commits; a segment over a large table can
take an hour, so in between a line every ``CURATION_PROGRESS_SECONDS`` (default 30) says it is
alive and how far along. One short line per interval keeps CI and Airflow logs readable, unlike
Spark's console bar, which is only on in a terminal. Under Spark Connect there is no status
tracker on the client, so the line has the elapsed time only.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from curation.errors import ConfigError

ENV = "CURATION_PROGRESS_SECONDS"
DEFAULT_SECONDS = 30.0


def interval_seconds() -> float:
    raw = os.environ.get(ENV)
    if raw is None:
        return DEFAULT_SECONDS
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{ENV}={raw!r} is not a number of seconds; set e.g. {ENV}=30") from None
    if value <= 0:
        raise ConfigError(f"{ENV}={raw!r} must be positive; set e.g. {ENV}=30")
    return value


def task_counts(spark: Any) -> tuple[int, int] | None:
    """(completed, total) tasks of the stages Spark is running now; None without a tracker."""
    try:
        tracker = spark.sparkContext.statusTracker()
    except Exception:  # Spark Connect: no SparkContext on the client
        return None
    done = total = 0
    for stage_id in tracker.getActiveStageIds():
        info = tracker.getStageInfo(stage_id)
        if info is not None:
            done += info.numCompletedTasks
            total += info.numTasks
    return done, total


class Heartbeat:
    """Context manager: emits ``[label] running 95s, tasks 12/40`` every interval until exit."""

    def __init__(
        self, spark: Any, label: str, emit: Callable[[str], None], every: float | None = None
    ):
        self.spark, self.label, self.emit = spark, label, emit
        self.every = every if every is not None else interval_seconds()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{label}", daemon=True)
        self._t0 = 0.0

    def __enter__(self) -> Heartbeat:
        self._t0 = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def line(self) -> str:
        text = f"[{self.label}] running {time.monotonic() - self._t0:.0f}s"
        counts = task_counts(self.spark)
        if counts and counts[1]:
            text += f", tasks {counts[0]}/{counts[1]} in the active Spark stages"
        return text

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            with contextlib.suppress(Exception):  # a progress line must never fail the run
                self.emit(self.line())
