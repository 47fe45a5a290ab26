"""Where a table or file lives: one URI as Spark, delta-rs and pyarrow.fs each want it.

The one module that turns a user's path or URI into a file system, so every reader and writer
agrees on where the bytes are and with which credentials. Schemes: a local path or ``file://``,
``s3://`` / ``s3a://``, ``gs://``, ``abfss://`` / ``abfs://``, ``hdfs://`` and ``dbfs:/``.

* Spark (Hadoop) gets ``file://`` for local paths and ``s3a://`` for S3 (open-source Hadoop has
  no ``s3://`` file system; Databricks and EMR read ``s3a://`` too).
* delta-rs gets ``s3://`` (it has no ``s3a``) and the storage options as they are.
* pyarrow.fs gets a file system built from the same options (endpoint, region, keys).

Storage options are delta-rs' (object_store's) keys, e.g. ``aws_endpoint_url``,
``aws_access_key_id``; a value ``${NAME}`` is read from the environment when a location is
opened, so secrets stay out of recipes and run records. ``set_options`` makes a run's options
the default for every ``Location.of`` in this process (models, recipes, run records).

    loc = Location.of("s3a://bucket/out", {"aws_endpoint_url": "http://127.0.0.1:9000"})
    loc.spark, loc.delta, loc.fs_path   # 's3a://bucket/out', 's3://bucket/out', 'bucket/out'
"""

from __future__ import annotations

import functools
import os
import posixpath
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlparse

import pyarrow as pa
import pyarrow.fs as pafs

from curation.errors import StorageError

SCHEMES = "a local path, file://, s3://, s3a://, gs://, abfss://, hdfs:// or dbfs:/"
_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

# Options for pyarrow's S3FileSystem, by the delta-rs key (lower case) a user writes. Keys not
# listed (e.g. aws_conditional_put) reach delta-rs only.
_S3_KEYS = {
    "aws_access_key_id": "access_key",
    "access_key_id": "access_key",
    "aws_secret_access_key": "secret_key",
    "secret_access_key": "secret_key",
    "aws_session_token": "session_token",
    "session_token": "session_token",
    "aws_region": "region",
    "region": "region",
    "aws_endpoint_url": "endpoint",
    "aws_endpoint": "endpoint",
    "endpoint_url": "endpoint",
    "endpoint": "endpoint",
}
_AZURE_KEYS = {
    "azure_storage_account_name": "account_name",
    "account_name": "account_name",
    "azure_storage_account_key": "account_key",
    "account_key": "account_key",
}

# What Spark needs per scheme when Hadoop has no file system for it.
_HADOOP_NEEDS = {
    "s3a": (
        "the hadoop-aws jar matching Spark's Hadoop (e.g. --packages "
        "org.apache.hadoop:hadoop-aws:3.5.0, which brings the AWS SDK bundle) and "
        "spark.hadoop.fs.s3a.* settings: fs.s3a.endpoint, fs.s3a.access.key, "
        "fs.s3a.secret.key (or fs.s3a.aws.credentials.provider), fs.s3a.path.style.access=true "
        "for MinIO/R2"
    ),
    "gs": "the GCS connector jar (com.google.cloud.bigdataoss:gcs-connector) and fs.gs.* settings",
    "abfss": "the hadoop-azure jar and fs.azure.account.* settings for the storage account",
    "abfs": "the hadoop-azure jar and fs.azure.account.* settings for the storage account",
    "hdfs": "a Hadoop configuration (HADOOP_CONF_DIR) naming the namenode",
    "dbfs": "Databricks (dbfs:/ exists only there)",
}

# Catalog names: one to three dotted parts (catalog.schema.table), each a plain identifier or
# `quoted` (Unity Catalog allows hyphens there).
_PART = r"(?:[A-Za-z0-9_]+|`[^`]+`)"
TABLE_NAME = rf"^{_PART}(?:\.{_PART}){{0,2}}$"
SCHEMA_NAME = rf"^{_PART}(?:\.{_PART})?$"
_QUALIFIED_TABLE = re.compile(rf"^{_PART}(?:\.{_PART}){{1,2}}$")


