"""The decontaminate stage in Spark: benchmark items from Wikipedia paragraphs injected into Brown
texts at known places must be found (and named), while texts sharing only short common phrases or
12-word boilerplate with the benchmark must survive.

Tests use Wikipedia articles 0-29 and Brown texts 0-59; ``benchmarks/decontam_eval.py`` measures
recall and false drops on the articles and texts after those.
"""

from __future__ import annotations

import json
import re

import pyarrow as pa
import pytest
from pydantic import ValidationError

from curation import columns as C
from curation.config import validate_config
from curation.delta import open_store
from curation.driver import Pipeline
from curation.errors import ConfigError
from curation.plan import plan
from curation.report import gather
from curation.report.html import render
from curation.stages.base import ensure_decision_columns
from curation.stages.decontaminate import Decontaminate, DecontaminateConfig
from curation.stages.decontaminate_join import DecontaminateJoin
from curation.stages.length import LengthFilter, LengthFilterConfig
from curation.stages.rowwise import apply_row_stages
from curation.text.ngrams_hash import normalize_words
from curation.whatif import whatif

SCHEMA = "id string, text string"
# A licence line of 12 words: it ends every benchmark item, and clean documents quote it too.
LICENSE = "Licensed under the Creative Commons Attribution Share Alike license version three point"
COMMON = "In the United States, at the same time, one of the most important of all"


def _paragraphs(shared_data, first: int, count: int) -> list[tuple[str, str]]:
    out = []
    with open(shared_data / "text" / "wikipedia_sample.jsonl", encoding="utf-8") as fh:
        for k, line in enumerate(fh):
            if not first <= k < first + count:
                continue
            row = json.loads(line)
            paras = [p for p in row["text"].split("\n\n") if 40 <= len(p.split()) <= 150]
            out += [(f"{row['id']}-{i}", p) for i, p in enumerate(paras[:3])]
    return out


def _brown(shared_data, count: int) -> list[str]:
    with open(shared_data / "text" / "brown.jsonl", encoding="utf-8") as fh:
        texts = [json.loads(line)["text"] for _, line in zip(range(count), fh, strict=False)]
    return [t[: t.find("\n\n", 2500)] for t in texts]  # ~3 KB, cut at a paragraph end


def norm(text: str) -> str:
    return normalize_words(pa.array([text]))[0].as_py()


def _split(paragraph: str) -> tuple[str, str]:
    """A question (the first sentence) and an answer (the rest), as a QA benchmark has them."""
    m = re.search(r"(?<=[.!?])\s+", paragraph)
    return (paragraph[: m.start()], paragraph[m.end() :]) if m else (paragraph, "")


@pytest.fixture(scope="module")
def bench(shared_data, tmp_path_factory):
    paras = _paragraphs(shared_data, 0, 30)
    rows = []
    for pid, para in paras:
        q, a = _split(para)
        rows.append({"qid": pid, "question": q, "answer": a + " " + LICENSE, "split": "test"})
    folder = tmp_path_factory.mktemp("bench")
    path = folder / "wiki_qa.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return {"path": str(path), "rows": rows, "folder": folder}


def _cfg(bench, **kw) -> DecontaminateConfig:
    source = {"name": "wikiqa", "path": bench["path"], "fields": ["question", "answer"]}
    return DecontaminateConfig(benchmarks=[{**source, "id_field": "qid"}], **kw)


def _shout(text: str) -> str:
    """The item as a scraper might have it: upper case, curly quotes, hard line breaks."""
    words = text.upper().replace("'", "\u2019").split()
    return "\n".join(" ".join(words[i : i + 9]) for i in range(0, len(words), 9))


@pytest.fixture(scope="module")
def docs(bench, shared_data):
    brown = _brown(shared_data, 60)
    rows, truth = [], {}
    items = bench["rows"]
    for i, text in enumerate(brown):
        item = items[(7 * i) % len(items)]
        words = (item["question"] + " " + item["answer"]).split()
        kind = ["full", "answer", "fragment20", "twelve", "license", "common", "clean"][i % 7]
        if kind == "full":
            shouted = _shout(item["question"] + " " + item["answer"])
            text = text[:1000] + "\n\n" + shouted + "\n\n" + text[1000:]
        elif kind == "answer":
            text = item["answer"] + "\n\n" + text
        elif kind == "fragment20":
            text = text + " " + " ".join(words[5:25]) + "."
        elif kind == "twelve":
            # 12 words as normalisation counts them ("self-care" is two)
            twelve = " ".join(norm(item["question"] + " " + item["answer"]).split()[5:17])
            text = text[:1500] + " " + twelve + " " + text[1500:]
        elif kind == "license":
            text = text + "\n\n" + LICENSE + "."
        elif kind == "common":
            text = COMMON + ". " + text
        doc_id = f"d{i:02d}-{kind}"
        rows.append((doc_id, text))
        truth[doc_id] = (
            f"wikiqa:{item['qid']}" if kind in ("full", "answer", "fragment20") else None
        )
    return rows, truth


