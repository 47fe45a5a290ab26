"""Train a fastText quality classifier from tables (``curation train-classifier CONFIG``).

The flow (DCLM and Ultra-FineWeb train their quality filters the same way):

1. read the named tables (JSONL/Parquet/Delta through ``curation.readers``) and register each as
   a temp view; a class is the union of some tables' text, or any SQL query over the views;
2. optionally split long documents into chunks (so length alone does not separate the classes),
   drop texts shorter than ``min_chars`` and exact duplicates;
3. balanced, seeded sampling: both classes get n = min(|positives|, |negatives|, max_per_class)
   rows, taken in the order of a seeded hash of the text, so the sample is the same on every run
   and on any partitioning; the first ``validation_fraction`` of each class is held out;
4. train on the driver (fastText is single-node): rows stream from Spark into a fastText
   training file with the classes interleaved at random, so memory stays bounded;
5. score the held-out rows: precision, recall, F1 (positive class at p >= 0.5) and ROC-AUC;
6. ``hard_negative_rounds``: score the whole negative pool with the current model, take the n
   highest-scoring negatives (the ones most like positives) and retrain; every round is scored on
   the same held-out rows and recorded;
7. save the model (.bin) and a JSON sidecar next to it (``model.bin`` -> ``model.json``).

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

``python -m curation.train --demo-shared`` trains on ../shared/data (Wikipedia + Brown vs.
SpamAssassin spam + generated boilerplate) and writes the held-out metrics to
benchmarks/results/quality_classifier.json.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, ValidationError, field_validator, model_validator
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StringType

from curation import columns as C
from curation.errors import ConfigError, CurationError
from curation.frozen import FrozenModel
from curation.readers import InputConfig, detect_format, read_documents
from curation.session import SparkSettings
from curation.stages.classifier import (
    LABEL_PATTERN,
    FastTextQuality,
    FastTextQualityConfig,
    positive_probabilities,
    sidecar_path,
)
from curation.text.fasttext_prep import PrepMode, prepare_texts

_IDENT = r"^[A-Za-z_][A-Za-z0-9_]*$"
_HASH = "__train_hash"
_KEY = "__train_key"
_SCORE = "__train_score"


class TrainingError(CurationError):
    """Training could not produce a model (too little data, fastText diverged)."""


# --- configuration ---------------------------------------------------------------------------


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
    from curation.config import format_validation_error, read_yaml

    raw = read_yaml(path, overrides)
    try:
        return TrainConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, raw, str(path))) from None


# --- result ----------------------------------------------------------------------------------


@dataclass
class TrainResult:
    """What a training run produced: the model, its sidecar and the held-out metrics."""

    model_path: str
    sidecar_path: str
    metrics: dict[str, Any]
    rounds: list[dict[str, Any]] = field(default_factory=list)
    sizes: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        m = self.metrics
        lines = [
            f"model    {self.model_path}",
            f"sidecar  {self.sidecar_path}",
            f"train    {self.sizes['train']['positive']:,} positive / "
            f"{self.sizes['train']['negative']:,} negative",
            f"held out {m['n_positive']:,} positive / {m['n_negative']:,} negative",
        ]
        for r in self.rounds:
            rm = r["metrics"]
            lines.append(
                f"round {r['round']} ({r['negatives']} negatives): precision {rm['precision']:.4f}"
                f"  recall {rm['recall']:.4f}  F1 {rm['f1']:.4f}  ROC-AUC {_fmt(rm['roc_auc'])}"
            )
        return "\n".join(lines)


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4f}"


# --- metrics ---------------------------------------------------------------------------------


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """Area under the ROC curve (Mann-Whitney U with average ranks for ties); None if one class.

    >>> roc_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    0.75
    """
    y = np.asarray(labels).astype(bool)
    s = np.asarray(scores, dtype=np.float64)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    first_rank = np.cumsum(counts) - counts + 1  # 1-based rank of each distinct score's first row
    avg_rank = first_rank + (counts - 1) / 2.0
    ranks = avg_rank[inverse]
    u = ranks[y].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def binary_metrics(labels: np.ndarray, scores: np.ndarray, threshold: float = 0.5) -> dict:
    """Precision, recall, F1 of the positive class at ``threshold``, ROC-AUC, accuracy."""
    y = np.asarray(labels).astype(bool)
    pred = np.asarray(scores) >= threshold
    tp = int((pred & y).sum())
    fp = int((pred & ~y).sum())
    fn = int((~pred & y).sum())
    tn = int((~pred & ~y).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "threshold": threshold,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "accuracy": (tp + tn) / len(y) if len(y) else 0.0,
        "roc_auc": roc_auc(y, np.asarray(scores)),
        "n_positive": int(y.sum()),
        "n_negative": int((~y).sum()),
        "confusion": {"tp": tp, "fp": fp, "fn": fn, "tn": tn},
    }


# --- chunking --------------------------------------------------------------------------------


def chunk_text(text: str, target: int) -> list[str]:
    """Split ``text`` into pieces of at most about ``target`` characters at paragraph breaks.

    Paragraphs are packed greedily; a paragraph longer than ``target`` is cut at the last space
    before each ``target`` boundary (or hard, if it has none).
    """
    if len(text) <= target:
        return [text]
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for para in re.split(r"\n\s*\n", text):
        para = para.strip()
        if not para:
            continue
        pieces = [para] if len(para) <= target else _cut(para, target)
        for piece in pieces:
            if current and size + 2 + len(piece) > target:
                chunks.append("\n\n".join(current))
                current, size = [], 0
            current.append(piece)
            size += len(piece) + (2 if size else 0)
    if current:
        chunks.append("\n\n".join(current))
    return chunks


def _cut(text: str, target: int) -> list[str]:
    out = []
    while len(text) > target:
        cut = text.rfind(" ", target // 2, target + 1)
        if cut <= 0:
            cut = target
        out.append(text[:cut].strip())
        text = text[cut:].strip()
    if text:
        out.append(text)
    return out


# --- reading the classes ---------------------------------------------------------------------


def register_tables(spark: SparkSession, tables: dict[str, InputConfig]) -> dict[str, dict]:
    """Read each table (Delta at a pinned version) and register it as a temp view.

    Returns provenance per table for the sidecar: path, format and, for Delta, the version read.
    """
    info: dict[str, dict] = {}
    store = None
    for name, inp in tables.items():
        fmt = inp.format if inp.format != "auto" else detect_format(spark, inp.path)
        entry: dict[str, Any] = {"path": inp.path, "format": fmt}
        if fmt == "delta":
            from curation.delta import open_store

            store = store or open_store(spark)
            version = inp.version if inp.version is not None else store.version(inp.path)
            inp = inp.model_copy(update={"version": version, "format": "delta"})
            entry["version"] = version
        df = read_documents(spark, inp, store)
        # Rows the reader rejected have no usable text; they are not training data.
        df = df.filter(F.col(C.DROP_REASON).isNull() & F.col(C.TEXT).isNotNull())
        df.createOrReplaceTempView(name)
        info[name] = entry
    return info


def class_frame(spark: SparkSession, source: ClassSource, min_chars: int, seed: int) -> DataFrame:
    """One class's texts: chunked, long enough, de-duplicated, with a seeded hash for order."""
    if source.query is not None:
        df = spark.sql(source.query)
        if C.TEXT not in df.columns:
            raise ConfigError(
                f"query {source.query!r} returns columns {df.columns}; it must return `text`"
            )
    else:
        df = None
        for name in source.tables:
            part = spark.table(name).select(C.TEXT)
            df = part if df is None else df.unionByName(part)
    df = df.select(F.col(C.TEXT).cast("string").alias(C.TEXT)).filter(F.col(C.TEXT).isNotNull())
    if source.chunk_chars:
        target = source.chunk_chars
        chunker = F.udf(lambda t: chunk_text(t, target), ArrayType(StringType()), useArrow=True)
        df = df.select(F.explode(chunker(F.col(C.TEXT))).alias(C.TEXT))
    df = df.filter(F.length(C.TEXT) >= min_chars)
    df = df.withColumn(_KEY, F.xxhash64(C.TEXT)).dropDuplicates([_KEY])
    return df.withColumn(_HASH, F.xxhash64(F.col(C.TEXT), F.lit(seed)))


