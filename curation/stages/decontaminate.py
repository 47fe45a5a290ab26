"""Benchmark decontamination: drop documents (or cut the spans) that share n-grams with eval items.

The user names benchmark files and the fields that make an item (e.g. question + answer). Items
and documents are normalised alike (NFKC, apostrophes deleted, lower-case, punctuation as word
breaks; see ``curation.text.ngrams_hash``) and cut into word n-grams (13 by default). An item
shorter than n words is one gram of its own length when it has at least ``min_item_words``
words, and is skipped (counted in the run details) when shorter. Text that many items share
(``template_min_items``: a licence line, an instruction) is template: n-grams made mostly of it
are not indexed, so a page quoting the boilerplate is not taken for a copy of an item.

Score, then decide. The scorer looks every document n-gram up in the benchmark index (hashed,
sorted, memory-mapped on executors: ``decontaminate_index``) and writes:

* ``decon_ngrams``: the document's n-grams; ``decon_matches``: distinct benchmark grams found;
* ``decon_items``: distinct benchmark items those belong to;
* ``decon_item_frac``: the largest share of one item's grams found in the document;
* ``contaminated_by``: ``"<benchmark>:<item id>"`` of that item (ties: more grams found, then
  the earlier item). One item, not all: a page that reproduces a whole benchmark would list
  thousands; the count is in ``decon_items``, and the best match is the one to audit first.

``action: drop`` (GPT-3, datatrove): a document with at least ``min_matched_ngrams`` grams found
(and, when set, at least ``min_item_fraction`` of some item) is dropped, ``decontaminate:overlap``.
``action: remove_spans``: the scorer cuts every span covered by a matched gram from ``text``
(the stage then declares ``text`` and runs in its own pass, like the C4 line filter), keeping
``decon_orig_chars`` and ``decon_removed_chars``; a document left with less than
``min_kept_fraction`` of its characters is dropped, ``decontaminate:overlap``.

>>> cfg = DecontaminateConfig(benchmarks=[{"name": "mmlu", "path": "evals/mmlu.jsonl",
...                                        "fields": ["question", "answer"]}])
>>> stage = Decontaminate(cfg); stage.prepare(spark)
>>> df.transform(apply_row_stages, [stage])  # adds decon_*, contaminated_by, drop_reason
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field, field_validator, model_validator
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, IntegerType, StringType, StructField

from curation import columns as C
from curation.errors import ConfigError
from curation.stages.base import NO_CUTOFFS, Cutoffs, ReportSection, RowStage, Rule, StageConfig
from curation.stages.decontaminate_index import (
    BenchmarkSource,
    BuiltIndex,
    ShippedIndex,
    build_benchmark_index,
    labels_of,
    load_index,
    ship_index,
)
from curation.stages.decontaminate_join import DecontaminateJoin
from curation.text.ngrams_hash import cut_spans, match_documents, matched_char_spans

REASON = "decontaminate:overlap"
NGRAMS, MATCHES, ITEMS, ITEM_FRAC = (
    "decon_ngrams",
    "decon_matches",
    "decon_items",
    "decon_item_frac",
)
CONTAMINATED_BY = "contaminated_by"
ORIG_CHARS, REMOVED_CHARS = "decon_orig_chars", "decon_removed_chars"


class DecontaminateConfig(StageConfig):
    """Benchmarks to protect, the n-gram size, and what to do with an overlapping document."""

    kind: Literal["decontaminate"] = "decontaminate"
    benchmarks: tuple[BenchmarkSource, ...] = Field(
        min_length=1, max_length=1000, description="Benchmark files and the fields of an item."
    )
    # GPT-3 (Brown et al. 2020, appendix C) uses 13-grams;
    # datatrove's NGramsDecontConfig defaults to 12.
    ngram: int = Field(13, ge=2, le=64, description="Words per n-gram.")
    # GPT-3 lowers N for tasks with short examples but never below 8 (appendix C, as we read it);
    # below that a shared phrase is as likely chance as contamination.
    min_item_words: int = Field(
        8,
        ge=1,
        le=64,
        description="An item shorter than ngram words is indexed whole if it has at least this "
        "many words; shorter items are skipped (counted in the run details).",
    )
    # Our addition (GPT-3 and datatrove have none): benchmark items often share boilerplate
    # (a licence line, an instruction); a 13-gram of 12 shared words plus one common word would
    # drop every page that quotes the boilerplate after that word. 10 items: rarer repeats are
    # more likely the items' own text.
    template_min_items: int | None = Field(
        10,
        ge=2,
        description="Text shared by at least this many items is template: an n-gram is indexed "
        "only if at least half its words are not template, a short item only if fewer items "
        "have the same text. null: index everything.",
    )
    # GPT-3 and datatrove drop the document, as Dolma's mixer does with documents holding a
    # contaminated paragraph; remove_spans is for corpora where the rest of the page matters.
    action: Literal["drop", "remove_spans"] = Field(
        "drop", description="drop the document, or remove_spans: cut the overlapping text."
    )
    # GPT-3: a single shared 13-gram marks an example dirty; datatrove drops on the first match.
    min_matched_ngrams: int = Field(
        1, ge=1, le=1_000_000, description="action drop: drop with at least this many grams found."
    )
    # Off by default, as in GPT-3; e.g. 0.5 asks for half of some item's grams (Llama 2, appendix
    # A.6, counts an example as contaminated by the share of its tokens found).
    min_item_fraction: float | None = Field(
        None,
        gt=0.0,
        le=1.0,
        description="action drop: also require this share of one item's grams in the document.",
    )
    # Our choice (no peer publishes one): a page that is mostly benchmark text is a copy of it,
    # and what the cut leaves of it is fragments.
    min_kept_fraction: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="action remove_spans: drop a document keeping less than this share of its "
        "characters after the cut (or nothing at all).",
    )
    # 100M rows of 12 bytes: 1.2 GB memory-mapped on each executor (see decontaminate_index).
    max_index_ngrams: int = Field(
        100_000_000,
        ge=1,
        description="method broadcast: refuse to run when the benchmarks give more n-grams than "
        "this (the index is shipped to every executor, 12 bytes per n-gram); auto joins instead.",
    )

    # The join path costs shuffles of every document's n-gram hashes (hundreds per document);
    # shipping costs 12 bytes per index row on every executor. 20M rows (240 MB) is where we
    # stop shipping by default: a few hundred thousand typical items (see bench_decontam.py).
    method: Literal["auto", "broadcast", "join"] = Field(
        "auto",
        description="broadcast: ship the index to every executor; join: join it with the "
        "documents' n-gram hashes (no size limit); auto: join above join_above_ngrams.",
    )
    join_above_ngrams: int = Field(
        20_000_000,
        ge=0,
        description="method auto: join instead of shipping when the benchmarks give more "
        "n-grams than this (or than max_index_ngrams).",
    )

    @field_validator("benchmarks")
    @classmethod
    def _names_unique(cls, value: tuple[BenchmarkSource, ...]) -> tuple[BenchmarkSource, ...]:
        names = [b.name for b in value]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(
                f"benchmark names {dup} are used twice; contaminated_by needs them distinct, "
                "rename one"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> DecontaminateConfig:
        if self.min_item_words > self.ngram:
            raise ValueError(
                f"min_item_words={self.min_item_words} is above ngram={self.ngram}: items of "
                f"{self.ngram}+ words are cut into {self.ngram}-grams anyway; make "
                "min_item_words <= ngram"
            )
        # A setting of the other action is refused only when it differs from its default: a
        # run's recorded config (every field written out) must validate again for what-if.
        other = ("min_matched_ngrams", "min_item_fraction")
        if self.action == "drop":
            other = ("min_kept_fraction",)
        for name in other:
            value = getattr(self, name)
            if value != type(self).model_fields[name].default:
                used_by = "remove_spans" if self.action == "drop" else "drop"
                raise ValueError(
                    f"{name}={value!r} applies to action: {used_by}, and action is "
                    f"{self.action}; remove {name} (or set action: {used_by})"
                )
        return self


class Decontaminate(RowStage):
    """Looks document n-grams up in the benchmark index; drops or cuts what overlaps."""

    config_class = DecontaminateConfig
    config: DecontaminateConfig
    decision_fields: ClassVar[frozenset[str]] = frozenset(
        {"min_matched_ngrams", "min_item_fraction", "min_kept_fraction"}
    )
    report_section = ReportSection(
        "decontamination", "Benchmark decontamination", "no decontaminate stage in this run"
    )

    def __init__(self, config: DecontaminateConfig):
        super().__init__(config)
        self._index: ShippedIndex | None = None
        self._join: BuiltIndex | None = None  # set by prepare when the index is joined

    def _removes(self) -> bool:
        return self.config.action == "remove_spans"

    def output_fields(self):
        fields = [
            StructField(NGRAMS, IntegerType()),
            StructField(MATCHES, IntegerType()),
            StructField(ITEMS, IntegerType()),
            StructField(ITEM_FRAC, DoubleType()),
            StructField(CONTAMINATED_BY, StringType()),
        ]
        if self._removes():
            fields += [
                StructField(C.TEXT, StringType()),
                StructField(ORIG_CHARS, IntegerType()),
                StructField(REMOVED_CHARS, IntegerType()),
            ]
        return fields

    def prepare(self, spark: Any) -> None:
        """Read the benchmarks once, build their n-gram index, and ship it to executors (or keep
        it for the join path: ``resolved`` then returns a ``DecontaminateJoin``)."""
        cfg = self.config
        limit = cfg.max_index_ngrams if cfg.method == "broadcast" else None
        built = build_benchmark_index(
            spark,
            cfg.benchmarks,
            cfg.ngram,
            cfg.min_item_words,
            limit,
            self.name,
            cfg.template_min_items,
        )
        join = cfg.method == "join" or (
            cfg.method == "auto" and built.bound > min(cfg.join_above_ngrams, cfg.max_index_ngrams)
        )
        self._join = built if join else None
        self._index = None if join else ship_index(spark, built)

    def resolved(self) -> Any:
        """The join path when prepare chose it, else this stage."""
        return DecontaminateJoin(self, self._join) if self._join is not None else self

    def scorer(self):
        if self._index is None:
            raise ConfigError(
                f"{self.name}: call prepare(spark) before scoring; it reads the benchmarks and "
                "ships their n-gram index to the executors"
            )
        shipped, n, removes = self._index, self.config.ngram, self._removes()

        def run(batch: pa.RecordBatch) -> dict[str, pa.Array]:
            index, labels = load_index(shipped)
            text = batch.column(C.TEXT)
            missing = text.is_null().to_numpy(zero_copy_only=False)
            found = match_documents(index, text, n)
            out = {
                NGRAMS: _ints(found.ngrams, missing),
                MATCHES: _ints(found.matched, missing),
                ITEMS: _ints(found.items, missing),
                ITEM_FRAC: pa.array(found.best_frac, pa.float64(), mask=missing),
                CONTAMINATED_BY: labels_of(labels, found.best_item),
            }
            if removes:
                out.update(_cut(index, text.to_pylist(), found.matched, n))
            return out

        return run

    def rules(self, scored: DataFrame, cutoffs: Cutoffs) -> list[Rule]:
        cfg = self.config
        if self._removes():
            orig, removed = F.col(ORIG_CHARS), F.col(REMOVED_CHARS)
            kept = orig - removed
            too_little = (kept == 0) | (kept < F.lit(cfg.min_kept_fraction) * orig)
            return [(REASON, (removed > 0) & too_little)]
        cond = F.col(MATCHES) >= F.lit(cfg.min_matched_ngrams)
        if cfg.min_item_fraction is not None:
            cond = cond & (F.col(ITEM_FRAC) >= F.lit(cfg.min_item_fraction))
        return [(REASON, cond)]

    def thresholds(self, cutoffs: Cutoffs = NO_CUTOFFS):
        cfg = self.config
        if self._removes():
            return {}
        out: dict[str, dict[str, float]] = {
            MATCHES: {"min_matched_ngrams": float(cfg.min_matched_ngrams)}
        }
        if cfg.min_item_fraction is not None:
            out[ITEM_FRAC] = {"min_item_fraction": cfg.min_item_fraction}
        return out

    def run_details(self, cutoffs: Cutoffs = NO_CUTOFFS) -> dict[str, Any]:
        """The index: items per benchmark (indexed, whole, too short, empty), n-grams, size."""
        cfg = self.config
        details: dict[str, Any] = {"ngram": cfg.ngram, "min_item_words": cfg.min_item_words}
        if self._index is not None:
            details.update(self._index.details, method="broadcast")
        if self._join is not None:
            details.update(self._join.details, method="join")
        return details


def _ints(values: np.ndarray, missing: np.ndarray) -> pa.Array:
    return pa.array(values.astype(np.int32), pa.int32(), mask=missing)


def _cut(index, texts: list[str | None], matched: np.ndarray, n: int) -> dict[str, pa.Array]:
    """Rewritten texts (only documents with a match are touched) and the characters cut."""
    new_texts, orig, removed = [], [], []
    for text, hits in zip(texts, matched.tolist(), strict=True):
        if text is None:
            new_texts.append(None)
            orig.append(None)
            removed.append(None)
            continue
        spans = matched_char_spans(index, text, n) if hits else []
        new = cut_spans(text, spans) if spans else text
        new_texts.append(new)
        orig.append(len(text))
        removed.append(len(text) - len(new))
    return {
        C.TEXT: pa.array(new_texts, pa.string()),
        ORIG_CHARS: pa.array(orig, pa.int32()),
        REMOVED_CHARS: pa.array(removed, pa.int32()),
    }
