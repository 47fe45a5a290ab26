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
  model (five heads of four classes) from a local directory (``curation.toxicity_transformers``).

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
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field, model_validator
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, IntegerType, StringType, StructField

from curation import columns as C
from curation.errors import ConfigError
from curation.frozen import FrozenModel
from curation.models import ModelRef, load_fasttext, local_ref, ship_model
from curation.stages.base import RowStage, StageConfig
from curation.text.fasttext_prep import PrepMode, prepare_texts
from curation.text.sentences import sentence_spans
from curation.text.toxicity_lexicon import (
    DIMENSIONS,
    Lexicon,
    Term,
    builtin_lexicon_path,
    read_terms,
    remove_spans,
    toxicity_class,
)

Dimension = Literal["race", "gender", "religion", "ability", "violence"]
Policy = Literal["keep", "flag", "drop", "remove_spans"]
Unit = Literal["document", "sentence"]
_COLUMN = r"^[A-Za-z_][A-Za-z0-9_]*$"
_NAME = r"^[a-z][a-z0-9_]{0,15}$"

DIM_COLUMNS: tuple[str, ...] = tuple(f"tox_{d}" for d in DIMENSIONS)
SUM_COLUMN = "tox_sum"
CLASS_COLUMN = "tox_class"
WARNING_COLUMN = "content_warning"
ORIG_CHARS_COLUMN = "tox_orig_chars"
REMOVED_CHARS_COLUMN = "tox_removed_chars"
REASON_TOXIC = "toxicity:toxic"
REASON_MILD = "toxicity:mild"

# p >= 0.5 is the usual binary decision point; 0.7 and 0.9 split the confident range into
# "explicit" and "overt". Our choice: no peer publishes a probability-to-0..3 mapping.
_DEFAULT_THRESHOLDS = (0.5, 0.7, 0.9)


# --- configuration ---------------------------------------------------------------------------


class LexiconBackendConfig(FrozenModel):
    """The built-in term lists (plus the user's) scored sentence by sentence."""

    type: Literal["lexicon"] = "lexicon"
    name: str = Field("lex", pattern=_NAME, description="Column infix: tox_<name>_<dimension>.")
    # English is the one list shipped (curation/data/toxicity/en.tsv).
    languages: tuple[str, ...] = Field(
        ("en",),
        min_length=1,
        max_length=200,
        description="Languages whose lists to load (built-in and/or extra_lists).",
    )
    extra_lists: dict[str, tuple[str, ...]] = Field(
        default_factory=dict,
        description="Per language, paths of your own TSV lists (term, dimension, weight, kind), "
        "added to the built-in one. Read on the driver and shipped with the stage.",
    )
    builtin: bool = Field(True, description="Load the built-in list of each language.")
    language_column: str | None = Field(
        None,
        pattern=_COLUMN,
        description="Column with each row's language (e.g. 'lang' from langid): score each row "
        "with its language's list; rows of other languages get null lexicon scores. "
        "Unset: all languages' lists are merged and applied to every row.",
    )

    @model_validator(mode="after")
    def _lists_exist(self) -> LexiconBackendConfig:
        for lang in self.languages:
            has_builtin = self.builtin and builtin_lexicon_path(lang) is not None
            if not has_builtin and not self.extra_lists.get(lang):
                raise ValueError(
                    f"languages: no term list for {lang!r} (built-in lists: en); "
                    f"give one in extra_lists.{lang}"
                )
        unused = sorted(set(self.extra_lists) - set(self.languages))
        if unused:
            raise ValueError(f"extra_lists has languages not in languages: {unused}; add them")
        return self


class _ModelBackendConfig(FrozenModel):
    """What fastText and transformers backends share: label columns, dimensions, unit."""

    labels: dict[str, Annotated[str, Field(pattern=_COLUMN, max_length=64)]] = Field(
        default_factory=dict,
        description="Model label -> output column of its probability, e.g. "
        "{'__label__hate': 'tox_ft_hate'}.",
    )
    dimensions: dict[str, tuple[Dimension, ...]] = Field(
        default_factory=dict,
        description="Model label -> the dimensions its probability scores (via thresholds).",
    )
    thresholds: tuple[float, float, float] = Field(
        _DEFAULT_THRESHOLDS,
        description="Probability cut-offs for scores 1, 2, 3 (increasing, in (0, 1]).",
    )
    # Document level by default: one prediction per document is cheapest; Dolma scores
    # sentences with its fastText toxicity taggers, which span removal needs.
    unit: Unit = Field("document", description="Score whole documents or each sentence.")

    @model_validator(mode="after")
    def _check_maps(self) -> _ModelBackendConfig:
        t1, t2, t3 = self.thresholds
        if not 0.0 < t1 <= t2 <= t3 <= 1.0:
            raise ValueError(f"thresholds {self.thresholds} must satisfy 0 < t1 <= t2 <= t3 <= 1")
        return self

    def gives_dimensions(self) -> bool:
        return bool(self.dimensions)