# --- training --------------------------------------------------------------------------------


def train_classifier(spark: SparkSession, cfg: TrainConfig) -> TrainResult:
    """Sample, train, evaluate (and iterate on hard negatives); save model and sidecar."""
    inputs = register_tables(spark, cfg.tables)
    # Cached: each class is counted, then sampled (and the negatives re-scored per round).
    pos = class_frame(spark, cfg.positives, cfg.min_chars, cfg.seed).cache()
    neg = class_frame(spark, cfg.negatives, cfg.min_chars, cfg.seed).cache()
    try:
        return _train(spark, cfg, inputs, pos, neg)
    finally:
        pos.unpersist()
        neg.unpersist()


def _train(
    spark: SparkSession, cfg: TrainConfig, inputs: dict, pos: DataFrame, neg: DataFrame
) -> TrainResult:
    n_pos_pool, n_neg_pool = pos.count(), neg.count()
    n = min(n_pos_pool, n_neg_pool, cfg.max_per_class)
    n_val = max(1, round(n * cfg.validation_fraction))
    if n - n_val < 5:
        raise TrainingError(
            f"too little data: {n_pos_pool} positive and {n_neg_pool} negative texts of at least "
            f"{cfg.min_chars} characters after chunking and de-duplication; need at least "
            f"{5 + n_val} of each"
        )
    work = tempfile.mkdtemp(prefix="curation-train-")
    try:
        pos_train = os.path.join(work, "pos.txt")
        neg_train = os.path.join(work, "neg.txt")
        val_pos = _write_sample(pos, n, n_val, cfg, cfg.positive_label, pos_train)
        val_neg = _write_sample(neg, n, n_val, cfg, cfg.negative_label, neg_train, keep_keys=True)
        val_texts = val_pos + [t for t, _ in val_neg]
        val_labels = np.array([1] * len(val_pos) + [0] * len(val_neg))
        n_train_pos = _count_lines(pos_train)
        n_train_neg = _count_lines(neg_train)

        rounds: list[dict[str, Any]] = []
        model = _fit(pos_train, neg_train, work, cfg, round_no=0)
        rounds.append(
            _round_record(0, "random", model, val_texts, val_labels, cfg, n_train_pos, n_train_neg)
        )
        held_out_keys = spark.createDataFrame([(k,) for _, k in val_neg], f"{_KEY} long")
        for r in range(1, cfg.hard_negative_rounds + 1):
            model_file = os.path.join(work, f"round{r - 1}.bin")
            model.save_model(model_file)
            pool = neg.join(held_out_keys, on=_KEY, how="left_anti")
            hard_file = os.path.join(work, f"neg_round{r}.txt")
            mean_score = _write_hard_negatives(spark, pool, model_file, n_train_neg, cfg, hard_file)
            n_hard = _count_lines(hard_file)
            model = _fit(pos_train, hard_file, work, cfg, round_no=r)
            rec = _round_record(r, "hard", model, val_texts, val_labels, cfg, n_train_pos, n_hard)
            rec["selected_negative_mean_score"] = mean_score
            rounds.append(rec)

        out = os.path.abspath(cfg.output)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        model.save_model(out)
        sizes = {
            "pool": {"positive": n_pos_pool, "negative": n_neg_pool},
            "per_class": n,
            "train": {"positive": n_train_pos, "negative": rounds[-1]["train"]["negative"]},
            "validation": {"positive": len(val_pos), "negative": len(val_neg)},
        }
        side = sidecar_path(out)
        _write_sidecar(side, cfg, inputs, sizes, rounds)
        return TrainResult(out, side, rounds[-1]["metrics"], rounds, sizes)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def seeded_sample(df: DataFrame, n: int) -> Iterator[Any]:
    """The first n rows in seeded-hash order, streamed to the driver in that order."""
    sample = df.orderBy(_HASH, _KEY).limit(n)
    # coalesce(1) keeps the sorted order and makes the iterator one Spark job, not one per part.
    return sample.orderBy(_HASH, _KEY).coalesce(1).select(C.TEXT, _KEY).toLocalIterator()


