"""fastText scoring inside Spark (local[1]) vs. fastText's raw predict in a plain Python loop.

    .venv/bin/python benchmarks/bench_fasttext.py --docs 20000

Same ~3 KB documents, same model, same text preparation on both sides:

* ``raw_loop``: ``model.predict(text.replace("\\n", " "), k=-1)`` per document in a Python loop
  (the baseline the target is stated against: Spark should reach >= 70% of it);
* ``raw_batch``: one ``model.predict(list, k=-1)`` per 10,000 documents (a stricter baseline);
* ``spark``: the stage's scorer through ``score()`` (one mapInArrow pass) plus its decision, over
  a Parquet file, written to Spark's ``noop`` sink, on ``local[1]`` (one core, one Python worker).

Two measures, because this machine is shared (its load average is recorded): wall-clock docs/s,
and docs per CPU-second, where the CPU time is this process's for the raw baselines and, for
Spark, that of the whole process tree (this driver, the JVM and its Python workers, read from
/proc), so JVM-side work (Parquet, Arrow conversion) counts against Spark.

Models: a quality classifier with Ultra-FineWeb's hyperparameters (dim 256, word n-grams 3),
trained here on the benchmark documents vs. generated boilerplate (untimed), and the bundled
lid.176.ftz through the langid stage. Documents: Brown corpus chunks from ../shared/data when
present, else generated prose. Each measurement is repeated; the best run counts (the machine is
shared, so the best is the least disturbed). Results go to benchmarks/results/fasttext_scoring.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import fasttext  # noqa: E402
from train_quality_demo import boilerplate_documents  # noqa: E402 - sibling script, not a package

from curation.stages.classifier import FastTextQuality, FastTextQualityConfig  # noqa: E402
from curation.stages.langid import LangId, LangIdConfig, bundled_lid_model  # noqa: E402
from curation.stages.rowwise import decide, score  # noqa: E402
from curation.train.trainer import chunk_text  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"


def documents(n: int, doc_chars: int, seed: int = 0) -> tuple[list[str], str]:
    """``n`` documents of about ``doc_chars`` characters: Brown chunks, cycled, or generated."""
    brown = SHARED / "text" / "brown.jsonl"
    chunks: list[str] = []
    if brown.is_file():
        with open(brown, encoding="utf-8") as fh:
            for line in fh:
                chunks += [
                    c for c in chunk_text(json.loads(line)["text"], doc_chars) if len(c) > 2000
                ]
        source = "brown chunks (../shared/data)"
    else:
        from curation.datasets.builtin_text import paragraph

        rng = random.Random(seed)
        while len(chunks) < 2000:
            text = ""
            while len(text) < doc_chars * 0.8:
                text += paragraph(rng, 4) + "\n\n"
            chunks.append(text.strip())
        source = "generated prose (curation.datasets.builtin_text)"
    return [chunks[i % len(chunks)] for i in range(n)], source


def train_quality_model(docs: list[str], path: str) -> None:
    rng = random.Random(1)
    train = path + ".train.txt"
    neg = boilerplate_documents(2000, seed=3)
    lines = [f"__label__hq {d}" for d in docs[:2000]] + [f"__label__cc {d}" for d in neg]
    rng.shuffle(lines)
    with open(train, "w", encoding="utf-8") as fh:
        for line in lines:
            fh.write(line.replace("\n", " ") + "\n")
    model = fasttext.train_supervised(
        train, lr=0.1, epoch=3, wordNgrams=3, dim=256, minCount=3, bucket=200_000, verbose=0
    )
    model.save_model(path)
    os.remove(train)


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU seconds of ``root`` and all its live descendants (Linux /proc)."""
    parent: dict[int, int] = {}
    cpu: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(entry)] = int(fields[1])
        cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    total, stack = 0.0, [root]
    while stack:
        pid = stack.pop()
        total += cpu.get(pid, 0.0)
        stack.extend(child for child, ppid in parent.items() if ppid == pid)
    return total


