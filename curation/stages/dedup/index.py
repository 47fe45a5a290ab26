"""The ``dedup_index`` table, which makes near dedup incremental: its name, schema and checks.

``dedup_index`` holds, for every document signed by earlier runs, its band hashes, its signature
and the id of its cluster's survivor. Indexed documents take part in near dedup's candidate,
verification, component and survivor steps as nodes that are already decided: a cluster that
contains one keeps the indexed survivor and drops every new member. Pairs with an indexed
document are verified by the MinHash estimate (the index holds no text).
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    LongType,
    StringType,
    StructField,
    StructType,
)

from curation.errors import ConfigError
from curation.run_layout import DEDUP_INDEX
from curation.stages.dedup.near_config import NearDedupConfig

INDEX_TABLE = DEDUP_INDEX  # the name is the run layout's; the schema is this module's
INDEX_SCHEMA = StructType(
    [
        StructField("id", StringType(), False),
        StructField("text_hash", StringType(), False),
        StructField("survivor", StringType(), False),
        StructField("bands", ArrayType(LongType(), False), False),
        StructField("signature", BinaryType(), False),
        StructField("params", StringType(), False),
    ]
)


def check_index(index: DataFrame, cfg: NearDedupConfig) -> None:
    """Refuse an index that lacks columns or was built with other LSH settings."""
    missing = [f.name for f in INDEX_SCHEMA.fields if f.name not in index.columns]
    if missing:
        raise ConfigError(
            f"{INDEX_TABLE} lacks columns {missing}; it was not written by near_dedup"
        )
    found = [r[0] for r in index.select("params").distinct().limit(3).collect()]
    other = [p for p in found if p != cfg.params_key]
    if other:
        raise ConfigError(
            f"{INDEX_TABLE} was built with params {other} but this run uses {cfg.params_key!r} "
            "(scheme:num_perm:seed:bands x rows:shingles); use the same near_dedup settings, or "
            "start a new index"
        )
