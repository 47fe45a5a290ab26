"""Run a recipe and die hard right after segment N commits, as a killed driver would.

    python tests/crash_run.py RECIPE RUN_ID N      # exits 3 after segment N's commit

The driver knows nothing of this: the test injects the kill through ``after_segment``.
"""

from __future__ import annotations

import os
import sys

from curation.config import load_config
from curation.driver import run_pipeline


def main(recipe: str, run_id: str, after: int) -> None:
    def die(segment) -> None:
        if segment.index == after:
            os._exit(3)  # no cleanup, no finally blocks: what kill -9 leaves behind

    run_pipeline(load_config(recipe), run_id=run_id, after_segment=die)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
