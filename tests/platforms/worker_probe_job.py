"""Jobs that report what the Python workers of a Spark application see (tests/platforms/test_submit.py,
tests/platforms/test_connect.py). Each prints one ``RESULT <json>`` line.

    spark-submit ... tests/platforms/worker_probe_job.py python
        the interpreter, curation and pyspark each executor's Python workers use
    python tests/platforms/worker_probe_job.py connect-model sc://HOST:PORT MODEL_COPY
        ships MODEL_COPY over Spark Connect, deletes it, and has the workers predict with it
"""

from __future__ import annotations

import json
import os
import sys

import pyarrow as pa


def where_python_runs(batches):
    """In a Python worker: its interpreter, working directory and where imports come from."""
    import pyspark

    import curation

    here = [sys.executable, os.getcwd(), curation.__file__, pyspark.__file__]
    for batch in batches:
        yield pa.RecordBatch.from_arrays(
            [pa.array([value] * batch.num_rows) for value in here],
            names=["executable", "cwd", "curation", "pyspark"],
        )


def python_probe() -> dict:
    from curation.session import get_session

    spark = get_session()  # the session spark-submit configured
    rows = (
        spark.range(0, 16, numPartitions=8)
        .mapInArrow(
            where_python_runs, "executable string, cwd string, curation string, pyspark string"
        )
        .distinct()
        .collect()
    )
    return {"master": spark.sparkContext.master, "workers": [row.asDict() for row in rows]}


def connect_model_probe(url: str, model_copy: str) -> dict:
    from pyspark.sql import SparkSession

    from curation.models import load_fasttext, resolve_path, ship_model
    from curation.stages.langid import predict_languages

    spark = SparkSession.builder.remote(url).getOrCreate()
    ref = ship_model(spark, model_copy)
    # From here on only the shipped copy exists: a worker that finds the model got it by shipping.
    os.remove(model_copy)
    texts = spark.createDataFrame(
        [
            ("en", "The committee published its annual report on the state of the rivers."),
            ("fr", "Le comité a publié son rapport annuel sur l'état des rivières du pays."),
            ("de", "Der Ausschuss hat seinen Jahresbericht über den Zustand der Flüsse vorgelegt."),
        ],
        "want string, text string",
    )

    def predict(batches):
        for batch in batches:
            langs = predict_languages(load_fasttext(ref), batch.column("text"))
            yield pa.RecordBatch.from_arrays(
                [
                    batch.column("want"),
                    langs["lang"],
                    pa.array([resolve_path(ref)] * batch.num_rows),
                ],
                names=["want", "got", "path"],
            )

    rows = texts.mapInArrow(predict, "want string, got string, path string").collect()
    return {"shipped": ref.shipped, "name": ref.name, "rows": [row.asDict() for row in rows]}


def main() -> None:
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "python":
        result = python_probe()
    elif mode == "connect-model":
        result = connect_model_probe(*args)
    else:
        raise SystemExit(f"unknown mode {mode!r}; use python or connect-model")
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
