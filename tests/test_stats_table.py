"""The stats table's token columns: rows with and without a tokenizer, and output roots whose
stats table was written before the columns existed (read as they are, upgraded on append)."""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F

from curation.config import validate_config
from curation.delta import open_store
from curation.driver import Pipeline
from curation.report import gather
from curation.report.html import render
from curation.run_layout import RunLayout
from curation.stats_table import (
    RUN_ROW,
    STATS_SCHEMA,
    TOKEN_COLUMNS,
    StageStats,
    add_token_columns,
    stats_rows,
)
from curation.summary import (
    NO_TOKENIZER,
    ArrowTables,
    SparkTables,
    explain,
    format_stats,
    format_totals,
    run_stats,
)
from curation.whatif import whatif

NAMES = [f.name for f in STATS_SCHEMA]


def _by_key(rows):
    """(stage, reason) -> the row as a dict of STATS_SCHEMA's columns."""
    named = [dict(zip(NAMES, r, strict=True)) for r in rows]
    return {(r["stage"], r["reason"]): r for r in named}


def test_rows_carry_tokens_per_stage_and_reason():
    stats = [
        StageStats("read", "read", 10, 9, {"read:bad_json": 1}, 0.0, tokens_in=900),
        StageStats(
            "length",
            "length",
            9,
            6,
            {"length:too_few_words": 2, "length:too_many_words": 1},
            1.5,
            tokens_in=900,
            dropped_tokens={"length:too_few_words": 30, "length:too_many_words": 400},
        ),
    ]
    rows = _by_key(stats_rows("r", stats, 10, 6, 4, 2.0))
    assert rows[("read", "read:bad_json")]["tokens_dropped"] == 0  # no text, no tokens
    length = rows[("length", None)]
    assert (length["tokens_in"], length["tokens_kept"], length["tokens_dropped"]) == (
        900,
        470,
        430,
    )
    assert rows[("length", "length:too_many_words")]["tokens_dropped"] == 400
    run = rows[(RUN_ROW, None)]
    assert (run["tokens_in"], run["tokens_kept"], run["tokens_dropped"]) == (900, 470, 430)
    assert run["tokens_in"] - run["tokens_dropped"] == run["tokens_kept"]


def test_rows_of_a_run_without_a_tokenizer_have_null_tokens():
    stats = [
        StageStats("read", "read", 5, 5, {}, 0.0),
        StageStats("length", "length", 5, 3, {"length:too_few_words": 2}, 1.0),
    ]
    rows = stats_rows("r", stats, 5, 3, 2, 1.0)
    assert all(r[NAMES.index(c)] is None for r in rows for c in TOKEN_COLUMNS)


# -- an output root written before the token columns ---------------------------------------------


def _recipe(source, out):
    return validate_config(
        {
            "input": {"path": source, "format": "delta"},
            "output": out,
            "storage": {"engine": "rust"},
            "stages": [{"kind": "length", "min_words": 10, "max_words": 100}],
        }
    )


@pytest.fixture(scope="module")
def old_root(spark, tmp_path_factory):
    """A finished run whose stats table has the schema it had before token columns existed."""
    root = tmp_path_factory.mktemp("old_stats")
    store = open_store(spark, "rust")
    rows = [(f"ok{i}", " ".join(f"w{i}x{k}" for k in range(30))) for i in range(6)]
    rows += [(f"short{i}", "a few words") for i in range(3)]
    store.write(spark.createDataFrame(rows, "id string, text string"), str(root / "in"))
    out = str(root / "out")
    Pipeline(_recipe(str(root / "in"), out), spark, store).run("old")
    stats = RunLayout(out).stats
    old_columns = [c for c in NAMES if c not in TOKEN_COLUMNS]
    store.write(
        store.read(stats).select(*old_columns), stats, mode="overwrite", overwrite_schema=True
    )
    assert set(store.read(stats).columns) == set(old_columns)
    return {"store": store, "out": out, "input": str(root / "in")}


def test_stats_explain_and_report_read_an_old_stats_table(spark, old_root):
    store, out = old_root["store"], old_root["out"]
    for tables in (ArrowTables(out), SparkTables(store, out)):
        run_id, rows = run_stats(tables, "old")
        assert all(r["tokens_in"] is None for r in rows)
        text = format_stats(rows)
        assert NO_TOKENIZER in text and "tokens in" not in text
        assert "tokens" not in format_totals(run_id, rows)
        assert explain(tables, "short1")["reason"] == "length:too_few_words"

    page = render(gather(spark, store, out, "old"))
    assert "tokens: no tokenizer in the recipe" in page
    assert "data-tokens-in" not in page and "data-tokens-dropped" not in page

    result = whatif(spark, store, out, ["stages.length.min_words=40"], run_id="old")
    assert result.tokens is None and NO_TOKENIZER in result.format()
    assert result.newly_dropped == 6


def test_a_new_run_appends_to_an_old_stats_table(spark, old_root):
    """The table gains the token columns once (a rewrite of its rows), then takes the append."""
    store, out = old_root["store"], old_root["out"]
    stats = RunLayout(out).stats
    before = store.read(stats).count()
    version = store.version(stats)
    Pipeline(_recipe(old_root["input"], out), spark, store).run("new")

    table = store.read(stats)
    assert [f.name for f in table.schema] == NAMES
    old = table.filter(F.col("run_id") == "old").count()
    assert old == before  # every earlier row is still there, token columns null
    assert table.filter(F.col("run_id") == "new").count() == before
    assert table.filter(F.col("tokens_in").isNotNull()).count() == 0  # no tokenizer in either
    # One commit added the columns, one appended the run; the old version still reads.
    assert store.version(stats) == version + 2
    assert set(store.read(stats, version=version).columns) == set(NAMES) - set(TOKEN_COLUMNS)
    assert run_stats(ArrowTables(out), "new")[1][0]["rows_in"] == 9
    assert add_token_columns(store, stats) is None  # nothing left to do
