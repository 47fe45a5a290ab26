"""The only place a SparkSession is built.

Locally we own the session and set sensible defaults. Under spark-submit, on Databricks or over
Spark Connect a session (or its configuration) already exists: we take it and leave cluster
settings alone, setting only what the session lets us set at runtime.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from typing import Literal

from pydantic import Field, field_validator
from pyspark.sql import SparkSession

from curation.errors import DeltaError
from curation.frozen import FrozenModel
from curation.logs import jvm_conf, spark_log_level

# Settings every session needs for our tables and UDFs; safe to set at runtime.
RUNTIME_DEFAULTS = {
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # Spark's INT96 default makes Delta tables that delta-rs refuses to read.
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.parquet.compression.codec": "zstd",
    "spark.sql.session.timeZone": "UTC",
}


# The master URLs Spark parses (SparkContext.createTaskScheduler): local[N], local[N,F] with N
# threads or * and F retries, local-cluster for tests, yarn, and a scheme URL (spark://, k8s://,
# or a plugin's). Checked here so a typo is one line naming the field, not a JVM stack.
_MASTER_URL = re.compile(
    r"local(\[(\*|[1-9]\d*)(\s*,\s*[1-9]\d*)?\])?|local-cluster\[\s*\d+\s*(,\s*\d+\s*){2}\]"
    r"|yarn|[A-Za-z][A-Za-z0-9+.-]*://\S+"
)
MASTER_FORMS = "local, local[N], local[*], local[N,F], spark://HOST:PORT, yarn or k8s://HOST:PORT"


def check_master(master: str) -> str:
    """``master`` if Spark can parse it, else ValueError naming the forms it accepts."""
    if not _MASTER_URL.fullmatch(master):
        raise ValueError(f"not a Spark master URL; use {MASTER_FORMS}")
    return master


class SparkSettings(FrozenModel):
    """How to get a SparkSession when the run builds its own."""

    master: str = Field(
        "local[*]",
        description="Spark master URL for a session we build; ignored when one already exists "
        "(spark-submit, Databricks, notebooks).",
    )
    app_name: str = Field(
        "curation",
        min_length=1,
        description="Spark application name for a session we build (spark-submit's --name wins).",
    )
    driver_memory: str | None = Field(
        None,
        pattern=r"^\d+[kmgt]$",
        description="Driver JVM heap like '8g'; default: half the machine's memory, at most 32g.",
    )
    shuffle_partitions: int | None = Field(
        None, ge=1, le=100_000, description="spark.sql.shuffle.partitions; default: Spark's."
    )
    ui: bool | None = Field(
        None, description="Spark UI and console progress; default: on in a terminal."
    )
    conf: dict[str, str] = Field(
        default_factory=dict, description="Extra Spark properties for a session we build."
    )
    connect_url: str | None = Field(
        None,
        pattern=r"^sc://",
        description="Spark Connect server (sc://host:port); when set, the run is a Connect client.",
    )

    @field_validator("master")
    @classmethod
    def _master_url(cls, master: str) -> str:
        return check_master(master)


def default_driver_memory() -> str:
    """Half the machine's memory (leaving room for Python workers), between 1g and 32g."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return "2g"
    gib = max(1, min(32, int(total / 2**30 / 2)))
    return f"{gib}g"


