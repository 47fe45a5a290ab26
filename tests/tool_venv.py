"""A virtual environment of its own for a tool the project does not depend on (Airflow, the
Databricks bundle models): ``.venv-<name>`` in the repository (gitignored), built from a
requirements file on first use and reused while that file's hash is unchanged.

The test that needs it skips, saying why, when it cannot be built (no PyPI, an unsupported Python).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _quiet(text: str) -> str:
    # This machine's pip prints one warning per package about an absent local index; drop them.
    return "\n".join(line for line in text.splitlines() if "is ignored: it is neither" not in line)


def tool_python(name: str, requirements: Path) -> Path:
    """The interpreter of ``.venv-<name>``, (re)built when ``requirements`` changed."""
    venv = REPO / f".venv-{name}"
    python, stamp = venv / "bin" / "python", venv / ".requirements-sha256"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    if python.exists() and stamp.is_file() and stamp.read_text().strip() == digest:
        return python
    shutil.rmtree(venv, ignore_errors=True)
    base = getattr(sys, "_base_executable", sys.executable)
    steps = [
        [base, "-m", "venv", str(venv)],
        [str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"],
        [str(python), "-m", "pip", "install", "-q", "-r", str(requirements)],
    ]
    for step in steps:
        try:
            proc = subprocess.run(step, capture_output=True, text=True, timeout=1800)
        except subprocess.TimeoutExpired:
            proc = subprocess.CompletedProcess(step, -1, "", "timed out after 1800 s")
        if proc.returncode != 0:
            shutil.rmtree(venv, ignore_errors=True)
            pytest.skip(
                f"cannot build {venv.name} ({' '.join(step[-3:])} failed): "
                f"{_quiet(proc.stderr)[-1500:]}"
            )
    stamp.write_text(digest)
    return python