def _write_sample(
    df: DataFrame,
    n: int,
    n_val: int,
    cfg: TrainConfig,
    label: str,
    train_file: str,
    keep_keys: bool = False,
) -> list:
    """Write all but the first ``n_val`` sampled rows to ``train_file``; return the held-out ones.

    Held-out rows come back prepared (and with their keys when ``keep_keys``).
    """
    held: list = []
    with open(train_file, "w", encoding="utf-8") as fh:
        for i, batch in enumerate(_batches(seeded_sample(df, n), 1000)):
            texts = prepare_texts([row[C.TEXT] for row in batch], cfg.prep)
            for j, (row, text) in enumerate(zip(batch, texts, strict=True)):
                if i * 1000 + j < n_val:
                    held.append((text, row[_KEY]) if keep_keys else text)
                elif text.strip():
                    fh.write(f"{label} {text}\n")
    return held


def _batches(rows: Iterator[Any], size: int) -> Iterator[list]:
    batch: list = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _count_lines(path: str) -> int:
    with open(path, "rb") as fh:
        return sum(1 for _ in fh)


def _interleave(a: str, b: str, out: str, seed: int) -> None:
    """Merge two files line by line in a seeded random order (each keeps its own order).

    fastText's learning rate decays over the file, so a file with all positives first would
    leave the last class seen dominating the model.
    """
    rng = random.Random(seed)
    left = [_count_lines(a), _count_lines(b)]
    with (
        open(a, encoding="utf-8") as fa,
        open(b, encoding="utf-8") as fb,
        open(out, "w", encoding="utf-8") as fo,
    ):
        files = (fa, fb)
        while left[0] or left[1]:
            pick = 0 if rng.random() * (left[0] + left[1]) < left[0] else 1
            fo.write(files[pick].readline())
            left[pick] -= 1