def timed(fn, tree: bool) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one call; CPU of the process tree when ``tree``."""
    cpu0 = tree_cpu_seconds(os.getpid()) if tree else time.process_time()
    t0 = time.perf_counter()
    fn()
    wall = time.perf_counter() - t0
    cpu1 = tree_cpu_seconds(os.getpid()) if tree else time.process_time()
    return wall, cpu1 - cpu0


def raw_loop(model, docs: list[str], k: int) -> None:
    for d in docs:
        model.predict(d.replace("\n", " "), k=k)


def raw_batch(model, docs: list[str], k: int) -> None:
    for i in range(0, len(docs), 10_000):
        model.predict([d.replace("\n", " ") for d in docs[i : i + 10_000]], k=k)


def spark_run(spark, parquet: str, stage) -> None:
    df = spark.read.parquet(parquet)
    decide(score(df, [stage]), [stage])[0].write.format("noop").mode("overwrite").save()


def measure(spark, name: str, model_path: str, stage, k: int, docs, parquet, repeat) -> dict:
    model = fasttext.load_model(model_path)
    stage.prepare(spark)
    spark_run(spark, parquet, stage)  # warm-up: starts the Python worker, loads the model
    n = len(docs)
    out: dict = {"docs": n}
    # Interleaved so a burst of load on the shared machine hits both sides alike.
    runs: dict[str, list[tuple[float, float]]] = {"raw_loop": [], "raw_batch": [], "spark": []}
    for _ in range(repeat):
        runs["raw_loop"].append(timed(lambda: raw_loop(model, docs, k), tree=False))
        runs["spark"].append(timed(lambda: spark_run(spark, parquet, stage), tree=True))
        runs["raw_batch"].append(timed(lambda: raw_batch(model, docs, k), tree=False))
    for key, ts in runs.items():
        wall = min(w for w, _ in ts)
        cpu = min(c for _, c in ts)
        out[key] = {
            "best_wall_s": round(wall, 3),
            "best_cpu_s": round(cpu, 3),
            "runs_wall_cpu_s": [[round(w, 3), round(c, 3)] for w, c in ts],
            "docs_per_s": round(n / wall),
            "docs_per_cpu_s": round(n / cpu),
        }
    for base in ("raw_loop", "raw_batch"):
        out[f"spark_vs_{base}_wall"] = round(
            out[base]["best_wall_s"] / out["spark"]["best_wall_s"], 3
        )
        out[f"spark_vs_{base}_cpu"] = round(out[base]["best_cpu_s"] / out["spark"]["best_cpu_s"], 3)
    print(
        f"{name}: docs/s wall (per CPU-second): raw loop {out['raw_loop']['docs_per_s']:,} "
        f"({out['raw_loop']['docs_per_cpu_s']:,}), raw batch {out['raw_batch']['docs_per_s']:,} "
        f"({out['raw_batch']['docs_per_cpu_s']:,}), Spark local[1] {out['spark']['docs_per_s']:,} "
        f"({out['spark']['docs_per_cpu_s']:,}); Spark / raw loop = "
        f"{out['spark_vs_raw_loop_wall']:.0%} wall, {out['spark_vs_raw_loop_cpu']:.0%} CPU"
    )
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--docs", type=int, default=20_000)
    p.add_argument("--doc-chars", type=int, default=3000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/fasttext_scoring.json")
    args = p.parse_args()

    from curation.session import SparkSettings, get_session

    docs, source = documents(args.docs, args.doc_chars)
    work = tempfile.mkdtemp(prefix="bench-fasttext-")
    try:
        model_path = os.path.join(work, "quality.bin")
        train_quality_model(docs, model_path)
        spark = get_session(
            SparkSettings(
                master="local[1]",
                ui=False,
                shuffle_partitions=1,
                conf={"spark.python.worker.reuse": "true"},
            )
        )
        parquet = os.path.join(work, "docs.parquet")
        rows = [(f"d{i:07d}", t) for i, t in enumerate(docs)]
        spark.createDataFrame(rows, "id string, text string").repartition(1).write.parquet(parquet)
        quality = FastTextQuality(
            FastTextQualityConfig(model_path=model_path, threshold=0.5)  # one pass, no quantile
        )
        langid = LangId(LangIdConfig())
        report = {
            "what": "fastText scoring in Spark local[1] vs raw predict on the same documents",
            "documents": source,
            "mean_doc_chars": round(sum(map(len, docs)) / len(docs)),
            "cpu_count": os.cpu_count(),
            "load_average_at_start": os.getloadavg()[0],
            "quality_dim256_ng3": measure(
                spark, "quality", model_path, quality, -1, docs, parquet, args.repeat
            ),
            "langid_lid176_ftz": measure(
                spark, "langid", bundled_lid_model(), langid, 1, docs, parquet, args.repeat
            ),
            "load_average_at_end": os.getloadavg()[0],
        }
        spark.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
