"""Token counts: the recipe's ``tokenizer:`` adds ``n_tokens`` in the first row pass, and the
stats table's token columns are sums of it per stage and reason, checked against the tables."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json

import pytest
from pyspark.sql import functions as F
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from curation import columns as C
from curation.cli import main
from curation.config import validate_config
from curation.delta import open_store
from curation.driver import config_fingerprint
from curation.errors import ConfigError
from curation.plan import plan
from curation.run_layout import RunLayout
from curation.stages import build_stage
from curation.stages.length import LengthFilter, LengthFilterConfig
from curation.stages.rowwise import apply_row_stages
from curation.stages.tokens import TokenCount, TokenizerConfig, check_tokenizer, with_token_count
from curation.summary import ArrowTables, format_stats, format_totals, run_stats

RUN = "tok-1"


def word_tokenizer(path) -> str:
    """A tokenizer.json with one token per whitespace-separated word ([UNK] for any word)."""
    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "alpha": 1}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.save(str(path))
    return str(path)


@pytest.fixture(scope="session")
def bpe_tokenizer(shared_data, tmp_path_factory) -> str:
    """A byte-level BPE (4,000 tokens) trained on the Brown corpus in a few seconds."""
    texts = [
        json.loads(line)["text"]
        for line in (shared_data / "text" / "brown.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=4000, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tok.train_from_iterator(texts, trainer)
    path = tmp_path_factory.mktemp("bpe") / "tokenizer.json"
    tok.save(str(path))
    return str(path)


def recipe(source, out, tokenizer, stages):
    return validate_config(
        {
            "input": {"path": source, "format": "delta"},
            "output": out,
            "storage": {"engine": "rust"},
            "tokenizer": tokenizer,
            "stages": stages,
        }
    )


# -- config and plan (no Spark) ------------------------------------------------------------------


def test_a_recipe_names_a_tokenizer_by_path_or_with_settings():
    def cfg(tokenizer):
        return validate_config({"input": {"path": "/in"}, "output": "/out", "tokenizer": tokenizer})

    assert cfg("models/tok.json").tokenizer == TokenizerConfig(path="models/tok.json")
    full = cfg({"path": "t.json", "count_eos_token": True, "add_special_tokens": False})
    assert (full.tokenizer.count_eos_token, full.tokenizer.add_special_tokens) == (True, False)
    assert cfg(None).tokenizer is None
    with pytest.raises(ConfigError, match="tokenizer.count_eos: unknown setting"):
        cfg({"path": "t.json", "count_eos": True})
    with pytest.raises(ConfigError, match="tokenizer.path: '' is invalid"):
        cfg("")


def test_the_count_fuses_into_the_first_row_pass_even_before_a_text_rewriter():
    def labels(*kinds):
        stages = [build_stage(validate_config_stage(k)) for k in kinds]
        return [seg.label for seg in plan(with_token_count(TokenizerConfig(path="t"), stages))]

    assert labels("length", "langid", "exact_dedup") == ["tokens+length+langid", "exact_dedup"]
    # The C4 line filter rewrites text: it would start a pass of its own behind any stage
    # that drops rows, but the count drops none, so it rides along (and sees the text as read).
    assert labels("quality", "length") == ["tokens+quality+length"]
    assert labels("length", "quality") == ["tokens+length", "quality"]
    # Before a shuffle stage there is no row pass to join: the count is the run's first pass.
    assert labels("exact_dedup", "length") == ["tokens", "exact_dedup", "length"]


def validate_config_stage(kind):
    return validate_config(
        {"input": {"path": "/in"}, "output": "/o", "stages": [{"kind": kind}]}
    ).stages[0]


def test_a_tokenizer_is_part_of_what_a_resumed_run_must_match():
    base = {"input": {"path": "/in"}, "output": "/out", "stages": [{"kind": "length"}]}
    without = validate_config(base)
    with_tok = validate_config({**base, "tokenizer": "a.json"})
    other = validate_config({**base, "tokenizer": "b.json"})
    prints = {config_fingerprint(c) for c in (without, with_tok, other)}
    assert len(prints) == 3
    # Runs recorded before tokenizers existed keep their fingerprint, so they still resume.
    old = without.model_dump(mode="json", include={"input", "output", "stages"})
    del old["input"]["table"]  # input.table (catalog input) came later, under the same rule
    digest = hashlib.sha256(json.dumps(old, sort_keys=True).encode()).hexdigest()[:16]
    assert config_fingerprint(without) == digest


def test_a_missing_or_broken_tokenizer_is_one_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="tokenizer.path '.*nope.json' does not exist"):
        check_tokenizer(str(tmp_path / "nope.json"))
    broken = tmp_path / "tokenizer.json"
    broken.write_text('{"model": "not one"}', encoding="utf-8")
    with pytest.raises(ConfigError, match="is not a tokenizers JSON file"):
        check_tokenizer(str(broken))
    check_tokenizer(word_tokenizer(tmp_path / "ok.json"))  # a real one passes


# -- a run ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def token_run(spark, tmp_path_factory):
    """14 documents (one without text) through length, then exact dedup, counting tokens: a
    ``curation run`` in this process, on the suite's session."""
    root = tmp_path_factory.mktemp("tokens")
    rows = [(f"d{i:02d}", " ".join(f"w{i}x{k}" for k in range(5 + 6 * i))) for i in range(11)]
    rows += [("copy", rows[3][1]), ("copy2", rows[4][1]), ("empty", None)]
    store = open_store(spark, "rust")
    store.write(spark.createDataFrame(rows, "id string, text string"), str(root / "in"))
    cfg = recipe(
        str(root / "in"),
        str(root / "out"),
        word_tokenizer(root / "tokenizer.json"),
        [{"kind": "length", "min_words": 12, "max_words": 50}, {"kind": "exact_dedup"}],
    )
    path = root / "recipe.yaml"
    path.write_text(cfg.model_dump_json(exclude_none=True), encoding="utf-8")  # JSON is YAML
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["run", str(path), "--run-id", RUN]) == 0
    return {"store": store, "out": cfg.output, "printed": printed.getvalue(), "texts": dict(rows)}


