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

The config (tables, classes, hyperparameters) is ``curation.train.config.TrainConfig``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StringType

from curation import columns as C
from curation.errors import ConfigError, TrainingError
from curation.models import FASTTEXT_DIST
from curation.readers import InputConfig, detect_format, read_documents
from curation.stages.classifier import (
    FastTextQuality,
    FastTextQualityConfig,
    positive_probabilities,
    sidecar_path,
)
from curation.text.fasttext_prep import prepare_texts
from curation.train.config import ClassSource, FastTextParams, TrainConfig
from curation.train.fasttext_fit import train_supervised
from curation.train.metrics import binary_metrics

_HASH = "__train_hash"
_KEY = "__train_key"
_SCORE = "__train_score"


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


def fit_fasttext(train_file: str, params: FastTextParams, seed: int) -> Any:
    """``fasttext.train_supervised`` on a prepared file."""
    return train_supervised(train_file, **params.fasttext_kwargs(seed))


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
        ft_version = version(FASTTEXT_DIST)
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
        "versions": {FASTTEXT_DIST: ft_version, "curation": _curation_version()},
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
