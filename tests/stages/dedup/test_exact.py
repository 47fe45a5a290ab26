"""Exact dedup on real Spark: normalisations, survivor policy, null and empty texts."""

from __future__ import annotations

import pytest
from dedup_docs import SCHEMA, decisions

from curation.stages.dedup import ExactDedupConfig
from curation.stages.dedup.common import SurvivorPolicy
from curation.stages.dedup.exact import exact_dedup


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


def test_copies_of_published_documents_are_dropped_in_their_favour(spark):
    """Across runs: a copy of a document an earlier run kept is dropped (dup_of = that document,
    however good the copy), and a published row with an input row's id is its earlier version,
    never a duplicate of it."""
    published = spark.createDataFrame(
        [("old", "shared text"), ("again", "this id arrives again"), ("gone", "old version")],
        "id string, text string",
    )
    rows = [
        ("new", "shared text", 0.99, None),
        ("new-2", "shared text", 0.5, None),
        ("again", "this id arrives again", None, None),
        ("other", "old version", None, None),
    ]
    got = decisions(exact_dedup(spark.createDataFrame(rows, SCHEMA), published=published))
    assert got["new"][:4] == ("exact_dedup", "dedup:exact", "old", "old")
    assert got["new-2"][:4] == ("exact_dedup", "dedup:exact", "old", "old")
    assert got["new"][4] == 2  # the run's two copies (the published one weighs 0)
    # "again" supersedes its published version: kept, not a duplicate of itself.
    assert got["again"][:3] == (None, None, None)
    assert got["other"][:3] == ("exact_dedup", "dedup:exact", "gone")


def test_stage_reads_the_documents_table(spark):
    from curation.stages import build_stage
    from curation.stages.dedup.exact import ExactDedup

    stage = build_stage(ExactDedupConfig())
    assert isinstance(stage, ExactDedup) and stage.aux_tables() == ("documents",)
    df = spark.createDataFrame([("b", "t", None, None)], SCHEMA)
    published = spark.createDataFrame([("a", "t")], "id string, text string")
    assert decisions(stage.apply(df, {"documents": published}).rows)["b"][2] == "a"
    assert decisions(stage.apply(df, {"documents": None}).rows)["b"][2] is None
