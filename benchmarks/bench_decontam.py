"""Throughput of the decontaminate stage, per core, and the cost of its benchmark index.

Documents: ~3 KB pieces of the Brown texts (``decontam_eval.host_docs``), repeated to
``--docs``; 1% of them carry an injected item so the match path runs too. Benchmark items:
60-word question/answer pairs in a JSONL file (``make_items``: Wikipedia windows, then random
words from the sample's vocabulary for the larger sizes).

a. the kernel alone (``match_documents`` over Arrow batches of 10,000), one core, CPU time;
b. the stage inside Spark ``local[1]`` through the Arrow pass, score and decide, forced with a
   ``noop`` write, best of three; wall time with one executor core and the CPU time of the JVM
   plus its Python workers;
c. ``prepare`` (read the benchmark with Spark, build, write and ship the index) for each
   benchmark size, and the index's size;
d. the kernel with the largest index (lookups in a bigger sorted array).

    python benchmarks/bench_decontam.py [--docs 20000] [--items 10000 100000 300000]

Writes benchmarks/results/decontam_bench.json. The load average is recorded next to each figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_quality import _spark_cpu_seconds  # noqa: E402 - sibling script, not a package
from conformance_datatrove import spark_session  # noqa: E402
from decontam_eval import DEFAULT_DATA, RESULTS, host_docs  # noqa: E402


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def make_items(data: Path, count: int, width: int = 60) -> list[dict]:
    """``count`` QA items of ``width`` words: windows over the Wikipedia sample (stride 45, about
    10,900 of them), then, beyond those, words drawn at random (seeded) from the sample's word
    frequencies, so that every item has n-grams of its own (overlapping windows would share
    them, and the template rule would leave them out of the index)."""
    words: list[str] = []
    with open(data / "text" / "wikipedia_sample.jsonl", encoding="utf-8") as fh:
        for line in fh:
            words += json.loads(line)["text"].split()
    rng = random.Random(7)
    items = []
    for k in range(count):
        if (k + 1) * 45 + width <= len(words):
            w = words[k * 45 : k * 45 + width]
        else:
            w = rng.choices(words, k=width)
        items.append({"qid": str(k), "question": " ".join(w[:15]), "answer": " ".join(w[15:])})
    return items


def make_docs(data: Path, count: int, items: list[dict]) -> list[tuple[str, str]]:
    hosts = host_docs(data, first_text=0)
    docs = []
    for i in range(count):
        text = hosts[i % len(hosts)]
        if i % 100 == 0:  # 1% contaminated
            item = items[i % len(items)]
            text = text + "\n\n" + item["question"] + " " + item["answer"]
        docs.append((f"d{i}", text))
    return docs


def config(bench_path: str):
    from curation.stages.decontaminate import DecontaminateConfig

    return DecontaminateConfig(
        benchmarks=[
            {"name": "b", "path": bench_path, "fields": ["question", "answer"], "id_field": "qid"}
        ]
    )


def bench_kernel(index, docs: list[tuple[str, str]], n: int) -> dict:
    import pyarrow as pa

    from curation.text.ngrams_hash import match_documents

    batches = [pa.array([t for _, t in docs[i : i + 10_000]]) for i in range(0, len(docs), 10_000)]
    match_documents(index, batches[0][:100], n)  # warm-up
    load = _load()
    t0, w0 = time.process_time(), time.perf_counter()
    found = sum(int((match_documents(index, b, n).matched > 0).sum()) for b in batches)
    cpu, wall = time.process_time() - t0, time.perf_counter() - w0
    return {
        "docs": len(docs),
        "cpu_seconds": round(cpu, 3),
        "docs_per_cpu_second": round(len(docs) / cpu, 1),
        "wall_seconds": round(wall, 3),
        "docs_with_a_match": found,
        "load": load,
    }


def bench_spark(spark, stage, docs: list[tuple[str, str]], repeats: int = 3) -> dict:
    from curation.stages.rowwise import apply_row_stages

    df = spark.createDataFrame(docs, "id string, text string").repartition(1).cache()
    df.count()
    out = df.transform(apply_row_stages, [stage])
    out.write.format("noop").mode("overwrite").save()  # warm-up: worker start, index load
    load = _load()
    best = best_cpu = float("inf")
    for _ in range(repeats):
        jvm0, py0 = _spark_cpu_seconds(spark)
        t0 = time.perf_counter()
        out.write.format("noop").mode("overwrite").save()
        best = min(best, time.perf_counter() - t0)
        jvm1, py1 = _spark_cpu_seconds(spark)
        best_cpu = min(best_cpu, (jvm1 - jvm0) + (py1 - py0))
    df.unpersist()
    return {
        "master": "local[1]",
        "docs": len(docs),
        "mean_doc_chars": round(sum(len(t) for _, t in docs) / len(docs)),
        "wall_seconds": round(best, 3),
        "docs_per_second_per_core": round(len(docs) / best, 1),
        "cpu_seconds_jvm_and_python": round(best_cpu, 3),
        "docs_per_cpu_second": round(len(docs) / best_cpu, 1),
        "load_before": load,
        "load_after": _load(),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--docs", type=int, default=20_000)
    ap.add_argument("--items", type=int, nargs="+", default=[10_000, 100_000, 300_000])
    ap.add_argument("--out", type=Path, default=RESULTS / "decontam_bench.json")
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        raise SystemExit(f"data folder {args.data} not found (needs ../shared/data)")
    from curation.stages.decontaminate import Decontaminate
    from curation.stages.decontaminate_index import load_index

    spark = spark_session("local[1]")
    res: dict = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": "python benchmarks/bench_decontam.py --docs "
        + f"{args.docs} --items {' '.join(map(str, args.items))}",
        "machine": f"{os.cpu_count()} cores, Python {platform.python_version()}",
        "runs": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for count in args.items:
            items = make_items(args.data, count)
            path = Path(tmp) / f"bench{count}.jsonl"
            path.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
            stage = Decontaminate(config(str(path)))
            load = _load()
            t0 = time.perf_counter()
            stage.prepare(spark)
            prepare_s = time.perf_counter() - t0
            run = {
                "items": count,
                "prepare_seconds": round(prepare_s, 2),
                "prepare_load": load,
                "index": stage.run_details(),
            }
            docs = make_docs(args.data, args.docs, items)
            index, _ = load_index(stage._index)  # noqa: SLF001 - the shipped index, on the driver
            run["kernel_one_core"] = bench_kernel(index, docs, stage.config.ngram)
            if count == args.items[0]:
                run["spark_local1"] = bench_spark(spark, stage, docs)
            res["runs"][str(count)] = run
            print(json.dumps(run, indent=2), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
