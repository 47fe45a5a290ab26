"""Which delta-spark the session builder loads for storage.engine: spark, per Spark version."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from curation.errors import DeltaError
from curation.session import delta_package

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("spark", "scala", "package"),
    [
        ("3.5.9", None, "io.delta:delta-spark_2.12:3.3.2"),
        ("3.5.3", "2.13", "io.delta:delta-spark_2.13:3.3.2"),
        ("4.0.1", None, "io.delta:delta-spark_2.13:4.0.1"),
        ("4.1.0", None, "io.delta:delta-spark_4.1_2.13:4.4.1"),
        ("4.2.0", None, "io.delta:delta-spark_4.2_2.13:4.4.1"),
    ],
)
def test_each_spark_gets_its_delta_spark(spark, scala, package):
    assert delta_package(spark, scala) == package


@pytest.mark.parametrize("spark", ["4.3.0", "3.4.4"])
def test_a_spark_no_delta_spark_supports_is_one_line_naming_the_way_out(spark):
    with pytest.raises(DeltaError) as err:
        delta_package(spark)
    message = str(err.value)
    assert "\n" not in message and spark in message and "storage.engine" in message


def test_jar_that_cannot_be_fetched_is_one_line_naming_it(tmp_path):
    """A fresh process (the suite's session exists already): Ivy resolves against an empty
    local repository, so nothing leaves the machine, and the run stops with exit 2."""
    import pyspark

    from curation.session import pyspark_scala_version

    ivy = tmp_path / "ivysettings.xml"
    ivy.write_text(
        '<ivysettings><settings defaultResolver="empty"/><resolvers>'
        f'<filesystem name="empty"><ivy pattern="{tmp_path}/repo/[module]/ivy.xml"/>'
        f'<artifact pattern="{tmp_path}/repo/[artifact].[ext]"/></filesystem>'
        "</resolvers></ivysettings>"
    )
    recipe = {
        "input": {"path": str(tmp_path / "in"), "format": "jsonl"},
        "output": str(tmp_path / "out"),
        "storage": {"engine": "spark"},
        "spark": {"master": "local[1]", "ui": False, "conf": {"spark.jars.ivySettings": str(ivy)}},
        "stages": [{"kind": "length", "min_words": 1}],
    }
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jsonl").write_text('{"id": "a", "text": "some words"}\n')
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYSPARK_PYTHON": sys.executable}
    done = subprocess.run(
        [sys.executable, "-m", "curation.cli", "run", str(tmp_path / "r.yaml")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    package = delta_package(pyspark.__version__, pyspark_scala_version())
    assert package in last and "storage.engine" in last and "Traceback" not in done.stderr
