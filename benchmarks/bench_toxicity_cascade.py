"""The toxicity cascade in Spark on the benchmark corpus: screen setting vs speed vs recall.

    python benchmarks/bench_toxicity_cascade.py --heads models/toxicity_heads.npz \
        --screen-model models/toxicity_screen.bin [--docs 3000] [--master local[1]]
        [--out benchmarks/results/toxicity_cascade.json]

The corpus is the benchmark's (`curation sample --base auto --lengths web`, seed 42: web-like
lengths around 2.5 KB, 3% injected toxic pages). For each setting the toxicity stage (lexicon +
semantic backend, policies keep) runs over a Parquet copy in Spark (``mapInArrow``, noop sink)
after a warm-up pass that starts the worker and loads the models; reported: documents/s (wall,
per core of the master), and the scorer's CPU seconds per document outside Spark (robust to the
load of a shared machine). Recall: of the injected toxic pages, the share whose semantic
``tox_sem_hate`` reaches 0.5, next to the same without any screen (which embeds every sentence,
so it runs on the toxic pages only).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_toxicity import spark_session_for, timed_pass  # noqa: E402

# (name, screen settings); the first is the default recipe's.
SETTINGS = (
    ("terms (default)", {"terms": True}),
    ("terms + fastText >= 0.5", {"terms": True, "fasttext_threshold": 0.5}),
    ("fastText >= 0.5", {"terms": False, "fasttext_threshold": 0.5}),
    ("fastText >= 0.2", {"terms": False, "fasttext_threshold": 0.2}),
)


def corpus(n: int, seed: int = 42):
    from curation.datasets.sample import make_document, resolve_options

    opts = resolve_options("auto", "web")
    return [make_document(seed, i, opts) for i in range(n)]


def stage_for(heads: str, screen_model: str | None, screen: dict):
    from curation.stages.toxicity import Toxicity, ToxicityConfig
    from curation.stages.toxicity.config import (
        LexiconBackendConfig,
        ScreenConfig,
        SemanticBackendConfig,
    )

    sc = dict(screen)
    if "fasttext_threshold" in sc:
        sc["fasttext_model"] = screen_model
    sem = SemanticBackendConfig(model_path=heads, screen=ScreenConfig(**sc))
    cfg = ToxicityConfig(backends=(LexiconBackendConfig(), sem), on_mild="keep", on_toxic="keep")
    return Toxicity(cfg)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--heads", required=True)
    ap.add_argument("--screen-model", default=None)
    ap.add_argument("--docs", type=int, default=3000)
    ap.add_argument("--master", default="local[1]")
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/toxicity_cascade.json"))
    args = ap.parse_args(argv)

    import pyarrow as pa
    import pyarrow.parquet as pq

    from curation.stages.rowwise import score

    docs = corpus(args.docs)
    ids = [d[0] for d in docs]
    texts = [d[1] for d in docs]
    toxic = {d[0] for d in docs if d[3] == "toxic"}
    cores = int(args.master.removeprefix("local[").rstrip("]") or 1)
    spark = spark_session_for(args.master)
    settings = [s for s in SETTINGS if args.screen_model or "fasttext_threshold" not in s[1]]
    result: dict = {
        "docs": len(docs),
        "toxic_docs": len(toxic),
        "mean_chars": round(sum(map(len, texts)) / len(texts)),
        "master": args.master,
        "load_average_start": list(os.getloadavg()),
        "settings": [],
    }
    with tempfile.TemporaryDirectory(prefix="tox-cascade-") as work:
        path, warm = os.path.join(work, "docs.parquet"), os.path.join(work, "warm.parquet")
        table = pa.table({"id": ids, "text": texts})
        pq.write_table(table, path)
        pq.write_table(table.slice(0, 50), warm)
        timed_pass(spark.read.parquet(warm))
        sample = [i for i, d in enumerate(ids) if d in toxic]
        sample_tab = table.take(pa.array(sorted(sample)))
        # No screen at all, on the toxic pages and as many others: the recall the screens cost.
        bare = stage_for(args.heads, None, {"terms": False})
        bare_scores = bare.scorer()(sample_tab.combine_chunks().to_batches()[0])
        flagged = [
            i
            for i, h in zip(
                sample_tab.column("id").to_pylist(),
                bare_scores["tox_sem_hate"].to_pylist(),
                strict=True,
            )
            if h is not None and h >= 0.5
        ]
        bare_toxic = {i for i in flagged if i in toxic}
        result["no_screen"] = {"toxic_recall": len(bare_toxic) / max(1, len(toxic))}
        for name, screen in settings:
            stage = stage_for(args.heads, args.screen_model, screen)
            stage.prepare(spark)
            timed_pass(score(spark.read.parquet(warm), [stage]))  # worker up, models loaded
            secs = timed_pass(score(spark.read.parquet(path), [stage]))
            run = stage.scorer()
            c0 = time.process_time()
            hate: list = []
            for batch in table.to_batches(max_chunksize=10_000):
                out = run(batch)
                hate.extend(out["tox_sem_hate"].to_pylist())
            cpu = time.process_time() - c0
            caught = {i for i, h in zip(ids, hate, strict=True) if h is not None and h >= 0.5}
            row = {
                "screen": name,
                "spark_seconds": round(secs, 2),
                "docs_per_s_per_core": round(len(docs) / secs / cores),
                "scorer_cpu_ms_per_doc": round(1000 * cpu / len(docs), 3),
                "scorer_docs_per_cpu_s": round(len(docs) / cpu),
                "toxic_recall": len(caught & toxic) / max(1, len(toxic)),
                "recall_kept_vs_no_screen": len(caught & bare_toxic) / max(1, len(bare_toxic)),
                "clean_flagged_share": len(caught - toxic) / max(1, len(docs) - len(toxic)),
                "load_average": list(os.getloadavg()),
            }
            print(json.dumps(row), flush=True)
            result["settings"].append(row)
    spark.stop()
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=2)
        fh.write("\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
