"""Training config: validation messages and YAML with overrides."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from train_tables import train_config

from curation.errors import ConfigError
from curation.readers import InputConfig
from curation.train.config import ClassSource, load_train_config


def test_config_validation(tables, tmp_path):
    with pytest.raises(ValidationError, match="either `tables`"):
        ClassSource()
    with pytest.raises(ValidationError, match="either `tables`"):
        ClassSource(tables=("a",), query="SELECT text FROM a")
    with pytest.raises(ValidationError, match="not in tables"):
        train_config(tables, tmp_path / "x.bin", positives=ClassSource(tables=("nope",)))
    with pytest.raises(ValidationError, match="local path"):
        train_config(tables, "s3a://bucket/m.bin")
    with pytest.raises(ValidationError, match="must differ"):
        train_config(tables, tmp_path / "x.bin", negative_label="__label__hq")
    with pytest.raises(ValidationError):
        train_config(tables, tmp_path / "x.bin", tables={"bad name": InputConfig(path="x")})


def test_yaml_config_with_override(tables, tmp_path):
    cfg_file = tmp_path / "train.yaml"
    cfg_file.write_text(
        f"""
tables:
  good: {{path: {tables["good"]}}}
  mail: {{path: {tables["mail"]}}}
positives: {{tables: [good]}}
negatives: {{query: "SELECT text FROM mail WHERE label = 'spam'"}}
output: {tmp_path / "y.bin"}
fasttext: {{dim: 32}}
""",
        encoding="utf-8",
    )
    cfg = load_train_config(cfg_file, ["fasttext.epoch=7", "seed=3"])
    assert cfg.fasttext.dim == 32 and cfg.fasttext.epoch == 7 and cfg.seed == 3
    cfg_file.write_text("tables: {}\npositives: {tables: [a]}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid setting"):
        load_train_config(cfg_file)
