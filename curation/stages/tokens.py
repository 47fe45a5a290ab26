"""Token counts: the ``n_tokens`` column the funnel sums, from the tokenizer a recipe names.

Not a filter: it never drops a row, so it is not a stage kind of ``stages:`` but the recipe's
top-level ``tokenizer:``, which the driver turns into the first stage of the run. There it shares
the first row stages' Python pass (``driver.plan``), counts every document once on its text as
read, and every later count (stats per stage and reason, what-if, report) is a sum of it.

>>> tokenizer: models/tokenizer.json        # in a recipe; or {path: ..., count_eos_token: true}
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Literal

import pyarrow as pa
from pydantic import Field, model_validator
from pyspark.sql.types import IntegerType, StructField

from curation import columns as C
from curation.errors import ConfigError
from curation.models import ModelRef, load_tokenizer, local_ref, ship_model
from curation.stages.base import RowStage, Stage, StageConfig
from curation.text.tokens import count_tokens, whole_document

TOKENS = "tokens"  # the stage's name, shown in a fused pass ("tokens+length")


class TokenizerConfig(StageConfig):
    """The tokenizer whose counts the run reports: the recipe's ``tokenizer:``."""

    kind: Literal["tokens"] = TOKENS
    path: str = Field(
        min_length=1,
        description="A tokenizer.json in the Hugging Face tokenizers format (what "
        "Tokenizer.save or a model's repository provides): local path or Hadoop/fsspec URI, "
        "shipped to executors like model files.",
    )
    # datatrove's TokensCounter encodes with the tokenizers default, special tokens added: the
    # count a model is trained on (e.g. Llama's BOS).
    add_special_tokens: bool = Field(
        True, description="Count the special tokens the tokenizer's post-processor adds."
    )
    # datatrove's TokensCounter: count_eos_token=False.
    count_eos_token: bool = Field(
        False, description="Add one token per document for the EOS separating packed documents."
    )

    @model_validator(mode="before")
    @classmethod
    def _path_alone(cls, data: object) -> object:
        # `tokenizer: models/tokenizer.json` is the common case: a path and the defaults.
        return {"path": data} if isinstance(data, str) else data


class TokenCount(RowStage):
    """Adds ``n_tokens`` (tokens of the text as read); decides nothing."""

    config_class = TokenizerConfig
    config: TokenizerConfig

    def __init__(self, config: TokenizerConfig):
        super().__init__(config)
        self._ref: ModelRef | None = None

    def requires(self) -> Sequence[str]:
        return (C.TEXT,)

    def output_fields(self):
        return [StructField(C.N_TOKENS, IntegerType())]

    def prepare(self, spark: Any) -> None:
        check_tokenizer(self.config.path)
        self._ref = ship_model(spark, self.config.path)

    def scorer(self):
        ref = self._ref or local_ref(self.config.path)
        cfg = self.config
        # Spark runs one task per core; a tokenizer spreading each batch over every core of the
        # machine would compete with the other tasks' workers.
        os.environ["TOKENIZERS_PARALLELISM"] = "false"

        def run(batch: pa.RecordBatch) -> dict[str, pa.Array]:
            counts = count_tokens(
                load_tokenizer(ref),
                batch.column(C.TEXT).to_pylist(),
                add_special_tokens=cfg.add_special_tokens,
                count_eos_token=cfg.count_eos_token,
            )
            return {C.N_TOKENS: pa.array(counts, pa.int32())}

        return run

    def rules(self, scored, cutoffs):
        return []


def with_token_count(tokenizer: TokenizerConfig | None, stages: Sequence[Stage]) -> list[Stage]:
    """The run's stages, counting tokens first when the recipe names a tokenizer."""
    return ([TokenCount(tokenizer)] if tokenizer is not None else []) + list(stages)


def check_tokenizer(path: str) -> None:
    """Refuse, on the driver, a tokenizer that workers could not load (local paths only)."""
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise ConfigError(
            "tokenizer: the tokenizers package is not installed; pip install 'tokenizers>=0.20'"
        ) from None
    local = local_ref(path).path  # absolute for a local path, the URI itself otherwise
    if not os.path.isabs(local):
        return  # a remote file: the workers' load is the check
    if not os.path.isfile(local):
        raise ConfigError(
            f"tokenizer.path {path!r} does not exist (or is not a file); point it at a "
            "tokenizer.json"
        )
    try:
        whole_document(Tokenizer.from_file(local))
    except Exception as err:  # noqa: BLE001 - tokenizers raises a bare Exception on bad files
        raise ConfigError(
            f"tokenizer.path {path!r} is not a tokenizers JSON file ({err}); give a "
            "tokenizer.json, e.g. one written by tokenizers' Tokenizer.save"
        ) from None
