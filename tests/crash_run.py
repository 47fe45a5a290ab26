"""Run a recipe and kill this process with SIGKILL at a chosen point, as `kill -9` would.

    python tests/crash_run.py RECIPE RUN_ID after-segment N   # once segment N has committed
    python tests/crash_run.py RECIPE RUN_ID mid-commit NAME   # files of the commit to the table
                                                              # NAME written, commit not yet made

The library knows nothing of this: the kill comes through the driver's ``after_segment`` hook
or by wrapping the rust engine's commit step in this process only.
"""

from __future__ import annotations

import os
import signal
import sys

from curation.config import load_config
from curation.delta.rust_engine import RustDeltaStore
from curation.driver import run_pipeline


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no finally blocks, no atexit


def main(recipe: str, run_id: str, mode: str, where: str) -> None:
    after_segment = None
    if mode == "after-segment":
        after_segment = lambda segment: _die() if segment.index == int(where) else None  # noqa: E731
    elif mode == "mid-commit":
        commit = RustDeltaStore._commit

        def dying_commit(self, loc, *args, **kwargs):
            if loc.shown.rstrip("/").endswith("/" + where):
                _die()  # the Parquet files of this write exist; the Delta commit does not
            return commit(self, loc, *args, **kwargs)

        RustDeltaStore._commit = dying_commit
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    run_pipeline(load_config(recipe), run_id=run_id, after_segment=after_segment)


if __name__ == "__main__":
    main(*sys.argv[1:5])