def test_injected_items_are_dropped_and_named_shared_phrases_survive(spark, bench, docs):
    rows, truth = docs
    stage = Decontaminate(_cfg(bench))
    stage.prepare(spark)
    out = {
        r[C.ID]: r
        for r in spark.createDataFrame(rows, SCHEMA).transform(apply_row_stages, [stage]).collect()
    }
    for doc_id, source in truth.items():
        r = out[doc_id]
        if source is None:
            assert r[C.DROP_REASON] is None and r["decon_matches"] == 0, doc_id
            assert r["contaminated_by"] is None
        else:
            assert r[C.DROP_REASON] == "decontaminate:overlap", doc_id
            assert r["contaminated_by"] == source, doc_id
    full = next(r for k, r in out.items() if k.endswith("full"))
    assert full["decon_item_frac"] == 1.0 and full["decon_items"] >= 1
    details = stage.run_details()
    assert details["benchmarks"]["wikiqa"]["items"] == len(bench["rows"])
    assert details["benchmarks"]["wikiqa"]["indexed"] == len(bench["rows"])


def test_boilerplate_shared_by_items_is_template(spark, bench):
    # Every item ends with the licence line: "<an item's last word> + licence" is a 13-gram of
    # that item. A page quoting the licence after the same common word is not a copy of it.
    item = bench["rows"][0]
    last_word = item["answer"][: -len(LICENSE)].split()[-1]
    df = spark.createDataFrame(
        [("quote", f"Plain page text ends with {last_word} {LICENSE}.")], SCHEMA
    )
    outcomes = []
    for template in (10, None):
        stage = Decontaminate(_cfg(bench, template_min_items=template))
        stage.prepare(spark)
        outcomes.append(df.transform(apply_row_stages, [stage]).first()[C.DROP_REASON])
    assert outcomes == [None, "decontaminate:overlap"]


def test_remove_spans_cuts_the_item_and_keeps_the_page(spark, bench, docs):
    rows, _ = docs
    brown = rows[6][1]  # a clean text
    item = bench["rows"][3]
    injected = item["question"] + " " + item["answer"]
    mostly = injected + "\n\nThat is all."
    stage = Decontaminate(_cfg(bench, action="remove_spans"))
    stage.prepare(spark)
    df = spark.createDataFrame(
        [("mixed", brown[:1200] + "\n\n" + injected + "\n\n" + brown[1200:]), ("copy", mostly)],
        SCHEMA,
    )
    out = {r[C.ID]: r for r in df.transform(apply_row_stages, [stage]).collect()}
    mixed = out["mixed"]
    assert mixed[C.DROP_REASON] is None
    # the item's own text is cut; of its licence line (template, not indexed) only the words
    # outside the item's last n-grams stay
    before, after, licence = brown[:1200].split(), brown[1200:].split(), LICENSE.split()
    words = mixed[C.TEXT].split()
    left = words[len(before) : len(words) - len(after)]
    assert words[: len(before)] == before and words[len(words) - len(after) :] == after
    assert len(left) <= 6 and left == licence[len(licence) - len(left) :]
    assert mixed["decon_removed_chars"] >= len(injected) - len(LICENSE)
    assert mixed["contaminated_by"] == f"wikiqa:{item['qid']}"
    assert out["copy"][C.DROP_REASON] == "decontaminate:overlap"
    # it rewrites text, so the driver gives it a pass of its own (rejected rows keep their text)
    segments = plan([LengthFilter(LengthFilterConfig(min_words=5)), stage])
    assert [len(s.stages) for s in segments] == [1, 1]
    assert len(plan([LengthFilter(LengthFilterConfig()), Decontaminate(_cfg(bench))])) == 1


