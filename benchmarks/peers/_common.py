"""Shared CLI and result contract of the peer near-dedup runners (pure Python, any venv)."""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path


def process_seconds() -> float:
    """Wall seconds since this process started, interpreter start-up and imports included.

    Read from /proc so ``seconds_total`` also covers what ran before any of our code did.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    start = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19]) / ticks
    stat = Path("/proc/stat").read_text().splitlines()
    btime = next(int(line.split()[1]) for line in stat if line.startswith("btime"))
    return time.time() - (btime + start)


def parse_args(description: str) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument(
        "--input", required=True, type=Path, help="directory of Parquet or JSONL files (id, text)"
    )
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", required=True, type=Path, help="result JSON")
    ap.add_argument("--removed-ids", type=Path, help="default: <out>.removed.txt")
    return ap.parse_args()


def write_result(
    args, tool: str, version: str, docs: int, seconds: float, removed: set[str], params: dict
) -> dict:
    removed_file = (args.removed_ids or args.out.with_suffix(".removed.txt")).resolve()
    removed_file.parent.mkdir(parents=True, exist_ok=True)
    removed_file.write_text("".join(f"{i}\n" for i in sorted(removed)))
    res = {
        "tool": tool,
        "version": version,
        "docs": docs,
        "removed": len(removed),
        "seconds": round(seconds, 2),
        "seconds_total": round(process_seconds(), 2),
        "removed_ids_file": str(removed_file),
        "params": {"threshold": args.threshold, "workers": args.workers, **params},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1))
    print(json.dumps(res))
    return res