class FastTextBackendConfig(_ModelBackendConfig):
    """A fastText supervised model (.bin/.ftz) given by path or URI."""

    type: Literal["fasttext"] = "fasttext"
    name: str = Field("ft", pattern=_NAME, description="Column infix: tox_<name>_<dimension>.")
    model_path: str = Field(min_length=1, description="fastText model: local path or URI.")
    # DCLM-style preparation (newlines to spaces) is what curation.train uses by default.
    prep: PrepMode = Field("dclm", description="Text preparation the model was trained with.")

    @model_validator(mode="after")
    def _needs_output(self) -> FastTextBackendConfig:
        if not self.labels and not self.dimensions:
            raise ValueError("map at least one model label in labels or dimensions")
        return self


class TransformersBackendConfig(_ModelBackendConfig):
    """A Hugging Face model from a local directory (needs the ``transformers`` extra)."""

    type: Literal["transformers"] = "transformers"
    name: str = Field("tf", pattern=_NAME, description="Column infix: tox_<name>_<dimension>.")
    model_dir: str = Field(
        min_length=1,
        description="Directory with config.json, weights and tokenizer; must be readable on "
        "every executor (shared storage or baked into the image).",
    )
    layout: Literal["auto", "celadon", "sequence_classification"] = Field(
        "auto",
        description="celadon: encoder + heads.N of 4 classes (argmax = 0-3 score); "
        "sequence_classification: one softmax head; auto: celadon if heads.* weights exist.",
    )
    # Celadon's head order (model card: Race/Origin, Gender/Sex, Religion, Ability, Violence).
    head_dimensions: tuple[Dimension, ...] = Field(
        DIMENSIONS, min_length=1, max_length=5, description="Dimension of each Celadon head."
    )
    # Celadon's annotation script batches 32 texts of at most 512 tokens.
    batch_size: int = Field(32, ge=1, le=4096, description="Texts per forward pass.")
    max_length: int = Field(512, ge=8, le=8192, description="Tokens kept per text.")
    device: str = Field(
        "auto", pattern=r"^(auto|cpu|cuda(:\d+)?|mps)$", description="auto: cuda if available."
    )

    def gives_dimensions(self) -> bool:
        return self.layout != "sequence_classification" or bool(self.dimensions)


BackendConfig = Annotated[
    LexiconBackendConfig | FastTextBackendConfig | TransformersBackendConfig,
    Field(discriminator="type"),
]


class ToxicityConfig(StageConfig):
    """Backends to score with and what to do with each toxicity class."""

    kind: Literal["toxicity"] = "toxicity"
    backends: tuple[BackendConfig, ...] = Field(
        (LexiconBackendConfig(),),
        min_length=1,
        max_length=8,
        description="Scorers; tox_<dimension> is the maximum over those giving dimensions.",
    )
    # Toxic Commons: mild texts get a content warning, toxic ones leave the main corpus.
    on_mild: Policy = Field("flag", description="keep | flag | drop | remove_spans for mild.")
    on_toxic: Policy = Field("drop", description="keep | flag | drop | remove_spans for toxic.")
    # 2 = "explicit" on Celadon's scale: removing sentences scored 1 would cut objective mentions.
    span_min_score: int = Field(
        2,
        ge=1,
        le=3,
        description="A sentence with a dimension at least this is cut by remove_spans.",
    )

    @model_validator(mode="after")
    def _coherent(self) -> ToxicityConfig:
        names = [b.name for b in self.backends]
        if len(set(names)) != len(names):
            raise ValueError(f"backends: names {names} must be distinct; set `name:` on each")
        if not any(_gives_dimensions(b) for b in self.backends):
            raise ValueError(
                "backends: none gives dimension scores; add a lexicon backend or map model "
                "labels to dimensions"
            )
        cols = [c for b in self.backends for c in _backend_columns(b)]
        dupes = sorted({c for c in cols if cols.count(c) > 1})
        if dupes:
            raise ValueError(f"backends: output columns {dupes} are produced twice; rename them")
        if "remove_spans" in (self.on_mild, self.on_toxic) and not any(
            _gives_dimensions(b) and _sentence_level(b) for b in self.backends
        ):
            raise ValueError(
                "remove_spans needs a backend that scores sentences: a lexicon backend or a "
                "model backend with unit: sentence"
            )
        return self

    def policy(self, cls: str) -> Policy:
        return {"mild": self.on_mild, "toxic": self.on_toxic}.get(cls, "keep")