def test_short_items_and_formats_through_the_driver_and_whatif(spark, bench, tmp_path):
    store = open_store(spark, "rust")
    nine = "one two three four five six seven eight nine"
    short = [
        {"k": 1, "prompt": "Complete: " + nine, "choices": ["A", "B"]},  # 11 words: whole
        {"k": 2, "prompt": "too short to index", "choices": ["yes"]},  # 5 words: skipped
        {"k": 3, "prompt": None, "choices": []},  # empty
    ]
    short_df = spark.createDataFrame(short, "k int, prompt string, choices array<string>")
    short_df.write.parquet(str(tmp_path / "short.parquet"))
    store.write(spark.createDataFrame(bench["rows"]), str(tmp_path / "wiki_delta"))
    item = bench["rows"][0]
    texts = [
        (
            "hit-short",
            "The teacher said: complete one two three four five six seven eight nine a b",
        ),
        ("miss-short", "Is it too short to index yes or no, said the man at the door today."),
        ("half", "Notes. " + " ".join((item["question"] + " " + item["answer"]).split()[:30])),
        ("clean", "Nothing here is taken from any benchmark at all, only plain words."),
    ]
    source = str(tmp_path / "in")
    store.write(spark.createDataFrame(texts, SCHEMA), source)
    cfg = validate_config(
        {
            "input": {"path": source, "format": "delta"},
            "output": str(tmp_path / "out"),
            "stages": [
                {
                    "kind": "decontaminate",
                    "benchmarks": [
                        {"name": "short", "path": str(tmp_path / "short.parquet"),
                         "fields": ["prompt", "choices"], "id_field": "k"},
                        {"name": "wiki", "path": str(tmp_path / "wiki_delta"),
                         "fields": ["question", "answer"], "id_field": "qid"},
                    ],
                }
            ],
        }
    )  # fmt: skip
    result = Pipeline(cfg, spark, store).run("decon")
    st = next(s for s in result.stages if s.stage == "decontaminate")
    assert st.dropped == {"decontaminate:overlap": 2}
    bench_details = st.details["benchmarks"]
    assert bench_details["short"] == {
        "items": 3, "indexed": 1, "whole_item": 1, "too_short": 1, "empty": 1, "template_only": 0
    }  # fmt: skip
    assert bench_details["wiki"]["indexed"] == len(bench["rows"])
    rejected = {r[C.ID]: r for r in store.read(result.table("rejected")).collect()}
    assert rejected["hit-short"]["contaminated_by"] == "short:1"
    assert rejected["half"]["contaminated_by"] == f"wiki:{item['qid']}"
    assert 0 < rejected["half"]["decon_item_frac"] < 1
    # what-if: asking for half of an item's n-grams keeps the partial copy, not the whole short item
    replay = whatif(spark, store, cfg.output, ["stages.decontaminate.min_item_fraction=0.9"])
    assert replay.kept_run == 2 and replay.kept_whatif == 3
    with pytest.raises(ConfigError, match="ngram is not a pure threshold"):
        whatif(spark, store, cfg.output, ["stages.decontaminate.ngram=8"])
    # the report charts the stage's signals in its own section, with its threshold drawn in
    data = gather(spark, store, cfg.output, "decon")
    hist = next(h for h in data.histograms if h.signal.column == "decon_matches")
    assert hist.signal.section == "decontamination"
    assert hist.signal.thresholds == {"min_matched_ngrams": 1.0}
    assert '<section id="decontamination"><h2>Benchmark decontamination</h2>' in render(data)


def test_config_errors_name_the_field_and_the_fix(bench):
    with pytest.raises(ValidationError, match="min_item_words=20 is above ngram=13"):
        _cfg(bench, min_item_words=20)
    with pytest.raises(ValidationError, match="min_item_fraction=0.5 applies to action: drop, "):
        _cfg(bench, action="remove_spans", min_item_fraction=0.5)
    with pytest.raises(ValidationError, match="min_kept_fraction=0.3 applies to action: remove"):
        _cfg(bench, min_kept_fraction=0.3)
    # a run's recorded config, every field written out, validates again (what-if, the report)
    for action in ("drop", "remove_spans"):
        cfg = _cfg(bench, action=action)
        assert DecontaminateConfig.model_validate(cfg.model_dump(mode="json")) == cfg
    twice = {"name": "x", "path": "a.jsonl", "fields": ["q"]}
    with pytest.raises(ValidationError, match=r"benchmark names \['x'\] are used twice"):
        DecontaminateConfig(benchmarks=[twice, twice])
    with pytest.raises(ValidationError, match="fields"):
        DecontaminateConfig(benchmarks=[{"name": "x", "path": "a.jsonl", "fields": []}])


