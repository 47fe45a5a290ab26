"""`stats` and `explain` read a run's results the same way with delta-rs alone as through Spark."""

from __future__ import annotations

import os
import sys

import pyarrow as pa
import pytest
from deltalake import write_deltalake
from test_driver import _cli, config, input_table, run  # noqa: F401  (input_table: fixture)

from curation import logs
from curation.cli import _read_results
from curation.delta import open_store
from curation.errors import CurationError, DeltaError
from curation.run_layout import RunLayout
from curation.summary import ArrowTables, SparkTables, explain, format_stats, run_stats


@pytest.fixture
def two_runs(spark, tmp_path, input_table):  # noqa: F811
    """An output root with two finished runs over the same input: r1 (max 100 words), then r2
    (max 250) re-deciding every id with ``existing_ids: replace`` (under the default, skip, r2
    would reject them all as already present)."""
    out = str(tmp_path / "out")
    run(spark, config(input_table, out), run_id="r1")
    again = config(input_table, out, max_words=250).model_copy(update={"existing_ids": "replace"})
    run(spark, again, run_id="r2")
    return out


def test_both_readers_give_the_same_stats_and_explanations(spark, two_runs):
    arrow, through_spark = ArrowTables(two_runs), SparkTables(open_store(spark, "rust"), two_runs)

    def comparable(result):  # Spark gives naive local times, pyarrow aware UTC ones
        run_id, rows = result
        return run_id, [{k: v for k, v in r.items() if k != "finished_at"} for r in rows]

    for run_id in (None, "r1", "r2"):
        assert comparable(run_stats(arrow, run_id)) == comparable(run_stats(through_spark, run_id))
    latest, rows = run_stats(arrow)
    assert latest == "r2"  # the run that finished last, not the first id
    text = format_stats(rows)
    assert "length:too_few_words" in text and "length:too_many_words" not in text
    assert "length:too_many_words" in format_stats(run_stats(arrow, "r1")[1])

    for doc_id in ("short1", "long0", "ok3"):
        assert explain(arrow, doc_id) == explain(through_spark, doc_id)
    short = explain(arrow, "short1")
    assert (short["kept"], short["reason"]) == (False, "length:too_few_words")
    assert short["signals"]["len_words"] == 3 and short["copies"] == 2  # dropped by both runs
    assert explain(arrow, "ok3")["kept"] is True

    for tables in (arrow, through_spark):
        with pytest.raises(CurationError, match="no document with id 'nope'"):
            explain(tables, "nope")
        with pytest.raises(CurationError, match="run 'r9' has no stats"):
            run_stats(tables, "r9")


def test_a_folder_without_results_is_named(tmp_path):
    with pytest.raises(CurationError, match="no 'stats' table under .*is this a curation output"):
        run_stats(ArrowTables(str(tmp_path)))


def test_tables_delta_rs_cannot_honour_are_read_through_spark(spark, tmp_path, capsys):
    """Deletion vectors: delta-rs declines, Spark takes over (and, with the rust engine here,
    refuses too, naming the way out)."""
    root = tmp_path / "out"
    write_deltalake(
        str(root / "stats"),
        pa.table({"run_id": ["r1"]}),
        configuration={"delta.enableDeletionVectors": "true"},
    )
    logs.configure(verbose=False)  # as `curation stats` does before it reads: the note is logged
    with pytest.raises(DeltaError, match="deletionVectors.*spark engine"):
        _read_results(str(root), None, run_stats)
    assert "reading it with Spark" in capsys.readouterr().err


def test_cli_stats_and_explain_start_no_jvm(two_runs):
    """No java on PATH and a JAVA_HOME that does not exist: only a Spark-free read can answer."""
    cut_off = {"JAVA_HOME": "/nonexistent", "PATH": os.path.dirname(sys.executable)}

    def cli(*args):
        return _cli(list(args), env_extra=cut_off)

    stats = cli("stats", two_runs, "--run-id", "r1")
    assert stats.returncode == 0, stats.stderr[-2000:]
    assert stats.stdout.startswith("run r1") and "length:too_many_words" in stats.stdout
    # No tokenizer in the recipe: said, not estimated.
    assert "tokens: no tokenizer in the recipe" in stats.stdout and "tokens in" not in stats.stdout

    # Repeated: reading through DeltaTable.to_pyarrow_dataset aborted the interpreter at exit
    # in about half the runs (exit -6), after printing the right answer.
    for _ in range(6):
        why = cli("explain", two_runs, "--id", "long0")
        assert why.returncode == 0, why.stderr[-2000:]
        assert "outcome: KEPT" in why.stdout  # r2 (max 250 words) kept it; r1 had dropped it

    missing = cli("explain", two_runs, "--id", "nope")
    assert missing.returncode == 2 and "no document with id 'nope'" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_a_run_without_stats_is_named_as_unfinished(tmp_path):
    """Started (its record is there) but no stats committed: say so, and how to finish it."""
    RunLayout(str(tmp_path)).write_record("r7", {"run_id": "r7"})
    with pytest.raises(CurationError, match="run 'r7' .* has not finished.*--run-id r7"):
        run_stats(ArrowTables(str(tmp_path)))
