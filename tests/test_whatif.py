"""What-if: re-deciding a finished run from its stored signals, checked against real runs."""

from __future__ import annotations

from typing import Literal

import pytest
from pyspark.sql import Window
from pyspark.sql import functions as F
from pyspark.sql.types import IntegerType, StringType, StructField
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from curation import columns as C
from curation.config import validate_config
from curation.datasets.sample import generate_corpus
from curation.delta import open_store
from curation.driver import Pipeline
from curation.errors import ConfigError, CurationError
from curation.run_layout import RunLayout
from curation.stages.base import ShuffleResult, ShuffleStage, StageConfig
from curation.stages.length import LengthFilter, LengthFilterConfig
from curation.whatif import KEPT, UNKNOWN, UNKNOWN_AT, compare, whatif

RUN = "wi-1"


def config(input_path, out, min_words, tokenizer=None):
    return validate_config(
        {
            "input": {"path": input_path, "format": "delta"},
            "output": out,
            "storage": {"engine": "rust"},
            "tokenizer": tokenizer,
            "stages": [
                {"kind": "length", "min_words": min_words, "max_words": 2000},
                {"kind": "langid"},
                {"kind": "quality"},
            ],
        }
    )


def outcomes(store, out, run_id):
    """id -> (drop_stage, drop_reason) of every row of a run, from its output tables."""
    rows = (
        RunLayout(out).run_rows(store, run_id).select(C.ID, C.DROP_STAGE, C.DROP_REASON).collect()
    )
    return {r[C.ID]: (r[C.DROP_STAGE], r[C.DROP_REASON]) for r in rows}


def whatif_outcomes(result):
    rows = result.decisions.select(C.ID, C.DROP_STAGE, C.DROP_REASON, UNKNOWN_AT).collect()
    assert all(r[UNKNOWN_AT] is None for r in rows)
    return {r[C.ID]: (r[C.DROP_STAGE], r[C.DROP_REASON]) for r in rows}


