"""Seeded, streaming generation of a web-like sample corpus with known junk and duplicates.

Every document is a pure function of (seed, index): a duplicate regenerates its source from the
source's index instead of remembering it, so generation runs in constant memory as a Spark job
(``spark.range(n).mapInArrow``) at any size. Truth is recorded in ``gen_*`` columns: the kind
injected, the source id of a duplicate, the expected language and the edits that made a near
duplicate.

>>> df = generate_corpus(spark, 3000, seed=42)   # id, text, url, gen_kind, gen_source, gen_lang, ...

The defaults reproduce the original corpus byte for byte (``make run`` and the tests pin it).
Benchmarks can opt into real English prose (``base="shared"``), web-like lengths
(``lengths="web"``) and a richer, recorded near-duplicate editor (``edits="recorded"``, implied by
either of the other two); toxic and non-English documents are the same in every mode.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession

from curation.datasets import builtin_text as B
from curation.datasets import real_text as R

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
COLUMNS = ("id", "text", "url", "gen_kind", "gen_source", "gen_lang", "gen_edits")
SCHEMA = ", ".join(f"{c} string" for c in COLUMNS)

LENGTHS = ("sample", "web")
EDITS = ("auto", "light", "recorded")
# Mean characters of a builtin sentence: "sample" lengths over a real-text base keep today's
# size distribution by targeting characters instead of sentences.
SAMPLE_SENTENCE_CHARS = 73
# Web lengths: log-normal body (median 2.5 KB) plus a rare Pareto tail of very long pages.
WEB_MEDIAN_CHARS = 2500
WEB_SIGMA = 0.95
WEB_TAIL_RATE = 0.005
WEB_TAIL_SCALE = 16_000
WEB_TAIL_ALPHA = 1.1
WEB_MIN_CHARS, WEB_MAX_CHARS = 300, 200_000
# Recorded near-duplicate edits: word edit rates up to MAX_WORD_EDIT each, scaled by one skewed
# "intensity" per document (uniform**4: median 0.06) so that most copies stay light, as re-posts
# do, and a few are heavy. Measured word 5-gram Jaccard with the source: >= 0.8 for 78-84% of
# near duplicates, 0.7-0.8 for 10-13%, below 0.7 for 6-8% (shared and builtin base, both lengths).
MAX_WORD_EDIT = 0.03
SHUFFLE_RATE = 0.2
FOOTER_RATE = 0.5
TRUNCATE_RATE = 0.3
MAX_TRUNCATE = 0.10


@dataclass(frozen=True)
class Options:
    """How documents are built; ``Options()`` is the original corpus."""

    pool: tuple[str, ...] = field(default=(), repr=False)  # real sentences; () means builtin
    lengths: str = "sample"
    edits: str = "light"


DEFAULT = Options()


def resolve_options(base: str = "builtin", lengths: str = "sample", edits: str = "auto") -> Options:
    """Options for ``base`` ("builtin", "shared", "auto" or a directory of JSONL files), loaded on
    the driver. ``edits="auto"`` means recorded whenever base or lengths differ from the defaults."""
    if lengths not in LENGTHS:
        raise ValueError(f"lengths must be one of {LENGTHS}, got {lengths!r}")
    if edits not in EDITS:
        raise ValueError(f"edits must be one of {EDITS}, got {edits!r}")
    if edits == "auto":
        edits = "light" if base == "builtin" and lengths == "sample" else "recorded"
    if base == "builtin":
        pool: tuple[str, ...] = ()
    elif base == "auto":
        pool = R.load_sentences("shared") if R.shared_available() else ()
    else:
        pool = R.load_sentences(base)
    return Options(pool, lengths, edits)


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


def _sample_sentences(rng: random.Random) -> int:
    # Log-normal length around ~2.5 KB with a long tail, as in web crawls.
    return max(6, min(1500, int(math.exp(rng.gauss(3.45, 0.6)))))


def _web_chars(rng: random.Random) -> int:
    if rng.random() < WEB_TAIL_RATE:
        chars = WEB_TAIL_SCALE * rng.paretovariate(WEB_TAIL_ALPHA)
    else:
        chars = WEB_MEDIAN_CHARS * math.exp(rng.gauss(0.0, WEB_SIGMA))
    return int(min(WEB_MAX_CHARS, max(WEB_MIN_CHARS, chars)))


def clean_text(seed: int, i: int, opts: Options = DEFAULT) -> str:
    rng = _rng(seed, i, 3)
    if not opts.pool and opts.lengths == "sample":
        left = _sample_sentences(rng)  # drawn before the title, as the original corpus did
        paras = [B.title(rng)]
        while left > 0:
            k = min(left, rng.randint(2, 6))
            paras.append(B.paragraph(rng, k))
            left -= k
        return "\n\n".join(paras)
    if opts.lengths == "web":
        target = _web_chars(rng)
    else:
        target = _sample_sentences(rng) * SAMPLE_SENTENCE_CHARS
    paras = [B.title(rng)]
    size = longest = len(paras[0])
    # No paragraph may exceed a third of the document: then one paragraph that happens to be
    # drawn by two documents cannot make them near duplicates (Jaccard stays below ~0.2).
    while size < target or size < 3 * longest:
        if opts.pool:
            para = R.run(rng, opts.pool, target // 3)
        else:
            para = B.paragraph(rng, rng.randint(2, 6))
        paras.append(para)
        size += len(para) + 2
        longest = max(longest, len(para))
    return "\n\n".join(paras)


def _near_copy(text: str, rng: random.Random) -> tuple[str, str]:
    """Light edits that keep word 5-gram Jaccard high: a few replaced words, a footer, a cut."""
    words = text.split(" ")
    n_replaced = max(1, len(words) // 60)
    for _ in range(n_replaced):
        k = rng.randrange(len(words))
        words[k] = B._pick(rng, B.ADJ)
    out = " ".join(words)
    edits = [f"replace={n_replaced / len(words):.3f}"]
    if rng.random() < 0.5:
        out += "\n\n" + B._pick(rng, B.BOILERPLATE_LINES) + "."
        edits.append("footer")
    if rng.random() < 0.3:
        out = out[: int(len(out) * 0.95)]
        edits.append("truncate=0.05")
    return out, ";".join(edits)


def _recorded_copy(text: str, rng: random.Random) -> tuple[str, str]:
    """Word replacements, insertions and deletions, then maybe a paragraph shuffle, a cut of up
    to 10% and a footer. Returns the copy and its edits in the order applied; a word edit's rate is
    its per-word probability."""
    level = rng.random() ** 4
    rates = {op: MAX_WORD_EDIT * level * rng.random() for op in ("replace", "insert", "delete")}
    # Inserted and replacing words come from the document itself, so the copy's vocabulary stays
    # plausible and only its 5-grams change.
    vocab = text.split()
    paras = []
    for para in text.split("\n\n"):
        out = []
        for w in para.split(" "):
            u = rng.random()
            if u < rates["delete"]:
                continue
            out.append(rng.choice(vocab) if u < rates["delete"] + rates["replace"] else w)
            if rng.random() < rates["insert"]:
                out.append(rng.choice(vocab))
        paras.append(" ".join(out))
    edits = [f"{op}={rate:.3f}" for op, rate in rates.items()]
    if len(paras) > 2 and rng.random() < SHUFFLE_RATE:
        body = paras[1:]
        rng.shuffle(body)
        paras[1:] = body
        edits.append("shuffle_paragraphs")
    copy = "\n\n".join(paras)
    if rng.random() < TRUNCATE_RATE:
        cut = round(rng.uniform(0.01, MAX_TRUNCATE), 2)
        copy = copy[: int(len(copy) * (1 - cut))]
        edits.append(f"truncate={cut:.2f}")
    if rng.random() < FOOTER_RATE:
        copy += "\n\n" + B._pick(rng, B.BOILERPLATE_LINES) + "."
        edits.append("footer")
    return copy, ";".join(edits)


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


def make_document(
    seed: int, i: int, opts: Options = DEFAULT
) -> tuple[str, str, str, str, str | None, str, str | None]:
    """(id, text, url, kind, source id, language, near-duplicate edits) of document ``i``."""
    kind = kind_of(seed, i)
    rng = _rng(seed, i, 4)
    url = f"https://example-{rng.randrange(5000)}.test/page/{i}"
    source = edits = None
    lang = "en"
    if kind in ("exact_dup", "near_dup"):
        j = _clean_source(seed, i)
        if j is None:
            kind = "clean"
        else:
            source = doc_id(j)
            base = clean_text(seed, j, opts)
            if kind == "exact_dup":
                text = base
            elif opts.edits == "recorded":
                text, edits = _recorded_copy(base, rng)
            else:
                text, edits = _near_copy(base, rng)
    if kind == "clean":
        text = clean_text(seed, i, opts)
    elif kind not in ("exact_dup", "near_dup"):
        text, lang = _junk(kind, rng)
    return doc_id(i), text, url, kind, source, lang, edits


def generate_corpus(
    spark: SparkSession,
    n_docs: int,
    seed: int = 42,
    partitions: int | None = None,
    *,
    base: str = "builtin",
    lengths: str = "sample",
    edits: str = "auto",
) -> DataFrame:
    """The sample corpus as a DataFrame, generated on executors in constant memory per task.

    ``base``: "builtin" (generated prose), "shared" (Brown + Wikipedia sentences from the shared
    data folder; ValueError if absent), "auto" (shared if present, else builtin) or a directory of
    JSONL files with a ``text`` field. The sentence pool (~70k sentences, ~9 MB) is loaded here and
    shipped to the executors in the task closure.

    ``lengths`` (measured on 20,000 documents, seed 42, clean ones / all kinds):

    * "sample": median 2.3 / 1.9 KB, p99 9.7 / 9.0 KB, max 25 KB (real-text base: median 2.5 KB);
    * "web": median 2.7-2.8 / 2.0-2.1 KB, p99 26.5 / 23 KB, max 200 KB, with 34 documents over
      50 KB and 10 over 100 KB (a 0.5% Pareto tail). No document is shorter than ~600 characters:
      a paragraph is at most a third of its document.

    ``edits``: "light" (the original near-duplicate edits), "recorded" (``_recorded_copy``) or
    "auto" (recorded unless base and lengths are the defaults). Either way ``gen_edits`` lists the
    edits of each near duplicate, e.g. "replace=0.016;footer" (light) or
    "replace=0.004;insert=0.001;delete=0.002;shuffle_paragraphs;truncate=0.07;footer" (recorded).
    """
    if n_docs < 1:
        raise ValueError(f"n_docs must be >= 1, got {n_docs}")
    opts = resolve_options(base, lengths, edits)
    parts = partitions or max(1, min(2000, n_docs // 5000 + 1))

    def gen(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            rows = [make_document(seed, int(i), opts) for i in batch.column(0).to_pylist()]
            cols = list(zip(*rows, strict=True)) if rows else [[] for _ in COLUMNS]
            yield pa.RecordBatch.from_arrays(
                [pa.array(list(c), pa.string()) for c in cols], names=list(COLUMNS)
            )

    return spark.range(0, n_docs, 1, parts).mapInArrow(gen, SCHEMA)


def write_sample_corpus(
    spark: SparkSession,
    out: str,
    n_docs: int = 3000,
    seed: int = 42,
    engine: str = "auto",
    *,
    base: str = "builtin",
    lengths: str = "sample",
    edits: str = "auto",
    fmt: str = "delta",
) -> str:
    """Write the corpus at ``out`` (replacing it) as a Delta table or as JSONL part files
    (``fmt="jsonl"``, gzip-compressed, one object per line, what Dolma-style tools read), and
    describe what was written."""
    from pyspark.sql import functions as F

    from curation.delta import open_store
    from curation.storage import Location

    if fmt not in ("delta", "jsonl"):
        raise ValueError(f"fmt must be 'delta' or 'jsonl', got {fmt!r}")
    df = generate_corpus(spark, n_docs, seed, base=base, lengths=lengths, edits=edits)
    generator = f"sample seed={seed}"
    if (base, lengths, edits) != ("builtin", "sample", "auto"):
        generator += f" base={base} lengths={lengths} edits={edits}"
    if fmt == "jsonl":
        # As the user means it: a relative path from this process's directory, not the JVM's.
        target = Location.of(out).spark
        df.write.mode("overwrite").option("compression", "gzip").json(target)
        written, where = spark.read.json(target, schema=SCHEMA), "JSONL"
    else:
        store = open_store(spark, engine)
        # The table is the generator's output: a sample from an older release (other columns)
        # is replaced whole, as a re-run of `make run` expects.
        version = store.write(
            df, out, mode="overwrite", overwrite_schema=True, metadata={"generator": generator}
        )
        written, where = store.read(out), f"Delta version {version}"
    kinds = written.groupBy("gen_kind").agg(F.count(F.lit(1)).alias("n")).collect()
    mix = ", ".join(f"{r['gen_kind']} {r['n']}" for r in sorted(kinds, key=lambda r: -r["n"]))
    return f"wrote {n_docs:,} documents to {out} ({where}): {mix}"
