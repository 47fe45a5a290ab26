"""Throughput of the PII stage per core: the pure kernel, and the stage inside Spark ``local[1]``.

On ~3.2 KB documents cut from the shared data (Wikipedia, Brown, SpamAssassin, Dolma CC; the
mails bring real addresses and phone numbers), all in one run:

a. the kernel on one core, CPU time of this process: ``find_pii`` and ``redact`` with every
   kind redacted on every document, and as the stage runs it (the ``CANDIDATES`` pattern over
   the whole batch with pyarrow's RE2 first, the Python scan only on the documents it admits);
b. the stage (defaults: every kind redacted) inside Spark ``local[1]`` through the Arrow pass,
   score and decide, forced with a ``noop`` write; wall time with one executor core, and the
   CPU time of the JVM plus its Python workers (psutil), which other load does not inflate;
c. Presidio's pattern recognizers on the first documents, CPU time in the peer venv, for scale.

    .venv/bin/python benchmarks/bench_pii.py [--docs 2000] [--spark-copies 50] [--skip-peer]

Writes benchmarks/results/pii_bench.json (100,000 documents in Spark by default;
pii_bench_20k.json is the same run with --spark-copies 10). Target: 5,000 documents per second per core in Spark.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_quality import chunk_docs, time_noop_pass, write_result  # noqa: E402 - sibling script
from conformance_datatrove import DEFAULT_DATA, RESULTS, spark_session  # noqa: E402
from pii_eval import PEER, run_presidio  # noqa: E402


def bench_kernel(texts: list[str], repeats: int = 3) -> dict:
    """Per document, and as the stage runs it: RE2 prefilter over the batch, then the rest."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from curation.stages.pii import PiiConfig
    from curation.text.pii import CANDIDATES, find_pii, redact

    cfg = PiiConfig()
    params, placeholders = cfg.params(), cfg.placeholders()
    batch = pa.array(texts)

    def every_doc() -> int:
        found = 0
        for t in texts:
            spans = find_pii(t, params)
            if spans:
                redact(t, spans, placeholders)
                found += len(spans)
        return found

    def prefiltered() -> int:
        hit = pc.match_substring_regex(batch, CANDIDATES)
        picked = pc.filter(batch, hit).to_pylist()
        for t in picked:
            spans = find_pii(t, params)
            if spans:
                redact(t, spans, placeholders)
        return len(picked)

    out = {"docs": len(texts), "spans_found": every_doc()}  # also the warm-up
    out["docs_with_pii"] = sum(1 for t in texts if find_pii(t, params))
    for name, fn in (("every_doc", every_doc), ("with_batch_prefilter", prefiltered)):
        best = float("inf")
        for _ in range(repeats):
            c0 = time.process_time()
            result = fn()
            best = min(best, time.process_time() - c0)
        out[name] = {
            "cpu_seconds": round(best, 3),
            "docs_per_cpu_second": round(len(texts) / best, 1),
            "us_per_doc_cpu": round(best / len(texts) * 1e6, 1),
            "mb_per_cpu_second": round(sum(len(t) for t in texts) / best / 1e6, 2),
        }
    out["with_batch_prefilter"]["docs_scanned_in_python"] = result
    return out


def bench_spark(docs: list[dict], copies: int, repeats: int = 3) -> dict:
    from curation.stages.pii import PiiConfig, PiiStage
    from curation.stages.rowwise import apply_row_stages

    spark = spark_session("local[1]")
    rows = [(f"{d['id']}-{k}", d["text"]) for k in range(copies) for d in docs]
    df = spark.createDataFrame(rows, "id string, text string").repartition(1).cache()
    df.count()
    out = df.transform(apply_row_stages, [PiiStage(PiiConfig())])
    timed = time_noop_pass(spark, out, len(rows), repeats)
    df.unpersist()
    return {
        "master": "local[1]",
        **timed,
        "stage": "PiiConfig() defaults: every kind redacted, counts for all seven kinds",
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--peer-python", type=Path, default=PEER)
    ap.add_argument("--docs", type=int, default=2000, help="distinct ~3.2 KB documents")
    ap.add_argument("--spark-copies", type=int, default=50, help="copies of the docs for Spark")
    ap.add_argument("--peer-docs", type=int, default=500)
    ap.add_argument("--skip-peer", action="store_true")
    ap.add_argument("--out", type=Path, default=RESULTS / "pii_bench.json")
    args = ap.parse_args(argv)
    docs = chunk_docs(args.data, args.docs)
    texts = [d["text"] for d in docs]
    result: dict = {
        "docs": len(docs),
        "mean_chars": round(sum(map(len, texts)) / len(texts), 1),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_before": [round(x, 2) for x in os.getloadavg()],
        },
    }
    result["kernel_one_core"] = bench_kernel(texts)
    result["machine"]["load_average_after_kernel"] = [round(x, 2) for x in os.getloadavg()]
    print("kernel", result["kernel_one_core"], file=sys.stderr)
    result["spark_local1"] = bench_spark(docs, args.spark_copies)
    result["machine"]["load_average_after_spark"] = [round(x, 2) for x in os.getloadavg()]
    print("spark", result["spark_local1"], file=sys.stderr)
    if not args.skip_peer:
        sample = {d["id"]: d["text"] for d in docs[: args.peer_docs]}
        _spans, info = run_presidio(args.peer_python, sample)
        result["presidio_one_core"] = {
            **info["versions"],
            "docs": len(sample),
            "cpu_seconds": info["cpu_seconds"],
            "docs_per_cpu_second": round(len(sample) / info["cpu_seconds"], 1),
        }
    write_result(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