def _gives_dimensions(b: Any) -> bool:
    return isinstance(b, LexiconBackendConfig) or b.gives_dimensions()


def _sentence_level(b: Any) -> bool:
    return isinstance(b, LexiconBackendConfig) or b.unit == "sentence"


def _backend_columns(b: Any) -> list[str]:
    cols = [f"tox_{b.name}_{d}" for d in DIMENSIONS] if _gives_dimensions(b) else []
    if not isinstance(b, LexiconBackendConfig):
        cols.extend(b.labels.values())
    return cols


# --- backends at run time --------------------------------------------------------------------

# A scored sentence: (start, end, five scores), offsets into the document's text.
ScoredSpan = tuple[int, int, tuple[int, ...]]


@dataclass
class BackendScores:
    """One backend's output for a batch of documents."""

    dims: list[tuple[int, ...] | None] | None  # per document; None: gives no dimensions
    sentences: list[list[ScoredSpan]] | None  # per document, non-zero sentences; None: doc level
    columns: dict[str, pa.Array]  # the backend's own columns (label probabilities)


@dataclass
class ModelOutput:
    """What a model predictor returns for a list of texts."""

    dims: np.ndarray | None  # (n, 5) int 0-3, or None
    probs: dict[str, np.ndarray]  # output column -> (n,) probability


def dims_from_probs(
    probs: dict[str, np.ndarray],
    dimensions: dict[str, Sequence[str]],
    thresholds: Sequence[float],
    n: int,
) -> np.ndarray:
    """(n, 5) scores: for each dimension, the highest score any mapped label's probability earns.

    >>> dims_from_probs({"hate": np.array([0.95, 0.6])}, {"hate": ["race"]}, (0.5, 0.7, 0.9), 2)[:, 0]
    array([3, 1])
    """
    out = np.zeros((n, len(DIMENSIONS)), dtype=np.int64)
    cuts = np.asarray(thresholds, dtype=np.float64)
    for label, dims in dimensions.items():
        p = probs.get(label)
        if p is None:
            continue
        score = np.searchsorted(cuts, p, side="right")  # number of cut-offs reached
        for d in dims:
            j = DIMENSIONS.index(d)
            out[:, j] = np.maximum(out[:, j], score)
    return out


class LexiconBackend:
    """Runs the lexicon kernel over a batch; one compiled Lexicon per language."""

    def __init__(self, cfg: LexiconBackendConfig, terms: dict[str, list[Term]]):
        self.cfg = cfg
        if cfg.language_column:
            self.by_lang = {lang: Lexicon(ts) for lang, ts in terms.items()}
            self.merged = None
        else:
            self.by_lang = {}
            self.merged = Lexicon([t for ts in terms.values() for t in ts])

    def score(self, texts: list[str | None], batch: pa.RecordBatch) -> BackendScores:
        dims: list[tuple[int, ...] | None] = []
        sentences: list[list[ScoredSpan]] = []
        text_arr = batch.column(C.TEXT)
        if self.merged is not None:
            for d, s in self.merged.score_batch(text_arr):
                dims.append(d)
                sentences.append(s)
            return BackendScores(dims=dims, sentences=sentences, columns={})
        # One batch call per language present; rows of other languages stay null.
        langs = batch.column(self.cfg.language_column).to_pylist()
        dims = [None] * len(texts)
        sentences = [[] for _ in texts]
        for lang, lex in self.by_lang.items():
            rows = [i for i, lg in enumerate(langs) if lg == lang]
            if not rows:
                continue
            for i, (d, s) in zip(rows, lex.score_batch(text_arr.take(pa.array(rows))), strict=True):
                dims[i] = d
                sentences[i] = s
        return BackendScores(dims=dims, sentences=sentences, columns={})


