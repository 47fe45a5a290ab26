"""Cluster job for tests/platforms/test_cluster.py: Python UDF work on the executors, then a Delta round trip.

Run as ``python tests/platforms/cluster_delta_job.py MASTER_URL TABLE_PATH [ROWS]`` (it builds its own
session) or through spark-submit (it takes the submitted one). Prints one JSON line of results.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time

from pyspark.sql import functions as F

from curation.delta import open_store
from curation.session import SparkSettings, get_session


def where_am_i(batches):
    """Runs in the executors' Python workers: tag each row with the worker that scored it."""
    import pyarrow as pa
    import pyarrow.compute as pc

    # An executor's working directory is <worker work dir>/<app id>/<executor id>; its Python
    # workers inherit it, so it names the executor that ran the task.
    here = f"{socket.gethostname()}|{os.getpid()}|{os.getcwd()}"
    for batch in batches:
        text = batch.column("text")
        yield pa.RecordBatch.from_arrays(
            [batch.column("id"), text, pc.utf8_length(text), pa.array([here] * len(batch))],
            names=["id", "text", "n_chars", "executor"],
        )


def main() -> None:
    master, path = sys.argv[1], sys.argv[2]
    rows = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    clock = {"start": time.monotonic()}
    spark = get_session(
        SparkSettings(
            master=master,
            app_name="curation-cluster-test",
            ui=False,
            driver_memory="1g",
            conf={
                "spark.executor.memory": "512m",
                "spark.driver.host": "127.0.0.1",
                # Start the first job only once both executors are up, so both get tasks.
                "spark.scheduler.minRegisteredResourcesRatio": "1.0",
                "spark.scheduler.maxRegisteredResourcesWaitingTime": "60s",
            },
        )
    )
    clock["session"] = time.monotonic()
    wanted = 2
    while time.monotonic() - clock["session"] < 60:
        # The driver counts itself among the block managers.
        if spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size() >= wanted + 1:  # noqa: SLF001
            break
        time.sleep(0.5)
    docs = spark.range(rows, numPartitions=8).select(
        F.format_string("doc-%05d", "id").alias("id"),
        F.repeat(F.lit("word "), (F.col("id") % 50 + 1).cast("int")).alias("text"),
    )
    scored = docs.mapInArrow(where_am_i, "id string, text string, n_chars int, executor string")
    clock["executors"] = time.monotonic()
    store = open_store(spark, "rust")
    version = store.write(scored, path, app_id="cluster-test", txn_version=1, metadata={"run": "c"})
    clock["write"] = time.monotonic()
    retry = store.write(scored, path, app_id="cluster-test", txn_version=1)
    back = store.read(path)
    summary = back.agg(
        F.count("*").alias("rows"),
        F.countDistinct("id").alias("ids"),
        F.sum("n_chars").alias("chars"),
    ).first()
    executors = sorted(r.executor for r in back.select("executor").distinct().collect())
    clock["read"] = time.monotonic()
    marks = list(clock.items())
    seconds = {
        name: round(t - prev, 2) for (_, prev), (name, t) in zip(marks, marks[1:], strict=False)
    }
    print(
        "RESULT "
        + json.dumps(
            {
                "engine": store.engine,
                "version": version,
                "retry": retry,
                "rows": summary["rows"],
                "ids": summary["ids"],
                "chars": summary["chars"],
                "executors": executors,
                "master": spark.sparkContext.master,
                "seconds": seconds,
            }
        )
    )
    spark.stop()


if __name__ == "__main__":
    main()