def is_table_name(ref: str) -> bool:
    """Whether a Delta store's ``ref`` names a catalog table (schema.table or
    catalog.schema.table) rather than a path: the run layout writes every path with a '/'."""
    return "/" not in ref and bool(_QUALIFIED_TABLE.match(ref))


_DEFAULT: dict[str, str] = {}
_DEFAULT_LOCK = threading.Lock()


def set_options(options: Mapping[str, str] | None) -> None:
    """Make ``options`` (unexpanded) the default of every ``Location.of`` in this process.

    The driver calls it with the recipe's ``storage.options`` before it touches storage, so
    model files, run records and tables all reach the same endpoint with the same credentials.
    """
    with _DEFAULT_LOCK:
        _DEFAULT.clear()
        _DEFAULT.update(options or {})


def current_options() -> dict[str, str]:
    with _DEFAULT_LOCK:
        return dict(_DEFAULT)


def expand_options(options: Mapping[str, str]) -> dict[str, str]:
    """``options`` with every ``${NAME}`` replaced by the environment variable's value."""
    expanded = {}
    for key, value in options.items():
        if not isinstance(value, str):
            value = str(value).lower() if isinstance(value, bool) else str(value)

        def lookup(match: re.Match[str], key: str = key) -> str:
            name = match.group(1)
            if name not in os.environ:
                raise StorageError(
                    f"storage.options.{key} refers to ${{{name}}}, but the environment variable "
                    f"{name} is not set; export it or give the value in storage.options.{key}"
                )
            return os.environ[name]

        expanded[key] = _ENV_REFERENCE.sub(lookup, value)
    return expanded


@dataclass(frozen=True)
class Location:
    """One table or file path as Spark, delta-rs and pyarrow.fs each want it."""

    shown: str  # the path as the user gave it, for messages
    spark: str  # for Spark (Hadoop) reads and writes
    delta: str  # for delta-rs
    fs_path: str  # the path inside ``fs``
    scheme: str  # "" for local files
    options: dict[str, str] = field(default_factory=dict, compare=False)  # for delta-rs

    @classmethod
    def of(cls, path: str, options: Mapping[str, str] | None = None) -> Location:
        """``path`` with ``options`` (default: those of ``set_options``), ``${NAME}`` expanded."""
        if not isinstance(path, str) or not path:
            raise StorageError(f"a table path must be a non-empty string, not {path!r}")
        opts = expand_options(current_options() if options is None else options)
        parsed = urlparse(path)
        scheme = parsed.scheme.lower()
        if len(scheme) <= 1 or scheme == "file":
            # No scheme (or a Windows drive letter): a local path. Made absolute so executors
            # and delta-rs agree on it, and file:// for Spark so a cluster whose default file
            # system is HDFS still writes where pyarrow.fs and delta-rs look.
            local = parsed.path if scheme == "file" else path
            local = os.path.abspath(local).rstrip("/") or "/"
            return cls(path, "file://" + local, local, local, "", opts)
        if scheme == "dbfs":
            # On Databricks the driver sees DBFS through its FUSE mounts: Unity Catalog volumes
            # at /Volumes, the rest under /dbfs. Spark keeps the dbfs:/ URI.
            inner = "/" + parsed.netloc + parsed.path if parsed.netloc else parsed.path
            inner = inner.rstrip("/") or "/"
            local = inner if inner.startswith("/Volumes/") else "/dbfs" + inner
            return cls(path, "dbfs:" + inner, local, local, scheme, opts)
        if scheme not in ("s3", "s3a", "gs", "gcs", "abfss", "abfs", "hdfs"):
            raise StorageError(f"cannot open {path!r}: unknown scheme {scheme!r}; use {SCHEMES}")
        if not parsed.netloc:
            raise StorageError(f"{path!r} names no bucket or host; write {scheme}://BUCKET/PATH")
        path = path.rstrip("/")
        rest = path.split("://", 1)[1]
        if scheme in ("s3", "s3a"):
            # Hadoop's connector is s3a; delta-rs and pyarrow know only s3.
            return cls(path, "s3a://" + rest, "s3://" + rest, rest, "s3", _allow_http(opts))
        if scheme in ("gs", "gcs"):
            return cls(path, "gs://" + rest, "gs://" + rest, rest, "gs", opts)
        if scheme in ("abfss", "abfs"):
            # abfss://container@account.dfs.core.windows.net/path: pyarrow wants container/path.
            container = parsed.netloc.split("@", 1)[0]
            inner = (container + parsed.path).rstrip("/")
            return cls(path, path, path, inner, scheme, opts)
        return cls(path, path, path, parsed.path.rstrip("/") or "/", scheme, opts)

    @functools.cached_property
    def fs(self) -> pafs.FileSystem:
        """The pyarrow file system, built on first use (building one may touch the network)."""
        try:
            return _filesystem(self)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError, ValueError) as err:
            raise StorageError(
                f"cannot open {self.shown!r} with pyarrow.fs ({err}); check the URI and "
                "storage.options (endpoint, region, credentials)"
            ) from err

    def child(self, name: str) -> Location:
        child = Location(
            f"{self.shown.rstrip('/')}/{name}",
            f"{self.spark}/{name}",
            f"{self.delta}/{name}",
            posixpath.join(self.fs_path, name),
            self.scheme,
            self.options,
        )
        if "fs" in self.__dict__:  # share a built file system (and its connections)
            object.__setattr__(child, "fs", self.__dict__["fs"])
        return child

    def spark_file(self, relative_or_absolute: str) -> str:
        """A file of the table as Spark should read it (Delta paths are URL-encoded)."""
        path = unquote(relative_or_absolute)
        if urlparse(relative_or_absolute).scheme:
            return path  # an absolute path (shallow clones)
        return f"{self.spark}/{path}"

    @property
    def delta_options(self) -> dict[str, str] | None:
        """Storage options for delta-rs (None when there are none)."""
        return dict(self.options) or None

    @property
    def is_local(self) -> bool:
        return self.scheme in ("", "dbfs")

    def read_bytes(self) -> bytes:
        """The whole file (a recipe, a model), with a one-line error naming it when absent."""
        info = self.fs.get_file_info(self.fs_path)
        if info.type != pafs.FileType.File:
            raise StorageError(f"{self.shown!r} is not a file (it does not exist, or is a folder)")
        with self.fs.open_input_stream(self.fs_path) as fh:
            return fh.read()


