"""datatrove's four heuristic filters as FineWeb chains them, over the harness' corpus (peer venv).

GopherRepetitionFilter -> GopherQualityFilter -> C4QualityFilter -> FineWebQualityFilter with
their defaults, each document through the chain until one drops it, in one process (one core):
that is the per-core rate to set against our quality stage. datatrove's spaCy word tokenizer is
its cost, so only the first ``--limit`` documents are used; the rate does not depend on how many.

    .venv-peers/bin/python benchmarks/peers/datatrove_filters.py --input DIR --limit 1000 --out r.json
"""

from __future__ import annotations

import argparse
import json
import time
from importlib.metadata import version
from pathlib import Path

import pyarrow.dataset as ds
from datatrove.data import Document
from datatrove.pipeline.filters import (
    C4QualityFilter,
    FineWebQualityFilter,
    GopherQualityFilter,
    GopherRepetitionFilter,
)
from datatrove.utils.text import split_into_words


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", required=True, type=Path, help="Parquet directory (id, text)")
    ap.add_argument("--limit", type=int, default=1000)
    ap.add_argument("--out", required=True, type=Path)
    args = ap.parse_args()

    table = ds.dataset(args.input, format="parquet").head(args.limit, columns=["id", "text"])
    docs = list(zip(table.column("id").to_pylist(), table.column("text").to_pylist(), strict=True))
    chain = [
        GopherRepetitionFilter(),
        GopherQualityFilter(),
        C4QualityFilter(),
        FineWebQualityFilter(),
    ]
    split_into_words("warm up the tokenizer.")  # spaCy loads lazily; not part of the rate

    dropped: dict[str, str] = {}
    wall0, cpu0 = time.monotonic(), time.process_time()
    for doc_id, text in docs:
        doc = Document(text=text or "", id=doc_id)
        for f in chain:
            res = f.filter(doc)
            if res is not True:
                reason = res[1] if isinstance(res, tuple) else "dropped"
                dropped[doc_id] = f"{type(f).__name__}:{reason}"
                break
    wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
    result = {
        "tool": "datatrove filters (GopherRepetition, GopherQuality, C4Quality, FineWebQuality)",
        "version": version("datatrove"),
        "docs": len(docs),
        "chars": sum(len(t or "") for _, t in docs),
        "seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "docs_per_s_per_core": round(len(docs) / wall, 1) if wall else None,
        "ids": [d for d, _ in docs],
        "dropped": dropped,
    }
    args.out.write_text(json.dumps(result))
    print(json.dumps({k: v for k, v in result.items() if k not in ("ids", "dropped")}))


if __name__ == "__main__":
    main()
