"""Heuristic quality stage: Gopher quality and repetition, C4 and FineWeb rules, RPv2 signals.

Score, then decide. The scorer computes every ``q_*`` signal of a document in one pass (see
``curation.text.quality_signals``); when ``c4_line_filter.enabled``, C4's line filter first
rewrites ``text`` and the other signals are computed on the rewritten text (``q_c4_orig_chars``
keeps the original length). The rules read only ``q_*`` columns, so a run's thresholds can be
changed later without rescoring (``decision_fields``).

Thresholds default to datatrove 0.10's filter defaults (``GopherQualityFilter``,
``GopherRepetitionFilter``, ``C4QualityFilter``, ``FineWebQualityFilter``), which in turn take
them from the Gopher paper (Rae et al. 2021, appendix A, table A1), C4 (Raffel et al. 2020,
section 2.2) and FineWeb (Penedo et al. 2024, section 3.3). Per-language thresholds are
FineWeb-2 style: the defaults plus ``overrides`` keyed by the row's language code.

Rule order (first match names the reason): null text, C4 (its rewrite ran first), Gopher
repetition, Gopher quality, FineWeb. datatrove's FineWeb recipe runs the two Gopher filters
before C4; here C4 comes first so that the signals describe the text that is kept.

>>> cfg = QualityConfig(overrides={"de": {"gopher_quality": {"max_avg_word_length": 12}}})
>>> df.transform(apply_row_stages, [QualityStage(cfg)])  # adds q_*, drop_stage, drop_reason

Longer than 500 lines: four rule families' configs, each threshold with its source, and the one
declarative rule table that reads them; split apart, a threshold would sit far from its rule.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import pyarrow as pa
from pydantic import Field, create_model, field_validator, model_validator
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import BooleanType, DoubleType, IntegerType, StringType, StructField

from curation import columns as C
from curation.frozen import FrozenModel
from curation.stages.base import NO_CUTOFFS, Cutoffs, RowStage, Rule, StageConfig
from curation.text.c4 import C4_END_PUNCTUATION, C4Params
from curation.text.quality_signals import SIGNALS, SignalParams, score_documents
from curation.text.stopwords import gopher_stop_words, stop_words

LANG_CODE = r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})*$"
_SPARK_TYPES = {"int": IntegerType(), "float": DoubleType(), "bool": BooleanType()}
_ARROW_TYPES = {"int": pa.int32(), "float": pa.float64(), "bool": pa.bool_()}

# -- decision sections (thresholds; re-appliable from stored signals) ---------------------------


class GopherQualityRules(FrozenModel):
    """Gopher's quality rules (Rae et al. 2021, appendix A). A threshold left null is not applied."""

    enabled: bool = Field(True, description="Apply the Gopher quality rules.")
    # datatrove GopherQualityFilter(min_doc_words=50, max_doc_words=100000); Gopher: 50..100,000
    min_doc_words: int | None = Field(50, ge=0, description="Fewer words drops.")
    max_doc_words: int | None = Field(100_000, ge=1, description="More words drops.")
    # datatrove min_avg_word_length=3, max_avg_word_length=10; Gopher: mean word length 3..10
    min_avg_word_length: float | None = Field(
        3, ge=0, le=1000, description="Shorter mean word length (characters) drops."
    )
    max_avg_word_length: float | None = Field(
        10, ge=0, le=1000, description="Longer mean word length (characters) drops."
    )
    # datatrove max_symbol_word_ratio=0.1; Gopher: symbol-to-word ratio > 0.1 for "#" or "..."
    max_symbol_word_ratio: float | None = Field(
        0.1, ge=0, description="More '#' (or more '...'/'…') per token than this drops."
    )
    # datatrove max_bullet_lines_ratio=0.9; Gopher: > 90% of lines start with a bullet
    max_bullet_lines_ratio: float | None = Field(
        0.9, ge=0, le=1, description="A larger share of lines starting with '•' or '-' drops."
    )
    # datatrove max_ellipsis_lines_ratio=0.3; Gopher: > 30% of lines end with an ellipsis
    max_ellipsis_lines_ratio: float | None = Field(
        0.3, ge=0, le=1, description="A larger share of lines ending in '...' or '…' drops."
    )
    # datatrove max_non_alpha_words_ratio=0.8, which means "at least 80% of words contain a
    # letter" (Gopher); stated here as the complement so it reads as the signal it bounds
    max_no_alpha_words_ratio: float | None = Field(
        0.2, ge=0, le=1, description="A larger share of tokens without any letter drops."
    )
    # datatrove min_stop_words=2; Gopher: at least two of the, be, to, of, and, that, have, with
    min_stop_words: int | None = Field(
        2, ge=0, description="Fewer distinct Gopher stop words than this drops."
    )