def test_missing_field_and_too_large_index_are_refused(spark, bench):
    bad = DecontaminateConfig(
        benchmarks=[{"name": "w", "path": bench["path"], "fields": ["question", "answr"]}]
    )
    with pytest.raises(
        ConfigError, match=r"'answr' is not a field of the benchmark .*fix the name"
    ):
        Decontaminate(bad).prepare(spark)
    gone = DecontaminateConfig(
        benchmarks=[{"name": "w", "path": "/no/such.jsonl", "fields": ["q"]}]
    )
    with pytest.raises(
        ConfigError,
        match=r"benchmarks\[0\] \(w\)\.path '/no/such.jsonl' (matches no|does not exist)",
    ):
        Decontaminate(gone).prepare(spark)
    with pytest.raises(ConfigError, match=r"above max_index_ngrams=10 .*set method: join"):
        Decontaminate(_cfg(bench, max_index_ngrams=10, method="broadcast")).prepare(spark)
    # auto joins instead of refusing
    auto = Decontaminate(_cfg(bench, max_index_ngrams=10))
    auto.prepare(spark)
    assert isinstance(auto.resolved(), DecontaminateJoin)
    with pytest.raises(ConfigError, match="call prepare"):
        Decontaminate(_cfg(bench)).scorer()


def _both_paths(spark, bench, df, **kw):
    """The same rows decided by the broadcast path and by the join path."""
    broadcast = Decontaminate(_cfg(bench, method="broadcast", **kw))
    broadcast.prepare(spark)
    assert broadcast.resolved() is broadcast
    joined = Decontaminate(_cfg(bench, method="auto", join_above_ngrams=0, **kw))
    joined.prepare(spark)
    join_stage = joined.resolved()
    assert isinstance(join_stage, DecontaminateJoin)
    a = df.transform(apply_row_stages, [broadcast])
    b = join_stage.apply(df.transform(ensure_decision_columns), {}).rows
    assert a.columns == b.columns
    return {r[C.ID]: r.asDict() for r in a.collect()}, {r[C.ID]: r.asDict() for r in b.collect()}


def test_the_join_path_decides_and_names_as_the_broadcast_path(spark, bench, docs):
    rows, truth = docs
    items = bench["rows"]
    # several items in one page (contaminated_by picks one by the same tie rule), a text-less
    # row, a page repeating an item twice
    two = items[1]["question"] + " " + items[1]["answer"] + "\n\n" + items[2]["answer"]
    twice = (items[4]["answer"] + " ") * 2
    extra = [("two-items", two), ("no-text", None), ("twice", twice), ("empty", "")]
    df = spark.createDataFrame(rows + extra, SCHEMA)
    a, b = _both_paths(spark, bench, df)
    assert a == b
    assert (
        sum(r[C.DROP_REASON] is not None for r in b.values()) == sum(map(bool, truth.values())) + 2
    )
    assert b["no-text"]["decon_matches"] is None and b["empty"]["decon_matches"] == 0
    assert b["two-items"]["decon_items"] >= 2


def test_the_join_path_cuts_spans_as_the_broadcast_path(spark, bench, docs):
    rows, _ = docs
    item = bench["rows"][3]
    injected = item["question"] + " " + item["answer"]
    extra = [("copy", injected + "\n\nThat is all."), ("no-text", None)]
    df = spark.createDataFrame(rows[:14] + extra, SCHEMA)
    a, b = _both_paths(spark, bench, df, action="remove_spans")
    assert a == b
    assert b["copy"][C.DROP_REASON] == "decontaminate:overlap"
    assert any(r["decon_removed_chars"] for r in b.values())


def test_the_driver_runs_the_join_path_and_whatif_redecides_it(spark, bench, docs, tmp_path):
    rows, truth = docs
    store = open_store(spark, "rust")
    source = str(tmp_path / "in")
    store.write(spark.createDataFrame(rows, SCHEMA), source)
    outs = {}
    for method in ("broadcast", "join"):
        stage = _cfg(bench, method=method).model_dump(mode="json")
        cfg = validate_config(
            {
                "input": {"path": source, "format": "delta"},
                "output": str(tmp_path / method),
                "stages": [{"kind": "length", "min_words": 5}, stage],
            }
        )
        result = Pipeline(cfg, spark, store).run("r")
        st = next(s for s in result.stages if s.stage == "decontaminate")
        assert st.details["method"] == method
        rejected = store.read(result.table("rejected")).collect()
        outs[method] = {r[C.ID]: (r[C.DROP_REASON], r["contaminated_by"]) for r in rejected}
        outs[method + "-whatif"] = whatif(
            spark, store, cfg.output, ["stages.decontaminate.min_matched_ngrams=1000"]
        ).kept_whatif
    assert outs["broadcast"] == outs["join"]
    assert {k for k, v in truth.items() if v} == set(outs["join"])
    assert outs["join-whatif"] == outs["broadcast-whatif"] == len(rows)
