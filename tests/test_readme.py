"""Every command in the README's "Using it" block runs as written, against the demo output.

The block is read from README.md, so a command added there is tested here. Each runs in a
directory laid out like a checkout after `make run` (conf/ and jobs/ copied, data/sample,
models/demo_quality.bin and out/demo made by the same commands `make run` types), the `curation`
ones in this process on the suite's Spark session, `spark-submit` as its own process. What is
not taken literally: optional parts in [brackets] are included, the placeholder ID is one run
id, and `--docs` counts are capped at DOCS (the benchmark corpus's million documents would take
an hour here); everything else is the README's text.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cluster import spark_home

from curation.cli import main

REPO = Path(__file__).resolve().parents[1]
DOCS = 120  # ids doc-00000000 .. doc-00000119: the README's doc-00000042 is among them
RUN_ID = "readme"


def using_it_commands(readme: str) -> list[str]:
    """The commands of the first code block under "## Using it", comments removed."""
    section = readme.split("\n## Using it\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```[^\n]*\n(.*?)```", section, re.S)
    assert block, "no code block under ## Using it"
    commands = [re.sub(r"\s+#.*$", "", line).strip() for line in block.group(1).splitlines()]
    return [c for c in commands if c and not c.startswith("#")]


def as_run(command: str) -> list[str]:
    """The words to run for a README command (see the module docstring for what changes)."""
    command = re.sub(r"\[([^\]]*)\]", r"\1", command)
    words = shlex.split(command)
    words = [RUN_ID if w == "ID" else w for w in words]
    for i, word in enumerate(words[:-1]):
        if word == "--docs":
            words[i + 1] = str(min(int(words[i + 1]), DOCS))
    return words


COMMANDS = using_it_commands((REPO / "README.md").read_text())


def test_the_block_is_found_and_names_every_command():
    firsts = {as_run(c)[1] for c in COMMANDS if c.startswith("curation ")}
    assert {"run", "stats", "explain", "train-classifier", "sample"} <= firsts, COMMANDS
    assert as_run("curation run x.yaml [--set a.b=1] [--run-id ID]") == [
        "curation", "run", "x.yaml", "--set", "a.b=1", "--run-id", RUN_ID,
    ]  # fmt: skip


def _curation(*args: str) -> None:
    try:
        code = main(list(args))
    except SystemExit as exc:  # user errors exit 2
        code = exc.code
    assert code in (0, None), f"curation {' '.join(args)} exited {code}"


@pytest.fixture(scope="module")
def checkout(spark, tmp_path_factory) -> Path:
    """A directory as after `make run`; the README's own run command made out/demo."""
    root = tmp_path_factory.mktemp("readme")
    for name in ("conf", "jobs"):
        shutil.copytree(REPO / name, root / name)
    before = os.getcwd()
    os.chdir(root)
    try:
        _curation("sample", "data/sample", "--docs", str(DOCS), "--seed", "42")
        _curation("train-classifier", "conf/train_demo.yaml")
        (run,) = [c for c in COMMANDS if c.startswith("curation run ")]
        _curation(*as_run(run)[1:])
    finally:
        os.chdir(before)
    assert (root / "out" / "demo" / "documents").is_dir()
    return root


@pytest.mark.slow  # the demo, once per module (about a minute on an idle machine)
@pytest.mark.parametrize("command", COMMANDS)
def test_readme_command_runs_as_written(command, checkout, run_cli, monkeypatch):
    monkeypatch.chdir(checkout)
    words = as_run(command)
    if words[0] == "curation":
        result = run_cli(*words[1:])
        assert result.returncode == 0, (
            f"{command}\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
        )
        if words[1] in ("stats", "explain"):
            assert result.stdout.strip(), command
        if words[1] == "explain":
            assert "doc-00000042" in result.stdout
        if words[1] == "sample":  # where the command was typed, not where the JVM started
            assert (checkout / words[2]).is_dir(), words
        return
    assert words[0] == "spark-submit", f"a README command this test cannot run: {command}"
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    proc = subprocess.run(
        [str(spark_home() / "bin" / "spark-submit"), *words[1:]],
        capture_output=True,
        text=True,
        env=env,
        cwd=checkout,
        timeout=1200,
    )
    assert proc.returncode == 0, f"{command}\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    assert "documents in" in proc.stdout, proc.stdout[-2000:]