class GopherRepetitionRules(FrozenModel):
    """Gopher's repetition rules (Rae et al. 2021, table A1; datatrove GopherRepetitionFilter)."""

    enabled: bool = Field(True, description="Apply the Gopher repetition rules.")
    max_dup_para_frac: float | None = Field(
        0.3,
        ge=0,
        le=1,
        description="Share of paragraphs repeating an earlier one (table A1: 0.30).",
    )
    max_dup_para_char_frac: float | None = Field(
        0.2, ge=0, le=1, description="Their share of characters (table A1: 0.20)."
    )
    max_dup_line_frac: float | None = Field(
        0.3, ge=0, le=1, description="Share of lines repeating an earlier one (table A1: 0.30)."
    )
    max_dup_line_char_frac: float | None = Field(
        0.2, ge=0, le=1, description="Their share of characters (table A1: 0.20)."
    )
    max_top_2gram_char_frac: float | None = Field(
        0.20, ge=0, description="Characters in the most common 2-gram (table A1: 0.20)."
    )
    max_top_3gram_char_frac: float | None = Field(
        0.18, ge=0, description="Characters in the most common 3-gram (table A1: 0.18)."
    )
    max_top_4gram_char_frac: float | None = Field(
        0.16, ge=0, description="Characters in the most common 4-gram (table A1: 0.16)."
    )
    max_dup_5gram_char_frac: float | None = Field(
        0.15, ge=0, le=1, description="Characters in repeated 5-grams (table A1: 0.15)."
    )
    max_dup_6gram_char_frac: float | None = Field(
        0.14, ge=0, le=1, description="Characters in repeated 6-grams (table A1: 0.14)."
    )
    max_dup_7gram_char_frac: float | None = Field(
        0.13, ge=0, le=1, description="Characters in repeated 7-grams (table A1: 0.13)."
    )
    max_dup_8gram_char_frac: float | None = Field(
        0.12, ge=0, le=1, description="Characters in repeated 8-grams (table A1: 0.12)."
    )
    max_dup_9gram_char_frac: float | None = Field(
        0.11, ge=0, le=1, description="Characters in repeated 9-grams (table A1: 0.11)."
    )
    max_dup_10gram_char_frac: float | None = Field(
        0.10, ge=0, le=1, description="Characters in repeated 10-grams (table A1: 0.10)."
    )


class C4Rules(FrozenModel):
    """C4's document rules (Raffel et al. 2020, section 2.2; datatrove C4QualityFilter)."""

    enabled: bool = Field(True, description="Apply the C4 document rules.")
    # datatrove filter_lorem_ipsum=True; C4: "removed any page where 'lorem ipsum' appeared"
    filter_lorem_ipsum: bool = Field(True, description="Drop pages saying 'lorem ipsum'.")
    # datatrove filter_curly_bracket=True; C4: "removed any pages that contained a curly bracket"
    filter_curly_bracket: bool = Field(True, description="Drop pages containing '{'.")
    # datatrove min_num_sentences=5; C4: "discarded any page with fewer than 5 sentences"
    min_num_sentences: int | None = Field(
        5, ge=0, description="Fewer sentences (in the lines C4 keeps) drops."
    )


