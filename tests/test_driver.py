"""The driver: plans, outputs, the rows-in = kept + rejected invariant, resume, stats, explain."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from curation import columns as C
from curation.config import validate_config
from curation.delta import open_store
from curation.driver import Pipeline
from curation.errors import ConfigError, InvariantError, PlanError
from curation.plan import check_plan, input_renames, plan
from curation.stages import build_stage
from curation.stages.base import ShuffleResult, ShuffleStage, StageConfig

ROOT = Path(__file__).resolve().parents[1]


def words(n: int, tag: str) -> str:
    return " ".join(f"{tag}{i}" for i in range(n))


@pytest.fixture
def input_table(spark, tmp_path):
    """12 documents: 8 long enough, 3 too short, 1 too long; plus a metadata column."""
    rows = [(f"ok{i}", words(30, f"w{i}x"), i) for i in range(8)]
    rows += [(f"short{i}", words(3, "s"), 100 + i) for i in range(3)]
    rows += [("long0", words(200, "l"), 999)]
    df = spark.createDataFrame(rows, "id string, text string, n long")
    path = str(tmp_path / "input")
    open_store(spark, "rust").write(df, path)
    return path


def config(input_path, out, **length):
    return validate_config(
        {
            "input": {"path": input_path, "format": "delta"},
            "output": out,
            "storage": {"engine": "rust"},
            "stages": [{"kind": "length", "min_words": 10, "max_words": 100, **length}],
        }
    )


def run(spark, cfg, run_id=None, stages=None):
    store = open_store(spark, cfg.storage.engine)
    return Pipeline(cfg, spark, store, stages=stages).run(run_id), store


def test_end_to_end_outputs_and_stats(spark, tmp_path, input_table):
    out = str(tmp_path / "out")
    result, store = run(spark, config(input_table, out), run_id="r1")

    assert (result.rows_in, result.rows_kept, result.rows_rejected) == (12, 8, 4)
    docs = store.read(f"{out}/documents")
    assert sorted(r.id for r in docs.select("id").collect()) == [f"ok{i}" for i in range(8)]
    # Metadata and signals ride along; kept rows have no decision.
    assert {"n", "len_words", "len_chars"} <= set(docs.columns)
    assert docs.filter(F.col(C.DROP_REASON).isNotNull()).count() == 0

    rej = {r.id: (r.drop_stage, r.drop_reason) for r in store.read(f"{out}/rejected").collect()}
    assert rej == {
        "short0": ("length", "length:too_few_words"),
        "short1": ("length", "length:too_few_words"),
        "short2": ("length", "length:too_few_words"),
        "long0": ("length", "length:too_many_words"),
    }

    stats = {(r.stage, r.reason): r for r in store.read(f"{out}/stats").collect()}
    assert stats[("length", None)].rows_in == 12
    assert stats[("length", None)].rows_kept == 8
    assert stats[("length", "length:too_few_words")].rows_dropped == 3
    assert stats[("length", "length:too_many_words")].rows_dropped == 1
    total = stats[("run", None)]
    assert total.rows_in == total.rows_kept + total.rows_dropped == 12
    # Every commit carries the run id.
    assert all(h["metadata"].get("run_id") == "r1" for h in store.history(f"{out}/documents"))


def test_rerun_of_a_finished_run_adds_nothing(spark, tmp_path, input_table):
    out = str(tmp_path / "out")
    cfg = config(input_table, out)
    run(spark, cfg, run_id="same")
    again, store = run(spark, cfg, run_id="same")
    assert again.resumed_segments == 1
    assert store.read(f"{out}/documents").count() == 8
    assert store.read(f"{out}/rejected").count() == 4
    assert store.read(f"{out}/stats").filter(F.col("stage") == "run").count() == 1


def test_resume_with_another_config_is_refused(spark, tmp_path, input_table):
    out = str(tmp_path / "out")
    run(spark, config(input_table, out), run_id="r")
    with pytest.raises(ConfigError, match="different input, output, stages or existing_ids"):
        run(spark, config(input_table, out, min_words=5), run_id="r")


class LosesRowsConfig(StageConfig):
    kind: str = "loses_rows"


class LosesRows(ShuffleStage):
    """A broken stage: silently filters rows. The driver must refuse the result."""

    config_class = LosesRowsConfig

    def output_fields(self):
        return []

    def apply(self, df, aux):
        return ShuffleResult(df.filter(~F.col("id").startswith("ok1")))


def test_invariant_violation_fails_loudly(spark, tmp_path, input_table):
    cfg = config(input_table, str(tmp_path / "out"))
    stages = [build_stage(cfg.stages[0]), LosesRows(LosesRowsConfig())]
    with pytest.raises(InvariantError, match="lost or invented rows"):
        run(spark, cfg, stages=stages)


class NeedsScoreConfig(StageConfig):
    kind: str = "needs_score"


class NeedsScore(ShuffleStage):
    config_class = NeedsScoreConfig

    def requires(self):
        return ("id", "text", "len_words", "missing_col")

    def output_fields(self):
        return []

    def apply(self, df, aux):
        return ShuffleResult(df)


def test_plan_checks_columns_before_any_action(spark, tmp_path):
    cfg = config("does/not/exist", str(tmp_path / "out"))
    length = build_stage(cfg.stages[0])
    needs = NeedsScore(NeedsScoreConfig())
    # len_words comes from the length stage: fine after it, an error before it.
    with pytest.raises(PlanError, match="'missing_col': no stage produces it"):
        check_plan([length, needs], [])
    with pytest.raises(PlanError, match="'len_words': it is produced by length, which must run"):
        check_plan([needs, length])
    # Before the input is opened, a column no stage makes may still come from the input...
    check_plan([length, needs])
    # ...and once it is known, it does.
    check_plan([length, needs], ["missing_col"])
    # An ordering mistake is reported before the input is even opened (the path does not exist).
    with pytest.raises(PlanError):
        run(spark, cfg, stages=[needs, length])


def test_plan_fuses_consecutive_row_stages(tmp_path):
    cfg = validate_config(
        {
            "input": {"path": "x"},
            "output": "o",
            "stages": [{"kind": "length"}, {"kind": "length", "name": "length2"}],
        }
    )
    stages = [build_stage(s) for s in cfg.stages]
    segments = plan([stages[0], LosesRows(LosesRowsConfig()), stages[1]])
    assert [[s.name for s in seg.stages] for seg in segments] == [
        ["length"],
        ["loses_rows"],
        ["length2"],
    ]
    assert [[s.name for s in seg.stages] for seg in plan(stages)] == [["length", "length2"]]


def test_text_rewriting_stage_starts_a_new_pass():
    """Fused behind `length`, C4's line filter would rewrite rows length drops; it must not."""
    from curation.stages.quality import QualityConfig, QualityStage

    length = build_stage(
        validate_config(
            {"input": {"path": "x"}, "output": "o", "stages": [{"kind": "length"}]}
        ).stages[0]
    )
    rewrites = QualityStage(QualityConfig())
    keeps_text = QualityStage(QualityConfig(c4_line_filter={"enabled": False}))
    assert [[s.name for s in g.stages] for g in plan([length, rewrites])] == [
        ["length"],
        ["quality"],
    ]
    assert [[s.name for s in g.stages] for g in plan([length, keeps_text])] == [
        ["length", "quality"]
    ]