class ModelBackend:
    """Wraps a predictor (fastText or transformers) with units, nulls and aggregation."""

    def __init__(self, cfg: Any, predict):
        self.cfg = cfg
        self.predict = predict  # list[str] -> ModelOutput
        self.gives_dims = cfg.gives_dimensions()

    def score(self, texts: list[str | None], batch: pa.RecordBatch) -> BackendScores:
        n = len(texts)
        units: list[str] = []
        owner: list[int] = []
        spans: list[tuple[int, int]] = []
        for i, text in enumerate(texts):
            if not text or text.isspace():
                continue
            if self.cfg.unit == "document":
                units.append(text)
                owner.append(i)
                spans.append((0, len(text)))
                continue
            for s, e in sentence_spans(text):
                if not text[s:e].isspace():
                    units.append(text[s:e])
                    owner.append(i)
                    spans.append((s, e))
        out = self.predict(units) if units else ModelOutput(None, {})
        own = np.asarray(owner, dtype=np.int64)
        columns = {}
        for col in self.cfg.labels.values():
            p = out.probs.get(col, np.zeros(len(units)))
            doc = np.full(n, -1.0)
            if len(units):
                np.maximum.at(doc, own, p)
            columns[col] = pa.array(doc, type=pa.float64(), mask=doc < 0)
        if not self.gives_dims:
            return BackendScores(dims=None, sentences=None, columns=columns)
        unit_dims = out.dims if out.dims is not None else np.zeros((len(units), 5), np.int64)
        doc_dims = np.zeros((n, 5), dtype=np.int64)
        if len(units):
            np.maximum.at(doc_dims, own, unit_dims)
        dims = [tuple(int(x) for x in row) for row in doc_dims]
        sentences = None
        if self.cfg.unit == "sentence":
            sentences = [[] for _ in range(n)]
            for k in np.flatnonzero(unit_dims.any(axis=1)):
                s, e = spans[k]
                sentences[owner[k]].append((s, e, tuple(int(x) for x in unit_dims[k])))
        return BackendScores(dims=dims, sentences=sentences, columns=columns)


def fasttext_predictor(cfg: FastTextBackendConfig, ref: ModelRef):
    """list[str] -> ModelOutput with one batched ``predict(k=-1)``; the model loads once."""
    wanted = set(cfg.labels) | set(cfg.dimensions)

    def predict(texts: list[str]) -> ModelOutput:
        model = load_fasttext(ref)
        missing = wanted - set(model.get_labels())
        if missing:
            raise ConfigError(
                f"toxicity backend {cfg.name!r}: labels {sorted(missing)} are not in the model "
                f"(its labels: {model.get_labels()[:10]}); fix labels/dimensions"
            )
        prepared = prepare_texts(texts, cfg.prep)
        labels, probs = model.predict(prepared, k=-1, on_unicode_error="replace")
        by_label = {lab: np.zeros(len(texts)) for lab in wanted}
        for i, (labs, ps) in enumerate(zip(labels, probs, strict=True)):
            for lab, p in zip(labs, ps, strict=True):
                if lab in by_label:
                    by_label[lab][i] = p
        by_label = {k: np.clip(v, 0.0, 1.0) for k, v in by_label.items()}
        dims = (
            dims_from_probs(by_label, cfg.dimensions, cfg.thresholds, len(texts))
            if cfg.dimensions
            else None
        )
        return ModelOutput(dims, {col: by_label[lab] for lab, col in cfg.labels.items()})

    return predict


# --- the stage -------------------------------------------------------------------------------


class Toxicity(RowStage):
    config_class = ToxicityConfig
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
            if _gives_dimensions(b):
                fields += [StructField(f"tox_{b.name}_{d}", IntegerType()) for d in DIMENSIONS]
            if not isinstance(b, LexiconBackendConfig):
                fields += [StructField(c, DoubleType()) for c in b.labels.values()]
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
            elif isinstance(b, TransformersBackendConfig) and not os.path.isdir(b.model_dir):
                raise ConfigError(
                    f"{self.name}.backends.{b.name}.model_dir={b.model_dir!r} is not a directory"
                )

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
            else:
                from curation.toxicity_transformers import transformers_predictor

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

    # -- decide -------------------------------------------------------------------------------

    def rules(self, scored: DataFrame):
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
