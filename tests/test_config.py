"""Config loading, overrides and the error messages a user sees."""

from __future__ import annotations

import pytest

from curation.config import apply_override, load_config, validate_config
from curation.errors import ConfigError

BASE = """
input: {path: data/in}
output: out/x
stages:
  - kind: length
    min_words: 10
"""


def write(tmp_path, text=BASE):
    p = tmp_path / "run.yaml"
    p.write_text(text)
    return p


def test_load_and_defaults(tmp_path):
    cfg = load_config(write(tmp_path))
    assert cfg.output == "out/x"
    assert cfg.input.path == "data/in"
    assert cfg.storage.engine == "auto"
    (stage,) = cfg.stages
    assert stage.kind == "length" and stage.min_words == 10 and stage.stage_name == "length"


def test_override_by_stage_name_parses_yaml_values(tmp_path):
    cfg = load_config(
        write(tmp_path),
        ["stages.length.min_words=25", "stages.length.max_chars=5000", "storage.engine=rust"],
    )
    assert cfg.stages[0].min_words == 25
    assert cfg.stages[0].max_chars == 5000
    assert cfg.storage.engine == "rust"


def test_config_is_frozen(tmp_path):
    cfg = load_config(write(tmp_path))
    with pytest.raises(Exception):  # noqa: B017 - pydantic raises ValidationError on frozen set
        cfg.stages[0].min_words = 3


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("stages.length.min_words=-1", "stages.length.min_words: -1 is invalid"),
        ("stages.length.min_wordz=3", "stages.length.min_wordz: unknown setting"),
        ("storage.engine=duck", "storage.engine: 'duck' is invalid"),
        ("stages.length.min_words=500", "min_words=500 is above max_words"),
        ("stages.0.kind=nonsense", "unknown stage kind 'nonsense'; use one of:"),
    ],
)
def test_errors_name_field_value_and_fix(tmp_path, override, expected):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path), ["stages.length.max_words=100", override])
    assert expected in str(err.value)


def test_missing_required_field(tmp_path):
    with pytest.raises(ConfigError, match="output: required; add it"):
        load_config(write(tmp_path, "input: {path: x}\n"))


def test_bad_override_syntax_and_unknown_stage():
    raw = {"input": {"path": "x"}, "output": "o", "stages": [{"kind": "length"}]}
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        apply_override(raw, "stages.length.min_words")
    with pytest.raises(ConfigError, match="no stage named 'dedup' in stages; stages are: length"):
        apply_override(raw, "stages.dedup.threshold=0.7")


def test_duplicate_stage_names_rejected():
    raw = {
        "input": {"path": "x"},
        "output": "o",
        "stages": [{"kind": "length"}, {"kind": "length"}],
    }
    with pytest.raises(ConfigError, match="two stages are named 'length'"):
        validate_config(raw)
    raw["stages"][1]["name"] = "length_again"
    assert [s.stage_name for s in validate_config(raw).stages] == ["length", "length_again"]


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "input: [unclosed"))


def test_recipes_in_conf_validate():
    from pathlib import Path

    conf = Path(__file__).resolve().parents[1] / "conf"
    recipes = [p for p in conf.glob("*.yaml") if not p.name.startswith("train")]
    assert recipes, "conf/ has no recipes"
    for path in recipes:
        load_config(path)


@pytest.mark.parametrize(
    "master",
    ["local", "local[*]", "local[4]", "local[2,3]", "local-cluster[2,1,1024]", "spark://h:7077"]
    + ["spark://a:7077,b:7077", "yarn", "k8s://https://h:6443"],
)
def test_spark_master_accepts_the_forms_spark_parses(tmp_path, master):
    assert load_config(write(tmp_path), [f"spark.master={master}"]).spark.master == master


@pytest.mark.parametrize("master", ["local[two]", "local[0]", "locl", "spark:h:7077", ""])
def test_spark_master_typos_name_the_forms(tmp_path, master):
    with pytest.raises(ConfigError, match=r"spark\.master: .* not a Spark master URL; use local,"):
        load_config(write(tmp_path), [f"spark.master={master}"])
