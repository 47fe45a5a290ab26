"""Throughput of the token count per core, beside datatrove's TokensCounter on the same rows.

On ~3.3 KB documents cut from the shared data (Wikipedia, Brown, SpamAssassin, Dolma; the same
cut as bench_quality.py), with a GPT-2-style byte-level BPE trained here on the shared text
(``--vocab`` tokens; no tokenizer is downloaded):

a. the kernel (``count_tokens``: ``encode_batch_fast`` per batch of 10,000) on one core, CPU time;
b. the token pass inside Spark ``local[1]``: ``TokenCount`` alone through the Arrow pass
   (``mapInArrow``), forced with a ``noop`` write; wall time with one executor core, and the CPU
   time of the JVM plus its Python workers (psutil), which a shared machine's load does not
   inflate;
c. what fusing costs: the length filter's pass alone, and with the count fused into it (the way
   a run with ``tokenizer:`` does it), same documents, wall and CPU time;
d. datatrove 0.10's ``TokensCounter`` (``encode_batch`` per 10,000 documents) in a peer venv
   that has datatrove and tokenizers, CPU time, and whether its counts equal ours row by row.

Every tokenizer runs single-threaded (TOKENIZERS_PARALLELISM=false), as curation runs it in
Spark, where each task has one core.

    python benchmarks/bench_tokens.py [--docs 1000] [--spark-copies 5] [--peer-python PATH]

Writes benchmarks/results/bench_tokens.json, with the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_quality import chunk_docs, time_noop_pass, write_result  # noqa: E402 - sibling script
from conformance_datatrove import DEFAULT_DATA, RESULTS, spark_session  # noqa: E402

os.environ["TOKENIZERS_PARALLELISM"] = "false"
DEFAULT_PEER = Path(__file__).resolve().parents[1] / ".venv-peers" / "bin" / "python"
BATCH = 10_000  # Spark's default arrow.maxRecordsPerBatch, and datatrove's batch_size

PEER_SCRIPT = r"""
import json, os, sys, time
os.environ["TOKENIZERS_PARALLELISM"] = "false"
from importlib.metadata import version
from datatrove.data import Document
from datatrove.pipeline.tokens import TokensCounter
src, tok, dst = sys.argv[1:4]
docs = [Document(text=d["text"], id=d["id"]) for d in json.load(open(src))]
best = float("inf")
for _ in range(3):
    counter = TokensCounter(tokenizer_name_or_path=tok)
    fresh = [Document(text=d.text, id=d.id) for d in docs]
    counter.tokenizer  # load outside the timing, as curation loads once per worker
    c0 = time.process_time()
    out = list(counter.run(iter(fresh)))
    best = min(best, time.process_time() - c0)
counts = {d.id: d.metadata["token_count"] for d in out}
json.dump({"cpu_seconds": best, "counts": counts,
           "versions": {"datatrove": version("datatrove"), "tokenizers": version("tokenizers")}},
          open(dst, "w"))
"""


def train_tokenizer(data: Path, vocab: int, path: Path) -> dict:
    """A byte-level BPE with GPT-2's pre-tokenizer, trained on the shared text."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    texts = []
    for name in ("text/wikipedia_sample.jsonl", "text/brown.jsonl", "text/spamassassin.jsonl"):
        with (data / name).open(encoding="utf-8") as fh:
            texts += [json.loads(line)["text"] for line in fh]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    t0 = time.perf_counter()
    tok.train_from_iterator(texts, trainer)
    tok.save(str(path))
    return {
        "kind": "byte-level BPE, GPT-2 pre-tokenizer",
        "vocab_size": tok.get_vocab_size(),
        "trained_on_mb": round(sum(len(t.encode()) for t in texts) / 1e6, 1),
        "train_seconds": round(time.perf_counter() - t0, 1),
    }


def bench_kernel(docs: list[dict], tokenizer: str, repeats: int = 3) -> tuple[dict, dict]:
    from curation.models import load_tokenizer, local_ref
    from curation.text.tokens import count_tokens

    tok = load_tokenizer(local_ref(tokenizer))
    texts = [d["text"] for d in docs]
    count_tokens(tok, texts[:50])  # warm-up
    best_cpu = best_wall = float("inf")
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        counts = []
        for i in range(0, len(texts), BATCH):
            counts += count_tokens(tok, texts[i : i + BATCH])
        best_cpu = min(best_cpu, time.process_time() - c0)
        best_wall = min(best_wall, time.perf_counter() - w0)
    result = {
        "docs": len(texts),
        "tokens": sum(counts),
        "cpu_seconds": round(best_cpu, 3),
        "wall_seconds": round(best_wall, 3),
        "docs_per_cpu_second": round(len(texts) / best_cpu, 1),
        "mb_per_cpu_second": round(sum(len(t.encode()) for t in texts) / 1e6 / best_cpu, 2),
    }
    return result, {d["id"]: n for d, n in zip(docs, counts, strict=True)}


def _time_pass(spark, out, repeats: int) -> tuple[float, float, float]:
    """Best wall seconds, best CPU seconds (JVM + Python workers) and its Python part."""
    t = time_noop_pass(spark, out, 1, repeats)
    return t["wall_seconds"], t["cpu_seconds_jvm_and_python"], t["cpu_seconds_python_workers"]