# The S3A setting each storage option becomes (hadoop-aws 3.x names).
_S3A_SETTINGS = {
    "access_key": "fs.s3a.access.key",
    "secret_key": "fs.s3a.secret.key",
    "session_token": "fs.s3a.session.token",
    "region": "fs.s3a.endpoint.region",
}


def s3a_settings(options: Mapping[str, str]) -> dict[str, str]:
    """``storage.options`` (expanded) as Hadoop S3A settings, for a Spark that has hadoop-aws.

    A custom endpoint (MinIO, R2) also gets path-style access, which those stores expect.
    """
    mapped = {_S3_KEYS[k.lower()]: v for k, v in options.items() if k.lower() in _S3_KEYS}
    settings = {_S3A_SETTINGS[k]: v for k, v in mapped.items() if k in _S3A_SETTINGS}
    endpoint = mapped.get("endpoint")
    if endpoint:
        settings["fs.s3a.endpoint"] = endpoint
        settings["fs.s3a.path.style.access"] = "true"
        if endpoint.startswith("http://"):
            settings["fs.s3a.connection.ssl.enabled"] = "false"
    return settings


def configure_spark(spark: Any, uris: list[str]) -> None:
    """Give Spark's S3A connector the run's storage options when a URI is on S3 and Spark has
    the connector. Session settings reach every Hadoop configuration Spark builds for a read or
    write (classic and Connect), so nothing else has to repeat them."""
    if not any(Location.of(u).scheme == "s3" for u in uris):
        return
    if not spark_reaches(spark, next(u for u in uris if Location.of(u).scheme == "s3")):
        return  # no connector: the rust engine moves the files with pyarrow instead
    for key, value in s3a_settings(Location.of(uris[0]).options).items():
        spark.conf.set(key, value)


def write_bytes(loc: Location, data: bytes) -> None:
    """Write a whole file (a run record, a report), creating its folder."""
    loc.fs.create_dir(posixpath.dirname(loc.fs_path), recursive=True)
    with loc.fs.open_output_stream(loc.fs_path) as fh:
        fh.write(data)


