"""The Airflow DAG (jobs/airflow/curation_dag.py) in a real Airflow with both providers: its tasks
render the commands a deployment would run, and ``airflow dags test`` runs it end to end against a
local standalone Spark cluster.

Airflow does not share a virtual environment with pyspark 4.2 and torch comfortably, so each
version tested gets its own: ``.venv-airflow`` (Airflow 3, jobs/airflow/requirements.txt) and
``.venv-airflow2`` (Airflow 2.11, requirements-airflow2.txt), gitignored, built on first use and
reused while the file's hash is unchanged (2.5 to 4 minutes each on a loaded 2-core machine; pip's
cache holds the pyspark wheel after the first build). Their spark-submit is the one the Spark
provider's ``pyspark`` extra installs. The tests skip, saying why, when a venv cannot be built (no
PyPI, an unsupported Python).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from cluster import HOST
from deltalake import DeltaTable
from recipes import check_outcome, outputs, write_corpus, write_recipe
from tool_venv import tool_python

from curation.cli import build_parser
from curation.delta import open_store

REPO = Path(__file__).resolve().parents[2]
DAG_FOLDER = REPO / "jobs" / "airflow"
REQUIREMENTS = DAG_FOLDER / "requirements.txt"
BUNDLE = REPO / "jobs" / "databricks" / "databricks.yml"
# An Airflow run id as the scheduler makes them (a retry of a task keeps its DAG run's id).
RUN_ID = "scheduled__2025-03-01T00:00:00+00:00"
# Nothing listens on the discard port: a session built from the recipe could not start.
UNREACHABLE_MASTER = "spark://127.0.0.1:9"

# Runs inside .venv-airflow: load the folder with DagBag, render each task's templated fields
# with a run context and the params given as JSON (over the DAG's defaults), and for the
# spark-submit task build the command line its hook would run. Prints one JSON line.
DAGBAG_PROBE = r"""
import json, sys
try:
    from airflow.dag_processing.dagbag import DagBag  # Airflow 3
except ImportError:
    from airflow.models.dagbag import DagBag  # Airflow 2
bag = DagBag(dag_folder=sys.argv[1])
out = {"import_errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": {}}
for dag_id, dag in bag.dags.items():
    params = {**{k: dag.params[k] for k in dag.params}, **json.loads(sys.argv[3])}
    context = {"run_id": sys.argv[2], "params": params, "dag": dag}
    tasks = {}
    for task in dag.tasks:
        for name in task.template_fields:
            setattr(task, name, task.render_template(getattr(task, name), context))
        info = {"type": type(task).__name__, "retries": task.retries,
                "downstream": sorted(task.downstream_task_ids)}
        if hasattr(task, "_get_hook") and hasattr(task, "application_args"):
            info["command"] = task._get_hook()._build_spark_submit_command(task.application)
        for name in ("job_name", "job_parameters"):
            if hasattr(task, name):
                info[name] = getattr(task, name)
        tasks[task.task_id] = info
    out["dags"][dag_id] = {"tasks": tasks, "params": params}
