"""Spark MLlib ``MinHashLSH`` near-dedup (PySpark 4.2, our venv) as a peer runner.

Run: ``.venv/bin/python benchmarks/peers/mllib_runner.py --input DIR --threshold 0.8
--workers 2 --out result.json``. Word 5-gram shingles hashed to a 2^20-dim binary vector,
``approxSimilarityJoin`` of the set with itself at Jaccard distance < 1 - threshold (MLlib
computes the exact distance of every candidate pair, so this is verified), then connected
components of the pairs by union-find on the driver (MLlib has none; GraphFrames is not part of
it), keeping the smallest id of each component.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(Path(__file__).resolve().parent), str(ROOT)]
from _common import parse_args, write_result  # noqa: E402

NUM_FEATURES, HASH_TABLES, NGRAM = 1 << 20, 5, 5
# Same word separators as curation.text.shingles.normalize (lowercased by RegexTokenizer), but
# as an MLlib JVM stage rather than a Python UDF, so the peer stays MLlib end to end.
SEPARATORS = r"[^\p{L}\p{N}\p{M}]+"


def components(pairs: list[tuple[str, str]]) -> set[str]:
    """Union-find over id pairs; every member but the smallest id of each component."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)  # the root is always the component's smallest id
    return {x for x in parent if find(x) != x}


def main() -> None:
    args = parse_args(__doc__.split("\n\n")[0])
    import os

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import HashingTF, MinHashLSH, NGram, RegexTokenizer
    from pyspark.sql import functions as F

    from curation.session import SparkSettings, get_session

    w = args.workers
    t_session = time.perf_counter()
    spark = get_session(
        SparkSettings(
            master=f"local[{w}]",
            ui=False,
            shuffle_partitions=4 * w,
            conf={"spark.sql.adaptive.enabled": "true"},
        )
    )
    session_seconds = time.perf_counter() - t_session

    t0 = time.perf_counter()
    df = spark.read.parquet(str(args.input)).select("id", "text")
    pipe = Pipeline(
        stages=[
            RegexTokenizer(inputCol="text", outputCol="words", pattern=SEPARATORS),
            NGram(n=NGRAM, inputCol="words", outputCol="grams"),
            HashingTF(
                inputCol="grams", outputCol="features", numFeatures=NUM_FEATURES, binary=True
            ),
            MinHashLSH(inputCol="features", outputCol="hashes", numHashTables=HASH_TABLES, seed=1),
        ]
    )
    model = pipe.fit(df)
    # MinHashLSH rejects empty vectors: documents under 5 words cannot be compared at all.
    feats = (
        model.transform(df).where(F.size("grams") > 0).select("id", "features", "hashes").cache()
    )
    pairs = (
        model.stages[-1]
        .approxSimilarityJoin(feats, feats, 1 - args.threshold, distCol="dist")
        .where(F.col("datasetA.id") < F.col("datasetB.id"))
        .select(F.col("datasetA.id").alias("a"), F.col("datasetB.id").alias("b"))
        .collect()
    )
    removed = components([(r.a, r.b) for r in pairs])
    seconds = time.perf_counter() - t0

    n = df.count()
    write_result(
        args,
        "spark-mllib MinHashLSH",
        spark.version,
        n,
        seconds,
        removed,
        {
            "num_hash_tables": HASH_TABLES,
            "ngram": NGRAM,
            "num_features": NUM_FEATURES,
            "features": "RegexTokenizer(lowercase, curation separators) -> NGram -> "
            "HashingTF(binary=True)",
            "join": f"approxSimilarityJoin(df, df, {round(1 - args.threshold, 6)}) "
            "(Jaccard distance <, exact per pair), pairs a<b",
            "pairs": len(pairs),
            "connected_components": "union-find on the driver over collected pairs (not MLlib)",
            "keep": "smallest id per component",
            "master": f"local[{w}]",
            "shuffle_partitions": 4 * w,
            "session_seconds": round(session_seconds, 2),
        },
    )
    spark.stop()


if __name__ == "__main__":
    main()
