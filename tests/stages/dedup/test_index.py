"""Incremental near dedup through ``dedup_index``: equal to one run, published documents win,
an index from other settings is refused."""

from __future__ import annotations

import pytest
from dedup_docs import SCHEMA, decisions, jaccard, replace_block, text, words

from curation.errors import ConfigError
from curation.stages.dedup import NearDedupConfig
from curation.stages.dedup.near import near_dedup, run_near_dedup


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


def test_index_stores_texts_and_refuses_exact_verification_without_them(spark):
    """Pairs with indexed documents are verified on their texts; an index written before texts
    were stored is refused in exact mode (one line naming the fix) and usable in signature mode,
    whose new rows then keep the old schema."""
    batch_a, batch_b = incremental_corpus()
    df_a = spark.createDataFrame(batch_a, SCHEMA)
    df_b = spark.createDataFrame(batch_b, SCHEMA)
    index = run_near_dedup(df_a).index_rows.localCheckpoint()
    assert {r.id: r.text for r in index.collect()} == {r[0]: r[1] for r in batch_a}

    old = index.drop("text")
    with pytest.raises(ConfigError, match="verify=exact.*set verify: signature") as err:
        run_near_dedup(df_b, index=old)
    assert "\n" not in str(err.value)
    by_estimate = run_near_dedup(df_b, NearDedupConfig(verify="signature"), index=old)
    assert "text" not in by_estimate.index_rows.columns
    assert decisions(by_estimate.rows)["u2"][1:3] == ("dedup:near", "u")


def test_an_indexed_entry_with_an_input_id_is_superseded(spark):
    """The index holds x (survivor) and its near duplicate w. x arriving again is not dropped
    as a duplicate of itself (z, near w, joins its cluster through w, as in one run over x, w
    and z); a new version of x with another text is not pulled into w's cluster by w's link to
    its old survivor x."""
    batch_a, _ = incremental_corpus()
    index = run_near_dedup(spark.createDataFrame(batch_a, SCHEMA)).index_rows.localCheckpoint()
    x_text, w_text = batch_a[0][1], batch_a[1][1]
    z = text(replace_block(w_text.split(" "), 150, tag="z"))  # near w only (J(z, x) < 0.8)
    assert jaccard(z, w_text) >= 0.8 > jaccard(z, x_text)
    rows = [
        ("x", x_text, 0.9, None),  # the same document again
        ("z", z, 0.1, None),
    ]
    got = decisions(near_dedup(spark.createDataFrame(rows, SCHEMA), index=index))
    assert got["x"][:3] == (None, None, None)
    assert got["z"][:3] == ("near_dedup", "dedup:near", "x")

    new_x = [("x", text(words(77)), 0.9, None), ("z", z, 0.1, None)]
    got = decisions(near_dedup(spark.createDataFrame(new_x, SCHEMA), index=index))
    assert got["x"][:3] == (None, None, None) and got["z"][:3] == (None, None, None)