def is_connect(spark: SparkSession) -> bool:
    """True for a Spark Connect session (no sparkContext, no JVM in this process)."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


# Which delta-spark goes with which Spark (storage.engine: spark), from Delta's release notes:
# 3.0-3.3 are built on Spark 3.5 (3.2.1 and 3.3.x on 3.5.3), for Scala 2.12 and 2.13; 4.0.x on
# Spark 4.0; from 4.1 each release also publishes one artifact per Spark minor version it was
# built for (delta-spark_4.0_2.13, _4.1_, _4.2_), Scala 2.13 only: 4.1-4.3 for Spark 4.0.1 and
# 4.1.0, 4.4 for 4.0.1, 4.1.0 and 4.2.0. No release supports Spark 4.3 yet (delta-spark 4.4.1's
# Python package requires pyspark <= 4.2.0): there only the rust engine writes Delta.
# (Spark minor) -> (pip requirement, Maven coordinate with {scala} for the Scala version).
DELTA_FOR_SPARK = {
    (3, 5): ("delta-spark>=3.2,<3.4", "io.delta:delta-spark_{scala}:3.3.2"),
    (4, 0): ("delta-spark>=4.0,<4.5", "io.delta:delta-spark_{scala}:4.0.1"),
    (4, 1): ("delta-spark>=4.1,<4.5", "io.delta:delta-spark_4.1_{scala}:4.4.1"),
    (4, 2): ("delta-spark>=4.4,<4.5", "io.delta:delta-spark_4.2_{scala}:4.4.1"),
}
DELTA_SQL_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}


def delta_package(spark_version: str, scala: str | None = None) -> str:
    """The Maven coordinate of the delta-spark jar for this Spark (DeltaError if none exists)."""
    from curation.spark_compat import version_tuple

    minor = version_tuple(spark_version)
    if minor not in DELTA_FOR_SPARK:
        raise DeltaError(
            f"storage.engine is 'spark' but no delta-spark release supports Spark {spark_version} "
            f"(delta-spark pairs with Spark {', '.join(f'{a}.{b}' for a, b in DELTA_FOR_SPARK)}); "
            "set storage.engine to 'rust' or 'auto' (delta-rs commits, no jars needed)"
        )
    scala = scala or ("2.12" if minor < (4, 0) else "2.13")
    return DELTA_FOR_SPARK[minor][1].format(scala=scala)


def pyspark_scala_version() -> str | None:
    """The Scala version of the jars next to the installed pyspark (2.12 or 2.13), if known."""
    import glob

    import pyspark

    home = os.environ.get("SPARK_HOME") or os.path.dirname(pyspark.__file__)
    found = glob.glob(os.path.join(home, "jars", "scala-library-2.1*.jar"))
    match = re.search(r"scala-library-(2\.1\d)", found[0]) if found else None
    return match.group(1) if match else None


def _with_delta_jars(builder, settings: SparkSettings) -> tuple[SparkSession.Builder, str | None]:
    """The builder with the delta-spark jar for this pyspark, unless the recipe names jars."""
    import pyspark

    if any(k in settings.conf for k in ("spark.jars.packages", "spark.jars")):
        return builder, None  # the user's own jars (and versions) stand
    package = delta_package(pyspark.__version__, pyspark_scala_version())
    builder = builder.config("spark.jars.packages", package)
    for key, value in DELTA_SQL_CONF.items():
        if key not in settings.conf:
            builder = builder.config(key, value)
    return builder, package


def get_session(settings: SparkSettings | None = None, delta_jars: bool = False) -> SparkSession:
    """The active session if there is one, else a new one built from ``settings``.

    ``delta_jars`` (storage.engine: spark): a session built here loads the delta-spark jar that
    pairs with this pyspark (DELTA_FOR_SPARK) from a Maven repository, unless the recipe's
    ``spark.conf`` names jars itself.
    """
    settings = settings or SparkSettings()
    if settings.connect_url:
        spark = SparkSession.builder.remote(settings.connect_url).getOrCreate()
        _apply_runtime_defaults(spark)
        return spark
    active = SparkSession.getActiveSession()
    if active is not None:
        _apply_runtime_defaults(active)
        return active
    # Python workers must run this interpreter (the venv with our deps), not the system one.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder
    submitted = launched_by_spark()
    if not submitted:
        # Spark's progress bar writes carriage-return updates to stderr: only for a terminal.
        interactive = settings.ui if settings.ui is not None else sys.stderr.isatty()
        builder = (
            builder.appName(settings.app_name)
            .master(settings.master)
            .config("spark.driver.memory", settings.driver_memory or default_driver_memory())
            .config("spark.ui.enabled", str(interactive).lower())
            .config("spark.ui.showConsoleProgress", str(interactive).lower())
        )
        if settings.shuffle_partitions:
            builder = builder.config("spark.sql.shuffle.partitions", settings.shuffle_partitions)
        for key, value in {**settings.conf, **jvm_conf(settings.conf)}.items():
            builder = builder.config(key, value)
    package = None
    if delta_jars and not submitted:
        builder, package = _with_delta_jars(builder, settings)
    try:
        spark = builder.getOrCreate()
    except Exception as err:
        if package is None:
            raise
        # Ivy's reason is on stderr above; Python only hears that the JVM did not start.
        raise DeltaError(
            f"storage.engine is 'spark' and Spark could not load {package} (the delta-spark "
            f"for pyspark {_pyspark_version()}; spark.jars.packages needs a reachable Maven "
            "repository): put the jar on the classpath (spark.jars, --jars, --packages), or set "
            "storage.engine to 'rust' or 'auto'"
        ) from err
    _apply_runtime_defaults(spark)
    if not submitted:
        spark.sparkContext.setLogLevel(spark_log_level())
        _quiet_file_sink_probe(spark)
    return spark


# Spark asks whether a single input path is a streaming sink's output; for a glob or a missing
# path the answer is a WARN with a Java stack (on every read of data/*.jsonl), before the one-line
# error a missing path gets. Batch reads never need that answer, so the logger is raised to ERROR.
_FILE_SINK_LOGGER = "org.apache.spark.sql.execution.streaming.sinks.FileStreamSink"


def _quiet_file_sink_probe(spark: SparkSession) -> None:
    jvm = spark._jvm  # noqa: SLF001 - log4j has no Python API
    with contextlib.suppress(Exception):  # another logging backend: its default stands
        level = jvm.org.apache.logging.log4j.Level.ERROR
        jvm.org.apache.logging.log4j.core.config.Configurator.setLevel(_FILE_SINK_LOGGER, level)


def _pyspark_version() -> str:
    import pyspark

    return pyspark.__version__


def launched_by_spark() -> bool:
    """True under spark-submit or a managed runtime: the cluster's settings are not ours to set."""
    # spark-submit starts the Python driver with a Py4J gateway already running.
    return bool(
        os.environ.get("PYSPARK_GATEWAY_PORT") or os.environ.get("DATABRICKS_RUNTIME_VERSION")
    )


