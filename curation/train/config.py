"""What a classifier training run is asked to do: the validated config and its YAML loader.

A config (YAML for ``curation train-classifier``)::

    tables:
      wiki:  {path: data/wiki.jsonl}
      mail:  {path: data/mail_delta, format: delta}
    positives: {tables: [wiki], chunk_chars: 2500}
    negatives: {query: "SELECT text FROM mail WHERE label = 'spam'", chunk_chars: 2500}
    output: models/quality.bin
    max_per_class: 100000
    hard_negative_rounds: 1
    fasttext: {bucket: 500000}
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import Field, ValidationError, field_validator, model_validator

from curation.errors import ConfigError
from curation.frozen import FrozenModel
from curation.readers import InputConfig
from curation.stages.classifier import LABEL_PATTERN
from curation.text.fasttext_prep import PrepMode

_IDENT = r"^[A-Za-z_][A-Za-z0-9_]*$"
M = TypeVar("M", bound=FrozenModel)


class ClassSource(FrozenModel):
    """The rows of one class: the union of some tables' text, or a SQL query over the tables."""

    tables: tuple[str, ...] = Field(
        (), description="Names of entries in `tables` whose `text` columns are unioned."
    )
    query: str | None = Field(
        None,
        min_length=1,
        description="SQL over the tables (each is a temp view under its name) returning a "
        "`text` column, e.g. SELECT text FROM mail WHERE label = 'spam'.",
    )
    # Documents of very different lengths let a model learn length; DCLM/Ultra-FineWeb samples
    # are web pages of a few KB, so long sources are cut to about that size.
    chunk_chars: int | None = Field(
        None,
        ge=200,
        le=1_000_000,
        description="Split texts longer than this into chunks of at most about this many "
        "characters, on paragraph (then whitespace) boundaries. Null keeps texts whole.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> ClassSource:
        if bool(self.tables) == (self.query is not None):
            raise ValueError("give either `tables` (a list of table names) or `query`, not both")
        return self


class FastTextParams(FrozenModel):
    """fastText supervised hyperparameters. Defaults: Ultra-FineWeb's classifier."""

    # Ultra-FineWeb: lr 0.1, dim 256, word n-grams 3, min count 3, 3 epochs (DCLM: bigrams).
    lr: float = Field(0.1, gt=0.0, le=5.0, description="Learning rate.")
    epoch: int = Field(3, ge=1, le=1000, description="Passes over the training file.")
    word_ngrams: int = Field(3, ge=1, le=6, description="Longest word n-gram used as a feature.")
    dim: int = Field(256, ge=2, le=1024, description="Embedding dimension.")
    min_count: int = Field(3, ge=1, le=1_000_000, description="Words rarer than this are ignored.")
    # fastText's default. Softmax over two labels gives calibrated P(positive).
    loss: Literal["softmax", "hs", "ns", "ova"] = Field("softmax", description="Loss function.")
    # fastText's default; the model holds bucket x dim floats (2M x 256 x 4 B = 2 GB), so small
    # training sets are better served by 100k-500k.
    bucket: int = Field(
        2_000_000, ge=1_000, le=50_000_000, description="Hash buckets for word n-grams."
    )
    thread: int | None = Field(
        None, ge=1, le=512, description="Training threads; default: all cores of the driver."
    )

    def fasttext_kwargs(self, seed: int) -> dict[str, Any]:
        return {
            "lr": self.lr,
            "epoch": self.epoch,
            "wordNgrams": self.word_ngrams,
            "dim": self.dim,
            "minCount": self.min_count,
            "loss": self.loss,
            "bucket": self.bucket,
            "thread": self.thread or os.cpu_count() or 1,
            "seed": seed,
            "verbose": 0,
        }


class TrainConfig(FrozenModel):
    """One classifier training run."""

    tables: dict[str, InputConfig] = Field(
        description="Named inputs (JSONL, Parquet, Delta); each becomes a temp view of its name."
    )
    positives: ClassSource = Field(description="Rows of the positive (high-quality) class.")
    negatives: ClassSource = Field(description="Rows of the negative class (the pool).")
    output: str = Field(
        min_length=1,
        description="Local path of the model file (.bin); the sidecar is written beside it.",
    )
    # DCLM's labels: __label__hq for the reference data, __label__cc for Common Crawl.
    positive_label: str = Field("__label__hq", pattern=LABEL_PATTERN, description="Positive label.")
    negative_label: str = Field("__label__cc", pattern=LABEL_PATTERN, description="Negative label.")
    # DCLM: newlines to spaces.
    prep: PrepMode = Field("dclm", description="Text preparation: dclm or ultrafineweb.")
    # A driver-side sample: 100k texts of a few KB per class is a few hundred MB on disk.
    max_per_class: int = Field(
        100_000, ge=10, le=10_000_000, description="Most rows sampled from each class."
    )
    # A tenth held out is the usual choice; ample for the metric at these sample sizes.
    validation_fraction: float = Field(
        0.1, gt=0.0, lt=0.9, description="Share of each class held out for metrics."
    )
    # Too little text carries no signal about quality (and chunking leaves short tails).
    min_chars: int = Field(
        100, ge=1, le=100_000, description="Texts shorter than this are not used."
    )
    seed: int = Field(42, ge=0, le=2**31 - 1, description="Seed for sampling, split and fastText.")
    # Ultra-FineWeb iterates its classifier; 0 keeps DCLM's single round.
    hard_negative_rounds: int = Field(
        0, ge=0, le=10, description="Retrain rounds on the negatives the model scores highest."
    )
    fasttext: FastTextParams = Field(default_factory=FastTextParams)

    @field_validator("tables")
    @classmethod
    def _table_names(cls, tables: dict[str, InputConfig]) -> dict[str, InputConfig]:
        if not tables:
            raise ValueError("name at least one table")
        for name in tables:
            if not re.match(_IDENT, name):
                raise ValueError(
                    f"table name {name!r} is not a SQL identifier (letters, _, digits)"
                )
        return tables

    @field_validator("output")
    @classmethod
    def _local_output(cls, output: str) -> str:
        if re.match(r"^[A-Za-z][A-Za-z0-9+.-]+://", output) and not output.startswith("file://"):
            raise ValueError("fastText writes local files; give a local path for output")
        return output.removeprefix("file://")

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        if self.positive_label == self.negative_label:
            raise ValueError("positive_label and negative_label must differ")
        for side in ("positives", "negatives"):
            for name in getattr(self, side).tables:
                if name not in self.tables:
                    raise ValueError(
                        f"{side}.tables names {name!r}, which is not in tables "
                        f"({', '.join(self.tables)})"
                    )
        return self


def load_train_config(path: str | Path, overrides: Iterable[str] = ()) -> TrainConfig:
    """Read a training YAML, apply ``key.path=value`` overrides, validate."""
    return load_yaml_model(TrainConfig, path, overrides)


def load_yaml_model(model: type[M], path: str | Path, overrides: Iterable[str] = ()) -> M:
    """``model`` validated from a YAML file with ``key.path=value`` overrides; errors are one
    ConfigError naming the file, the fields and the values."""
    from curation.config import format_validation_error, read_yaml

    raw = read_yaml(path, overrides)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, raw, str(path))) from None