print("RESULT " + json.dumps(out, default=str))
"""


# Each Airflow major version in a venv of its own; every test runs on both.
AIRFLOWS = {"airflow": REQUIREMENTS, "airflow2": DAG_FOLDER / "requirements-airflow2.txt"}


@pytest.fixture(scope="session", params=sorted(AIRFLOWS))
def airflow_python(request) -> Path:
    # Airflow 2.11 doubles this module's time (a venv build and a cluster run of ~5 minutes each
    # on a fresh machine); `make test-airflow2` runs it, `make test` and CI run Airflow 3.
    if request.param == "airflow2" and not os.environ.get("CURATION_TEST_AIRFLOW2"):
        pytest.skip("Airflow 2.11 runs with CURATION_TEST_AIRFLOW2=1 (make test-airflow2)")
    return tool_python(request.param, AIRFLOWS[request.param])


def _airflow_env(home: Path, **extra: str) -> dict[str, str]:
    """An Airflow of its own under ``home`` (sqlite), loading only jobs/airflow."""
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAG_FOLDER),
        # The DAG reads where the repository lives on the workers: here, this checkout.
        "CURATION_HOME": str(REPO),
        # A master the probe's hook can name without reaching it.
        "AIRFLOW_CONN_SPARK_DEFAULT": json.dumps({"conn_type": "spark", "host": "yarn"}),
        **extra,
    }
    # Airflow's own venv and its own Spark: nothing of this test process's.
    for name in ("PYTHONPATH", "SPARK_HOME", "PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON"):
        env.pop(name, None)
    env.update(extra)
    return env


def _probe(python: Path, home: Path, params: dict | None = None, **env: str) -> dict:
    proc = subprocess.run(
        [str(python), "-c", DAGBAG_PROBE, str(DAG_FOLDER), RUN_ID, json.dumps(params or {})],
        capture_output=True,
        text=True,
        env=_airflow_env(home, **env),
        cwd=home,
        timeout=600,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, f"DagBag probe failed:\n{proc.stderr[-4000:]}"
    return json.loads(lines[-1][len("RESULT ") :])


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("airflow-home")


@pytest.fixture(scope="module")
def dagbag(airflow_python, airflow_home) -> dict:
    return _probe(airflow_python, airflow_home)


def _conf(command: list[str]) -> dict[str, str]:
    pairs = [command[i + 1] for i, word in enumerate(command) if word == "--conf"]
    return dict(pair.split("=", 1) for pair in pairs)


def _option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def _app_args(command: list[str]) -> list[str]:
    return command[command.index(str(REPO / "jobs" / "run_pipeline.py")) + 1 :]


def test_dag_loads_without_import_errors(dagbag):
    assert dagbag["import_errors"] == {}
    assert set(dagbag["dags"]) == {"curation"}
    tasks = dagbag["dags"]["curation"]["tasks"]
    assert tasks["choose_platform"]["downstream"] == ["curate", "curate_on_databricks"]
    assert tasks["curate"]["type"] == "SparkSubmitOperator"
    assert tasks["curate_on_databricks"]["type"] == "DatabricksRunNowOperator"
    # Retries are what the run id shared by every try is for.
    assert tasks["curate"]["retries"] >= 1 and tasks["curate_on_databricks"]["retries"] >= 1


def test_client_mode_submits_the_pipeline_job_with_the_params_and_run_id(dagbag):
    dag = dagbag["dags"]["curation"]
    command = dag["tasks"]["curate"]["command"]
    params = dag["params"]
    recipe = Path(params["recipe"])
    assert recipe.is_file()  # the default recipe is the demo one in conf/
    assert Path(command[0]).name == "spark-submit"
    assert (_option(command, "--master"), _option(command, "--deploy-mode")) == ("yarn", "client")
    # The recipe travels with the job and the job names it by its file name.
    assert _option(command, "--files") == str(recipe)
    assert _option(command, "--archives") == f"{REPO}/dist/curation-env.tar.gz#env"
    args = _app_args(command)
    assert args == [
        recipe.name,
        "--set", f"input.path={params['input']}",
        "--set", f"output={params['output']}",
        "--run-id", RUN_ID,
    ]  # fmt: skip
    parsed = build_parser().parse_args(["run", *args])
    assert (parsed.config, parsed.run_id) == (recipe.name, RUN_ID)
    conf = _conf(command)
    assert conf["spark.pyspark.python"] == "./env/bin/python"
    assert conf["spark.pyspark.driver.python"]  # the driver runs on this worker


def test_run_id_param_names_the_run_to_resume(airflow_python, airflow_home):
    dag = _probe(airflow_python, airflow_home, {"run_id": "nightly-7", "output": "/data/o"})
    args = _app_args(dag["dags"]["curation"]["tasks"]["curate"]["command"])
    assert args[-3:] == ["output=/data/o", "--run-id", "nightly-7"]


def test_cluster_mode_ships_the_recipe_and_leaves_the_driver_python_to_the_archive(
    airflow_python, airflow_home
):
    dag = _probe(airflow_python, airflow_home, CURATION_DEPLOY_MODE="cluster")
    command = dag["dags"]["curation"]["tasks"]["curate"]["command"]
    recipe = Path(dag["dags"]["curation"]["params"]["recipe"])
    assert _option(command, "--deploy-mode") == "cluster"
    assert _option(command, "--files") == str(recipe)
    # The driver runs on the cluster: it gets the recipe by name from --files, and no Python
    # path of the Airflow worker, only the archive's.
    assert _app_args(command)[0] == recipe.name
    conf = _conf(command)
    assert "spark.pyspark.driver.python" not in conf
    assert conf["spark.pyspark.python"] == "./env/bin/python"
    assert conf["spark.yarn.appMasterEnv.PYSPARK_PYTHON"] == "./env/bin/python"


def test_databricks_branch_runs_the_bundle_job_by_name(dagbag):
    task = dagbag["dags"]["curation"]["tasks"]["curate_on_databricks"]
    params = dagbag["dags"]["curation"]["params"]
    bundle = yaml.safe_load(BUNDLE.read_text())
    job = bundle["resources"]["jobs"]["curation_run"]
    # `databricks bundle deploy -t prod` names the job as declared (dev mode prefixes it).
    assert task["job_name"] == job["name"]
    declared = {p["name"] for p in job["parameters"]}
    assert task["job_parameters"] == {
        "input": params["input"],
        "output": params["output"],
        "run_id": RUN_ID,
    }
    assert set(task["job_parameters"]) <= declared
    # The wheel's entry point is one the installed package declares ([project.scripts]).
    scripts = {
        ep.name: ep.value
        for ep in metadata.distribution("curation").entry_points
        if ep.group == "console_scripts"
    }
    (wheel_task,) = [t for t in job["tasks"] if "python_wheel_task" in t]
    assert scripts[wheel_task["python_wheel_task"]["entry_point"]] == "curation.cli:main"


def _airflow(python: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    airflow = python.parent / "airflow"
    return subprocess.run(
        [str(airflow), *args], capture_output=True, text=True, env=env, cwd=env["AIRFLOW_HOME"],
        timeout=1200,
    )  # fmt: skip


def _dags_test(python: Path, env: dict[str, str], params: dict) -> subprocess.CompletedProcess:
    return _airflow(python, env, "dags", "test", "curation", "-c", json.dumps(params))


def _ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, (
        f"exit {proc.returncode}:\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}"
    )
    return proc.stdout + proc.stderr


def _versions(root: Path) -> dict[str, int]:
    return {name: DeltaTable(str(root / name)).version() for name in ("documents", "rejected")}


@pytest.mark.slow
@pytest.mark.cluster
def test_dags_test_runs_on_a_standalone_cluster_and_a_second_trigger_resumes(
    spark, airflow_python, spark_cluster, packed_env, tmp_path
):
    """`airflow dags test` with input, output and recipe as params: the branch picks spark, the
    provider's spark-submit sends the job to the cluster with the packed environment, and a
    second trigger of the same run id finds every segment committed and adds nothing."""
    corpus, out = tmp_path / "corpus", tmp_path / "out"
    write_corpus(spark, corpus)
    # The recipe's own paths and master lead nowhere: the params and spark-submit's session
    # must win.
    recipe = write_recipe(
        tmp_path / "recipe.yaml", tmp_path / "absent", tmp_path / "wrong", master=UNREACHABLE_MASTER
    )
    home = tmp_path / "airflow"
    home.mkdir()
    env = _airflow_env(
        home,
        AIRFLOW_CONN_SPARK_DEFAULT=spark_cluster.master_url,
        CURATION_ENV_ARCHIVE=str(packed_env),
        CURATION_DRIVER_PYTHON=sys.executable,  # client mode: this venv drives
        CURATION_TASK_RETRIES="0",  # a failure fails the test now, not after retry delays
        SPARK_LOCAL_IP=HOST,
        # spark-submit from Airflow's venv (the provider's pyspark extra), not from ours.
        PATH=f"{airflow_python.parent}{os.pathsep}{os.environ['PATH']}",
        # The driver imports curation from this checkout, as the archive's executors do.
        PYTHONPATH=str(REPO),
    )
    _ok(_airflow(airflow_python, env, "db", "migrate"))
    params = {"platform": "spark", "input": str(corpus), "output": str(out), "recipe": str(recipe)}
    first = _ok(_dags_test(airflow_python, env, params))
    counts = check_outcome(spark, corpus, out)
    assert counts["kept"] and counts["rejected"]
    tables, versions = outputs(spark, out), _versions(out)
    # The run id is the DAG run's (each trigger makes a new one) ...
    documents = open_store(spark, "rust").read(str(out / "documents"))
    (run_id,) = {r.run_id for r in documents.select("run_id").distinct().collect()}
    assert run_id.startswith("manual__"), run_id
    apps = [a for a in spark_cluster.state()["completedapps"] if a["name"] == "curation-curation"]
    assert len(apps) == 1, first[-3000:]

    # ... and a trigger naming it resumes that run: every segment is found committed.
    second = _ok(_dags_test(airflow_python, env, {**params, "run_id": run_id}))
    assert "already committed in run" in second, second[-3000:]
    assert outputs(spark, out) == tables
    assert _versions(out) == versions
    apps = [a for a in spark_cluster.state()["completedapps"] if a["name"] == "curation-curation"]
    assert len(apps) == 2, second[-3000:]
