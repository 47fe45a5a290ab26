"""The Databricks notebook runs top to bottom as a plain script on local Spark and decides as the
driver does; databricks.yml is a bundle whose job calls the package's entry point."""

from __future__ import annotations

import re
import runpy
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from recipes import run_in_process, write_corpus

from curation.cli import build_parser, main
from curation.delta import open_store

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "jobs" / "databricks" / "curation_notebook.py"
BUNDLE = REPO / "jobs" / "databricks" / "databricks.yml"


def _decisions(spark, root: Path) -> tuple[set[str], set[tuple]]:
    store = open_store(spark, "rust")
    kept = {r.id for r in store.read(f"{root}/documents").select("id").collect()}
    rejected = {
        tuple(r)
        for r in store.read(f"{root}/rejected").select("id", "drop_stage", "drop_reason").collect()
    }
    return kept, rejected


def test_notebook_runs_as_a_script_and_matches_the_driver(spark, tmp_path, monkeypatch, capsys):
    """Run as Databricks runs it: top to bottom in a process that already has ``spark``."""
    corpus, out = tmp_path / "corpus", tmp_path / "out"
    write_corpus(spark, corpus)
    monkeypatch.setenv("CURATION_NOTEBOOK_INPUT", str(corpus))
    monkeypatch.setenv("CURATION_NOTEBOOK_OUTPUT", str(out))
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    runpy.run_path(str(NOTEBOOK), init_globals={"spark": spark}, run_name="__main__")
    stdout = capsys.readouterr().out
    # Intermediate results were shown after each stage, in order.
    steps = re.findall(r"^== (read|after \w+|wrote \w+)", stdout, flags=re.M)
    assert steps == [
        "read", "after length", "after langid", "after exact_dedup", "wrote documents",
        "wrote rejected",
    ]  # fmt: skip
    assert "langid:not_allowed" in stdout and "dedup:exact" in stdout

    reference = tmp_path / "reference"
    run_in_process(spark, corpus, reference, run_id="reference")
    kept, rejected = _decisions(spark, out)
    assert (kept, rejected) == _decisions(spark, reference)
    assert {reason for _, _, reason in rejected} >= {
        "length:too_few_words",
        "langid:not_allowed",
        "dedup:exact",
    }


def test_notebook_is_in_databricks_source_format():
    lines = NOTEBOOK.read_text().splitlines()
    assert lines[0] == "# Databricks notebook source"
    cells = NOTEBOOK.read_text().split("\n# COMMAND ----------\n")
    assert len(cells) >= 8  # markdown and code cells alternate


def test_bundle_job_calls_the_entry_point_with_run_args():
    bundle = yaml.safe_load(BUNDLE.read_text())
    assert bundle["bundle"]["name"]
    # The wheel artifact is built from this repository with the same command as `make package`.
    (artifact,) = bundle["artifacts"].values()
    assert artifact["type"] == "whl" and "pip wheel --no-deps" in artifact["build"]
    assert (BUNDLE.parent / artifact["path"]).resolve() == REPO
    scripts = {
        ep.name: ep.value
        for ep in metadata.distribution("curation").entry_points
        if ep.group == "console_scripts"
    }
    jobs = bundle["resources"]["jobs"]
    wheel_tasks = [t for job in jobs.values() for t in job["tasks"] if "python_wheel_task" in t]
    notebook_tasks = [t for job in jobs.values() for t in job["tasks"] if "notebook_task" in t]
    assert wheel_tasks and notebook_tasks
    for task in wheel_tasks:
        call = task["python_wheel_task"]
        assert call["package_name"] == "curation"
        assert scripts[call["entry_point"]] == "curation.cli:main"
        args = build_parser().parse_args(call["parameters"])
        assert args.command == "run" and args.run_id
        # The recipe is synced with the bundle: it is a file of this repository.
        recipe = call["parameters"][1]
        assert recipe.startswith("${workspace.file_path}/")
        assert (REPO / recipe.removeprefix("${workspace.file_path}/")).is_file()
        assert any("whl" in lib for lib in task["libraries"])
    for task in notebook_tasks:
        path = task["notebook_task"]["notebook_path"]
        assert (BUNDLE.parent / path).resolve() == NOTEBOOK


def test_entry_point_called_as_a_function_fails_the_task_on_a_bad_recipe(tmp_path, capsys):
    # A python_wheel_task calls the entry point as a function and ignores what it returns.
    bad = tmp_path / "bad.yaml"
    bad.write_text("input: {path: x}\noutput: o\nstages: [{kind: length, min_words: -3}]\n")
    with pytest.raises(SystemExit) as exit_:
        main(["run", str(bad)])
    assert exit_.value.code == 2
    assert "stages.length.min_words: -3 is invalid" in capsys.readouterr().err
