"""Location: one path as Spark, delta-rs and pyarrow.fs each want it (no network needed)."""

from __future__ import annotations

import os

import pyarrow.fs as pafs
import pytest

from curation import storage
from curation.config import StorageConfig
from curation.errors import DeltaError, StorageError
from curation.storage import Location


def test_relative_local_path_is_absolute_everywhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    absolute = os.path.join(os.getcwd(), "out", "documents")

    loc = Location.of("out/documents/")

    assert loc.shown == "out/documents/"  # messages show what the user wrote
    assert loc.spark == "file://" + absolute  # not the cluster's default file system
    assert loc.delta == absolute and loc.fs_path == absolute
    assert isinstance(loc.fs, pafs.LocalFileSystem)
    child = loc.child("data-1")
    assert child.spark == f"file://{absolute}/data-1" and child.fs_path == f"{absolute}/data-1"


def test_s3a_uri_is_plain_s3_for_delta_rs_and_pyarrow():
    options = {"aws_endpoint_url": "http://127.0.0.1:9", "aws_region": "eu-west-3"}

    loc = Location.of("s3a://bucket/corpus/documents/", options)

    assert loc.spark == "s3a://bucket/corpus/documents"  # Hadoop's connector keeps its scheme
    assert loc.delta == "s3://bucket/corpus/documents"
    assert loc.fs_path == "bucket/corpus/documents"
    # An http:// endpoint (a local MinIO) implies plain HTTP, which delta-rs otherwise refuses.
    assert loc.delta_options == {**options, "aws_allow_http": "true"}
    assert loc.spark_file("part%3D1/f.parquet") == "s3a://bucket/corpus/documents/part=1/f.parquet"
    # Built from the options without touching the network (the endpoint is a closed port).
    assert isinstance(loc.fs, pafs.S3FileSystem)
    assert loc.fs.region == "eu-west-3"
    assert Location.of("s3://bucket/t").spark == "s3a://bucket/t"  # open-source Hadoop has no s3


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("", "a table path must be a non-empty string"),
        ("nosuch://bucket/t", "cannot open 'nosuch://bucket/t': unknown scheme 'nosuch'; use"),
        ("s3:///key", "names no bucket or host; write s3://BUCKET/PATH"),
    ],
)
def test_bad_path_is_a_storage_error_delta_handlers_still_catch(path, message):
    with pytest.raises(StorageError, match=message) as err:
        Location.of(path)
    assert isinstance(err.value, DeltaError)


@pytest.mark.parametrize(
    ("uri", "spark", "delta", "fs_path"),
    [
        ("file:///data/t/", "file:///data/t", "/data/t", "/data/t"),
        # Unity Catalog volumes are mounted at /Volumes on Databricks, the rest of DBFS at /dbfs.
        ("dbfs:/Volumes/main/raw/v/t", "dbfs:/Volumes/main/raw/v/t", "/Volumes/main/raw/v/t", None),
        ("dbfs:/tmp/t", "dbfs:/tmp/t", "/dbfs/tmp/t", None),
        ("gs://bucket/t", "gs://bucket/t", "gs://bucket/t", "bucket/t"),
        (
            "abfss://box@acct.dfs.core.windows.net/a/t",
            "abfss://box@acct.dfs.core.windows.net/a/t",
            "abfss://box@acct.dfs.core.windows.net/a/t",
            "box/a/t",
        ),
        ("hdfs://nn:8020/a/t", "hdfs://nn:8020/a/t", "hdfs://nn:8020/a/t", "/a/t"),
    ],
)
def test_each_scheme_maps_to_what_each_engine_wants(uri, spark, delta, fs_path):
    loc = Location.of(uri)
    assert (loc.spark, loc.delta, loc.fs_path) == (spark, delta, fs_path or delta)


def test_options_come_from_the_environment_when_used(monkeypatch):
    monkeypatch.setenv("TEST_S3_SECRET", "s3cr3t")
    options = {"aws_secret_access_key": "${TEST_S3_SECRET}", "aws_access_key_id": "AKIA"}

    assert Location.of("s3://b/t", options).delta_options == {
        "aws_secret_access_key": "s3cr3t",
        "aws_access_key_id": "AKIA",
    }
    monkeypatch.delenv("TEST_S3_SECRET")
    with pytest.raises(StorageError) as err:
        Location.of("s3://b/t", options)
    assert str(err.value) == (
        "storage.options.aws_secret_access_key refers to ${TEST_S3_SECRET}, but the environment "
        "variable TEST_S3_SECRET is not set; export it or give the value in "
        "storage.options.aws_secret_access_key"
    )


def test_set_options_is_the_default_of_every_location():
    try:
        storage.set_options({"aws_region": "eu-west-3"})
        assert Location.of("s3://b/t").delta_options == {"aws_region": "eu-west-3"}
        assert Location.of("s3://b/t").child("x").delta_options == {"aws_region": "eu-west-3"}
        assert Location.of("s3://b/t", {}).delta_options is None  # explicit options win
    finally:
        storage.set_options(None)
    assert Location.of("s3://b/t").delta_options is None


def test_run_record_keeps_references_and_hides_literal_secrets():
    cfg = StorageConfig(
        options={
            "aws_secret_access_key": "s3cr3t",
            "aws_access_key_id": "${AWS_ACCESS_KEY_ID}",
            "aws_endpoint_url": "http://minio:9000",
            "aws_allow_http": True,  # YAML's bool becomes delta-rs' text
        }
    )
    assert cfg.secrets_hidden() == {
        "aws_secret_access_key": "<hidden>",
        "aws_access_key_id": "${AWS_ACCESS_KEY_ID}",
        "aws_endpoint_url": "http://minio:9000",
        "aws_allow_http": "true",
    }


def test_spark_without_s3a_classes_gets_one_line_naming_the_jar_and_settings(spark):
    with pytest.raises(StorageError) as err:
        storage.check_spark_reaches(spark, "s3://bucket/out", "output")
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(
        "output 's3://bucket/out': this Spark has no Hadoop file system for s3a:// "
        "(read as s3a://bucket/out); add the hadoop-aws jar"
    )
    assert "fs.s3a.endpoint" in message and "fs.s3a.access.key" in message
    storage.check_spark_reaches(spark, "/tmp/anything", "output")  # local: nothing to check


def test_storage_options_as_s3a_settings_for_a_spark_with_hadoop_aws():
    options = {
        "AWS_ENDPOINT_URL": "http://minio:9000",  # delta-rs takes either case
        "aws_access_key_id": "AKIA",
        "aws_secret_access_key": "s3cr3t",
        "aws_region": "eu-west-3",
        "aws_conditional_put": "etag",  # delta-rs only
    }
    assert storage.s3a_settings(options) == {
        "fs.s3a.access.key": "AKIA",
        "fs.s3a.secret.key": "s3cr3t",
        "fs.s3a.endpoint.region": "eu-west-3",
        "fs.s3a.endpoint": "http://minio:9000",
        "fs.s3a.path.style.access": "true",
        "fs.s3a.connection.ssl.enabled": "false",
    }


def test_spark_without_the_connector_gets_no_s3a_settings(spark):
    storage.configure_spark(spark, ["s3://bucket/out"])  # options: none; connector: absent
    try:
        storage.set_options({"aws_endpoint_url": "http://127.0.0.1:9"})
        storage.configure_spark(spark, ["/tmp/local", "s3://bucket/out"])
    finally:
        storage.set_options(None)
    assert spark.conf.get("fs.s3a.endpoint", None) is None
