"""Catalog table names: input.table read through the session's catalog, and catalog outputs.

Spark's built-in catalog with a database whose warehouse folder is under tmp_path. The spark
engine's catalog output needs delta-spark jars this machine does not have: only its refusal on
the rust engine runs here.
"""

from __future__ import annotations

import json
import uuid

import pytest
from recipes import DOCS, STAGES, write_corpus

from curation.config import validate_config
from curation.delta import open_store
from curation.driver import Pipeline
from curation.errors import ConfigError
from curation.run_layout import RunLayout


@pytest.fixture
def database(spark, tmp_path):
    """A database of the built-in catalog whose managed tables live under tmp_path."""
    name = f"curation_{uuid.uuid4().hex[:8]}"
    spark.sql(f"CREATE DATABASE {name} LOCATION '{tmp_path / 'warehouse'}'")
    yield name
    spark.sql(f"DROP DATABASE {name} CASCADE")


@pytest.fixture
def catalog_table(spark, tmp_path, database):
    """The seeded sample corpus as a managed Parquet table of the catalog."""
    write_corpus(spark, tmp_path / "corpus")
    store = open_store(spark, "rust")
    store.read(str(tmp_path / "corpus")).write.format("parquet").saveAsTable(f"{database}.docs")
    return f"spark_catalog.{database}.docs"


def _recipe(tmp_path, **fields) -> dict:
    return {
        "input": {"path": str(tmp_path / "corpus"), "format": "delta"},
        "output": str(tmp_path / "out"),
        "storage": {"engine": "rust"},
        "spark": {"shuffle_partitions": 4, "ui": False},
        "stages": STAGES,
        **fields,
    }


def test_input_table_reads_a_catalog_table_by_its_three_part_name(spark, tmp_path, catalog_table):
    cfg = validate_config(_recipe(tmp_path, input={"table": catalog_table}))
    result = Pipeline(cfg, spark, open_store(spark, "rust")).run("from-catalog")

    assert result.rows_in == DOCS
    assert result.rows_kept + result.rows_rejected == DOCS
    rejected = open_store(spark, "rust").read(RunLayout(str(tmp_path / "out")).rejected)
    # A file table keeps its files as the rows' provenance: the catalog's warehouse folder.
    sources = {r[0] for r in rejected.select("read_source").distinct().collect()}
    assert sources and all(s.startswith(f"file:{tmp_path}/warehouse/docs/") for s in sources)


def test_unknown_catalog_table_is_one_line(spark, tmp_path, database, run_cli):
    recipe = tmp_path / "r.yaml"
    missing = f"{database}.nope"
    recipe.write_text(json.dumps(_recipe(tmp_path, input={"table": missing})))
    result = run_cli("run", str(recipe))
    assert result.returncode == 2
    assert result.stderr == (
        f"error: input.table {missing!r} is not a table the session's catalog knows "
        "(TABLE_OR_VIEW_NOT_FOUND); check the name (catalog.schema.table) and that this "
        "session is configured for that catalog\n"
    )


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"path": "data", "table": "a.b"}, "not both"),
        ({"format": "delta"}, "not neither"),
        ({"table": "a.b", "format": "jsonl"}, "remove input.format"),
        ({"table": "a/b"}, "String should match pattern"),
    ],
)
def test_input_is_a_path_or_a_table(tmp_path, given, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(_recipe(tmp_path, input=given))


def test_rust_engine_refuses_a_catalog_output_before_spark_starts(tmp_path, run_cli):
    recipe = tmp_path / "r.yaml"
    output = {"catalog": "main.curated", "work": str(tmp_path / "work")}
    recipe.write_text(json.dumps(_recipe(tmp_path, output=output)))
    result = run_cli("run", str(recipe))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(
        "error: output.catalog 'main.curated': the rust engine cannot create catalog tables"
    )
    assert "storage.engine: spark" in result.stderr and "CREATE TABLE" in result.stderr
    assert not (tmp_path / "work").exists()


def test_auto_engine_without_delta_jars_refuses_a_catalog_output(spark, tmp_path):
    output = {"catalog": "main.curated", "work": str(tmp_path / "work")}
    cfg = validate_config(_recipe(tmp_path, output=output, storage={"engine": "auto"}))
    store = open_store(spark, "auto")
    assert store.engine == "rust"  # no delta-spark jars here
    with pytest.raises(ConfigError, match="the rust engine cannot create catalog tables"):
        Pipeline(cfg, spark, store).run("refused")
    assert not (tmp_path / "work" / "_runs").exists()  # nothing was recorded


def test_catalog_output_names_the_result_tables_and_keeps_work_under_its_path():
    layout = RunLayout("/Volumes/main/curated/work", "main.curated")
    assert layout.documents == "main.curated.documents"
    assert layout.table("dedup_index") == "main.curated.dedup_index"
    assert layout.segment("r1", 2) == "/Volumes/main/curated/work/_runs/r1/segment_02"
    assert layout.record_path("r1") == "/Volumes/main/curated/work/_runs/r1/run.json"


def test_rust_store_refuses_a_table_name_rather_than_writing_a_folder_of_that_name(spark):
    from curation.errors import DeltaError

    with pytest.raises(DeltaError, match="is a catalog table name"):
        open_store(spark, "rust").exists("main.curated.documents")


def test_a_catalog_output_without_work_names_that_field_only(tmp_path):
    with pytest.raises(ConfigError) as err:
        validate_config(_recipe(tmp_path, output={"catalog": "main.curated"}))
    assert (
        str(err.value) == "config: 1 invalid setting(s):\n  output.catalog.work: required; add it"
    )