def _cli(args, env_extra=None, cwd=ROOT):
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "curation.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=600,
    )


LENGTH = [{"kind": "length", "min_words": 10, "max_words": 100}]


def _recipe(tmp_path, input_path, out, stages=None):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        json.dumps(
            {
                "input": {"path": input_path, "format": "delta"},
                "output": out,
                "storage": {"engine": "rust"},
                "spark": {"master": "local[2]", "shuffle_partitions": 4, "ui": False},
                "stages": stages or LENGTH,
            }
        )
    )
    return recipe


def _table_rows(store, path):
    return sorted(tuple(r) for r in store.read(path).drop("run_id").collect())


def test_cli_run_stats_explain(tmp_path, input_table, run_cli):
    out = str(tmp_path / "out")
    res = run_cli("run", str(_recipe(tmp_path, input_table, out)), "--run-id", "cli-1")
    assert res.returncode == 0, res.stderr[-2000:]
    assert "12 documents in, 8 kept, 4 rejected" in res.stdout
    assert "length:too_few_words" in res.stdout and f"{out}/documents" in res.stdout

    stats = run_cli("stats", out, "--master", "local[1]")
    assert stats.returncode == 0, stats.stderr[-2000:]
    assert "run cli-1" in stats.stdout and "length:too_many_words" in stats.stdout

    # Without --master, delta-rs reads the tables (tests/test_summary.py covers that path).
    why = run_cli("explain", out, "--id", "short1")
    assert why.returncode == 0, why.stderr[-2000:]
    assert "DROPPED by stage 'length', reason 'length:too_few_words'" in why.stdout
    assert "len_words" in why.stdout

    kept = run_cli("explain", out, "--id", "ok3")
    assert "outcome: KEPT" in kept.stdout

    missing = run_cli("explain", out, "--id", "nope")
    assert missing.returncode == 2 and "no document with id 'nope'" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_cli_config_error_has_no_traceback(tmp_path):
    # A subprocess: what is under test is the process's exit code and its stderr as a whole.
    bad = tmp_path / "bad.yaml"
    bad.write_text("input: {path: x}\noutput: o\nstages: [{kind: length, min_words: -3}]\n")
    res = _cli(["run", str(bad)])
    assert res.returncode == 2
    assert "stages.length.min_words: -3 is invalid" in res.stderr
    assert "Traceback" not in res.stderr


