"""What our JSONL reader costs beside Spark's own JSON reader, and what Spark 3.5's path costs:
on one Spark 4 session, side by side over the same file, ``read_documents`` with VARIANT (the
Spark 4 path) and with the Python parse (the path Spark 3.5 takes; here it is forced), and
``spark.read.json`` in PERMISSIVE mode with a corrupt-record column (the guarantee closest to
ours: a bad line becomes a row, not an error), once inferring the schema (a pass over the file,
as our schema pass is) and once given the schema it inferred.

    .venv/bin/python benchmarks/bench_jsonl_paths.py --docs 20000 --reps 3

Each timing is ``read_documents(...)`` end to end (schema pass and main pass) written to Spark's
``noop`` sink, over the same plain JSONL file; the two paths alternate. Results:
benchmarks/results/bench_jsonl_paths.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def write_corpus(path: Path, docs: int) -> int:
    rng = random.Random(7)
    words = [f"w{i}" for i in range(5000)]
    with path.open("w") as f:
        for i in range(docs):
            text = " ".join(rng.choice(words) for _ in range(rng.randint(200, 800)))
            f.write(
                json.dumps({"id": f"d{i}", "text": text, "url": f"https://x/{i}", "meta": {"n": i}})
                + "\n"
            )
    return path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=20000)
    parser.add_argument("--reps", type=int, default=2)
    args = parser.parse_args()

    import curation.readers.jsonl as jsonl
    from curation.readers import InputConfig, read_documents
    from curation.session import SparkSettings, get_session

    spark = get_session(SparkSettings(master="local[2]", ui=False))
    tmp = Path(tempfile.mkdtemp())
    size = write_corpus(tmp / "in.jsonl", args.docs)
    cfg = InputConfig(path=str(tmp / "in.jsonl"))
    real = jsonl.has_variant
    path = str(tmp / "in.jsonl")
    inferred = spark.read.json(path).schema.add("_corrupt_record", "string")

    def spark_json(schema):
        reader = spark.read.option("mode", "PERMISSIVE")
        reader = reader.option("columnNameOfCorruptRecord", "_corrupt_record")
        return (reader.schema(schema) if schema else reader).json(path)

    times: dict[str, list[float]] = {
        "variant": [],
        "python": [],
        "spark_json_inferred": [],
        "spark_json_schema": [],
    }
    for _ in range(args.reps):
        for name in times:
            jsonl.has_variant = real if name != "python" else (lambda s: False)
            t0 = time.monotonic()
            if name == "spark_json_inferred":
                df = spark_json(None)
            elif name == "spark_json_schema":
                df = spark_json(inferred)
            else:
                df = read_documents(spark, cfg)
            df.write.format("noop").mode("overwrite").save()
            times[name].append(round(time.monotonic() - t0, 2))
    jsonl.has_variant = real
    result = {
        "spark": spark.version,
        "docs": args.docs,
        "bytes": size,
        "seconds": times,
        "python_over_variant": round(min(times["python"]) / min(times["variant"]), 2),
        "variant_over_spark_json_inferred": round(
            min(times["variant"]) / min(times["spark_json_inferred"]), 2
        ),
        "variant_over_spark_json_schema": round(
            min(times["variant"]) / min(times["spark_json_schema"]), 2
        ),
        "load_average": [round(x, 1) for x in os.getloadavg()],
    }
    out = ROOT / "benchmarks" / "results" / "bench_jsonl_paths.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
