"""Near dedup on real Spark: decisions, survivors, determinism, linear candidates, the stage."""

from __future__ import annotations

from dedup_docs import SCHEMA, decisions, jaccard, replace_block, text, words
from pyspark.sql import functions as F

from curation.stages import build_stage
from curation.stages.dedup import NearDedup, NearDedupConfig
from curation.stages.dedup.exact import exact_dedup
from curation.stages.dedup.near import near_dedup, run_near_dedup


def near_corpus():
    """Three clusters that exercise each survivor criterion, exact copies, and singletons."""
    p, q, r = words(1, 300), words(2), words(3)
    return [
        # cluster P: quality decides (p-2 has the best score)
        ("p-1", text(p), 0.1, "a"),
        ("p-2", text(replace_block(p, 40)), 0.9, "b"),
        ("p-3", text(replace_block(p, 200)), None, "c"),
        ("p-4", text(p), 0.3, "d"),  # exact copy of p-1, not of the survivor: near
        ("p-5", text(replace_block(p, 40)), 0.2, "e"),  # exact copy of the survivor
        # cluster Q: no scores, the longest text wins
        ("q-1", text(q), None, "f"),
        ("q-2", text(q + ["tail"]), None, "g"),
        # cluster R: same score and length, the smallest id wins
        ("r-b", text(replace_block(r, 70, tag="y")), 0.5, "h"),
        ("r-a", text(replace_block(r, 70, tag="z")), 0.5, "i"),
        # singletons
        ("s-1", text(words(4)), 0.5, "j"),
        ("s-2", "short text", None, "k"),
        # no text: read as "", so one exact group with nothing to shingle
        ("t-1", None, None, "l"),
        ("t-2", "", None, "m"),
    ]


def test_near_dedup_survivors_reasons_and_partitioning(spark):
    rows = near_corpus()
    assert jaccard(rows[0][1], rows[1][1]) >= 0.8 and jaccard(rows[7][1], rows[8][1]) >= 0.8
    df = spark.createDataFrame(rows, SCHEMA)
    out = near_dedup(df.repartition(7))
    got = decisions(out)
    # Deterministic whatever the partitioning.
    assert decisions(near_dedup(df.repartition(1))) == got
    assert out.count() == len(rows)
    expected_dropped = {
        "p-1": ("dedup:near", "p-2"),
        "p-3": ("dedup:near", "p-2"),
        "p-4": ("dedup:near", "p-2"),
        "p-5": ("dedup:exact", "p-2"),
        "q-1": ("dedup:near", "q-2"),
        "r-b": ("dedup:near", "r-a"),
        "t-2": ("dedup:exact", "t-1"),
    }
    for doc_id, (stage, reason, dup_of, _cluster, _size) in got.items():
        if doc_id in expected_dropped:
            assert (stage, (reason, dup_of)) == ("near_dedup", expected_dropped[doc_id]), doc_id
        else:
            assert (stage, reason, dup_of) == (None, None, None), doc_id
    assert got["p-2"][3:] == ("p-2", 5)
    assert got["p-1"][3:] == ("p-2", 5)
    assert got["q-2"][3:] == ("q-2", 2)
    assert got["r-a"][3:] == ("r-a", 2)
    assert got["s-1"][3:] == ("s-1", 1) and got["s-2"][3:] == ("s-2", 1)
    assert got["t-1"][3:] == ("t-1", 2)
    assert {r.id: r.source for r in out.collect()} == {r[0]: r[3] for r in rows}


def test_earlier_decisions_pass_through_and_sizes_accumulate(spark):
    p = words(11)
    rows = [
        ("a", text(p), None, None),
        ("a-copy", text(p), None, None),
        ("b", text(replace_block(p, 50)), None, None),
        ("gone", text(p), None, None),
    ]
    df = (
        spark.createDataFrame(rows, SCHEMA)
        .withColumn("drop_reason", F.when(F.col("id") == "gone", "length:too_short"))
        .withColumn("drop_stage", F.when(F.col("id") == "gone", "length"))
    )
    after_exact = exact_dedup(df)
    kept = after_exact.where(F.col("drop_reason").isNull())
    final = decisions(near_dedup(kept).unionByName(after_exact.where("drop_reason is not null")))
    assert final["gone"][:2] == ("length", "length:too_short")
    assert final["a-copy"][:3] == ("exact_dedup", "dedup:exact", "a")
    # The near cluster {a, b} stands for 3 documents: exact dedup folded a-copy into "a".
    survivor = [k for k, v in final.items() if v[1] is None]
    assert len(survivor) == 1 and final[survivor[0]][4] == 3


def test_giant_cluster_gives_linear_candidates(spark):
    n_near, n_exact = 5000, 2000
    page = text(words(21, 120))
    rows = [(f"near{i:05d}", f"{page} visitor {i}", None, None) for i in range(n_near)]
    other = text(words(22, 120))
    rows += [(f"copy{i:05d}", other, None, None) for i in range(n_exact)]
    df = spark.createDataFrame(rows, SCHEMA).repartition(4)
    cfg = NearDedupConfig()
    run = run_near_dedup(df, cfg)
    bands, _ = cfg.lsh_params
    n_candidates = run.candidates.count()
    # Star + path: at most 2(n-1) pairs per band whatever the cluster size; exact copies are
    # one node.
    assert n_candidates <= 2 * bands * (n_near - 1)
    assert n_candidates < 4 * n_near  # 14,640 measured: ~n per star, plus bands whose
    # smallest member's band value differs (then the next two members are the stars' centres)
    stats = (
        run.rows.groupBy("drop_reason")
        .agg(F.count(F.lit(1)).alias("n"), F.max("dup_cluster_size").alias("size"))
        .collect()
    )
    by_reason = {r.drop_reason: (r.n, r.size) for r in stats}
    assert by_reason[None][0] == 2  # one survivor per cluster
    assert by_reason["dedup:exact"][0] == n_exact - 1
    assert by_reason["dedup:near"][0] == n_near - 1
    sizes = {r.dup_cluster_size for r in run.rows.where("drop_reason is null").collect()}
    assert sizes == {n_near, n_exact}


def test_stage_is_registered_and_returns_index_rows(spark):
    stage = build_stage(NearDedupConfig(name="near"))
    assert isinstance(stage, NearDedup) and stage.aux_tables() == ("dedup_index",)
    df = spark.createDataFrame(near_corpus()[:3], SCHEMA)
    result = stage.apply(df, {"dedup_index": None})
    got = decisions(result.rows)
    assert got["p-1"][:2] == ("near", "dedup:near")
    assert result.aux["dedup_index"].count() == 3
