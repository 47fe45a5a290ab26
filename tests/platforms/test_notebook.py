"""The Databricks notebook runs top to bottom as a plain script on local Spark and decides as the
driver does; databricks.yml is a bundle whose job calls the package's entry point."""

from __future__ import annotations

import json
import os
import re
import runpy
import subprocess
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from recipes import decisions, run_in_process, write_corpus
from tool_venv import tool_python

from curation.cli import build_parser, main

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "jobs" / "databricks" / "curation_notebook.py"
BUNDLE = REPO / "jobs" / "databricks" / "databricks.yml"


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
    kept, rejected = decisions(spark, out)
    assert (kept, rejected) == decisions(spark, reference)
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


def _bundle() -> dict:
    return yaml.safe_load(BUNDLE.read_text())  # resolves the file's YAML anchors


def _wheel_tasks(bundle: dict) -> list[tuple[dict, dict]]:
    jobs = bundle["resources"]["jobs"].values()
    return [(job, t) for job in jobs for t in job["tasks"] if "python_wheel_task" in t]


def test_bundle_job_calls_the_entry_point_with_run_args():
    bundle = _bundle()
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
    notebook_tasks = [t for job in jobs.values() for t in job["tasks"] if "notebook_task" in t]
    assert len(_wheel_tasks(bundle)) == 2 and notebook_tasks
    for job, task in _wheel_tasks(bundle):
        call = task["python_wheel_task"]
        assert call["package_name"] == "curation"
        assert scripts[call["entry_point"]] == "curation.cli:main"
        # Job parameters fill the arguments at run time, as Databricks substitutes them.
        defaults = {p["name"]: p["default"] for p in job["parameters"]}
        argv = [
            re.sub(r"\{\{job\.parameters\.(\w+)\}\}", lambda m, d=defaults: d[m[1]], a)
            for a in call["parameters"]
        ]
        args = build_parser().parse_args(argv)
        assert (args.command, args.run_id) == ("run", "${var.run_id}")
        assert dict(s.split("=", 1) for s in args.set) == {
            "input.path": "${var.input}",
            "output": "${var.output}",
            "stages.fasttext_quality.model_path": "${var.model_path}",
        }
        # The recipe is synced with the bundle: a file of this repository, with the stage the
        # model path is set on.
        assert args.config.startswith("${workspace.file_path}/")
        recipe = REPO / args.config.removeprefix("${workspace.file_path}/")
        assert "fasttext_quality" in {
            s["kind"] for s in yaml.safe_load(recipe.read_text())["stages"]
        }
    for task in notebook_tasks:
        path = task["notebook_task"]["notebook_path"]
        assert (BUNDLE.parent / path).resolve() == NOTEBOOK


def test_bundle_job_cluster_and_serverless_variants():
    bundle = _bundle()
    variables = bundle["variables"]
    (cluster_job, cluster_task), (serverless_job, serverless_task) = _wheel_tasks(bundle)
    # The job cluster declares its access mode; the variable's default is a mode Databricks has.
    (cluster,) = cluster_job["job_clusters"]
    assert cluster["new_cluster"]["data_security_mode"] == "${var.access_mode}"
    assert variables["access_mode"]["default"] == "DATA_SECURITY_MODE_DEDICATED"
    assert cluster_task["job_cluster_key"] == cluster["job_cluster_key"]
    # The wheel alone, as a library of the cluster: its dependencies leave pyspark to the runtime.
    assert cluster_task["libraries"] == [{"whl": "../../dist/*.whl"}]
    # Serverless: no cluster, an environment whose dependencies are the wheel.
    assert "job_clusters" not in serverless_job and "job_cluster_key" not in serverless_task
    (environment,) = serverless_job["environments"]
    assert serverless_task["environment_key"] == environment["environment_key"]
    assert environment["spec"]["dependencies"] == ["../../dist/*.whl"]
    # Both variants take the same run parameters and run the same task.
    assert serverless_job["parameters"] == cluster_job["parameters"]
    assert serverless_task["python_wheel_task"] == cluster_task["python_wheel_task"]


def test_bundle_references_only_declared_variables_and_parameters():
    text = BUNDLE.read_text()
    bundle = _bundle()
    used = set(re.findall(r"\$\{var\.(\w+)\}", text))
    assert used == set(bundle["variables"]), used ^ set(bundle["variables"])
    for name, job in bundle["resources"]["jobs"].items():
        declared = {p["name"] for p in job.get("parameters", [])}
        used = set(re.findall(r"\{\{job\.parameters\.(\w+)\}\}", yaml.safe_dump(job)))
        assert used <= declared, (name, used - declared)
    # Input, output, model path and run id are variables, given to the jobs as parameters.
    assert {"input", "output", "model_path", "run_id"} <= set(bundle["variables"])


# Runs in .venv-bundles: each job of the bundle through databricks-bundles' typed models, which
# refuse unknown fields, wrong types and enum values (a ${var.x} reference passes as a variable).
BUNDLE_PROBE = r"""
import json, sys
from databricks.bundles.jobs import DataSecurityMode, Job
bundle = json.load(sys.stdin)
for name, job in bundle["resources"]["jobs"].items():
    Job.from_dict(job)
DataSecurityMode(bundle["variables"]["access_mode"]["default"])
print("RESULT " + json.dumps(sorted(bundle["resources"]["jobs"])))
"""


def test_bundle_jobs_load_as_databricks_bundles_models():
    """No PyPI package ships the bundle JSON schema (the `databricks` CLI, which prints it with
    `databricks bundle schema`, is a Go binary); databricks-bundles' job models are generated
    from the same schema, so they check every field under resources.jobs."""
    python = tool_python("bundles", BUNDLE.parent / "requirements-check.txt")
    bundle = _bundle()
    proc = subprocess.run(
        [str(python), "-c", BUNDLE_PROBE],
        input=json.dumps(bundle),
        capture_output=True,
        text=True,
        timeout=300,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "RESULT " + json.dumps(
        sorted(bundle["resources"]["jobs"])
    )


def test_entry_point_called_as_a_function_fails_the_task_on_a_bad_recipe(tmp_path, capsys):
    # A python_wheel_task calls the entry point as a function and ignores what it returns.
    bad = tmp_path / "bad.yaml"
    bad.write_text("input: {path: x}\noutput: o\nstages: [{kind: length, min_words: -3}]\n")
    with pytest.raises(SystemExit) as exit_:
        main(["run", str(bad)])
    assert exit_.value.code == 2
    assert "stages.length.min_words: -3 is invalid" in capsys.readouterr().err