class FineWebRules(FrozenModel):
    """FineWeb's own rules (Penedo et al. 2024, section 3.3; datatrove FineWebQualityFilter)."""

    enabled: bool = Field(True, description="Apply the FineWeb rules.")
    # datatrove line_punct_thr=0.12
    min_line_punct_ratio: float | None = Field(
        0.12, ge=0, le=1, description="A smaller share of lines ending in punctuation drops."
    )
    # datatrove line_punct_exclude_zero=False
    line_punct_exclude_zero: bool = Field(
        False, description="Exempt documents where no line at all ends in punctuation."
    )
    # datatrove short_line_thr=0.67
    max_short_line_ratio: float | None = Field(
        0.67, ge=0, le=1, description="A larger share of short lines drops."
    )
    # datatrove char_duplicates_ratio=0.01
    max_char_dup_ratio: float | None = Field(
        0.01, ge=0, le=1, description="A larger share of characters in repeated lines drops."
    )
    # datatrove new_line_ratio=0.3
    max_newline_ratio: float | None = Field(
        0.3, ge=0, description="More newlines per token than this drops (list-like pages)."
    )


# -- scoring section (changes the signals or the text; needs a re-run) --------------------------


class C4LineFilterConfig(FrozenModel):
    """C4's line filter: which lines of ``text`` survive (datatrove C4QualityFilter defaults)."""

    enabled: bool = Field(True, description="Rewrite text to the lines C4 keeps.")
    remove_citations: bool = Field(True, description="Remove '[1]', '[edit]', '[citation needed]'.")
    filter_no_terminal_punct: bool = Field(
        True, description="Drop lines not ending in end_punctuation (or ending in '...')."
    )
    # C4 paper: "lines that ended in a terminal punctuation mark", with quotes (datatrove)
    end_punctuation: tuple[str, ...] = Field(
        C4_END_PUNCTUATION,
        min_length=1,
        description="Line endings that count as terminal punctuation.",
    )
    # datatrove min_words_per_line=3; C4: "only retained lines that contained at least 3 words"
    min_words_per_line: int | None = Field(
        3, ge=0, description="Drop lines with fewer whitespace-separated words."
    )
    # datatrove max_word_length=1000 (C4's reference code)
    max_word_length: int | None = Field(
        1000, ge=1, description="Drop lines with a longer word (characters)."
    )
    filter_javascript: bool = Field(True, description="Drop lines mentioning 'javascript' (C4).")
    filter_policy: bool = Field(
        True, description="Drop lines with cookie / terms-of-use phrases (C4's reference code)."
    )

    def params(self) -> C4Params:
        return C4Params(
            remove_citations=self.remove_citations,
            filter_no_terminal_punct=self.filter_no_terminal_punct,
            end_punctuation=self.end_punctuation,
            min_words_per_line=self.min_words_per_line,
            max_word_length=self.max_word_length,
            filter_javascript=self.filter_javascript,
            filter_policy=self.filter_policy,
        )


_FAMILIES: dict[str, type[FrozenModel]] = {
    "c4": C4Rules,
    "gopher_repetition": GopherRepetitionRules,
    "gopher_quality": GopherQualityRules,
    "fineweb": FineWebRules,
}


def _partial(model: type[FrozenModel]) -> type[FrozenModel]:
    """The same fields, all optional: an override names only what differs from the default."""
    fields: dict[str, Any] = {
        name: (f.annotation | None, Field(None, description=f.description))
        for name, f in model.model_fields.items()
    }
    return create_model(f"{model.__name__}Override", __base__=FrozenModel, **fields)


C4RulesOverride = _partial(C4Rules)
GopherRepetitionRulesOverride = _partial(GopherRepetitionRules)
GopherQualityRulesOverride = _partial(GopherQualityRules)
FineWebRulesOverride = _partial(FineWebRules)


class LanguageOverride(FrozenModel):
    """Thresholds that differ for one language; unnamed fields keep the default."""

    c4: C4RulesOverride | None = Field(None, description="C4 document rules for this language.")
    gopher_repetition: GopherRepetitionRulesOverride | None = Field(
        None, description="Gopher repetition rules for this language."
    )
    gopher_quality: GopherQualityRulesOverride | None = Field(
        None, description="Gopher quality rules for this language."
    )
    fineweb: FineWebRulesOverride | None = Field(
        None, description="FineWeb rules for this language."
    )


