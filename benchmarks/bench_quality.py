"""Throughput of the heuristic quality signals, per core, beside datatrove's four filters.

Measures, on the same ~3.3 KB documents cut from the shared data (Wikipedia, Brown, SpamAssassin,
Dolma), all in one run:

a. the pure kernel (``score_document``: every Gopher, C4, FineWeb and RedPajama-V2 signal, C4
   rewrite on) on one core, CPU time of this process;
b. the quality stage inside Spark ``local[1]`` through the Arrow pass (``mapInArrow``), score and
   decide, forced with a ``noop`` write; wall time with one executor core, and the CPU time of
   the JVM plus its Python workers (psutil), which a shared machine's load does not inflate;
c. datatrove 0.10's GopherRepetition, GopherQuality, C4Quality and FineWebQuality filters in the
   peer venv (see conformance_datatrove.py), CPU time: each filter on every document, and the
   four as a pipeline (a drop ends the document).

    python benchmarks/bench_quality.py [--docs 1000] [--spark-copies 5]

Writes benchmarks/results/bench_quality.json. The machine is shared: the load average before and
after is recorded, and CPU time (not wall time) is used wherever one process does all the work.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conformance_datatrove import (  # noqa: E402 - sibling script, not a package
    DEFAULT_DATA,
    DEFAULT_PEER,
    PEER_SCRIPT,
    RESULTS,
    run_peer,
    spark_session,
)

TARGET_CHARS = 3300


def chunk_docs(data: Path, n: int) -> list[dict]:
    """~3.3 KB documents cut at paragraph (or line) boundaries, from several sources in turn."""
    files = [
        data / "text" / "wikipedia_sample.jsonl",
        data / "text" / "brown.jsonl",
        data / "text" / "spamassassin.jsonl",
        data / "web" / "dolma_cc_samples.jsonl",
    ]
    pools: list[list[str]] = []
    for path in files:
        chunks: list[str] = []
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                text = json.loads(line)["text"]
                cur = ""
                for part in text.split("\n"):
                    cur += part + "\n"
                    if len(cur) >= TARGET_CHARS:
                        chunks.append(cur.strip())
                        cur = ""
                if len(cur) >= TARGET_CHARS // 2:
                    chunks.append(cur.strip())
        pools.append(chunks)
    docs: list[dict] = []
    i = 0
    while len(docs) < n and any(pools):
        pool = pools[i % len(pools)]
        if pool:
            docs.append({"id": f"doc-{len(docs):05d}", "text": pool.pop(0)})
        i += 1
    return docs


def bench_kernel(docs: list[dict], repeats: int = 3) -> dict:
    from curation.stages.quality import QualityConfig

    params = QualityConfig().signal_params("en")
    from curation.text.quality_signals import score_document

    texts = [d["text"] for d in docs]
    for t in texts[:50]:  # warm caches (hashes of interned strings, numpy dispatch)
        score_document(t, params)
    best_cpu = best_wall = float("inf")
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        for t in texts:
            score_document(t, params)
        best_cpu = min(best_cpu, time.process_time() - c0)
        best_wall = min(best_wall, time.perf_counter() - w0)
    return {
        "docs": len(texts),
        "cpu_seconds": round(best_cpu, 3),
        "wall_seconds": round(best_wall, 3),
        "docs_per_cpu_second": round(len(texts) / best_cpu, 1),
        "us_per_doc_cpu": round(best_cpu / len(texts) * 1e6, 1),
    }


def bench_spark(docs: list[dict], copies: int, repeats: int = 3) -> dict:
    from curation.stages.quality import QualityConfig, QualityStage
    from curation.stages.rowwise import apply_row_stages

    spark = spark_session("local[1]")
    rows = [(f"{d['id']}-{k}", d["text"]) for k in range(copies) for d in docs]
    df = spark.createDataFrame(rows, "id string, text string").repartition(1).cache()
    df.count()
    stage = QualityStage(QualityConfig())
    out = df.transform(apply_row_stages, [stage])
    timed = time_noop_pass(spark, out, len(rows), repeats)
    # the JVM's own threads (GC, heartbeats, listeners) also burn CPU while idle; measure that
    # over a quiet second so the job's JVM share can be read net of it
    jvm0, _ = _spark_cpu_seconds(spark)
    time.sleep(2.0)
    jvm_idle_per_s = (_spark_cpu_seconds(spark)[0] - jvm0) / 2.0
    df.unpersist()
    return {
        "master": "local[1]",
        **timed,
        "jvm_idle_cpu_seconds_per_wall_second": round(jvm_idle_per_s, 3),
        "batch": "default spark.sql.execution.arrow.maxRecordsPerBatch (10,000)",
    }


def time_noop_pass(spark, out, rows: int, repeats: int = 3) -> dict:
    """Force ``out`` with a ``noop`` write: once to warm up (worker start, imports, model or
    list loads), then ``repeats`` times; the best wall time, and the best CPU time of the JVM
    plus its Python workers (what the job cost, whatever else runs on the machine). The
    per-core rates assume the session has one executor core (``local[1]``)."""
    out.write.format("noop").mode("overwrite").save()
    best = best_cpu = float("inf")
    split = (0.0, 0.0)
    for _ in range(repeats):
        jvm0, py0 = _spark_cpu_seconds(spark)
        t0 = time.perf_counter()
        out.write.format("noop").mode("overwrite").save()
        best = min(best, time.perf_counter() - t0)
        jvm1, py1 = _spark_cpu_seconds(spark)
        if (jvm1 - jvm0) + (py1 - py0) < best_cpu:
            best_cpu = (jvm1 - jvm0) + (py1 - py0)
            split = (jvm1 - jvm0, py1 - py0)
    return {
        "docs": rows,
        "wall_seconds": round(best, 3),
        "docs_per_second_per_core": round(rows / best, 1),
        "cpu_seconds_jvm_and_python": round(best_cpu, 3),
        "cpu_seconds_jvm": round(split[0], 3),
        "cpu_seconds_python_workers": round(split[1], 3),
        "docs_per_cpu_second": round(rows / best_cpu, 1),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def _spark_cpu_seconds(spark) -> tuple[float, float]:
    """CPU time of the Spark JVM, and of all its child processes (the Python workers)."""
    import psutil

    jvm = psutil.Process(spark.sparkContext._gateway.proc.pid)  # noqa: SLF001
    t = jvm.cpu_times()
    children = 0.0
    for proc in jvm.children(recursive=True):
        try:
            c = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        children += c.user + c.system
    return t.user + t.system, children


def bench_peer(peer_python: Path, docs: list[dict]) -> dict:
    out = run_peer(peer_python, docs, mode="bench")
    per = {k: round(v, 3) for k, v in out["filter_cpu_seconds"].items()}
    all_four = sum(out["filter_cpu_seconds"].values())
    return {
        **out["versions"],
        "docs": out["docs"],
        "filter_cpu_seconds_each_on_every_doc": per,
        "all_four_on_every_doc_docs_per_cpu_second": round(out["docs"] / all_four, 1),
        "pipeline_cpu_seconds": round(out["pipeline_cpu_seconds"], 3),
        "pipeline_docs_per_cpu_second": round(out["docs"] / out["pipeline_cpu_seconds"], 1),
    }


def write_result(result: dict, out: Path) -> None:
    """The machine's load after the run, then ``result`` as JSON to ``out`` and stdout."""
    result["machine"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    text = json.dumps(result, indent=2, ensure_ascii=False)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n", encoding="utf-8")
    print(text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--peer-python", type=Path, default=DEFAULT_PEER)
    ap.add_argument("--docs", type=int, default=1000, help="distinct ~3.3 KB documents")
    ap.add_argument("--spark-copies", type=int, default=5, help="copies of the docs for Spark")
    ap.add_argument("--skip-peer", action="store_true")
    ap.add_argument("--out", type=Path, default=RESULTS / "bench_quality.json")
    args = ap.parse_args(argv)
    docs = chunk_docs(args.data, args.docs)
    mean_chars = sum(len(d["text"]) for d in docs) / len(docs)
    load_before = os.getloadavg()
    result: dict = {
        "docs": len(docs),
        "mean_chars": round(mean_chars, 1),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_before": [round(x, 2) for x in load_before],
        },
    }
    result["kernel_one_core"] = bench_kernel(docs)
    print("kernel", result["kernel_one_core"], file=sys.stderr)
    result["spark_local1"] = bench_spark(docs, args.spark_copies)
    print("spark", result["spark_local1"], file=sys.stderr)
    if not args.skip_peer:
        result["datatrove"] = bench_peer(args.peer_python, docs)
        print("datatrove", result["datatrove"], file=sys.stderr)
        peer_rate = result["datatrove"]["all_four_on_every_doc_docs_per_cpu_second"]
        # CPU time against CPU time: the peer's figure is CPU time too
        result["speedup_vs_datatrove_all_four_cpu"] = {
            "kernel": round(result["kernel_one_core"]["docs_per_cpu_second"] / peer_rate, 1),
            "spark_local1": round(result["spark_local1"]["docs_per_cpu_second"] / peer_rate, 1),
        }
    write_result(result, args.out)
    return 0


assert "bench" in PEER_SCRIPT  # the peer script's bench mode is what bench_peer reads

if __name__ == "__main__":
    sys.exit(main())