def test_input_fields_named_like_run_columns(tmp_path):
    """Ignoring case as Spark does; a rename must land on a free name; spark-engine names."""
    cfg = config("in", str(tmp_path / "out"))
    stages = [build_stage(s) for s in cfg.stages]
    with pytest.raises(PlanError, match=r"'Len_Words' \(written by stage 'length'\)"):
        check_plan(stages, input_fields=["Len_Words", "url"])
    check_plan(stages, input_fields=["url", "lang"])  # no langid stage here: lang is free
    assert input_renames(stages, ["RUN_ID", "url"], "in_", "rust") == {"RUN_ID": "in_RUN_ID"}
    with pytest.raises(PlanError, match=r"'len_words' -> 'in_len_words'.*another prefix"):
        input_renames(stages, ["len_words", "in_len_words"], "in_", "rust")
    assert input_renames(stages, ["with space"], None, "rust") == {}
    with pytest.raises(PlanError, match="'with space' have characters delta-spark refuses"):
        input_renames(stages, ["with space"], None, "spark")


def test_existing_ids_policy_is_validated_and_fixed_for_a_run(spark, tmp_path, input_table):
    """`existing_ids` accepts skip or replace (one line naming the field otherwise), and a run
    started under one policy is not resumed under the other: their outputs differ."""
    with pytest.raises(ConfigError) as err:
        validate_config({"input": {"path": "x"}, "output": "o", "existing_ids": "merge"})
    assert "existing_ids: 'merge' is invalid" in str(err.value)
    assert "'skip' or 'replace'" in str(err.value)

    out = str(tmp_path / "out")
    skip_cfg = config(input_table, out)
    assert skip_cfg.existing_ids == "skip"
    replace_cfg = skip_cfg.model_copy(update={"existing_ids": "replace"})
    run(spark, skip_cfg, run_id="r")
    with pytest.raises(ConfigError, match="different input, output, stages or existing_ids"):
        run(spark, replace_cfg, run_id="r")
