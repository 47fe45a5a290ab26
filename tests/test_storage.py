"""Location: one path as Spark, delta-rs and pyarrow.fs each want it (no network needed)."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pyarrow.fs as pafs
import pytest

from curation import storage
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


def test_s3a_uri_is_plain_s3_for_delta_rs_and_pyarrow(monkeypatch):
    # pyarrow looks up an S3 bucket's region over the network when it builds the file system,
    # and its types cannot be patched: storage gets a pyarrow.fs that records the URI instead.
    asked = []

    class RecordingFileSystem:
        @staticmethod
        def from_uri(uri):
            asked.append(uri)
            return pafs.LocalFileSystem(), uri.removeprefix("s3://")

    fake_fs = SimpleNamespace(FileSystem=RecordingFileSystem, LocalFileSystem=pafs.LocalFileSystem)
    monkeypatch.setattr(storage, "pafs", fake_fs)

    loc = Location.of("s3a://bucket/corpus/documents/")

    assert asked == ["s3://bucket/corpus/documents"]
    assert loc.spark == "s3a://bucket/corpus/documents"  # Hadoop's connector keeps its scheme
    assert loc.delta == "s3://bucket/corpus/documents"
    assert loc.fs_path == "bucket/corpus/documents"
    assert loc.spark_file("part%3D1/f.parquet") == "s3a://bucket/corpus/documents/part=1/f.parquet"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("", "a table path must be a non-empty string"),
        ("nosuch://bucket/t", "cannot open 'nosuch://bucket/t' with pyarrow.fs"),
    ],
)
def test_bad_path_is_a_storage_error_delta_handlers_still_catch(path, message):
    with pytest.raises(StorageError, match=message) as err:
        Location.of(path)
    assert isinstance(err.value, DeltaError)
