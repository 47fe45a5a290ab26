"""Airflow DAG: run a curation recipe with spark-submit, or as a Databricks wheel task.

Two tasks, one per way of running Spark; delete the one you do not use:

* ``curate`` (SparkSubmitOperator, connection ``spark_default``): ``spark-submit
  jobs/run_pipeline.py <recipe> --run-id {{ run_id }}`` with the packed environment from
  ``make package`` shipped to the executors (``--archives ...#env``).
* ``curate_on_databricks`` (DatabricksSubmitRunOperator, connection ``databricks_default``): a
  one-time run with a ``python_wheel_task`` calling the package's ``curation`` entry point.

Both pass Airflow's run id as the pipeline's run id. A retried task (same DAG run, same run id)
therefore resumes after the last segment the failed attempt committed instead of starting over,
and its final commits are idempotent: retries never duplicate rows.

Paths are read from the environment of the scheduler and workers when the DAG is parsed
(``CURATION_HOME``, ``CURATION_ENV_ARCHIVE``, ``CURATION_DRIVER_PYTHON``, ``CURATION_WHEEL``);
the recipe is a DAG parameter, so a manual trigger can name another one.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.providers.databricks.operators.databricks import DatabricksSubmitRunOperator

try:  # Airflow 3
    from airflow.sdk import DAG, Param
except ImportError:  # Airflow 2.x
    from airflow import DAG
    from airflow.models.param import Param

# Where this repository (jobs/, conf/) is checked out on the Airflow workers.
CURATION_HOME = os.environ.get("CURATION_HOME", "/opt/curation")
# `make package` output, copied where spark-submit can read it (a local path, hdfs://, s3a://).
ENV_ARCHIVE = os.environ.get("CURATION_ENV_ARCHIVE", f"{CURATION_HOME}/dist/curation-env.tar.gz")
# The driver runs on the Airflow worker in client mode: a Python with curation installed there.
DRIVER_PYTHON = os.environ.get("CURATION_DRIVER_PYTHON", "python3")
# The wheel from `make package`, uploaded to a Unity Catalog volume (or workspace files).
WHEEL = os.environ.get(
    "CURATION_WHEEL", "/Volumes/main/curation/artifacts/curation-0.1.0-py3-none-any.whl"
)

# The pipeline's arguments after the recipe. `run_id` is the same for every try of a task in one
# DAG run, which is what makes a retry resume rather than start a second run.
RUN_ARGS = ["--run-id", "{{ run_id }}"]

with DAG(
    dag_id="curation",
    description="Filter a pretraining corpus with curation (spark-submit or Databricks)",
    schedule=None,  # triggered; set a schedule when new input arrives on one
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,  # two runs writing the same output root would race for its tables
    params={
        "recipe": Param(
            f"{CURATION_HOME}/conf/local_demo.yaml",
            type="string",
            description="Recipe path as the Spark driver sees it.",
        ),
        "databricks_recipe": Param(
            "/Workspace/Shared/curation/conf/local_demo.yaml",
            type="string",
            description="Recipe path as the Databricks driver sees it.",
        ),
    },
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    tags=["curation", "spark"],
) as dag:
    curate = SparkSubmitOperator(
        task_id="curate",
        conn_id="spark_default",  # its host is the master: spark://..., yarn, k8s://...
        application=f"{CURATION_HOME}/jobs/run_pipeline.py",
        application_args=["{{ params.recipe }}", *RUN_ARGS],
        name="curation-{{ dag.dag_id }}",
        # The packed venv, unpacked as ./env in every executor's working directory.
        archives=f"{ENV_ARCHIVE}#env",
        conf={
            "spark.pyspark.python": "./env/bin/python",
            "spark.pyspark.driver.python": DRIVER_PYTHON,
            # YARN and Kubernetes read the Python of executors from their environment.
            "spark.executorEnv.PYSPARK_PYTHON": "./env/bin/python",
            "spark.yarn.appMasterEnv.PYSPARK_PYTHON": "./env/bin/python",
        },
    )

    curate_on_databricks = DatabricksSubmitRunOperator(
        task_id="curate_on_databricks",
        databricks_conn_id="databricks_default",
        run_name="curation {{ run_id }}",
        tasks=[
            {
                "task_key": "curate",
                "python_wheel_task": {
                    "package_name": "curation",
                    "entry_point": "curation",  # [project.scripts] in pyproject.toml
                    "parameters": ["run", "{{ params.databricks_recipe }}", *RUN_ARGS],
                },
                "libraries": [{"whl": WHEEL}],
                "new_cluster": {
                    "spark_version": "17.3.x-scala2.13",
                    "node_type_id": "i3.xlarge",
                    "num_workers": 2,
                },
            }
        ],
    )