def bench_spark(docs: list[dict], copies: int, tokenizer: str, repeats: int = 3) -> dict:
    from curation.stages.length import LengthFilter, LengthFilterConfig
    from curation.stages.rowwise import score
    from curation.stages.tokens import TokenCount, TokenizerConfig

    spark = spark_session("local[1]")
    rows = [(f"{d['id']}-{k}", d["text"]) for k in range(copies) for d in docs]
    df = spark.createDataFrame(rows, "id string, text string").repartition(1).cache()
    df.count()
    tokens = TokenCount(TokenizerConfig(path=tokenizer))
    tokens.prepare(spark)  # ships the file, as a run does
    length = LengthFilter(LengthFilterConfig())
    alone, alone_cpu, alone_py = _time_pass(spark, score(df, [tokens]), repeats)
    length_only, length_cpu, _ = _time_pass(spark, score(df, [length]), repeats)
    fused, fused_cpu, _ = _time_pass(spark, score(df, [tokens, length]), repeats)
    df.unpersist()
    n = len(rows)
    return {
        "master": "local[1]",
        "docs": n,
        "token_pass_alone": {
            "wall_seconds": round(alone, 3),
            "docs_per_second_per_core": round(n / alone, 1),
            "cpu_seconds_jvm_and_python": round(alone_cpu, 3),
            "cpu_seconds_python_workers": round(alone_py, 3),
            "docs_per_cpu_second": round(n / alone_cpu, 1),
        },
        "length_pass": {"wall_seconds": round(length_only, 3), "cpu_seconds": round(length_cpu, 3)},
        "length_pass_with_tokens_fused": {
            "wall_seconds": round(fused, 3),
            "cpu_seconds": round(fused_cpu, 3),
            "added_cpu_seconds": round(fused_cpu - length_cpu, 3),
            "added_cpu_seconds_if_a_pass_of_its_own": round(alone_cpu, 3),
        },
        "batch": "default spark.sql.execution.arrow.maxRecordsPerBatch (10,000)",
    }


def bench_peer(peer_python: Path, docs: list[dict], tokenizer: str, ours: dict) -> dict:
    if not peer_python.exists():
        raise SystemExit(
            f"peer python {peer_python} not found: run `make .venv-peers/.installed` "
            "(or --skip-peer)"
        )
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "docs.json", Path(tmp) / "out.json"
        src.write_text(json.dumps(docs), encoding="utf-8")
        subprocess.run(
            [str(peer_python), "-c", PEER_SCRIPT, str(src), tokenizer, str(dst)], check=True
        )
        out = json.loads(dst.read_text(encoding="utf-8"))
    differ = [i for i, n in out["counts"].items() if ours.get(i) != n]
    return {
        **out["versions"],
        "docs": len(out["counts"]),
        "cpu_seconds": round(out["cpu_seconds"], 3),
        "docs_per_cpu_second": round(len(out["counts"]) / out["cpu_seconds"], 1),
        "counts_equal_ours": len(out["counts"]) - len(differ),
        "counts_differ": len(differ),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--peer-python", type=Path, default=DEFAULT_PEER)
    ap.add_argument("--docs", type=int, default=1000, help="distinct ~3.3 KB documents")
    ap.add_argument("--spark-copies", type=int, default=5, help="copies of the docs for Spark")
    ap.add_argument("--vocab", type=int, default=32_000, help="BPE vocabulary to train")
    ap.add_argument("--skip-peer", action="store_true")
    ap.add_argument("--out", type=Path, default=RESULTS / "bench_tokens.json")
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        raise SystemExit(f"data folder {args.data} not found (needs ../shared/data)")
    docs = chunk_docs(args.data, args.docs)
    result: dict = {
        "docs": len(docs),
        "mean_chars": round(sum(len(d["text"]) for d in docs) / len(docs), 1),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_before": [round(x, 2) for x in os.getloadavg()],
        },
    }
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = str(Path(tmp) / "tokenizer.json")
        result["tokenizer"] = train_tokenizer(args.data, args.vocab, Path(tokenizer))
        print("tokenizer", result["tokenizer"], file=sys.stderr)
        result["kernel_one_core"], ours = bench_kernel(docs, tokenizer)
        result["tokens_per_doc"] = round(result["kernel_one_core"]["tokens"] / len(docs), 1)
        print("kernel", result["kernel_one_core"], file=sys.stderr)
        result["spark_local1"] = bench_spark(docs, args.spark_copies, tokenizer)
        print("spark", result["spark_local1"], file=sys.stderr)
        if not args.skip_peer:
            result["datatrove"] = bench_peer(args.peer_python, docs, tokenizer, ours)
            print("datatrove", result["datatrove"], file=sys.stderr)
            peer = result["datatrove"]["docs_per_cpu_second"]
            result["speedup_vs_datatrove_cpu"] = {
                "kernel": round(result["kernel_one_core"]["docs_per_cpu_second"] / peer, 2),
                "spark_local1": round(
                    result["spark_local1"]["token_pass_alone"]["docs_per_cpu_second"] / peer, 2
                ),
            }
    write_result(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
