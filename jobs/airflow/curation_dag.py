"""Airflow DAG: run a curation recipe with spark-submit, or as the Databricks bundle's job.

A trigger names the input, the output root and the recipe (DAG params) and where to run
(``platform``); a branch task picks one of two tasks:

* ``curate`` (SparkSubmitOperator, connection ``spark_default``, whose host is the master:
  ``spark://...``, ``yarn``, ``k8s://...``): ``spark-submit jobs/run_pipeline.py <recipe> --set
  input.path=... --set output=... --run-id ...`` with the packed environment from ``make
  package`` unpacked as ``./env`` for the executors (``--archives ...#env``). The recipe travels
  with the job (``--files``) and is named by its file name, so a driver started elsewhere (cluster
  deploy mode on YARN or Kubernetes) finds it too: a file this Airflow worker holds does not
  exist there.
* ``curate_on_databricks`` (DatabricksRunNowOperator, connection ``databricks_default``): runs the
  job that jobs/databricks/databricks.yml deploys, found by its name, with the input, output and
  run id as job parameters. The cluster, the wheel and the recipe are the bundle's; nothing is
  declared twice.

Both pass one run id per DAG run: Airflow's run id unless the ``run_id`` param names another. A
retried task (same DAG run, same run id), or a new trigger naming the run id of a failed one,
resumes after the last segment committed under that id instead of starting over, and the final
commits are idempotent: retries never duplicate rows.

Deployment settings are read from the environment of the scheduler and workers when the DAG is
parsed: ``CURATION_HOME`` (this repository's checkout: jobs/, conf/), ``CURATION_ENV_ARCHIVE``,
``CURATION_DEPLOY_MODE`` (``client``, the default, or ``cluster``), ``CURATION_DRIVER_PYTHON``
(client mode only), ``CURATION_DATABRICKS_JOB`` and ``CURATION_TASK_RETRIES``.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.providers.databricks.operators.databricks import DatabricksRunNowOperator

try:  # Airflow 3
    from airflow.sdk import DAG, Param, task
except ImportError:  # Airflow 2.x
    from airflow import DAG
    from airflow.decorators import task
    from airflow.models.param import Param

# Where this repository (jobs/, conf/) is checked out on the Airflow workers.
CURATION_HOME = os.environ.get("CURATION_HOME", "/opt/curation")
# `make package` output, where spark-submit can read it (a local path, hdfs://, s3a://).
ENV_ARCHIVE = os.environ.get("CURATION_ENV_ARCHIVE", f"{CURATION_HOME}/dist/curation-env.tar.gz")
# client: the driver runs here, on the Airflow worker. cluster: on the cluster (YARN, Kubernetes;
# a standalone master runs Python drivers in client mode only).
DEPLOY_MODE = os.environ.get("CURATION_DEPLOY_MODE", "client")
if DEPLOY_MODE not in ("client", "cluster"):
    raise ValueError(f"CURATION_DEPLOY_MODE={DEPLOY_MODE!r}: use client or cluster")
# Client mode only: a Python on the Airflow worker with curation installed.
DRIVER_PYTHON = os.environ.get("CURATION_DRIVER_PYTHON", "python3")
# The `name` of the job in jobs/databricks/databricks.yml, as `databricks bundle deploy` made it.
DATABRICKS_JOB = os.environ.get("CURATION_DATABRICKS_JOB", "curation run")
# Tries after a failure; each resumes the run where the failed try stopped.
RETRIES = int(os.environ.get("CURATION_TASK_RETRIES", "2"))

# One id per DAG run, the same for every try of a task: what makes a retry resume.
RUN_ID = "{{ params.run_id or run_id }}"

# Executors (and, in cluster mode, the driver) run the packed environment's Python. Kubernetes and
# YARN also read it from the containers' environment.
PYTHON_CONF = {
    "spark.pyspark.python": "./env/bin/python",
    "spark.executorEnv.PYSPARK_PYTHON": "./env/bin/python",
}
if DEPLOY_MODE == "client":
    PYTHON_CONF["spark.pyspark.driver.python"] = DRIVER_PYTHON
else:  # the driver unpacks the archive too; no Python of this machine exists there
    PYTHON_CONF["spark.yarn.appMasterEnv.PYSPARK_PYTHON"] = "./env/bin/python"
    PYTHON_CONF["spark.kubernetes.driverEnv.PYSPARK_PYTHON"] = "./env/bin/python"

with DAG(
    dag_id="curation",
    description="Filter a pretraining corpus with curation (spark-submit or Databricks)",
    schedule=None,  # triggered; set a schedule when new input arrives on one
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,  # two runs writing the same output root would race for its tables
    params={
        "platform": Param(
            "spark",
            enum=["spark", "databricks"],
            description="spark: spark-submit to the spark_default connection's master; "
            "databricks: run the bundle's job.",
        ),
        "input": Param(
            f"{CURATION_HOME}/data/sample",
            type="string",
            minLength=1,
            description="Input documents (Delta table, JSONL or Parquet) as the driver sees them.",
        ),
        "output": Param(
            f"{CURATION_HOME}/out/demo",
            type="string",
            minLength=1,
            description="Output root (documents, rejected, stats tables).",
        ),
        "recipe": Param(
            f"{CURATION_HOME}/conf/local_demo.yaml",
            type="string",
            minLength=1,
            description="spark: the recipe file as this Airflow worker (or spark-submit) reads "
            "it, shipped with --files. databricks: unused, the job's `recipe` parameter stands.",
        ),
        "run_id": Param(
            "",
            type="string",
            description="Empty: this DAG run's id. A failed run's id: resume that run.",
        ),
    },
    default_args={"retries": RETRIES, "retry_delay": timedelta(minutes=5)},
    tags=["curation", "spark"],
) as dag:

    @task.branch(task_id="choose_platform", retries=0)
    def choose_platform(params=None) -> str:
        return {"spark": "curate", "databricks": "curate_on_databricks"}[params["platform"]]

    curate = SparkSubmitOperator(
        task_id="curate",
        conn_id="spark_default",
        deploy_mode=DEPLOY_MODE,
        application=f"{CURATION_HOME}/jobs/run_pipeline.py",
        # The recipe by file name: run_pipeline.py finds the copy --files shipped.
        files="{{ params.recipe }}",
        application_args=[
            "{{ params.recipe.rsplit('/', 1)[-1] }}",
            "--set",
            "input.path={{ params.input }}",
            "--set",
            "output={{ params.output }}",
            "--run-id",
            RUN_ID,
        ],  # fmt: skip
        name="curation-{{ dag.dag_id }}",
        archives=f"{ENV_ARCHIVE}#env",
        conf=PYTHON_CONF,
    )

    curate_on_databricks = DatabricksRunNowOperator(
        task_id="curate_on_databricks",
        databricks_conn_id="databricks_default",
        job_name=DATABRICKS_JOB,
        # The bundle job's parameters (databricks.yml, resources.jobs.curation_run.parameters).
        job_parameters={
            "input": "{{ params.input }}",
            "output": "{{ params.output }}",
            "run_id": RUN_ID,
        },
    )

    choose_platform() >> [curate, curate_on_databricks]