class QualityConfig(StageConfig):
    """Heuristic quality signals and the rules that threshold them.

    Scoring settings (``c4_line_filter``, ``short_line_length``, stop-word lists) change the
    stored signals and need a re-run; the rule sections (``gopher_quality``,
    ``gopher_repetition``, ``c4``, ``fineweb``) and their per-language ``overrides`` only change
    decisions (``QualityStage.decision_fields``). A row's language is its ``lang_column`` value,
    or ``default_lang`` when the column is absent or null; override keys match it exactly.
    """

    kind: Literal["quality"] = "quality"
    # the column the langid stage writes
    lang_column: str = Field(
        "lang",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        max_length=64,
        description="Column with each document's language code (e.g. from langid); "
        "when absent or null, default_lang is used.",
    )
    # FineWeb (and Gopher's rules) were tuned on English
    default_lang: str | None = Field(
        "en",
        pattern=LANG_CODE,
        description="Language of rows without one: picks stop-word lists and overrides.",
    )
    c4_line_filter: C4LineFilterConfig = Field(
        default_factory=C4LineFilterConfig, description="C4's line filter (rewrites text)."
    )
    # datatrove FineWebQualityFilter(short_line_length=30)
    short_line_length: int = Field(
        30, ge=0, le=100_000, description="FineWeb: a line of at most this many chars is short."
    )
    stop_words: dict[str, tuple[str, ...]] = Field(
        default_factory=dict,
        description="Stop-word lists by language for q_stop_word_frac (lowercase); replaces the "
        "shipped list of that language.",
    )
    gopher_stop_words: dict[str, tuple[str, ...]] = Field(
        default_factory=dict,
        description="Words for Gopher's stop-word rule by language (case-sensitive); default: "
        "Gopher's eight for English, the shipped stop-word list otherwise.",
    )
    gopher_quality: GopherQualityRules = Field(
        default_factory=GopherQualityRules, description="Gopher quality rules."
    )
    gopher_repetition: GopherRepetitionRules = Field(
        default_factory=GopherRepetitionRules, description="Gopher repetition rules."
    )
    c4: C4Rules = Field(default_factory=C4Rules, description="C4 document rules.")
    fineweb: FineWebRules = Field(default_factory=FineWebRules, description="FineWeb rules.")
    overrides: dict[str, LanguageOverride] = Field(
        default_factory=dict,
        description="Per-language thresholds (FineWeb-2 style), keyed by the code in lang_column.",
    )

    @field_validator("overrides", "stop_words", "gopher_stop_words")
    @classmethod
    def _lang_keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        for lang in value:
            if not re.match(LANG_CODE, lang):
                raise ValueError(
                    f"language key {lang!r} is not a language code; use codes like 'de', "
                    "'pt_BR' or 'deu_Latn', as your langid stage writes them"
                )
        return value

    @model_validator(mode="after")
    def _overrides_valid(self) -> QualityConfig:
        # Validate each merged per-language section now, so a bad value fails at config load
        # with its path instead of deep inside a Spark job.
        for lang in self.overrides:
            for family in _FAMILIES:
                try:
                    self.rules_for(lang, family)
                except ValueError as err:
                    raise ValueError(f"overrides.{lang}.{family}: {err}") from None
        return self

    def rules_for(self, lang: str | None, family: str) -> FrozenModel:
        """The effective rule section ``family`` for rows in language ``lang``."""
        base = getattr(self, family)
        override = self.overrides.get(lang) if lang is not None else None
        part = getattr(override, family) if override is not None else None
        if part is None:
            return base
        merged = {**base.model_dump(), **part.model_dump(exclude_unset=True)}
        return type(base).model_validate(merged)

    def signal_params(self, lang: str | None) -> SignalParams:
        """What the scorer needs for rows in language ``lang`` (None: default_lang)."""
        lang = lang or self.default_lang
        if lang is None:
            words, gopher = None, None
        else:
            words = (
                frozenset(w.lower() for w in self.stop_words[lang])
                if lang in self.stop_words
                else stop_words(lang)
            )
            gopher = (
                frozenset(self.gopher_stop_words[lang])
                if lang in self.gopher_stop_words
                else gopher_stop_words(lang)
            )
        return SignalParams(
            c4=self.c4_line_filter.params(),
            c4_rewrite=self.c4_line_filter.enabled,
            short_line_length=self.short_line_length,
            stop_words=words,
            gopher_stop_words=gopher,
        )