def _fit(pos_file: str, neg_file: str, work: str, cfg: TrainConfig, round_no: int) -> Any:
    train_file = os.path.join(work, f"train_round{round_no}.txt")
    _interleave(pos_file, neg_file, train_file, cfg.seed + round_no)
    return fit_fasttext(train_file, cfg.fasttext, cfg.seed)


# fastText's trainer (the official 0.9.3 build and fasttext-numpy2 0.10.4 alike; measured here)
# depends on memory it has not initialised: the same file and seed with one thread sometimes
# raises "Encountered NaN" and sometimes trains, depending on what the process did before (small
# dims and word_ngrams: 1 make it likelier). fasttext-community 0.11.9 did neither in the same
# probes. A retry trains a fresh model; after a few in-process failures the next attempts run in
# a fresh interpreter, whose heap starts clean.
IN_PROCESS_ATTEMPTS = 3
SUBPROCESS_ATTEMPTS = 3
_SUBPROCESS_TRAIN = (
    "import json, sys, fasttext\n"
    "fasttext.train_supervised(input=sys.argv[2], **json.loads(sys.argv[1])).save_model(sys.argv[3])"
)


def fit_fasttext(train_file: str, params: FastTextParams, seed: int) -> Any:
    """``fasttext.train_supervised`` on a prepared file, retrying a spurious NaN."""
    import subprocess
    import sys

    import fasttext

    kwargs = params.fasttext_kwargs(seed)
    for _ in range(IN_PROCESS_ATTEMPTS):
        try:
            return fasttext.train_supervised(input=train_file, **kwargs)
        except RuntimeError as exc:
            if "NaN" not in str(exc):
                raise
    out = train_file + ".model.bin"
    for _ in range(SUBPROCESS_ATTEMPTS):
        run = subprocess.run(
            [sys.executable, "-c", _SUBPROCESS_TRAIN, json.dumps(kwargs), train_file, out],
            capture_output=True,
            text=True,
            check=False,
        )
        if run.returncode == 0:
            return fasttext.load_model(out)
        if "NaN" not in run.stderr:
            raise TrainingError(f"fastText training failed: {run.stderr.strip()[-800:]}")
    raise TrainingError(
        f"fastText training diverged (Encountered NaN) "
        f"{IN_PROCESS_ATTEMPTS + SUBPROCESS_ATTEMPTS} times. It does this on tiny or highly "
        "repetitive vocabularies, especially with word_ngrams: 1 or a small dim; use "
        "word_ngrams >= 2, a larger dim, a lower lr, or more varied training text"
    )


def _round_record(
    round_no: int,
    negatives: str,
    model: Any,
    val_texts: Sequence[str],
    val_labels: np.ndarray,
    cfg: TrainConfig,
    n_pos: int,
    n_neg: int,
) -> dict[str, Any]:
    scores = positive_probabilities(model, val_texts, cfg.positive_label)
    return {
        "round": round_no,
        "negatives": negatives,
        "train": {"positive": n_pos, "negative": n_neg},
        "metrics": binary_metrics(val_labels, scores),
    }