def byte_tokenizer(path) -> str:
    """A tokenizer.json with one token per UTF-8 byte: counts differ from words and characters."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    # Trained on nothing: the 256 byte symbols and no merges, so every byte is a token.
    trainer = trainers.BpeTrainer(
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tok.train_from_iterator([], trainer)
    tok.save(str(path))
    return str(path)


@pytest.fixture(scope="module")
def run_a(spark, tmp_path_factory):
    """120 generated documents through length (min_words 50), langid and quality, counting
    tokens: a real run."""
    root = tmp_path_factory.mktemp("whatif")
    store = open_store(spark, "rust")
    store.write(generate_corpus(spark, 120, seed=5), str(root / "input"))
    out = str(root / "out")
    tokenizer = byte_tokenizer(root / "tokenizer.json")
    Pipeline(config(str(root / "input"), out, 50, tokenizer), spark, store).run(RUN)
    words = sorted(r[0] for r in store.read(f"{out}/documents").select("len_words").collect())
    return {
        "root": root,
        "store": store,
        "out": out,
        "median_words": words[len(words) // 2],
        "tokenizer": tokenizer,
    }


def test_own_thresholds_reproduce_the_run_exactly(spark, run_a):
    store, out = run_a["store"], run_a["out"]
    result = whatif(spark, store, out, ["stages.length.min_words=50"], run_id=RUN)
    assert result.changes == []
    assert (result.newly_dropped, result.newly_kept, result.unknown) == (0, 0, 0)
    assert whatif_outcomes(result) == outcomes(store, out, RUN)

    stats = store.read(f"{out}/stats").filter(F.col("run_id") == RUN).collect()
    expected = {(r.stage, r.reason): r.rows_dropped for r in stats if r.reason}
    expected |= {(r.stage, KEPT): r.rows_kept for r in stats if r.reason is None}
    got = {(ln.stage, ln.reason): (ln.run, ln.whatif) for ln in result.lines}
    for key, n in expected.items():
        if key[0] != "run" and key != ("read", KEPT):  # read shows only when it dropped rows
            assert got[key] == (n, n), key
    assert ("langid", "langid:not_allowed") in got  # the model stage is re-decided too
    assert any(stage == "quality" and reason != KEPT for stage, reason in got)
    assert (
        result.kept_whatif
        == result.kept_run
        == next(r.rows_kept for r in stats if r.stage == "run")
    )


def test_stricter_threshold_drops_a_superset(spark, run_a):
    store, out, cut = run_a["store"], run_a["out"], run_a["median_words"]
    result = whatif(spark, store, out, [f"stages.length.min_words={cut}"], run_id=RUN)
    before = outcomes(store, out, RUN)
    after = whatif_outcomes(result)
    dropped_before = {i for i, (s, _) in before.items() if s is not None}
    dropped_after = {i for i, (s, _) in after.items() if s is not None}
    assert dropped_before < dropped_after
    newly = dropped_after - dropped_before
    assert len(newly) == result.newly_dropped > 0 and result.newly_kept == 0
    assert {after[i] for i in newly} == {("length", "length:too_few_words")}
    words = {
        r[C.ID]: r["len_words"]
        for r in result.decisions.filter(F.col(C.ID).isin(*newly))
        .select(C.ID, "len_words")
        .collect()
    }
    assert all(n < cut for n in words.values())
    text = result.format()
    assert f"length.min_words: 50 -> {cut}" in text and "length:too_few_words" in text


def test_whatif_predicts_a_real_rerun(spark, run_a):
    """The what-if of a threshold equals what a real run with that threshold decides, in
    documents and in tokens."""
    store, root, cut = run_a["store"], run_a["root"], run_a["median_words"]
    out_b = str(root / "out_b")
    rerun = config(str(root / "input"), out_b, cut, run_a["tokenizer"])
    Pipeline(rerun, spark, store).run("wi-2")
    result = whatif(spark, store, run_a["out"], [f"stages.length.min_words={cut}"], run_id=RUN)
    assert whatif_outcomes(result) == outcomes(store, out_b, "wi-2")

    stats = store.read(f"{out_b}/stats").collect()
    real = {(r.stage, r.reason): (r.rows_dropped, r.tokens_dropped) for r in stats if r.reason}
    real |= {(r.stage, KEPT): (r.rows_kept, r.tokens_kept) for r in stats if r.reason is None}
    predicted = {(ln.stage, ln.reason): (ln.whatif, ln.whatif_tokens) for ln in result.lines}
    for key, counts in predicted.items():  # a reason the run had may have no row in the rerun
        assert real.get(key, (0, 0)) == counts, key
    shown = {k for k, (n, _) in real.items() if n and k[0] != "run" and k != ("read", KEPT)}
    assert shown <= set(predicted)  # read has a line only when it dropped rows
    run_row = next(r for r in stats if r.stage == "run")
    assert result.tokens.kept_whatif == run_row.tokens_kept > 0
    assert result.tokens.newly_dropped == result.tokens.kept_run - result.tokens.kept_whatif > 0


def test_tokens_per_line_are_sums_of_the_rows_it_counts(spark, run_a):
    store, out, cut = run_a["store"], run_a["out"], run_a["median_words"]
    result = whatif(spark, store, out, [f"stages.length.min_words={cut}"], run_id=RUN)
    rows = result.decisions.select(
        "run_drop_stage", "run_drop_reason", C.DROP_STAGE, C.DROP_REASON, C.N_TOKENS
    ).collect()
    for ln in (ln for ln in result.lines if ln.reason != KEPT):
        run = sum(r[C.N_TOKENS] for r in rows if (r[0], r[1]) == (ln.stage, ln.reason))
        new = sum(r[C.N_TOKENS] for r in rows if (r[2], r[3]) == (ln.stage, ln.reason))
        assert (ln.run_tokens, ln.whatif_tokens) == (run, new), ln
    assert result.tokens.total == sum(r[C.N_TOKENS] for r in rows)
    # A byte-level tokenizer without merges counts the UTF-8 bytes of the text as read (the
    # quality stage's C4 line filter rewrote some stored texts after the count).
    read = {r[C.ID]: r[C.TEXT] for r in store.read(str(run_a["root"] / "input")).collect()}
    counted = result.decisions.select(C.ID, C.N_TOKENS).collect()
    assert all(r[C.N_TOKENS] == len(read[r[C.ID]].encode()) for r in counted)
    text = result.format()
    assert "run tokens" in text and f"tokens newly dropped: {result.tokens.newly_dropped:,}" in text


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("stages.nope.min_words=3", "no stage named 'nope'"),
        ("stages.length.min_wrds=3", "has no setting 'min_wrds'.*max_chars, max_words, min_chars"),
        ("stages.langid.model_path=/m.bin", "langid.model_path is not a pure threshold"),
        ("stages.length.name=short", "length.name is not a pure threshold"),
        ("output=/elsewhere", "stage thresholds only"),
        ("stages.length.min_words=-1", "min_words: -1 is invalid"),
        ("stages.length.min_words", "expected KEY=VALUE|stage thresholds only"),
    ],
)
def test_bad_overrides_are_refused_clearly(spark, run_a, override, message):
    with pytest.raises(ConfigError, match=message):
        whatif(spark, run_a["store"], run_a["out"], [override], run_id=RUN)


def test_unknown_run_is_a_clear_error(spark, run_a):
    with pytest.raises(CurationError, match="never-ran"):
        whatif(spark, run_a["store"], run_a["out"], [], run_id="never-ran")


# -- a shuffle stage: decisions reused from the run, unknowns said ------------------------------


class GroupDedupConfig(StageConfig):
    kind: Literal["group_dedup"] = "group_dedup"


class GroupDedup(ShuffleStage):
    """Rows whose ids share a first letter are duplicates; the smallest id survives."""

    config_class = GroupDedupConfig

    def output_fields(self):
        return [StructField(C.DUP_OF, StringType()), StructField("dup_cluster_size", IntegerType())]

    def apply(self, df, aux):
        group = Window.partitionBy(F.substring(C.ID, 1, 1))
        first = F.min(C.ID).over(group)
        out = df.withColumn("dup_cluster_size", F.count(F.lit(1)).over(group).cast("int"))
        out = out.withColumn(C.DUP_OF, F.when(F.col(C.ID) != first, first))
        dup = F.col(C.DUP_OF).isNotNull()
        out = out.withColumn(C.DROP_STAGE, F.when(dup, F.lit("group_dedup")))
        out = out.withColumn(C.DROP_REASON, F.when(dup, F.lit("group_dedup:duplicate")))
        return ShuffleResult(out)


@pytest.fixture(scope="module")
def dedup_run(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("whatif_dedup")
    words = {"a1": 60, "a2": 90, "b1": 30, "b2": 30, "c1": 100, "d1": 45, "d2": 100}
    rows = [(i, " ".join(f"{i}w{k}" for k in range(n))) for i, n in words.items()]
    rows.append(("n1", None))  # the reader rejects it; what-if leaves it alone
    store = open_store(spark, "rust")
    store.write(spark.createDataFrame(rows, "id string, text string"), str(root / "in"))
    cfg = validate_config(
        {
            "input": {"path": str(root / "in"), "format": "delta"},
            "output": str(root / "out"),
            "storage": {"engine": "rust"},
            "stages": [{"kind": "length", "min_words": 40, "max_words": None}],
        }
    )
    stages = [LengthFilter(cfg.stages[0]), GroupDedup(GroupDedupConfig())]
    Pipeline(cfg, spark, store, stages=stages).run("dd")
    return store, str(root / "out")


def _dedup_whatif(store, out, min_words):
    stages = [
        LengthFilter(LengthFilterConfig(min_words=min_words, max_words=None)),
        GroupDedup(GroupDedupConfig()),
    ]
    result = compare(RunLayout(out).run_rows(store, "dd"), stages, "dd")
    rows = result.decisions.select(C.ID, C.DROP_REASON, UNKNOWN_AT).collect()
    return result, {r[C.ID]: r[C.DROP_REASON] or r[UNKNOWN_AT] for r in rows}


def test_shuffle_stage_decisions_are_reused_when_its_input_is_unchanged(dedup_run):
    result, got = _dedup_whatif(*dedup_run, 40)
    assert got == {
        "a1": None,
        "a2": "group_dedup:duplicate",
        "b1": "length:too_few_words",
        "b2": "length:too_few_words",
        "c1": None,
        "d1": None,
        "d2": "group_dedup:duplicate",
        "n1": "read:null_text",
    }
    assert result.unknown == 0
    assert any("group_dedup" in n and "unchanged" in n for n in result.notes)
    assert result.tokens is None and "no tokenizer in the recipe" in result.format()


def test_rows_newly_reaching_a_shuffle_stage_are_unknown(dedup_run):
    result, got = _dedup_whatif(*dedup_run, 20)
    # b1 and b2 pass length now, but group_dedup never saw them: no guess.
    assert got["b1"] == got["b2"] == "group_dedup"
    assert result.unknown == 2
    lines = {(ln.stage, ln.reason): (ln.run, ln.whatif) for ln in result.lines}
    assert lines[("length", "length:too_few_words")] == (2, 0)
    assert lines[("group_dedup", UNKNOWN)] == (0, 2)
    assert lines[("read", "read:null_text")] == (1, 1)
    assert any("group_dedup" in n and "not recomputed" in n for n in result.notes)
    assert "outcome unknown: 2" in result.format()


def test_duplicates_of_a_survivor_dropped_earlier_are_unknown(dedup_run):
    result, got = _dedup_whatif(*dedup_run, 70)
    # a1 (60 words) and d1 (45) now fail length; their copies would need a new survivor.
    assert got["a1"] == got["d1"] == "length:too_few_words"
    assert got["a2"] == got["d2"] == "group_dedup"
    assert got["c1"] is None
    assert (result.unknown, result.newly_dropped) == (2, 2)


def test_whatif_refuses_a_run_with_stages_missing_from_its_config(spark, dedup_run):
    store, out = dedup_run
    with pytest.raises(CurationError, match="custom stages"):
        whatif(spark, store, out, [], run_id="dd")
