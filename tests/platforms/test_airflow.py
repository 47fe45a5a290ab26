"""The Airflow DAG (jobs/airflow/curation_dag.py) loads in a real Airflow with both providers.

Airflow does not share a virtual environment with pyspark 4.2 and torch comfortably, so it gets its
own: ``.venv-airflow`` (gitignored), built from jobs/airflow/requirements.txt on first use and
reused while that file's hash is unchanged (about 5 minutes to build on a loaded 2-core machine).
The tests skip, saying why, when it cannot be built (no PyPI, an unsupported Python).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from curation.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
DAG_FOLDER = REPO / "jobs" / "airflow"
REQUIREMENTS = DAG_FOLDER / "requirements.txt"
VENV = REPO / ".venv-airflow"
STAMP = VENV / ".requirements-sha256"
# An Airflow run id as the scheduler makes them (a retry of a task keeps its DAG run's id).
RUN_ID = "scheduled__2025-03-01T00:00:00+00:00"

# Runs inside .venv-airflow: load the folder with DagBag, render each task's templated fields
# with a run context, print one JSON line.
DAGBAG_PROBE = r"""
import json, sys
try:
    from airflow.dag_processing.dagbag import DagBag  # Airflow 3
except ImportError:
    from airflow.models.dagbag import DagBag  # Airflow 2
bag = DagBag(dag_folder=sys.argv[1])
out = {"import_errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": {}}
for dag_id, dag in bag.dags.items():
    params = {k: dag.params[k] for k in dag.params}
    context = {"run_id": sys.argv[2], "params": params, "dag": dag}
    tasks = {}
    for task in dag.tasks:
        info = {"type": type(task).__name__, "retries": task.retries,
                "template_fields": list(task.template_fields)}
        for name in ("application", "application_args", "conf", "_archives"):
            if hasattr(task, name):
                info[name.lstrip("_")] = task.render_template(getattr(task, name), context)
        if hasattr(task, "_get_merged_json"):  # DatabricksSubmitRunOperator's request body
            info["json"] = task.render_template(task._get_merged_json(), context)
        tasks[task.task_id] = info
    out["dags"][dag_id] = {"tasks": tasks, "params": params}
print("RESULT " + json.dumps(out, default=str))
"""


def _digest() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def _quiet(text: str) -> str:
    # This machine's pip prints one warning per package about an absent local index; drop them.
    return "\n".join(line for line in text.splitlines() if "is ignored: it is neither" not in line)


@pytest.fixture(scope="session")
def airflow_python() -> Path:
    """.venv-airflow's interpreter, (re)built when jobs/airflow/requirements.txt changed."""
    python = VENV / "bin" / "python"
    if python.exists() and STAMP.is_file() and STAMP.read_text().strip() == _digest():
        return python
    shutil.rmtree(VENV, ignore_errors=True)
    base = getattr(sys, "_base_executable", sys.executable)
    steps = [
        [base, "-m", "venv", str(VENV)],
        [str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"],
        [str(python), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)],
    ]
    for step in steps:
        try:
            proc = subprocess.run(step, capture_output=True, text=True, timeout=1800)
        except subprocess.TimeoutExpired:
            proc = subprocess.CompletedProcess(step, -1, "", "timed out after 1800 s")
        if proc.returncode != 0:
            shutil.rmtree(VENV, ignore_errors=True)
            pytest.skip(
                f"cannot build {VENV.name} for the Airflow DAG test ({' '.join(step[-3:])} "
                f"failed): {_quiet(proc.stderr)[-1500:]}"
            )
    STAMP.write_text(_digest())
    return python


@pytest.fixture(scope="module")
def dagbag(airflow_python, tmp_path_factory) -> dict:
    home = tmp_path_factory.mktemp("airflow-home")
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # The DAG reads where the repository lives on the workers: here, this checkout.
        "CURATION_HOME": str(REPO),
    }
    env.pop("PYTHONPATH", None)  # Airflow's own venv, not ours
    proc = subprocess.run(
        [str(airflow_python), "-c", DAGBAG_PROBE, str(DAG_FOLDER), RUN_ID],
        capture_output=True,
        text=True,
        env=env,
        cwd=home,
        timeout=600,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, f"DagBag probe failed:\n{proc.stderr[-4000:]}"
    return json.loads(lines[-1][len("RESULT ") :])


def test_dag_loads_without_import_errors(dagbag):
    assert dagbag["import_errors"] == {}
    assert set(dagbag["dags"]) == {"curation"}
    tasks = dagbag["dags"]["curation"]["tasks"]
    assert {t: tasks[t]["type"] for t in tasks} == {
        "curate": "SparkSubmitOperator",
        "curate_on_databricks": "DatabricksSubmitRunOperator",
    }
    # Retries are what the templated run id is for.
    assert all(task["retries"] >= 1 for task in tasks.values())


def test_spark_submit_task_runs_the_pipeline_job_with_the_airflow_run_id(dagbag):
    dag = dagbag["dags"]["curation"]
    task = dag["tasks"]["curate"]
    assert Path(task["application"]) == REPO / "jobs" / "run_pipeline.py"
    assert Path(task["application"]).is_file()
    assert "application_args" in task["template_fields"]
    recipe = dag["params"]["recipe"]
    assert Path(recipe).is_file(), recipe  # the default recipe is the demo one in conf/
    assert task["application_args"] == [recipe, "--run-id", RUN_ID]
    # The rendered arguments are what the job's CLI accepts, with the run id intact.
    args = build_parser().parse_args(["run", *task["application_args"]])
    assert (args.config, args.run_id) == (recipe, RUN_ID)
    # Executors run the packed environment that `make package` builds.
    assert task["archives"] == f"{REPO}/dist/curation-env.tar.gz#env"
    assert task["conf"]["spark.pyspark.python"] == "./env/bin/python"


def test_databricks_task_calls_the_wheel_entry_point_with_the_run_id(dagbag):
    dag = dagbag["dags"]["curation"]
    task = dag["tasks"]["curate_on_databricks"]
    assert "tasks" in task["template_fields"]
    (run_task,) = task["json"]["tasks"]
    wheel_task = run_task["python_wheel_task"]
    assert wheel_task["package_name"] == "curation"
    # The entry point is one the installed package declares ([project.scripts]).
    scripts = {
        ep.name: ep.value
        for ep in metadata.distribution("curation").entry_points
        if ep.group == "console_scripts"
    }
    assert scripts[wheel_task["entry_point"]] == "curation.cli:main"
    recipe = dag["params"]["databricks_recipe"]
    assert wheel_task["parameters"] == ["run", recipe, "--run-id", RUN_ID]
    args = build_parser().parse_args(wheel_task["parameters"])
    assert (args.command, args.run_id) == ("run", RUN_ID)
    assert [lib["whl"].rsplit("/", 1)[-1] for lib in run_task["libraries"]] == [
        f"curation-{metadata.version('curation')}-py3-none-any.whl"
    ]