def test_every_row_carries_the_tokens_of_its_text_as_read(token_run):
    rows = RunLayout(token_run["out"]).run_rows(token_run["store"], RUN).collect()
    assert len(rows) == len(token_run["texts"])
    for r in rows:
        text = token_run["texts"][r[C.ID]]
        assert r[C.N_TOKENS] == (None if text is None else len(text.split())), r[C.ID]


def test_stats_are_sums_of_n_tokens_per_stage_and_reason(token_run):
    store, out = token_run["store"], token_run["out"]
    rows = RunLayout(out).run_rows(store, RUN)
    by_reason = {
        (r[C.DROP_STAGE], r[C.DROP_REASON]): r["t"]
        for r in rows.groupBy(C.DROP_STAGE, C.DROP_REASON)
        .agg(F.coalesce(F.sum(C.N_TOKENS), F.lit(0)).alias("t"))
        .collect()
    }
    stats = store.read(f"{out}/stats").filter(F.col("run_id") == RUN).collect()
    reasons = {(r.stage, r.reason): r for r in stats if r.reason}
    assert set(reasons) == {k for k in by_reason if k[0]}  # read, length (both), dedup:exact
    for key, r in reasons.items():
        assert r.tokens_dropped == by_reason[key], key

    totals = {r.stage: r for r in stats if r.reason is None}
    assert "tokens" not in totals  # the count decides nothing: no line in the funnel
    everything, kept = sum(by_reason.values()), by_reason[(None, None)]
    assert totals["run"].tokens_in == totals["read"].tokens_in == everything > 0
    assert totals["run"].tokens_kept == totals["exact_dedup"].tokens_kept == kept
    assert totals["run"].tokens_dropped == everything - kept
    for stage in ("read", "length", "exact_dedup"):  # what enters a stage is what the last kept
        t = totals[stage]
        assert t.tokens_in - t.tokens_dropped == t.tokens_kept
    assert totals["length"].tokens_in == totals["read"].tokens_kept
    assert totals["exact_dedup"].tokens_in == totals["length"].tokens_kept


def test_the_count_shares_the_first_pass(token_run):
    """No pass of its own: two work tables (the fused row pass, dedup), as without a tokenizer."""
    assert "[tokens+length] running" in token_run["printed"]
    store, layout = token_run["store"], RunLayout(token_run["out"])
    length = store.read(layout.stats).filter("stage = 'length' AND reason IS NULL").first()
    assert json.loads(length.details)["fused_with"] == ["tokens", "length"]
    assert store.exists(layout.segment(RUN, 1)) and not store.exists(layout.segment(RUN, 2))


def test_the_counts_table_shows_tokens(token_run):
    run_id, rows = run_stats(ArrowTables(token_run["out"]), RUN)
    text, run = format_stats(rows), next(r for r in rows if r["stage"] == "run")
    assert "tokens in" in text and "no tokenizer" not in text
    dup = next(r for r in rows if r["reason"] == "dedup:exact")
    assert dup["tokens_dropped"] == len(token_run["texts"]["copy"].split()) + len(
        token_run["texts"]["copy2"].split()
    )
    line = next(ln for ln in text.splitlines() if "dedup:exact" in ln)
    assert line.split()[-1] == f"{dup['tokens_dropped']:,}"
    totals = format_totals(run_id, rows)
    assert f"{run['tokens_in']:,} tokens in, {run['tokens_kept']:,} kept" in totals
    assert totals in token_run["printed"] and text in token_run["printed"]  # curation run's


# -- real text and a trained tokenizer -------------------------------------------------------------


@pytest.mark.shared_data
def test_counts_in_spark_equal_the_tokenizer_on_real_text(spark, shared_data, bpe_tokenizer):
    """Wikipedia and SpamAssassin pages (the BPE saw only Brown): the Arrow pass ships the file,
    loads it per worker and counts what ``Tokenizer.encode`` counts for each page."""
    docs = []
    for name in ("wikipedia_sample.jsonl", "spamassassin.jsonl"):
        with (shared_data / "text" / name).open(encoding="utf-8") as fh:
            docs += [json.loads(next(fh)) for _ in range(25)]
    df = spark.createDataFrame([(d["id"], d["text"]) for d in docs], "id string, text string")
    stage = TokenCount(TokenizerConfig(path=bpe_tokenizer))
    stage.prepare(spark)
    got = {
        r[C.ID]: r[C.N_TOKENS]
        for r in df.transform(apply_row_stages, [stage, LengthFilter(LengthFilterConfig())])
        .select(C.ID, C.N_TOKENS)
        .collect()
    }
    tok = Tokenizer.from_file(bpe_tokenizer)
    want = {d["id"]: len(tok.encode(d["text"]).ids) for d in docs}
    assert got == want
    assert sum(want.values()) > sum(len(d["text"].split()) for d in docs)  # sub-words
