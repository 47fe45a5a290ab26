# Databricks notebook source
# MAGIC %md
# MAGIC # Curation, one stage at a time
# MAGIC
# MAGIC Each stage is a `DataFrame -> DataFrame` function: it adds its signal columns and marks the
# MAGIC rows it drops (`drop_stage`, `drop_reason`) without removing them, so every step can be
# MAGIC inspected before the next. The last cell writes the kept and the rejected rows as Delta
# MAGIC tables. `curation run <recipe>` (or `run_pipeline` below) does the same with resumable
# MAGIC commits and a `stats` table.
# MAGIC
# MAGIC On Databricks: install the wheel from `make package` on the cluster (or `%pip install` it)
# MAGIC and set the `input` and `output` widgets. It runs on classic clusters and on Spark Connect
# MAGIC (serverless, standard access mode): nothing here reaches into the JVM. Outside Databricks
# MAGIC this file runs as a plain script on local Spark, reading `CURATION_NOTEBOOK_INPUT` and
# MAGIC `CURATION_NOTEBOOK_OUTPUT`, or as a Spark Connect client of
# MAGIC `CURATION_NOTEBOOK_CONNECT_URL` (`sc://host:port`).

# COMMAND ----------

import os

from pyspark.sql import functions as F

from curation.delta import open_store
from curation.readers import InputConfig, read_documents
from curation.session import SparkSettings, get_session
from curation.stages.dedup.exact import ExactDedupConfig, exact_dedup
from curation.stages.langid import LangId, LangIdConfig
from curation.stages.length import LengthFilter, LengthFilterConfig
from curation.stages.rowwise import apply_row_stages

# Databricks defines spark, dbutils and display in a notebook; a plain script has none of them.
dbutils = globals().get("dbutils")
if dbutils is not None:
    dbutils.widgets.text(
        "input", "/Volumes/main/curation/raw/sample", "Input (Delta, JSONL, Parquet)"
    )
    dbutils.widgets.text("output", "/Volumes/main/curation/out/notebook", "Output root")
    INPUT, OUTPUT = dbutils.widgets.get("input"), dbutils.widgets.get("output")
else:
    INPUT = os.environ.get("CURATION_NOTEBOOK_INPUT", "data/sample")
    OUTPUT = os.environ.get("CURATION_NOTEBOOK_OUTPUT", "out/notebook")

spark = globals().get("spark") or get_session(
    SparkSettings(
        master="local[2]", ui=False, connect_url=os.environ.get("CURATION_NOTEBOOK_CONNECT_URL")
    )
)
display = globals().get("display") or (lambda df: df.show(20, truncate=80))


def outcome(df):
    """Rows per deciding stage and reason so far (null: kept)."""
    return df.groupBy("drop_stage", "drop_reason").count().orderBy("drop_stage", "drop_reason")


def kept(df):
    return df.where(F.col("drop_reason").isNull())


# COMMAND ----------

# MAGIC %md ## Read
# MAGIC Every input row comes out; records that are not documents (bad JSON, missing text) are
# MAGIC marked by stage `read`.

# COMMAND ----------

docs = read_documents(spark, InputConfig(path=INPUT))
print(f"== read: {docs.count()} rows from {INPUT}")
display(outcome(docs))

# COMMAND ----------

# MAGIC %md ## Length (Gopher: 50 to 100,000 words)

# COMMAND ----------

length = LengthFilter(LengthFilterConfig(min_words=50, max_words=100_000))
# localCheckpoint keeps each step's result, so later cells do not recompute earlier stages
# (it works on classic clusters and over Spark Connect alike).
after_length = docs.transform(apply_row_stages, [length]).localCheckpoint()
print("== after length")
display(outcome(after_length))
display(after_length.select("id", "len_words", "drop_reason").orderBy("len_words").limit(5))

# COMMAND ----------

# MAGIC %md ## Language ID (fastText lid.176, FineWeb: English with score >= 0.65)
# MAGIC `prepare` ships the model file to the workers (SparkFiles, or a session artifact over
# MAGIC Spark Connect); each Python worker loads it once.

# COMMAND ----------

langid = LangId(LangIdConfig(allowed=("en",), min_score=0.65))
langid.prepare(spark)
after_langid = after_length.transform(apply_row_stages, [langid]).localCheckpoint()
print("== after langid")
display(outcome(after_langid))
display(after_langid.where(F.col("drop_stage") == "langid").select("id", "lang", "lang_score"))

# COMMAND ----------

# MAGIC %md ## Exact deduplication
# MAGIC One copy of each text is kept (`dup_of` names it on the others); rows already dropped are
# MAGIC left as they are. Row stages fuse into one Python pass when applied together
# MAGIC (`apply_row_stages(df, [length, langid])`); a dedup stage needs a shuffle of its own.

# COMMAND ----------

after_dedup = exact_dedup(after_langid, ExactDedupConfig()).localCheckpoint()
print("== after exact_dedup")
display(outcome(after_dedup))
display(after_dedup.where(F.col("dup_of").isNotNull()).select("id", "dup_of", "drop_reason"))

# COMMAND ----------

# MAGIC %md ## Write kept and rejected rows as Delta tables

# COMMAND ----------

store = open_store(spark)  # delta-spark on Databricks; delta-rs commits where its jars are absent
result = {"documents": kept(after_dedup), "rejected": after_dedup.where("drop_reason IS NOT NULL")}
for name, rows in result.items():
    store.write(rows, f"{OUTPUT}/{name}", mode="overwrite", metadata={"source": "notebook"})
    print(f"== wrote {name}: {store.read(f'{OUTPUT}/{name}').count()} rows to {OUTPUT}/{name}")
