"""The decontaminate stage's two paths at scale, and the cost of its benchmark index.

Documents: ~3 KB pieces of the Brown texts (``decontam_eval.host_docs``), repeated to
``--docs`` and written once as Parquet; 1% of them carry an injected item so the match path
runs too. Benchmark items: 60-word question/answer pairs in a JSONL file (``make_items``:
Wikipedia windows, then random words from the sample's vocabulary for the larger sizes).

For each benchmark size:

a. ``prepare`` of each path (read the benchmark with Spark and build the index; the broadcast
   path also writes and ships it), and the index's size;
b. each path over all documents in Spark ``local[2]``, score and decide, forced with a ``noop``
   write: the broadcast path (index memory-mapped on executors) and the join path (index and
   document n-gram hashes as DataFrames, joined); one timed run each after a warm-up on 1% of
   the documents, wall time and docs/s per core, the load beside each; both must drop the
   same number of documents;
c. the kernel alone (``match_documents`` over Arrow batches of 10,000), one core, CPU time.

The stage's row in the harness (``benchmarks/run.py``, stage kind ``decontaminate``) is its
throughput in a whole ``curation run``; this script is about choosing between the paths.

    python benchmarks/bench_decontam.py [--docs 100000] [--items 100000 300000]

Writes benchmarks/results/decontam_bench.json.
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


def config(bench_path: str, method: str = "auto"):
    from curation.stages.decontaminate import DecontaminateConfig

    return DecontaminateConfig(
        benchmarks=[
            {"name": "b", "path": bench_path, "fields": ["question", "answer"], "id_field": "qid"}
        ],
        method=method,
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


def bench_paths(spark, stages: dict, docs_path: str, docs: int) -> dict:
    """Each path over the documents (after a warm-up on 1% of them); noop sink, wall time."""
    from pyspark.sql import functions as F

    from curation import columns as C
    from curation.stages.base import ensure_decision_columns
    from curation.stages.rowwise import apply_row_stages

    df = ensure_decision_columns(spark.read.parquet(docs_path))
    out: dict = {}
    for method, stage in stages.items():

        def decided(rows, stage=stage, method=method):
            if method == "broadcast":
                return rows.transform(apply_row_stages, [stage])
            return stage.apply(rows, {}).rows

        decided(df.limit(max(1, docs // 100))).write.format("noop").mode("overwrite").save()
        load = _load()
        t0 = time.perf_counter()
        decided(df).write.format("noop").mode("overwrite").save()
        wall = time.perf_counter() - t0
        dropped = decided(df).filter(F.col(C.DROP_REASON).isNotNull()).count()
        out[method] = {
            "master": "local[2]",
            "docs": docs,
            "wall_seconds": round(wall, 2),
            "docs_per_second_per_core": round(docs / wall / 2, 1),
            "dropped": dropped,
            "load_before": load,
            "load_after": _load(),
        }
        print(method, json.dumps(out[method]), flush=True)
    if len({r["dropped"] for r in out.values()}) != 1:
        raise SystemExit(f"the paths disagree: {out}")
    return out


def write_docs(docs: list[tuple[str, str]], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    ids, texts = zip(*docs, strict=True)
    pq.write_table(pa.table({"id": list(ids), "text": list(texts)}), path, row_group_size=5000)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--items", type=int, nargs="+", default=[100_000, 300_000])
    ap.add_argument("--out", type=Path, default=RESULTS / "decontam_bench.json")
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        raise SystemExit(f"data folder {args.data} not found (needs ../shared/data)")
    from curation.stages.decontaminate import Decontaminate
    from curation.stages.decontaminate_index import load_index

    spark = spark_session("local[2]")
    spark.conf.set("spark.sql.shuffle.partitions", "16")
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
            docs = make_docs(args.data, args.docs, items)
            docs_path = Path(tmp) / f"docs{count}.parquet"
            write_docs(docs, docs_path)
            run: dict = {"items": count, "prepare": {}}
            stages = {}
            for method in ("broadcast", "join"):
                stage = Decontaminate(config(str(path), method))
                load = _load()
                t0 = time.perf_counter()
                stage.prepare(spark)
                run["prepare"][method] = {
                    "seconds": round(time.perf_counter() - t0, 2),
                    "load": load,
                }
                stages[method] = stage.resolved()
                run["index"] = stage.run_details()
            run["spark"] = bench_paths(spark, stages, str(docs_path), len(docs))
            index, _ = load_index(stages["broadcast"]._index)  # noqa: SLF001 - the shipped index
            run["kernel_one_core"] = bench_kernel(index, docs, stages["broadcast"].config.ngram)
            res["runs"][str(count)] = run
            print(json.dumps(run, indent=2), flush=True)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