def shipped_file(path: str) -> str:
    """Under spark-submit, where ``--files`` put ``path`` when it is a bare name it shipped.

    A driver in cluster deploy mode runs on the cluster, where a file of the submitting machine
    does not exist: the job ships it with ``--files`` and names it by its file name. Spark puts
    it in SparkFiles' directory (client mode, Kubernetes) or, on YARN, in the working directory,
    where the bare name already finds it. Anything else is returned as given.
    """
    if not os.environ.get("PYSPARK_GATEWAY_PORT") or os.path.dirname(path) or "://" in path:
        return path
    from pyspark import SparkFiles

    get_session()  # spark-submit's own session; starting it fetched the shipped files
    shipped = SparkFiles.get(path)
    return shipped if os.path.isfile(shipped) else path


def _apply_runtime_defaults(spark: SparkSession) -> None:
    for key, value in RUNTIME_DEFAULTS.items():
        # Some managed runtimes lock a few keys; theirs stand.
        with contextlib.suppress(Exception):
            spark.conf.set(key, value)


def has_delta_jars(spark: SparkSession) -> bool:
    """Whether delta-spark's JVM classes are on the classpath (decides the storage engine)."""
    if is_connect(spark):
        ext = spark.conf.get("spark.sql.extensions", "") or ""
        return "DeltaSparkSessionExtension" in ext
    try:
        spark._jvm.java.lang.Class.forName("io.delta.tables.DeltaTable")  # noqa: SLF001
        return True
    except Exception:  # noqa: BLE001 - py4j raises its own error type for ClassNotFound
        return False


EngineName = Literal["auto", "spark", "rust"]