def _write_hard_negatives(
    spark: SparkSession, pool: DataFrame, model_file: str, n: int, cfg: TrainConfig, out: str
) -> float | None:
    """Score the negative pool with the current model in Spark; write the n highest-scoring."""
    from curation.stages.rowwise import score

    stage = FastTextQuality(
        FastTextQualityConfig(
            model_path=model_file,
            positive_label=cfg.positive_label,
            prep=cfg.prep,
            score_column=_SCORE,
            keep_top_percent=100,
        )
    )
    stage.prepare(spark)
    scored = score(pool.select(C.TEXT, _KEY, _HASH), [stage])
    top = scored.orderBy(F.col(_SCORE).desc(), _HASH).limit(n)
    total = 0.0
    count = 0
    with open(out, "w", encoding="utf-8") as fh:
        for batch in _batches(top.select(C.TEXT, _SCORE).toLocalIterator(), 1000):
            texts = prepare_texts([row[C.TEXT] for row in batch], cfg.prep)
            for row, text in zip(batch, texts, strict=True):
                if text.strip():
                    fh.write(f"{cfg.negative_label} {text}\n")
                    total += row[_SCORE] or 0.0
                    count += 1
    return total / count if count else None


def _write_sidecar(
    path: str, cfg: TrainConfig, inputs: dict, sizes: dict, rounds: list[dict]
) -> None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        ft_version = version("fasttext-numpy2")
    except PackageNotFoundError:  # another fastText build
        ft_version = None
    meta = {
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "model_file": os.path.basename(cfg.output),
        "positive_label": cfg.positive_label,
        "negative_label": cfg.negative_label,
        "prep": cfg.prep,
        "seed": cfg.seed,
        "hyperparameters": cfg.fasttext.fasttext_kwargs(cfg.seed),
        "inputs": inputs,
        "positives": cfg.positives.model_dump(mode="json", exclude_none=True),
        "negatives": cfg.negatives.model_dump(mode="json", exclude_none=True),
        "sampling": {
            "max_per_class": cfg.max_per_class,
            "validation_fraction": cfg.validation_fraction,
            "min_chars": cfg.min_chars,
            "hard_negative_rounds": cfg.hard_negative_rounds,
        },
        "sizes": sizes,
        "metrics": rounds[-1]["metrics"],
        "rounds": rounds,
        "versions": {"fasttext-numpy2": ft_version, "curation": _curation_version()},
    }
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(meta, fh, indent=2, sort_keys=False)
        fh.write("\n")


def _curation_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("curation")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return None


# --- demo on ../shared/data ------------------------------------------------------------------

_NAV = [
    "Home",
    "About Us",
    "Products",
    "Services",
    "Blog",
    "Shop",
    "Contact",
    "FAQ",
    "Careers",
    "Deals",
    "New Arrivals",
    "Support",
    "Login",
    "Register",
    "Cart (0)",
    "Wishlist",
]
_SHOP = [
    "Wireless Earbuds",
    "LED Desk Lamp",
    "Running Shoes",
    "Phone Case",
    "Yoga Mat",
    "Coffee Grinder",
    "USB-C Cable",
    "Smart Watch",
    "Backpack",
    "Sunglasses",
    "Water Bottle",
]
_SEO = [
    "best",
    "cheap",
    "buy online",
    "discount",
    "free shipping",
    "top rated",
    "sale",
    "deals",
    "near me",
    "2019",
    "review",
    "coupon",
    "promo code",
    "lowest price",
]
_BOILER = [
    "We use cookies to improve your experience. By continuing to browse you agree to our use "
    "of cookies. Accept | Decline | Cookie Settings",
    "Sign in | Create an account | Forgot your password?",
    "Share on Facebook | Tweet | Pin it | Email | Print",
    "Subscribe to our newsletter and get 10% off your first order! Enter your email: [Subscribe]",
    "Privacy Policy | Terms of Service | Sitemap | Accessibility | Do Not Sell My Info",
    "JavaScript is disabled in your browser. Please enable it to use all features of this site.",
    "Skip to main content",
    "Back to top",
    "Loading...",
    "Read more >>",
    "Click here",
]


