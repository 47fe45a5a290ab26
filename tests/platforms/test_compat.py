"""The oldest and the newest supported pyspark decide every document as the reference does.

Runs ``benchmarks/compat.py`` (what ``make compat`` runs for every version) for the two ends of
the range: each in its own venv under .venv-compat/ (built when absent, so a fresh clone works),
one process per version, the demo recipe and a near-dedup run over JSONL with malformed records.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import compat  # noqa: E402

pytestmark = [pytest.mark.compat, pytest.mark.timeout(2400)]


def test_oldest_and_newest_spark_decide_like_the_reference(tmp_path):
    ends = [compat.VERSIONS[0], compat.VERSIONS[-1]]
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "compat.py"),
            "--versions",
            ",".join(ends),
            # make compat's default (1,000 documents: every kind the sample generates), given
            # here so that the test does not change with it.
            "--docs",
            "1000",
            "--work",
            str(tmp_path / "work"),
            "--results",
            str(tmp_path / "results"),
        ],
        capture_output=True,
        text=True,
    )
    report_path = tmp_path / "results" / "compat.json"
    assert report_path.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(report_path.read_text())
    runs = {r["label"]: r for r in report["runs"]}
    assert list(runs) == ["reference", *ends]
    assert [runs[v]["pyspark"] for v in ends] == ends
    for version in ends:
        assert runs[version]["equal"], (version, runs[version]["runs"])
    assert done.returncode == 0, done.stderr[-3000:]
    # The comparison has something to compare: the demo drops for several reasons, and the
    # JSONL run rejects every kind of malformed record the inputs hold.
    ref = runs["reference"]["runs"]
    assert len(ref["demo"]["reasons"]) >= 5 and ref["demo"]["rows"] == report["docs"]
    read_reasons = {r for r in ref["near_dedup"]["reasons"] if r.startswith("read:")}
    assert read_reasons >= {
        "read:bad_json",
        "read:not_object",
        "read:missing_text",
        "read:null_text",
        "read:text_not_string",
        "read:invalid_utf8",
        "read:duplicate_id",
    }
