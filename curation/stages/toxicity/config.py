"""What the toxicity stage is configured with, and the columns and reasons it writes.

``ToxicityConfig`` holds the backends (a discriminated union on ``type``: lexicon, fastText,
transformers, semantic) and the policy per class; the constants name the columns the stage writes and its
drop reasons.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from curation.frozen import FrozenModel
from curation.stages.base import StageConfig
from curation.text.fasttext_prep import PrepMode
from curation.text.toxicity_lexicon import DIMENSIONS, builtin_lexicon_path

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
# `curation train-toxicity conf/train_toxicity_shipped.yaml` writes it.
SHIPPED_HEADS = Path(__file__).resolve().parents[2] / "data" / "toxicity" / "minilm_heads.npz"


def check_thresholds(thresholds: tuple[float, float, float]) -> None:
    """Cut-offs for scores 1, 2, 3 must increase within (0, 1]."""
    t1, t2, t3 = thresholds
    if not 0.0 < t1 <= t2 <= t3 <= 1.0:
        raise ValueError(f"thresholds {thresholds} must satisfy 0 < t1 <= t2 <= t3 <= 1")


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
        check_thresholds(self.thresholds)
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


class ScreenConfig(FrozenModel):
    """Which units the semantic backend embeds (``screen.py``); a unit passes if any screen does."""

    # Default on: the term screen keeps the stage fast and, in the leave-one-source-out
    # evaluation, costs a few points of the encoder's recall (README, "Toxicity").
    terms: bool = Field(True, description="Pass units naming a group or using a listed term.")
    fasttext_model: str | None = Field(
        None, min_length=1, description="fastText hate model (train-toxicity fasttext_output)."
    )
    fasttext_label: str = Field("__label__hate", min_length=1, description="Its hate label.")
    fasttext_threshold: float = Field(
        0.1, ge=0.0, le=1.0, description="Pass units whose P(hate) is at least this."
    )

    def screens(self) -> bool:
        """False: no screen, every unit is embedded."""
        return self.terms or self.fasttext_model is not None


class SemanticBackendConfig(FrozenModel):
    """Sentence embeddings + linear heads trained by ``curation train-toxicity`` (extra
    ``semantic``), behind cheap screens."""

    type: Literal["semantic"] = "semantic"
    name: str = Field("sem", pattern=_NAME, description="Column infix: tox_<name>_<dimension>.")
    model_path: str | None = Field(
        None,
        min_length=1,
        description="Heads file (.npz) from train-toxicity: local path or URI. Default: the "
        "heads shipped with curation (trained on the MIT-licensed sources).",
    )
    encoder: str | None = Field(
        None,
        min_length=1,
        description="Sentence-transformers model directory, or package:<module>; default: the "
        "encoder the heads were trained on.",
    )
    thresholds: tuple[float, float, float] = Field(
        _DEFAULT_THRESHOLDS,
        description="P(hate) cut-offs for scores 1, 2, 3 on the targeted dimensions.",
    )
    # Sentences: the heads were trained on tweets, comments and one-line statements, and span
    # removal needs sentence scores.
    unit: Unit = Field("sentence", description="Score whole documents or each sentence.")
    screen: ScreenConfig = Field(default_factory=ScreenConfig)
    batch_size: int = Field(64, ge=1, le=4096, description="Units per encoder call.")
    # Spark runs a Python worker per core already.
    threads: int = Field(1, ge=0, le=256, description="torch threads per worker; 0: torch's own.")

    @model_validator(mode="after")
    def _check_thresholds(self) -> SemanticBackendConfig:
        check_thresholds(self.thresholds)
        return self

    def gives_dimensions(self) -> bool:
        return True

    @property
    def model_file(self) -> str:
        """``model_path``, or the shipped heads (found wherever curation is installed)."""
        return self.model_path or str(SHIPPED_HEADS)

    @property
    def hate_column(self) -> str:
        return f"tox_{self.name}_hate"


BackendConfig = Annotated[
    LexiconBackendConfig
    | FastTextBackendConfig
    | TransformersBackendConfig
    | SemanticBackendConfig,
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
        if not any(gives_dimensions(b) for b in self.backends):
            raise ValueError(
                "backends: none gives dimension scores; add a lexicon backend or map model "
                "labels to dimensions"
            )
        cols = [c for b in self.backends for c in _backend_columns(b)]
        dupes = sorted({c for c in cols if cols.count(c) > 1})
        if dupes:
            raise ValueError(f"backends: output columns {dupes} are produced twice; rename them")
        if "remove_spans" in (self.on_mild, self.on_toxic) and not any(
            gives_dimensions(b) and _sentence_level(b) for b in self.backends
        ):
            raise ValueError(
                "remove_spans needs a backend that scores sentences: a lexicon backend or a "
                "model backend with unit: sentence"
            )
        return self

    def policy(self, cls: str) -> Policy:
        return {"mild": self.on_mild, "toxic": self.on_toxic}.get(cls, "keep")


def gives_dimensions(b: Any) -> bool:
    """Whether backend ``b`` scores dimensions (tox_<name>_<dimension>); a lexicon always does."""
    return isinstance(b, LexiconBackendConfig) or b.gives_dimensions()


def _sentence_level(b: Any) -> bool:
    return isinstance(b, LexiconBackendConfig) or b.unit == "sentence"


def probability_columns(b: Any) -> list[str]:
    """The probability columns backend ``b`` writes besides its dimension scores."""
    if isinstance(b, LexiconBackendConfig):
        return []
    if isinstance(b, SemanticBackendConfig):
        return [b.hate_column]
    return list(b.labels.values())


def _backend_columns(b: Any) -> list[str]:
    cols = [f"tox_{b.name}_{d}" for d in DIMENSIONS] if gives_dimensions(b) else []
    return cols + probability_columns(b)
