"""`make bench`: run each benchmark script in its quick setting; each writes JSON to results/.

Peers (datatrove) run from a separate venv, .venv-peers (`python -m venv .venv-peers &&
.venv-peers/bin/pip install datatrove spacy regex`); without it the scripts skip the peer side.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
QUICK = [
    ["bench_quality.py", "--docs", "500"],
    ["bench_toxicity.py"],
    ["bench_fasttext.py"],
    ["delta_throughput.py", "--docs", "20000", "--doc-bytes", "3000"],
    ["bench_dedup.py"],
]


def main() -> int:
    failed = []
    for script, *args in QUICK:
        t0 = time.monotonic()
        print(f"== {script} {' '.join(args)}", flush=True)
        rc = subprocess.call([sys.executable, str(HERE / script), *args])
        print(f"== {script}: exit {rc} in {time.monotonic() - t0:.0f}s", flush=True)
        if rc:
            failed.append(script)
    if failed:
        print("failed:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
