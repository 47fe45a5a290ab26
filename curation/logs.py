"""What the command line prints while it works, and how loud Spark and py4j are beside it.

``curation`` logs its progress lines (one per committed stage, heartbeats, the session line)
through the ``curation`` logger. ``configure(verbose)``, called by the command line, sends INFO
to stdout (the lines are the command's running account, next to its results) and warnings to
stderr, where errors also go. Quiet, the default, also keeps Spark's and py4j's own logs out of
the way: the JVM a session starts reads a log4j2 configuration at ERROR level from its first line
(so the hostname, native-hadoop and truncated-plan WARN lines never appear), and py4j's INFO
lines (gateway and callback-server chatter) are dropped. ``-v`` leaves Spark at its usual WARN
level and shows py4j's log.

Used as a library (a notebook, a job script of the user's) nothing here is configured: the
``curation`` loggers have no handler and Spark's logging is whatever the session has.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

LOGGER = "curation"
# log4j2 configuration for a quiet JVM: Spark's console pattern, root level ERROR.
QUIET_LOG4J = Path(__file__).resolve().parent / "data" / "log4j2-quiet.properties"
_JAVA_OPTIONS = "spark.driver.extraJavaOptions"

# None: not configured (library use); else whether the command line asked for -v.
_verbose: bool | None = None


class _CurrentStream(logging.StreamHandler):
    """A handler writing to ``sys.<name>`` as it is at each record: a caller that swaps the
    stream later (pytest's capture, a notebook cell) gets the lines."""

    def __init__(self, name: str):
        super().__init__()
        self._name = name

    @property
    def stream(self):  # type: ignore[override]
        return getattr(sys, self._name)

    @stream.setter
    def stream(self, _value) -> None:  # StreamHandler.__init__ assigns one; ours is looked up
        pass


class _Below(logging.Filter):
    def __init__(self, level: int):
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < self.level


def configure(verbose: bool) -> None:
    """Set up the command line's output; calling it again replaces the earlier setup."""
    global _verbose
    _verbose = verbose
    log = logging.getLogger(LOGGER)
    for handler in [h for h in log.handlers if isinstance(h, _CurrentStream)]:
        log.removeHandler(handler)
    out = _CurrentStream("stdout")
    out.addFilter(_Below(logging.WARNING))
    err = _CurrentStream("stderr")
    err.setLevel(logging.WARNING)
    for handler in (out, err):
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
    log.setLevel(logging.DEBUG if verbose else logging.INFO)
    # Records still propagate: a host's root handlers (a job runner's log capture, pytest's
    # caplog) keep seeing them.
    py4j = logging.getLogger("py4j")
    py4j.setLevel(logging.INFO if verbose else logging.WARNING)
    if verbose and not py4j.handlers:
        py4j.addHandler(_CurrentStream("stderr"))


def quiet_jvm() -> bool:
    """Whether a session built now should start its JVM quiet (the command line without -v)."""
    return _verbose is False


def jvm_conf(user_conf: dict[str, str]) -> dict[str, str]:
    """Spark properties that start the driver JVM with the quiet log4j2 configuration, or {}.

    The user's own ``spark.driver.extraJavaOptions`` are kept and come after ours, so a
    ``-Dlog4j2.configurationFile`` of theirs wins.
    """
    if not quiet_jvm():
        return {}
    ours = f"-Dlog4j2.configurationFile={QUIET_LOG4J.as_uri()}"
    theirs = user_conf.get(_JAVA_OPTIONS, "").strip()
    return {_JAVA_OPTIONS: f"{ours} {theirs}".strip()}


def spark_log_level() -> str:
    """The level for ``SparkContext.setLogLevel`` once a session we built is up."""
    return "ERROR" if quiet_jvm() else "WARN"
