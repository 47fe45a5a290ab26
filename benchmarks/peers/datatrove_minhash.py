"""datatrove's MinHash near-dedup (the FineWeb configuration) as a peer runner.

Run: ``.venv-peers/bin/python benchmarks/peers/datatrove_minhash.py --input DIR --threshold 0.8
--workers 2 --out result.json``. DIR holds JSONL files (``*.jsonl``, read with datatrove's
JsonlReader) or Parquet files (ParquetReader), with ``id`` and ``text``. Four
LocalPipelineExecutor stages, as in datatrove's FineWeb example: signatures -> buckets ->
clusters -> filter. Removed ids come from the filter step's exclusion_writer. datatrove has no
threshold parameter: 14 bands x 8 rows fix it (recorded).
"""

from __future__ import annotations

import importlib.metadata
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pyarrow.dataset as ds  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from _common import parse_args, write_result  # noqa: E402
from datatrove.executor import LocalPipelineExecutor  # noqa: E402
from datatrove.pipeline.dedup.minhash import (  # noqa: E402
    MinhashConfig,
    MinhashDedupBuckets,
    MinhashDedupCluster,
    MinhashDedupFilter,
    MinhashDedupSignature,
)
from datatrove.pipeline.readers import JsonlReader, ParquetReader  # noqa: E402
from datatrove.pipeline.writers import ParquetWriter  # noqa: E402
from datatrove.utils.hashing import HashConfig  # noqa: E402


def _lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 24), b""))


def main() -> None:
    args = parse_args(__doc__.split("\n\n")[0])
    work = Path(tempfile.mkdtemp(prefix="peer_datatrove_"))
    try:
        jsonl = sorted(args.input.glob("*.jsonl"))
        parquet = sorted(args.input.glob("*.parquet"))
        fmt = "jsonl" if jsonl else "parquet"
        if jsonl:
            n = sum(_lines(f) for f in jsonl)
        else:
            n = sum(pq.ParquetFile(f).metadata.num_rows for f in parquet)
        inp = args.input
        if len(jsonl or parquet) < args.workers:
            # datatrove shards its input by file (one rank reads whole files), so a directory
            # with fewer files than workers would leave ranks idle: re-split it into `workers`
            # files. Not timed: it is our harness's layout, not datatrove's work (the harness
            # writes a file per worker, so this happens only for other inputs).
            if jsonl:
                raise SystemExit(f"{args.input}: give at least {args.workers} JSONL files")
            table = ds.dataset(str(args.input), format="parquet").to_table(columns=["id", "text"])
            inp = work / "input"
            inp.mkdir()
            step = -(-n // args.workers)
            for r in range(args.workers):
                pq.write_table(table.slice(r * step, step), inp / f"part-{r:05d}.parquet")
            del table

        def reader():
            if fmt == "jsonl":
                return JsonlReader(str(inp), text_key="text", id_key="id", glob_pattern="*.jsonl")
            return ParquetReader(str(inp), text_key="text", id_key="id", glob_pattern="*.parquet")

        # FineWeb: 14 buckets x 8 hashes (112 perms), word 5-grams, 64-bit hashes.
        cfg = MinhashConfig(
            n_grams=5, num_buckets=14, hashes_per_bucket=8, hash_config=HashConfig(precision=64)
        )
        sigs, buckets, clusters = work / "sigs", work / "buckets", work / "remove_ids"
        logs = work / "logs"
        w = args.workers
        stages = [
            # signatures: one task per input file, `workers` at a time
            LocalPipelineExecutor(
                [reader(), MinhashDedupSignature(output_folder=str(sigs), config=cfg)],
                tasks=w,
                workers=w,
                logging_dir=str(logs / "1"),
            ),
            # buckets: datatrove requires tasks to be a multiple of num_buckets (one per bucket)
            LocalPipelineExecutor(
                [
                    MinhashDedupBuckets(
                        input_folder=str(sigs), output_folder=str(buckets), config=cfg
                    )
                ],
                tasks=cfg.num_buckets,
                workers=w,
                logging_dir=str(logs / "2"),
            ),
            # clusters: union-find in one process (datatrove asserts world_size == 1)
            LocalPipelineExecutor(
                [
                    MinhashDedupCluster(
                        input_folder=str(buckets), output_folder=str(clusters), config=cfg
                    )
                ],
                tasks=1,
                logging_dir=str(logs / "3"),
            ),
            # filter: must use the signature stage's ranks (the .remove files are per rank);
            # kept docs are written too, as FineWeb does and as text-dedup does.
            LocalPipelineExecutor(
                [
                    reader(),
                    MinhashDedupFilter(
                        input_folder=str(clusters),
                        exclusion_writer=ParquetWriter(str(work / "removed")),
                    ),
                    ParquetWriter(str(work / "kept")),
                ],
                tasks=w,
                workers=w,
                logging_dir=str(logs / "4"),
            ),
        ]
        t0 = time.perf_counter()
        for stage in stages:
            stage.run()
        seconds = time.perf_counter() - t0

        removed_dir = work / "removed"
        removed = (
            set(
                ds.dataset(str(removed_dir), format="parquet")
                .to_table(columns=["id"])
                .column("id")
                .to_pylist()
            )
            if removed_dir.exists()
            else set()
        )
        p, r = cfg.num_buckets, cfg.hashes_per_bucket
        write_result(
            args,
            "datatrove",
            importlib.metadata.version("datatrove"),
            n,
            seconds,
            removed,
            {
                "num_buckets": p,
                "hashes_per_bucket": r,
                "num_perm": p * r,
                "n_grams": cfg.n_grams,
                "hash": f"{cfg.hash_config.hash_fc}/{cfg.hash_config.precision}",
                "input_format": fmt,
                "seed": cfg.seed,
                "threshold_used": False,
                "lsh_implied_threshold": round((1 / p) ** (1 / r), 3),
                "verification": "none (a shared band makes a pair)",
                "tasks": {"signature": w, "buckets": p, "cluster": 1, "filter": w},
                "executor": f"LocalPipelineExecutor(workers={w})",
                "input_files": w,
                "writes_kept_docs": True,
            },
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