def _allow_http(options: dict[str, str]) -> dict[str, str]:
    """An ``http://`` endpoint says the user wants plain HTTP (a local MinIO): delta-rs
    refuses it ("URL scheme is not allowed") unless ``aws_allow_http`` says so too."""
    lowered = {k.lower(): v for k, v in options.items()}
    endpoint = next(
        (lowered[k] for k, v in _S3_KEYS.items() if v == "endpoint" and k in lowered), ""
    )
    if (
        endpoint.startswith("http://")
        and "aws_allow_http" not in lowered
        and "allow_http" not in lowered
    ):
        return {**options, "aws_allow_http": "true"}
    return options


def _filesystem(loc: Location) -> pafs.FileSystem:
    if loc.is_local:
        return pafs.LocalFileSystem()
    lowered = {k.lower(): v for k, v in loc.options.items()}
    if loc.scheme == "s3":
        kwargs: dict[str, Any] = {}
        for key, value in lowered.items():
            if key in _S3_KEYS:
                kwargs[_S3_KEYS[key]] = value
        endpoint = kwargs.pop("endpoint", None)
        if endpoint:
            parsed = urlparse(endpoint)
            if parsed.scheme in ("http", "https"):
                kwargs["scheme"] = parsed.scheme
                endpoint = parsed.netloc + parsed.path.rstrip("/")
            kwargs["endpoint_override"] = endpoint
        if "access_key" in kwargs and "secret_key" not in kwargs:
            raise StorageError(
                f"{loc.shown!r}: storage.options gives aws_access_key_id without "
                "aws_secret_access_key; add it"
            )
        # Without a region pyarrow would ask AWS for the bucket's region: not there on MinIO.
        kwargs.setdefault("region", os.environ.get("AWS_REGION", "us-east-1"))
        return pafs.S3FileSystem(**kwargs)
    if loc.scheme in ("abfss", "abfs") and any(k in _AZURE_KEYS for k in lowered):
        kwargs = {_AZURE_KEYS[k]: v for k, v in lowered.items() if k in _AZURE_KEYS}
        return pafs.AzureFileSystem(**kwargs)
    fs, _ = pafs.FileSystem.from_uri(loc.delta)
    return fs


_REACHES: dict[tuple[str, str], bool] = {}


def spark_reaches(spark: Any, uri: str) -> bool:
    """Whether Spark's Hadoop has a file system for ``uri``'s scheme (asked once per scheme).

    Spark Connect clients cannot ask the server's JVM: the server is assumed to have it.
    """
    from curation.session import is_connect

    loc = Location.of(uri)
    if loc.scheme == "" or is_connect(spark):
        return True
    jvm = spark._jvm  # noqa: SLF001 - Hadoop has no Python API
    hadoop_scheme = urlparse(loc.spark).scheme
    key = (str(spark.sparkContext.applicationId), hadoop_scheme)
    if key not in _REACHES:
        try:
            conf = spark._jsc.hadoopConfiguration()  # noqa: SLF001
            jvm.org.apache.hadoop.fs.FileSystem.getFileSystemClass(hadoop_scheme, conf)
            _REACHES[key] = True
        except Exception as err:  # noqa: BLE001 - py4j wraps the Java exception
            missing = "UnsupportedFileSystemException" in str(err) or "ClassNotFound" in str(err)
            _REACHES[key] = not missing  # other trouble: let Spark report it where it happens
    return _REACHES[key]


def check_spark_reaches(spark: Any, uri: str, role: str, instead: str = "") -> None:
    """Fail with one line when Spark's Hadoop has no file system for ``uri``'s scheme.

    Without it Spark fails deep in a job with a Java stack ("No FileSystem for scheme s3a").
    ``instead`` ends the message with an alternative that needs no connector.
    """
    if spark_reaches(spark, uri):
        return
    loc = Location.of(uri)
    hadoop_scheme = urlparse(loc.spark).scheme
    raise StorageError(
        f"{role} {uri!r}: this Spark has no Hadoop file system for {hadoop_scheme}:// "
        f"(read as {loc.spark}); add {_HADOOP_NEEDS.get(hadoop_scheme, 'its connector jar')}"
        + (f"; {instead}" if instead else "")
    )
