"""Ids an output root already holds: which count as held, and what each policy does to them."""

from __future__ import annotations

from curation import columns as C
from curation.delta import open_store
from curation.existing_ids import (
    REASON_ALREADY_PRESENT,
    REPLACES,
    apply_policy,
    decided_ids,
    held_ids,
)
from curation.run_layout import RunLayout

ROWS = "id string, text string, drop_stage string, drop_reason string, run_id string"


def test_held_ids_are_decisions_of_earlier_runs(spark, tmp_path):
    store, layout = open_store(spark, "rust"), RunLayout(str(tmp_path))
    assert held_ids(store, layout, "r2") is None  # a fresh root
    docs = [("kept", "t", None, None, "r1"), ("mine", "t", None, None, "r2")]
    rejected = [
        ("dropped", "t", "length", "length:too_few_words", "r1"),
        ("unreadable", None, "read", "read:bad_json", "r1"),  # never decided: may come again
        ("mine-too", "t", "length", "length:too_few_words", "r2"),
    ]
    store.write(spark.createDataFrame(docs, ROWS), layout.documents)
    store.write(spark.createDataFrame(rejected, ROWS), layout.rejected)

    # Rows of the current run (r2, e.g. committed before a crash) are not "earlier".
    held = {r.id: r[1] for r in held_ids(store, layout, "r2").collect()}
    assert held == {"kept": True, "dropped": False}

    source = spark.createDataFrame(
        [
            ("kept", "new", None, None, "x"),
            ("dropped", "new", None, None, "x"),
            ("unreadable", "now readable", None, None, "x"),
            ("mine", "t", None, None, "x"),
            ("kept", None, "read", "read:null_text", "x"),  # the reader's reason stands
        ],
        ROWS,
    ).drop("run_id")
    held_df = held_ids(store, layout, "r2")
    skip = apply_policy(source, held_df, "skip")
    assert skip.columns == source.columns
    got = {(r.id, r.text, r.drop_reason) for r in skip.collect()}
    assert got == {
        ("dropped", "new", REASON_ALREADY_PRESENT),
        ("kept", None, "read:null_text"),
        ("kept", "new", REASON_ALREADY_PRESENT),
        ("mine", "t", None),
        ("unreadable", "now readable", None),
    }
    assert sorted(r.id for r in decided_ids(skip).collect()) == ["mine", "unreadable"]

    replace = apply_policy(source, held_df, "replace")
    assert replace.columns == [*source.columns, REPLACES]
    marked = {(r.id, r[C.DROP_REASON], r[REPLACES]) for r in replace.collect()}
    assert marked == {
        ("dropped", None, False),  # decided again, but it replaces no kept document
        ("kept", None, True),
        ("kept", "read:null_text", False),
        ("mine", None, False),
        ("unreadable", None, False),
    }