# (family, reason, signal column, comparison, config field). "<": signal below the threshold
# drops; ">": above drops; "flag": a true signal drops when the field is true. Order is priority.
RULE_TABLE: tuple[tuple[str, str, str, str, str], ...] = (
    ("c4", "lorem_ipsum", "q_c4_lorem_ipsum", "flag", "filter_lorem_ipsum"),
    ("c4", "curly_bracket", "q_c4_curly_bracket", "flag", "filter_curly_bracket"),
    ("c4", "num_sentences", "q_c4_num_sentences", "<", "min_num_sentences"),
    ("gopher_repetition", "dup_para_frac", "q_dup_para_frac", ">", "max_dup_para_frac"),
    ("gopher_repetition", "dup_para_char_frac", "q_dup_para_char_frac", ">", "max_dup_para_char_frac"),
    ("gopher_repetition", "dup_line_frac", "q_dup_line_frac", ">", "max_dup_line_frac"),
    ("gopher_repetition", "dup_line_char_frac", "q_dup_line_char_frac", ">", "max_dup_line_char_frac"),
    *(
        ("gopher_repetition", f"top_{n}gram", f"q_top_{n}gram_char_frac", ">", f"max_top_{n}gram_char_frac")
        for n in (2, 3, 4)
    ),
    *(
        ("gopher_repetition", f"dup_{n}gram", f"q_dup_{n}gram_char_frac", ">", f"max_dup_{n}gram_char_frac")
        for n in range(5, 11)
    ),
    ("gopher_quality", "word_count", "q_word_count", "<", "min_doc_words"),
    ("gopher_quality", "word_count", "q_word_count", ">", "max_doc_words"),
    ("gopher_quality", "mean_word_length", "q_mean_word_length", "<", "min_avg_word_length"),
    ("gopher_quality", "mean_word_length", "q_mean_word_length", ">", "max_avg_word_length"),
    ("gopher_quality", "hash_ratio", "q_hash_word_ratio", ">", "max_symbol_word_ratio"),
    ("gopher_quality", "ellipsis_ratio", "q_ellipsis_word_ratio", ">", "max_symbol_word_ratio"),
    ("gopher_quality", "bullet_lines", "q_bullet_lines_frac", ">", "max_bullet_lines_ratio"),
    ("gopher_quality", "ellipsis_lines", "q_ellipsis_lines_frac", ">", "max_ellipsis_lines_ratio"),
    ("gopher_quality", "alpha_words", "q_frac_no_alpha_words", ">", "max_no_alpha_words_ratio"),
    ("gopher_quality", "stop_words", "q_gopher_stop_words", "<", "min_stop_words"),
    ("fineweb", "line_punct_ratio", "q_fw_line_punct_ratio", "<", "min_line_punct_ratio"),
    ("fineweb", "short_line_ratio", "q_fw_short_line_ratio", ">", "max_short_line_ratio"),
    ("fineweb", "char_dup_ratio", "q_fw_char_dup_ratio", ">", "max_char_dup_ratio"),
    ("fineweb", "newline_ratio", "q_fw_newline_ratio", ">", "max_newline_ratio"),
)  # fmt: skip
NO_TEXT_REASON = "quality:no_text"


