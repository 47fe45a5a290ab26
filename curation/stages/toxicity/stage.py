"""Toxicity on the five Celadon dimensions, with a keep/flag/drop/span-removal policy per class.

Model: "Toxicity of the Commons" (Arnett et al. 2024; the Celadon classifier). Every document gets
``tox_race``, ``tox_gender``, ``tox_religion``, ``tox_ability``, ``tox_violence`` (0-3),
``tox_sum`` and ``tox_class`` (none | mild | toxic, Celadon's thresholds), from one or more
backends:

* ``lexicon`` (default, no model): term lists scored sentence by sentence
  (``curation.text.toxicity_lexicon``); columns ``tox_<name>_<dimension>``.
* ``fasttext``: any fastText supervised model; its label probabilities go to named columns and,
  optionally, to dimensions through thresholds (p >= t1 -> 1, >= t2 -> 2, >= t3 -> 3).
* ``transformers`` (extra ``transformers``): a sequence-classification model or a Celadon-layout
  model (five heads of four classes) from a local directory
  (``curation.stages.toxicity.transformers``).
* ``semantic`` (extra ``semantic``): MiniLM sentence embeddings and linear heads trained by
  ``curation train-toxicity`` (P(hate), P(dimension)), run only on the sentences cheap screens
  pass (``curation.stages.toxicity.semantic``); column ``tox_<name>_hate`` besides the scores.

Aggregation: a backend's document score per dimension is the maximum over its units (sentences
for the lexicon and for ``unit: sentence`` models); with several backends, ``tox_<dimension>`` is
the maximum over the backends that give dimensions (a null backend score, e.g. a language without
a lexicon, is skipped). Maximum, not mean: one overtly hostile sentence makes the document's
dimension score, however long the rest is.

Policy per class (``on_mild``, ``on_toxic``): ``keep``; ``flag`` (keep, with a
``content_warning`` column); ``drop`` (reason ``toxicity:<class>``); ``remove_spans``
(Dolma-style: the offending sentences are cut from ``text`` inside the scorer, the original
length kept in ``tox_orig_chars``; a document where nothing could be cut, or everything was, is
dropped with ``toxicity:<class>``). Scores always describe the text as it was before removal.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, IntegerType, StringType, StructField

from curation import columns as C
from curation.errors import ConfigError
from curation.models import ModelRef, local_ref, ship_model
from curation.stages.base import Cutoffs, ReportSection, RowStage
from curation.stages.toxicity.backends import (
    LexiconBackend,
    ModelBackend,
    ScoredSpan,
    fasttext_predictor,
)
from curation.stages.toxicity.config import (
    CLASS_COLUMN,
    DIM_COLUMNS,
    ORIG_CHARS_COLUMN,
    REASON_MILD,
    REASON_TOXIC,
    REMOVED_CHARS_COLUMN,
    SUM_COLUMN,
    WARNING_COLUMN,
    FastTextBackendConfig,
    LexiconBackendConfig,
    SemanticBackendConfig,
    ToxicityConfig,
    TransformersBackendConfig,
    gives_dimensions,
    probability_columns,
)
from curation.stages.toxicity.semantic import SemanticBackend
from curation.stages.toxicity.transformers import transformers_predictor
from curation.text.toxicity_lexicon import (
    DIMENSIONS,
    Term,
    builtin_lexicon_path,
    read_terms,
    remove_spans,
    toxicity_class,
)


class Toxicity(RowStage):
    config_class = ToxicityConfig
    report_section = ReportSection("toxicity", "Toxicity", "no toxicity stage in this run")
    config: ToxicityConfig

    def __init__(self, config: ToxicityConfig):
        super().__init__(config)
        self._refs: dict[str, ModelRef] = {}
        self._terms: dict[str, dict[str, list[Term]]] = {}

    # -- plan ---------------------------------------------------------------------------------

    def requires(self) -> Sequence[str]:
        extra = [
            b.language_column
            for b in self.config.backends
            if isinstance(b, LexiconBackendConfig) and b.language_column
        ]
        return (C.ID, C.TEXT, *extra)

    def _removes_spans(self) -> bool:
        return "remove_spans" in (self.config.on_mild, self.config.on_toxic)

    def _flags(self) -> bool:
        return "flag" in (self.config.on_mild, self.config.on_toxic)

    def output_fields(self):
        fields = [StructField(c, IntegerType()) for c in DIM_COLUMNS]
        fields += [StructField(SUM_COLUMN, IntegerType()), StructField(CLASS_COLUMN, StringType())]
        for b in self.config.backends:
            if gives_dimensions(b):
                fields += [StructField(f"tox_{b.name}_{d}", IntegerType()) for d in DIMENSIONS]
            fields += [StructField(c, DoubleType()) for c in probability_columns(b)]
        if self._flags():
            fields.append(StructField(WARNING_COLUMN, StringType()))
        if self._removes_spans():
            fields += [
                StructField(C.TEXT, StringType()),
                StructField(ORIG_CHARS_COLUMN, IntegerType()),
                StructField(REMOVED_CHARS_COLUMN, IntegerType()),
            ]
        return fields

    def prepare(self, spark) -> None:
        """Read the term lists on the driver (errors name file and line); ship model files."""
        self._load_terms()
        for b in self.config.backends:
            if isinstance(b, FastTextBackendConfig):
                self._refs[b.name] = ship_model(spark, b.model_path)
            elif isinstance(b, SemanticBackendConfig):
                self._prepare_semantic(spark, b)
            elif isinstance(b, TransformersBackendConfig) and not os.path.isdir(b.model_dir):
                raise ConfigError(
                    f"{self.name}.backends.{b.name}.model_dir={b.model_dir!r} is not a directory"
                )

    def _prepare_semantic(self, spark, b: SemanticBackendConfig) -> None:
        """Ship the heads and the fastText screen; check the encoder exists before Spark runs."""
        from curation.stages.toxicity.embeddings import encoder_dir
        from curation.stages.toxicity.semantic import load_heads

        where = f"{self.name}.backends.{b.name}"
        self._refs[b.name] = ref = ship_model(spark, b.model_file)
        if b.screen.fasttext_model:
            self._refs[f"{b.name}/screen"] = ship_model(spark, b.screen.fasttext_model)
        try:
            heads = load_heads(ref)
            encoder_dir(b.encoder or heads.encoder)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        except FileNotFoundError:
            return  # a remote model_path: the workers read it
        try:
            import sentence_transformers  # noqa: F401
        except ImportError:
            raise ConfigError(
                f"{where}: the semantic backend needs the `semantic` extra: "
                "pip install 'curation[semantic]'"
            ) from None

    def _load_terms(self) -> dict[str, dict[str, list[Term]]]:
        for b in self.config.backends:
            if not isinstance(b, LexiconBackendConfig) or b.name in self._terms:
                continue
            per_lang: dict[str, list[Term]] = {}
            for lang in b.languages:
                paths = []
                builtin = builtin_lexicon_path(lang) if b.builtin else None
                if builtin is not None:
                    paths.append(str(builtin))
                paths.extend(b.extra_lists.get(lang, ()))
                terms: list[Term] = []
                for p in paths:
                    try:
                        terms.extend(read_terms(p))
                    except OSError as exc:
                        raise ConfigError(
                            f"{self.name}.backends.{b.name}.extra_lists.{lang}: cannot read "
                            f"{p!r} ({exc.strerror}); fix the path"
                        ) from None
                    except ValueError as exc:
                        raise ConfigError(f"{self.name}.backends.{b.name}: {exc}") from None
                per_lang[lang] = terms
            self._terms[b.name] = per_lang
        return self._terms

    # -- score --------------------------------------------------------------------------------

    def _build_backends(self) -> list[tuple[Any, Any]]:
        terms = self._load_terms()
        built = []
        for b in self.config.backends:
            if isinstance(b, LexiconBackendConfig):
                built.append((b, LexiconBackend(b, terms[b.name])))
            elif isinstance(b, FastTextBackendConfig):
                ref = self._refs.get(b.name) or local_ref(b.model_path)
                built.append((b, ModelBackend(b, fasttext_predictor(b, ref))))
            elif isinstance(b, SemanticBackendConfig):
                heads = self._refs.get(b.name) or local_ref(b.model_file)
                screen = self._refs.get(f"{b.name}/screen")
                if screen is None and b.screen.fasttext_model:
                    screen = local_ref(b.screen.fasttext_model)
                built.append((b, SemanticBackend(b, heads, screen)))
            else:
                built.append((b, ModelBackend(b, transformers_predictor(b))))
        return built

    def scorer(self):
        backends = self._build_backends()
        cfg = self.config
        flags, removes = self._flags(), self._removes_spans()

        def run(batch: pa.RecordBatch) -> dict[str, pa.Array]:
            texts = batch.column(C.TEXT).to_pylist()
            n = len(texts)
            out: dict[str, pa.Array] = {}
            doc_dims: list[tuple[int, ...] | None] = [None] * n
            sentence_lists: list[list[list[ScoredSpan]]] = []
            for b, backend in backends:
                res = backend.score(texts, batch)
                out.update(res.columns)
                if res.dims is None:
                    continue
                for j, d in enumerate(DIMENSIONS):
                    out[f"tox_{b.name}_{d}"] = pa.array(
                        [None if s is None else s[j] for s in res.dims], type=pa.int32()
                    )
                doc_dims = [_max_dims(a, s) for a, s in zip(doc_dims, res.dims, strict=True)]
                if res.sentences is not None:
                    sentence_lists.append(res.sentences)
            classes = [None if d is None else toxicity_class(d) for d in doc_dims]
            for j, col in enumerate(DIM_COLUMNS):
                out[col] = pa.array([None if d is None else d[j] for d in doc_dims], pa.int32())
            out[SUM_COLUMN] = pa.array(
                [None if d is None else sum(d) for d in doc_dims], pa.int32()
            )
            out[CLASS_COLUMN] = pa.array(classes, type=pa.string())
            if flags:
                out[WARNING_COLUMN] = pa.array(
                    [
                        content_warning(c, d) if c and cfg.policy(c) == "flag" else None
                        for c, d in zip(classes, doc_dims, strict=True)
                    ],
                    type=pa.string(),
                )
            if removes:
                out.update(_remove(texts, classes, sentence_lists, cfg))
            return out

        return run

    def flagged(self):
        return F.col(WARNING_COLUMN).isNotNull() if self._flags() else None

    # -- decide -------------------------------------------------------------------------------

    def rules(self, scored: DataFrame, cutoffs: Cutoffs):
        cls_col = F.col(CLASS_COLUMN)
        rules = []
        for cls, reason in (("toxic", REASON_TOXIC), ("mild", REASON_MILD)):
            policy = self.config.policy(cls)
            if policy == "drop":
                rules.append((reason, cls_col == cls))
            elif policy == "remove_spans":
                removed, orig = F.col(REMOVED_CHARS_COLUMN), F.col(ORIG_CHARS_COLUMN)
                rules.append((reason, (cls_col == cls) & ((removed == 0) | (removed >= orig))))
        return rules


def _max_dims(a: tuple[int, ...] | None, b: tuple[int, ...] | None) -> tuple[int, ...] | None:
    if a is None:
        return b
    if b is None:
        return a
    return tuple(max(x, y) for x, y in zip(a, b, strict=True))


def content_warning(cls: str, dims: Sequence[int]) -> str:
    """``toxicity:<class>`` and the non-zero dimensions, e.g. ``toxicity:mild (race=3)``."""
    parts = [f"{d}={s}" for d, s in zip(DIMENSIONS, dims, strict=True) if s]
    return f"toxicity:{cls} ({', '.join(parts)})" if parts else f"toxicity:{cls}"


def offending(scores: Sequence[int], min_score: int) -> bool:
    """A sentence span removal cuts: a dimension at ``min_score`` or a non-none class alone."""
    return max(scores) >= min_score or toxicity_class(scores) != "none"


def _remove(
    texts: list[str | None],
    classes: list[str | None],
    sentence_lists: list[list[list[ScoredSpan]]],
    cfg: ToxicityConfig,
) -> dict[str, pa.Array]:
    new_texts, orig, removed = [], [], []
    for i, text in enumerate(texts):
        n_chars = len(text) if text is not None else None
        orig.append(n_chars)
        cls = classes[i]
        if text is None or cls is None or cfg.policy(cls) != "remove_spans":
            new_texts.append(text)
            removed.append(0)
            continue
        cut = [
            (s, e)
            for spans in sentence_lists
            for s, e, scores in spans[i]
            if offending(scores, cfg.span_min_score)
        ]
        new = remove_spans(text, cut) if cut else text
        new_texts.append(new)
        removed.append(len(text) - len(new))
    return {
        C.TEXT: pa.array(new_texts, type=pa.string()),
        ORIG_CHARS_COLUMN: pa.array(orig, type=pa.int32()),
        REMOVED_CHARS_COLUMN: pa.array(removed, type=pa.int32()),
    }
