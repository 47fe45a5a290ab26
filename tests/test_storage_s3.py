"""Everything that does not need Spark's own S3 connector, against a real S3 API (moto's server).

This Spark has no hadoop-aws jar, so it cannot open s3a:// itself: the rust engine's executors
move the Parquet files with pyarrow.fs and delta-rs commits them; run records, models, recipes
and ``stats``/``explain`` go through curation.storage. Endpoint and credentials come from
storage options only, as a MinIO or R2 user would give them.
"""

from __future__ import annotations

import json

import pyarrow.fs as pafs
import pytest
from pyspark.sql import functions as F
from recipes import DOCS, write_corpus

from curation import storage
from curation.config import validate_config
from curation.delta import open_store, read_arrow
from curation.driver import Pipeline
from curation.errors import ConfigError, StorageError
from curation.run_layout import RunLayout, app_id
from curation.stages.langid import bundled_lid_model
from curation.storage import Location

pytestmark = pytest.mark.s3


@pytest.fixture
def s3(s3_server, s3_bucket):
    """Storage options of the test server in effect; the bucket's s3:// root."""
    storage.set_options(s3_server.options)
    yield f"s3://{s3_bucket}"
    storage.set_options(None)


def test_spark_here_cannot_open_s3a(spark, s3):
    # What the rest of this module relies on: without the connector, pyarrow moves the files.
    assert not storage.spark_reaches(spark, f"{s3}/t")


def test_rust_engine_commits_and_reads_on_s3_once_per_app_id_and_version(spark, s3):
    store = open_store(spark, "rust")
    table = f"{s3}/tables/t"
    df = spark.range(0, 50, 1, 3).select(F.col("id"), (F.col("id") * 2).alias("double"))

    assert store.write(df, table, app_id="job", txn_version=1, metadata={"step": "a"}) == 0
    # A retried job: nothing committed, no Spark job.
    assert store.write(df, table, app_id="job", txn_version=1) is None
    assert store.write(df, table, app_id="job", txn_version=2) == 1
    assert store.txn_version(table, "job") == 2

    back = store.read(table)
    assert back.count() == 100
    assert back.agg(F.sum("double")).first()[0] == 2 * 2 * sum(range(50))
    assert store.read(table, version=0).count() == 50
    assert store.history(table)[-1]["metadata"] == {"step": "a"}
    # The same table through delta-rs and pyarrow in this process (what `stats` uses).
    assert read_arrow(table).num_rows == 100
    # Files really are in the bucket, under the table, and nothing else was left behind.
    loc = Location.of(table)
    files = loc.fs.get_file_info(pafs.FileSelector(loc.fs_path, recursive=True))
    data = [f.path for f in files if f.path.endswith(".parquet")]
    assert len(data) == 6  # 3 tasks x 2 commits


def test_wrong_credentials_are_one_line_naming_the_table(spark, s3, s3_server):
    wrong = {**s3_server.options, "aws_endpoint_url": "http://127.0.0.1:9"}  # nothing listens
    store = open_store(spark, "rust")
    storage.set_options(wrong)
    with pytest.raises(StorageError) as err:
        store.write(spark.range(1), f"{s3}/t")
    assert f"{s3}/t" in str(err.value)
    assert "\n" not in str(err.value).strip()


def _recipe(s3: str, model: str) -> dict:
    return {
        "input": {"path": f"{s3}/corpus", "format": "delta"},
        "output": f"{s3}/out",
        "storage": {
            "engine": "rust",
            # What a user writes: references, expanded from the environment when used.
            "options": {
                "aws_endpoint_url": "${TEST_S3_ENDPOINT}",
                "aws_access_key_id": "${TEST_S3_KEY}",
                "aws_secret_access_key": "${TEST_S3_SECRET}",
                "aws_region": "us-east-1",
                "aws_allow_http": True,
            },
        },
        "spark": {"shuffle_partitions": 4, "ui": False},
        "stages": [
            {"kind": "length", "min_words": 50, "max_words": 100_000},
            {"kind": "langid", "model_path": model},  # a model file read from S3
            {"kind": "exact_dedup"},
        ],
    }


@pytest.fixture
def s3_env(monkeypatch, s3_server):
    monkeypatch.setenv("TEST_S3_ENDPOINT", s3_server.endpoint)
    monkeypatch.setenv("TEST_S3_KEY", s3_server.options["aws_access_key_id"])
    monkeypatch.setenv("TEST_S3_SECRET", s3_server.options["aws_secret_access_key"])


