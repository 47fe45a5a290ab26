"""Seeded, streaming generation of a web-like sample corpus with known junk and duplicates.

Every document is a pure function of (seed, index): a duplicate regenerates its source from the
source's index instead of remembering it, so generation runs in constant memory as a Spark job
(``spark.range(n).mapInArrow``) at any size. Truth is recorded in ``gen_*`` columns: the kind
injected, the source id of a duplicate and the expected language.

>>> df = generate_corpus(spark, 3000, seed=42)   # id, text, gen_kind, gen_source, gen_lang, url
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession

from curation.datasets import builtin_text as B

# Share of each injected kind (the rest is clean prose). Rates resemble a lightly filtered crawl.
KIND_RATES = (
    ("exact_dup", 0.06),
    ("near_dup", 0.08),
    ("boilerplate", 0.05),
    ("spam", 0.04),
    ("repeated_lines", 0.03),
    ("lorem", 0.01),
    ("code", 0.02),
    ("foreign", 0.04),
    ("toxic", 0.03),
    ("too_short", 0.02),
)
SCHEMA = "id string, text string, url string, gen_kind string, gen_source string, gen_lang string"


def doc_id(i: int) -> str:
    return f"doc-{i:08d}"


def _rng(seed: int, i: int, salt: int = 0) -> random.Random:
    return random.Random((seed * 1_000_003 + i) * 7919 + salt)


def kind_of(seed: int, i: int) -> str:
    u = _rng(seed, i, 1).random()
    acc = 0.0
    for kind, rate in KIND_RATES:
        acc += rate
        if u < acc:
            return kind
    return "clean"


def _clean_source(seed: int, i: int) -> int | None:
    """A clean document before ``i`` to copy, chosen deterministically."""
    rng = _rng(seed, i, 2)
    for _ in range(20):
        j = rng.randrange(i) if i else 0
        if j < i and kind_of(seed, j) == "clean":
            return j
    return None


def clean_text(seed: int, i: int) -> str:
    rng = _rng(seed, i, 3)
    # Log-normal length around ~2.5 KB with a long tail, as in web crawls.
    n_sent = max(6, min(1500, int(math.exp(rng.gauss(3.45, 0.6)))))
    paras, left = [B.title(rng)], n_sent
    while left > 0:
        k = min(left, rng.randint(2, 6))
        paras.append(B.paragraph(rng, k))
        left -= k
    return "\n\n".join(paras)


def _near_copy(text: str, rng: random.Random) -> str:
    """Light edits that keep word 5-gram Jaccard high: a few replaced words, a footer, a cut."""
    words = text.split(" ")
    for _ in range(max(1, len(words) // 60)):
        k = rng.randrange(len(words))
        words[k] = B._pick(rng, B.ADJ)
    out = " ".join(words)
    if rng.random() < 0.5:
        out += "\n\n" + B._pick(rng, B.BOILERPLATE_LINES) + "."
    if rng.random() < 0.3:
        out = out[: int(len(out) * 0.95)]
    return out


def _junk(kind: str, rng: random.Random) -> tuple[str, str]:
    if kind == "boilerplate":
        lines = [" | ".join(rng.sample(B.MENU_ITEMS, 6))]
        lines += [B._pick(rng, B.BOILERPLATE_LINES) for _ in range(rng.randint(8, 20))]
        lines.append(B.sentence(rng))
        return "\n".join(lines), "en"
    if kind == "spam":
        words = [B._pick(rng, B.SPAM_WORDS) for _ in range(rng.randint(80, 300))]
        return " ".join(words).upper() if rng.random() < 0.3 else " ".join(words), "en"
    if kind == "repeated_lines":
        line = B.sentence(rng)
        other = B.sentence(rng)
        return "\n".join([line] * rng.randint(10, 40) + [other]), "en"
    if kind == "lorem":
        return "\n\n".join([B.LOREM] * rng.randint(2, 8)), "la"
    if kind == "code":
        return "\n".join(B._pick(rng, B.CODE) for _ in range(rng.randint(10, 40))), "en"
    if kind == "foreign":
        lang = B._pick(rng, sorted(B.FOREIGN))
        sents = list(B.FOREIGN[lang])
        rng.shuffle(sents)
        return " ".join(sents * rng.randint(1, 2)), lang
    if kind == "toxic":
        body = B.paragraph(rng, rng.randint(5, 10))
        group = B._pick(rng, B.GROUPS)
        bad = B._pick(rng, B.TOXIC).format(group=group, group_cap=group.capitalize())
        bad2 = B._pick(rng, B.TOXIC).format(group=group, group_cap=group.capitalize())
        return f"{body}\n\n{bad} {bad2}\n\n{B.paragraph(rng, 3)}", "en"
    if kind == "too_short":
        return B.sentence(rng), "en"
    raise ValueError(kind)


def make_document(seed: int, i: int) -> tuple[str, str, str, str, str | None, str]:
    """(id, text, url, kind, source id, language) of document ``i``."""
    kind = kind_of(seed, i)
    rng = _rng(seed, i, 4)
    url = f"https://example-{rng.randrange(5000)}.test/page/{i}"
    source = None
    lang = "en"
    if kind in ("exact_dup", "near_dup"):
        j = _clean_source(seed, i)
        if j is None:
            kind = "clean"
        else:
            source = doc_id(j)
            base = clean_text(seed, j)
            text = base if kind == "exact_dup" else _near_copy(base, rng)
    if kind == "clean":
        text = clean_text(seed, i)
    elif kind not in ("exact_dup", "near_dup"):
        text, lang = _junk(kind, rng)
    return doc_id(i), text, url, kind, source, lang


def generate_corpus(
    spark: SparkSession, n_docs: int, seed: int = 42, partitions: int | None = None
) -> DataFrame:
    """The sample corpus as a DataFrame, generated on executors in constant memory per task."""
    if n_docs < 1:
        raise ValueError(f"n_docs must be >= 1, got {n_docs}")
    parts = partitions or max(1, min(2000, n_docs // 5000 + 1))

    def gen(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            rows = [make_document(seed, int(i)) for i in batch.column(0).to_pylist()]
            cols = list(zip(*rows, strict=True)) if rows else [[] for _ in range(6)]
            yield pa.RecordBatch.from_arrays(
                [pa.array(list(c), pa.string()) for c in cols],
                names=["id", "text", "url", "gen_kind", "gen_source", "gen_lang"],
            )

    return spark.range(0, n_docs, 1, parts).mapInArrow(gen, SCHEMA)


def write_sample_corpus(
    spark: SparkSession, out: str, n_docs: int = 3000, seed: int = 42, engine: str = "auto"
) -> str:
    """Write the corpus as a Delta table at ``out`` (replacing it) and describe what was written."""
    from pyspark.sql import functions as F

    from curation.delta import open_store

    store = open_store(spark, engine)
    df = generate_corpus(spark, n_docs, seed)
    version = store.write(df, out, mode="overwrite", metadata={"generator": f"sample seed={seed}"})
    kinds = store.read(out).groupBy("gen_kind").agg(F.count(F.lit(1)).alias("n")).collect()
    mix = ", ".join(f"{r['gen_kind']} {r['n']}" for r in sorted(kinds, key=lambda r: -r["n"]))
    return f"wrote {n_docs:,} documents to {out} (Delta version {version}): {mix}"
