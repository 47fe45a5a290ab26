"""Exact and near-dedup stages on real Spark: decisions, survivors, determinism, incremental."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest
from datasketch import MinHash
from pydantic import ValidationError
from pyspark.sql import functions as F

from curation.errors import ConfigError
from curation.stages import build_stage
from curation.stages.dedup import ExactDedupConfig, NearDedup, NearDedupConfig
from curation.stages.dedup.common import SurvivorPolicy
from curation.stages.dedup.exact import exact_dedup
from curation.stages.dedup.near import near_dedup, run_near_dedup
from curation.stages.dedup.signatures import with_minhash_signature
from curation.text import shingles as sh

SCHEMA = "id string, text string, quality_score double, source string"
VOCAB = [f"w{i}" for i in range(3000)]


def words(seed: int, n: int = 150) -> list[str]:
    rng = random.Random(seed)
    return [rng.choice(VOCAB) for _ in range(n)]


def replace_block(ws: list[str], at: int, size: int = 5, tag: str = "x") -> list[str]:
    """Replace ``size`` consecutive words: destroys size + 4 word 5-gram shingles."""
    out = list(ws)
    out[at : at + size] = [f"{tag}{k}" for k in range(size)]
    return out


def text(ws: list[str]) -> str:
    return " ".join(ws)


def jaccard(a: str, b: str) -> float:
    return float(sh.pairwise_jaccard(pa.array([a]), pa.array([b]), 5)[0])


def decisions(df) -> dict:
    return {
        r.id: (r.drop_stage, r.drop_reason, r.dup_of, r.dup_cluster_id, r.dup_cluster_size)
        for r in df.collect()
    }


# ---- exact ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("normalization", "dropped"),
    [
        ("none", {"b": "a"}),
        ("whitespace_case", {"b": "a", "c": "a"}),
        ("punctuation", {"b": "a", "c": "a", "d": "a"}),
    ],
)
def test_exact_dedup_normalisations(spark, normalization, dropped):
    rows = [
        ("a", "Hello World, again", None, "s1"),
        ("b", "Hello World, again", None, "s2"),
        ("c", "hello\tWORLD, again", None, "s3"),  # same length as "a": the id decides
        ("d", "Hello world again", None, "s4"),
        ("e", "Something else entirely", None, "s5"),
    ]
    df = spark.createDataFrame(rows, SCHEMA)
    out = exact_dedup(df, ExactDedupConfig(normalization=normalization))
    got = decisions(out)
    assert out.count() == len(rows)
    assert {r.id: r.source for r in out.collect()} == {r[0]: r[3] for r in rows}  # passes through
    for doc_id, (stage, reason, dup_of, cluster, _size) in got.items():
        if doc_id in dropped:
            assert (stage, reason, dup_of) == ("exact_dedup", "dedup:exact", dropped[doc_id])
        else:
            assert (stage, reason, dup_of) == (None, None, None)
        assert cluster == dropped.get(doc_id, doc_id)
    assert got["a"][4] == len(dropped) + 1
    assert got["e"][3:] == ("e", 1)


def test_exact_survivor_policy_quality_then_length_then_id(spark):
    rows = [
        # group 1: quality decides (null quality ranks last)
        ("g1-a", "same text one", 0.2, None),
        ("g1-b", "same text one", 0.9, None),
        ("g1-c", "same text one", None, None),
        # group 2 (whitespace-normalised): no quality, the longest text wins
        ("g2-a", "two  words", None, None),
        ("g2-b", "two    words", None, None),
        # group 3: equal quality and length: the smallest id wins
        ("g3-b", "third text", 0.5, None),
        ("g3-a", "third text", 0.5, None),
    ]
    df = spark.createDataFrame(rows, SCHEMA)
    got = decisions(exact_dedup(df, ExactDedupConfig(normalization="whitespace_case")))
    kept = {k for k, v in got.items() if v[1] is None}
    assert kept == {"g1-b", "g2-b", "g3-a"}
    assert got["g1-a"][2] == got["g1-c"][2] == "g1-b"
    # Policy order is configurable: id first ignores quality.
    by_id = decisions(exact_dedup(df, ExactDedupConfig(survivor=SurvivorPolicy(order=("id",)))))
    assert {k for k, v in by_id.items() if v[1] is None} >= {"g1-a", "g3-a"}


def test_null_and_empty_texts_are_one_exact_group(spark):
    df = spark.createDataFrame(
        [("n1", None, None, None), ("n2", None, None, None), ("e", "", None, None)], SCHEMA
    )
    got = decisions(exact_dedup(df))
    assert got["e"][1] is None
    assert got["n1"][1:3] == ("dedup:exact", "e") and got["n2"][1:3] == ("dedup:exact", "e")


# ---- near -------------------------------------------------------------------------------------


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


# ---- incremental ------------------------------------------------------------------------------


def incremental_corpus():
    x, u = words(31, 204), words(32)
    w = replace_block(replace_block(x, 20, tag="a"), 60, tag="b")  # J(x, w) ~ 0.83
    v = replace_block(w, 110, tag="c")  # J(v, w) ~ 0.91, J(v, x) ~ 0.76
    batch_a = [
        ("x", text(x), 0.9, None),
        ("w", text(w), 0.5, None),
        ("u", text(u), 0.8, None),
    ]
    batch_b = [
        ("v", text(v), 0.4, None),
        ("u2", text(replace_block(u, 90)), 0.3, None),
        ("new", text(words(33)), 0.1, None),
        ("new-copy", text(words(33)), 0.05, None),
    ]
    assert jaccard(text(x), text(w)) >= 0.8 and jaccard(text(v), text(w)) >= 0.85
    assert jaccard(text(v), text(x)) < 0.8
    return batch_a, batch_b


def kept_ids(df) -> set[str]:
    return {r.id for r in df.where("drop_reason is null").select("id").collect()}


def test_incremental_equals_one_run(spark):
    batch_a, batch_b = incremental_corpus()
    df_a = spark.createDataFrame(batch_a, SCHEMA)
    df_b = spark.createDataFrame(batch_b, SCHEMA)
    joint = kept_ids(near_dedup(df_a.unionByName(df_b)))

    run_a = run_near_dedup(df_a)
    index = run_a.index_rows.localCheckpoint()
    run_b = run_near_dedup(df_b, index=index)
    assert kept_ids(run_a.rows) | kept_ids(run_b.rows) == joint == {"x", "u", "new"}
    got_b = decisions(run_b.rows)
    # v is similar only to w, which run A dropped: it still joins x's cluster via the index.
    assert got_b["v"][1:3] == ("dedup:near", "x")
    assert got_b["u2"][1:3] == ("dedup:near", "u")
    assert got_b["new-copy"][1:3] == ("dedup:exact", "new")
    # The index keeps every signed text with its cluster's survivor.
    idx = {r.id: r.survivor for r in index.collect()}
    assert idx == {"x": "x", "w": "x", "u": "u"}


def test_incremental_keeps_already_published_documents(spark):
    p = words(41)
    df_a = spark.createDataFrame([("old", text(p), 0.1, None)], SCHEMA)
    df_b = spark.createDataFrame([("better", text(replace_block(p, 50)), 0.99, None)], SCHEMA)
    # In one run the better document would win; incrementally "old" is already published.
    assert kept_ids(near_dedup(df_a.unionByName(df_b))) == {"better"}
    index = run_near_dedup(df_a).index_rows
    got = decisions(near_dedup(df_b, index=index))
    assert got["better"][:3] == ("near_dedup", "dedup:near", "old")


def test_index_from_other_settings_is_refused(spark):
    df = spark.createDataFrame([("a", text(words(51)), None, None)], SCHEMA)
    index = run_near_dedup(df, NearDedupConfig(num_perm=64)).index_rows
    with pytest.raises(ConfigError, match="num_perm|params"):
        run_near_dedup(df, NearDedupConfig(), index=index)


# ---- signatures, config, registry -------------------------------------------------------------


def test_with_minhash_signature_matches_datasketch(spark):
    docs = [("a", text(words(61))), ("b", "Ünïcödé — ok 東京 タワー and more words"), ("c", "!!")]
    df = spark.createDataFrame(docs, "id string, text string")
    cfg = NearDedupConfig(scheme="datasketch", num_perm=64, seed=3)
    got = {r.id: r for r in with_minhash_signature(df, cfg).collect()}
    for doc_id, doc in docs:
        ref = MinHash(num_perm=64, seed=3)
        ref.update_batch([s.encode() for s in sh.shingle_strings(doc, 5)])
        assert np.array_equal(np.array(got[doc_id].dup_minhash, dtype=np.uint64), ref.hashvalues)
    assert got["c"].dup_bands is None  # no shingles: nothing to bucket
    assert len(got["a"].dup_bands) == cfg.lsh_params[0]


def test_config_validation():
    with pytest.raises(ValidationError, match="set both"):
        NearDedupConfig(bands=14)
    with pytest.raises(ValidationError, match="exceeds num_perm"):
        NearDedupConfig(num_perm=64, bands=14, rows=8)
    with pytest.raises(ValidationError):
        NearDedupConfig(threshold=1.0)
    with pytest.raises(ValidationError):
        ExactDedupConfig(normalization="stem")
    with pytest.raises(ValidationError, match="repeats"):
        SurvivorPolicy(order=("id", "id"))
    assert NearDedupConfig(num_perm=112, bands=14, rows=8).lsh_params == (14, 8)


def test_stage_is_registered_and_returns_index_rows(spark):
    stage = build_stage(NearDedupConfig(name="near"))
    assert isinstance(stage, NearDedup) and stage.aux_tables() == ("dedup_index",)
    df = spark.createDataFrame(near_corpus()[:3], SCHEMA)
    result = stage.apply(df, {"dedup_index": None})
    got = decisions(result.rows)
    assert got["p-1"][:2] == ("near", "dedup:near")
    assert result.aux["dedup_index"].count() == 3