def test_a_run_on_s3_from_a_recipe_on_s3_resumes_and_reads_back(spark, s3, s3_env, run_cli):
    write_corpus(spark, f"{s3}/corpus")
    model = Location.of(f"{s3}/models/lid.176.ftz")
    with open(bundled_lid_model(), "rb") as src, model.fs.open_output_stream(model.fs_path) as dst:
        dst.write(src.read())
    recipe = Location.of(f"{s3}/recipes/run.yaml")
    with recipe.fs.open_output_stream(recipe.fs_path) as fh:
        fh.write(json.dumps(_recipe(s3, model.shown)).encode())

    # The recipe's own options are references: the command line gives the endpoint to read it.
    endpoint = "--storage-option=aws_endpoint_url=${TEST_S3_ENDPOINT}"
    keys = [
        "--storage-option=aws_access_key_id=${TEST_S3_KEY}",
        "--storage-option=aws_secret_access_key=${TEST_S3_SECRET}",
    ]
    args = ["run", recipe.shown, "--run-id", "s3-run", endpoint, *keys]
    first = run_cli(*args)
    assert first.returncode == 0, first.stderr
    assert f"run s3-run: {DOCS} documents in" in first.stdout

    layout = RunLayout(f"{s3}/out")
    record = layout.read_record("s3-run")
    assert record["config"]["storage"]["options"]["aws_secret_access_key"] == "${TEST_S3_SECRET}"
    documents = read_arrow(layout.documents).to_pylist()
    rejected = read_arrow(layout.rejected).to_pylist()
    assert len(documents) + len(rejected) == DOCS
    assert {r["drop_stage"] for r in rejected} == {"length", "langid", "exact_dedup"}

    # The same run id again: every segment and output is already committed, nothing is added.
    again = run_cli(*args)
    assert again.returncode == 0, again.stderr
    assert "already committed in run s3-run" in again.stdout
    assert read_arrow(layout.documents).num_rows == len(documents)

    stats = run_cli("stats", f"{s3}/out", endpoint, *keys)
    assert stats.returncode == 0, stats.stderr
    assert "run s3-run" in stats.stdout and "langid:" in stats.stdout
    assert "reading it with Spark" not in stats.stderr  # delta-rs read it, no JVM needed
    # Through Spark (--master): the rust engine's executors read the files with pyarrow.
    through_spark = run_cli("stats", f"{s3}/out", "--master", "local[2]", endpoint, *keys)
    assert through_spark.returncode == 0, through_spark.stderr
    assert through_spark.stdout == stats.stdout
    kept = documents[0]["id"]
    explained = run_cli("explain", f"{s3}/out", "--id", kept, endpoint, *keys)
    assert explained.returncode == 0, explained.stderr
    assert "outcome: KEPT" in explained.stdout


def test_a_run_killed_after_its_first_segment_on_s3_resumes(spark, s3, s3_server, monkeypatch):
    write_corpus(spark, f"{s3}/corpus")
    raw = _recipe(s3, "unused")
    raw["storage"]["options"] = s3_server.options
    raw["stages"] = [raw["stages"][0], raw["stages"][2]]  # length, then exact dedup
    cfg = validate_config(raw)
    store = open_store(spark, "rust")

    class Killed(Exception):
        pass

    def die(segment):
        raise Killed

    with pytest.raises(Killed):
        Pipeline(cfg, spark, store, after_segment=die).run("killed")
    layout = RunLayout(cfg.output)
    assert store.txn_version(layout.segment("killed", 0), app_id("killed")) == 1
    assert not store.exists(layout.documents)

    lines = []
    result = Pipeline(cfg, spark, store, progress=lines.append).run("killed")
    assert any("already committed in run killed" in line for line in lines)
    assert result.rows_kept + result.rows_rejected == DOCS
    assert read_arrow(layout.documents).num_rows == result.rows_kept


def test_stats_without_the_endpoint_is_one_line(run_cli, s3, s3_server):
    # No options: pyarrow and delta-rs would go to AWS itself; here nothing answers.
    result = run_cli(
        "stats",
        "s3://no-such-bucket-here/out",
        "--storage-option",
        "aws_endpoint_url=http://127.0.0.1:9",
        "--storage-option",
        "aws_allow_http=true",
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")


def test_missing_environment_variable_names_the_option(run_cli, tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("input: {path: data, format: delta}\noutput: s3://b/out\n")
    result = run_cli(
        "run", str(recipe), "--storage-option", "aws_secret_access_key=${NO_SUCH_VAR_HERE}"
    )
    assert result.returncode == 2
    assert "${NO_SUCH_VAR_HERE}" in result.stderr and "storage.options.aws_secret_access_key" in (
        result.stderr
    )


def test_recipe_missing_on_s3_is_a_config_error(s3):
    from curation.config import load_config

    with pytest.raises(ConfigError) as err:
        load_config(f"{s3}/nope.yaml")
    assert str(err.value) == (
        f"config file '{s3}/nope.yaml': '{s3}/nope.yaml' is not a file (it does not exist, or is "
        "a folder)"
    )


def test_recipe_options_alone_reach_the_checks_before_spark(run_cli, s3, s3_server, tmp_path):
    # Only the recipe names the endpoint: the output probe must already use it.
    storage.set_options(None)
    recipe = tmp_path / "r.yaml"
    missing = tmp_path / "no-input"
    body = {
        "input": {"path": str(missing)},
        "output": f"{s3}/out",
        "storage": {"options": s3_server.options},
    }
    recipe.write_text(json.dumps(body))
    result = run_cli("run", str(recipe))
    assert result.returncode == 2
    assert result.stderr == f"error: input.path {str(missing)!r} does not exist; check the path\n"
