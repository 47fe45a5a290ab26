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


def test_superseded_index_rows_are_looked_for_only_where_earlier_runs_wrote(spark, tmp_path):
    from curation.existing_ids import delete_superseded
    from curation.run_layout import DEDUP_INDEX

    store, layout = open_store(spark, "rust"), RunLayout(str(tmp_path))
    index = layout.table(DEDUP_INDEX)
    rows = "id string, run_id string"
    decided = spark.createDataFrame([("a",), ("b",)], "id string")
    jobs = spark.sparkContext.statusTracker()

    def delete(run_id):
        before = len(jobs.getJobIdsForGroup(None))
        delete_superseded(store, layout, decided, run_id, "skip")
        ran = len(jobs.getJobIdsForGroup(None)) - before
        return sorted(tuple(r) for r in store.read(index).collect()), ran

    # A run into a new root wrote the whole index: no earlier rows, and no job looks for them.
    store.write(spark.createDataFrame([("a", "r1")], rows), index, metadata={"run_id": "r1"})
    assert delete("r1") == ([("a", "r1")], 0)
    # Once another run wrote, r1's version of "a" is an earlier one for it, and goes.
    store.write(spark.createDataFrame([("a", "r2")], rows), index, metadata={"run_id": "r2"})
    assert delete("r2")[0] == [("a", "r2")]
    # A commit that does not say whose rows it holds is looked through too.
    store.write(spark.createDataFrame([("b", "r0")], rows), index)
    assert delete("r2")[0] == [("a", "r2")]