def boilerplate_documents(n: int, seed: int = 0) -> list[str]:
    """Generated web boilerplate (menus, cookie banners, product grids, SEO tag lists, footers).

    Negatives for the demo classifier: the kind of page text quality filters exist to remove.
    """
    rng = random.Random(seed)
    docs = []
    for _ in range(n):
        lines: list[str] = []
        for _ in range(rng.randint(8, 40)):
            kind = rng.random()
            if kind < 0.2:
                lines.append(" | ".join(rng.sample(_NAV, rng.randint(4, 9))))
            elif kind < 0.45:
                item = rng.choice(_SHOP)
                lines.append(
                    f"{item} - ${rng.randint(5, 300)}.{rng.randint(0, 99):02d}  "
                    f"{'★' * rng.randint(2, 5)} ({rng.randint(1, 9000)} reviews)  Add to cart"
                )
            elif kind < 0.6:
                tags = (f"{rng.choice(_SEO)} {rng.choice(_SHOP).lower()}" for _ in range(6))
                lines.append("Tags: " + ", ".join(tags))
            elif kind < 0.9:
                lines.append(rng.choice(_BOILER))
            else:
                year = rng.randint(2005, 2024)
                lines.append(f"© {year} {rng.choice(_SHOP).split()[0]} Inc. All rights reserved.")
        docs.append("\n".join(lines))
    return docs


def demo_shared(shared: Path, out_dir: Path, results: Path, master: str = "local[2]") -> dict:
    """Train the demo classifier on ../shared/data and write its held-out metrics to JSON."""
    import time

    from curation.session import get_session

    text = shared / "text"
    for name in ("wikipedia_sample.jsonl", "brown.jsonl", "spamassassin.jsonl"):
        if not (text / name).is_file():
            raise ConfigError(f"{text / name} is missing; the demo needs ../shared/data")
    spark = get_session(SparkSettings(master=master, ui=False, shuffle_partitions=8))
    work = Path(tempfile.mkdtemp(prefix="curation-demo-"))
    try:
        boiler = work / "boilerplate.jsonl"
        with open(boiler, "w", encoding="utf-8") as fh:
            for i, doc in enumerate(boilerplate_documents(1500, seed=7)):
                fh.write(json.dumps({"id": f"boiler-{i}", "text": doc}) + "\n")
        cfg = TrainConfig(
            tables={
                "wiki": InputConfig(path=str(text / "wikipedia_sample.jsonl")),
                "brown": InputConfig(path=str(text / "brown.jsonl")),
                "mail": InputConfig(path=str(text / "spamassassin.jsonl")),
                "boiler": InputConfig(path=str(boiler)),
            },
            positives=ClassSource(tables=("wiki", "brown"), chunk_chars=2500),
            negatives=ClassSource(
                query="SELECT text FROM mail WHERE label = 'spam' "
                "UNION ALL SELECT text FROM boiler",
                chunk_chars=2500,
            ),
            output=str(out_dir / "quality_classifier.bin"),
            hard_negative_rounds=1,
            # 200k buckets keep the demo model near 250 MB (the 2M default would be 2 GB).
            fasttext=FastTextParams(bucket=200_000),
        )
        t0 = time.monotonic()
        result = train_classifier(spark, cfg)
        seconds = time.monotonic() - t0
    finally:
        shutil.rmtree(work, ignore_errors=True)
    with open(result.sidecar_path, encoding="utf-8") as fh:
        sidecar = json.load(fh)
    report = {
        "what": "fastText quality classifier trained by `python -m curation.train --demo-shared`",
        "positives": "Wikipedia sample + Brown corpus, chunked to <= 2500 chars",
        "negatives": "SpamAssassin spam + 1500 generated boilerplate pages, chunked to <= 2500 "
        "chars",
        "seconds_total": round(seconds, 1),
        "load_average": os.getloadavg()[0],
        "sizes": result.sizes,
        "hyperparameters": sidecar["hyperparameters"],
        "prep": sidecar["prep"],
        "metrics": result.metrics,
        "rounds": result.rounds,
    }
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(result.summary())
    print(f"metrics written to {results}")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    repo = Path(__file__).resolve().parents[1]
    p = argparse.ArgumentParser(prog="python -m curation.train", description=__doc__.split("\n")[0])
    p.add_argument("--demo-shared", action="store_true", help="train the demo on ../shared/data")
    p.add_argument("--shared", type=Path, default=repo.parent / "shared" / "data")
    p.add_argument("--out", type=Path, default=repo / "out" / "quality_classifier")
    p.add_argument(
        "--results", type=Path, default=repo / "benchmarks" / "results" / "quality_classifier.json"
    )
    p.add_argument("--master", default="local[2]")
    args = p.parse_args(argv)
    if not args.demo_shared:
        p.error("nothing to do; use --demo-shared (or `curation train-classifier CONFIG`)")
    try:
        demo_shared(args.shared, args.out, args.results, args.master)
    except CurationError as exc:
        print(f"error: {exc}")
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