class QualityStage(RowStage):
    """Scores ``q_*`` signals (and rewrites text with C4's line filter), then applies the rules."""

    config_class = QualityConfig
    config: QualityConfig
    decision_fields: ClassVar[frozenset[str]] = frozenset(
        {"c4", "gopher_repetition", "gopher_quality", "fineweb", "overrides"}
    )

    def output_fields(self):
        fields = [StructField(name, _SPARK_TYPES[kind]) for name, kind in SIGNALS]
        if self.config.c4_line_filter.enabled:
            fields.append(StructField(C.TEXT, StringType()))
        return fields

    def scorer(self):
        cfg = self.config
        cache: dict[str | None, SignalParams] = {}
        rewrite = cfg.c4_line_filter.enabled

        def params_for(lang: Any) -> SignalParams:
            key = None if lang is None else str(lang)
            p = cache.get(key)
            if p is None:
                p = cache[key] = cfg.signal_params(key)
            return p

        def run(batch: pa.RecordBatch) -> dict[str, pa.Array]:
            texts = batch.column(C.TEXT).to_pylist()
            if cfg.lang_column in batch.schema.names:
                params = [params_for(x) for x in batch.column(cfg.lang_column).to_pylist()]
            else:
                params = [params_for(None)] * len(texts)
            new_texts, columns = score_documents(texts, params)
            out = {name: pa.array(columns[name], type=_ARROW_TYPES[kind]) for name, kind in SIGNALS}
            if rewrite:
                out[C.TEXT] = pa.array(new_texts, type=batch.column(C.TEXT).type)
            return out

        return run

    def _lang(self, scored: DataFrame) -> Column:
        cfg = self.config
        default = F.lit(cfg.default_lang).cast("string")
        if cfg.lang_column in scored.columns:
            return F.coalesce(F.col(C.quoted(cfg.lang_column)).cast("string"), default)
        return default

    def _threshold(
        self, family: str, field: str, lang: Column, false_is_off: bool = True
    ) -> Column | None:
        """The field's value for each row's language; null where the rule does not apply.

        ``false_is_off``: a boolean field set to false switches its rule off (a "flag" rule).
        """

        def value(code: str | None) -> Any:
            section = self.config.rules_for(code, family)
            v = getattr(section, field) if section.enabled else None
            return None if (v is False and false_is_off) else v

        default = value(None)
        special = {code: value(code) for code in self.config.overrides}
        special = {code: v for code, v in special.items() if v != default}
        if default is None and not special:
            return None
        if not special:
            return F.lit(default)
        by_value: dict[Any, list[str]] = {}
        for code, v in special.items():
            by_value.setdefault(v, []).append(code)
        expr = None
        for v, codes in by_value.items():
            cond = lang.isin(*codes)
            expr = F.when(cond, F.lit(v)) if expr is None else expr.when(cond, F.lit(v))
        return expr.otherwise(F.lit(default))

    def rules(self, scored: DataFrame, cutoffs: Cutoffs) -> list[Rule]:
        lang = self._lang(scored)
        rules: list[Rule] = [(NO_TEXT_REASON, F.col("q_n_chars").isNull())]
        for family, reason, column, op, field in RULE_TABLE:
            thr = self._threshold(family, field, lang)
            if thr is None:
                continue
            signal = F.col(column)
            if op == "<":
                cond = signal < thr
            elif op == ">":
                cond = signal > thr
            else:
                cond = signal & thr
            if (family, field) == ("fineweb", "min_line_punct_ratio"):
                exempt = self._threshold(
                    "fineweb", "line_punct_exclude_zero", lang, false_is_off=False
                )
                if exempt is not None:
                    cond = cond & ~((signal == 0) & exempt)
            rules.append((f"{family}:{reason}", cond))
        return rules

    def thresholds(self, cutoffs: Cutoffs = NO_CUTOFFS) -> Mapping[str, Mapping[str, float]]:
        """Default cut values by signal column (per-language overrides not included)."""
        out: dict[str, dict[str, float]] = {}
        for family, _reason, column, op, field in RULE_TABLE:
            section = getattr(self.config, family)
            v = getattr(section, field)
            if not section.enabled or op == "flag" or v is None:
                continue
            out.setdefault(column, {})[f"{family}.{field}"] = float(v)
        return out
