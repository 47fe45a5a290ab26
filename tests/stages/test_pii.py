"""The PII stage in Spark: counts, redaction, drops, its own pass, what-if and the report."""

from __future__ import annotations

import json

import pytest

from curation import columns as C
from curation.config import validate_config
from curation.delta import open_store
from curation.driver import Pipeline
from curation.errors import ConfigError
from curation.plan import plan
from curation.report import gather
from curation.run_layout import RunLayout
from curation.stages import STAGES_BY_KIND, build_stage
from curation.stages.length import LengthFilter, LengthFilterConfig
from curation.stages.pii import PiiConfig, PiiStage, column
from curation.stages.rowwise import apply_row_stages
from curation.text.pii import KINDS, find_pii
from curation.whatif import compare

PROSE = "The committee met on Tuesday to discuss the plan for the park and its budget."
ROWS = [
    ("clean", PROSE),
    ("one_each", f"{PROSE} Mail ana.lopez@fastmail.fm or call +44 20 7946 0958 today."),
    ("phones", f"{PROSE} Tel 415-867-5309, fax 415-867-5310, mobile 07700 900123."),
    ("private", f"{PROSE} The router is 192.168.1.1 and the docs say bob@example.com."),
    ("no_text", None),
]


def run(spark, config: PiiConfig, rows=ROWS):
    df = spark.createDataFrame(rows, "id string, text string")
    out = df.transform(apply_row_stages, [PiiStage(config)])
    return {r["id"]: r for r in out.collect()}


def test_registered_and_config_errors_say_what_to_change():
    assert STAGES_BY_KIND["pii"] is PiiStage
    base = {"input": {"path": "x"}, "output": "o"}
    with pytest.raises(ConfigError, match=r"max_counts.phone is set but phone.action is 'redact'"):
        validate_config({**base, "stages": [{"kind": "pii", "max_counts": {"phone": 3}}]})
    with pytest.raises(ConfigError, match="never used with action 'keep'"):
        stage = {"kind": "pii", "email": {"action": "keep", "placeholder": "[mail]"}}
        validate_config({**base, "stages": [stage]})
    with pytest.raises(ConfigError, match=r"stages.pii.email.action"):
        validate_config({**base, "stages": [{"kind": "pii", "email": {"action": "mask"}}]})


def test_counts_every_kind_and_redacts_with_placeholders(spark):
    rows = run(spark, PiiConfig(email={"placeholder": "[mail]"}))
    one = rows["one_each"]
    assert (one[column("email")], one[column("phone")]) == (1, 1)
    assert one[C.TEXT].endswith("Mail [mail] or call <PHONE> today.")
    assert rows["phones"][column("phone")] == 3
    assert rows["phones"][C.TEXT].endswith("Tel <PHONE>, fax <PHONE>, mobile <PHONE>.")
    # private addresses and documentation domains are not PII by default
    assert all(rows["private"][column(k)] == 0 for k in KINDS)
    assert rows["private"][C.TEXT] == ROWS[3][1]
    assert rows["clean"][C.TEXT] == PROSE and rows["clean"][C.DROP_REASON] is None
    assert rows["no_text"][C.TEXT] is None and rows["no_text"][column("email")] is None
    assert all(r[C.DROP_REASON] is None for r in rows.values())


def test_keep_counts_without_touching_text_and_drop_cuts_above_the_limit(spark):
    cfg = PiiConfig(
        email={"action": "keep"},
        ipv4={"action": "keep"},
        phone={"action": "drop"},
        max_counts={"phone": 2},
    )
    rows = run(spark, cfg)
    assert rows["one_each"][C.TEXT].endswith("ana.lopez@fastmail.fm or call <PHONE> today.")
    assert rows["one_each"][C.DROP_REASON] is None
    assert rows["phones"][C.DROP_REASON] == "pii:too_many_phone"
    # a dropped row is redacted too: `rejected` must not hold the numbers either
    assert "<PHONE>" in rows["phones"][C.TEXT] and "415-867" not in rows["phones"][C.TEXT]
    strict = run(spark, PiiConfig(allow_examples=False, public_ips_only=False))
    assert (strict["private"][column("ipv4")], strict["private"][column("email")]) == (1, 1)


def test_only_a_stage_that_rewrites_text_gets_a_pass_of_its_own():
    length = LengthFilter(LengthFilterConfig(min_words=5))
    redacts = PiiStage(PiiConfig())
    counts_only = PiiStage(PiiConfig(**{k: {"action": "keep"} for k in KINDS}))
    assert [[s.name for s in g.stages] for g in plan([length, redacts])] == [["length"], ["pii"]]
    assert [[s.name for s in g.stages] for g in plan([length, counts_only])] == [["length", "pii"]]
    assert C.TEXT not in {f.name for f in counts_only.output_fields()}


def test_run_rejected_text_whatif_and_report_from_the_declarations(spark, tmp_path):
    store = open_store(spark, "rust")
    source = str(tmp_path / "in")
    short = "Call 415-867-5309 now."  # under 5 words: length drops it before pii sees it
    rows = [*ROWS[:4], ("short", short)]
    store.write(spark.createDataFrame(rows, "id string, text string"), source)
    out = str(tmp_path / "out")
    cfg = validate_config({"input": {"path": source, "format": "delta"}, "output": out})
    pii = PiiStage(PiiConfig(phone={"action": "drop"}, max_counts={"phone": 2}))
    stages = [LengthFilter(LengthFilterConfig(min_words=5)), pii]
    result = Pipeline(cfg, spark, store, stages=stages).run("r1")

    stats = next(s for s in result.stages if s.stage == "pii")
    assert stats.dropped == {"pii:too_many_phone": 1}
    assert stats.details["dropped_above"] == {"phone": 2}
    layout = RunLayout(out)
    rejected = {r["id"]: r for r in store.read(layout.table("rejected")).collect()}
    assert rejected["short"][C.TEXT] == short  # the text length saw
    assert "<PHONE>" in rejected["phones"][C.TEXT]  # the text pii saw and redacted
    kept = {r["id"]: r[C.TEXT] for r in store.read(layout.table("documents")).collect()}
    assert all(not find_pii(t) for t in kept.values())

    # what-if: the limit is re-applied from the stored counts
    looser = [stages[0], PiiStage(PiiConfig(phone={"action": "drop"}, max_counts={"phone": 3}))]
    replay = compare(layout.run_rows(store, "r1"), looser, "r1")
    assert (replay.kept_run, replay.kept_whatif) == (3, 4)

    data = gather(spark, store, out, "r1", stages=stages)
    assert "pii" in [s.id for s in data.sections]
    hist = next(h for h in data.histograms if h.signal.column == column("phone"))
    assert hist.signal.section == "pii" and hist.signal.thresholds == {"max_counts.phone": 2.0}


def test_whatif_may_change_the_limits_only(spark, tmp_path):
    from curation.whatif import plan_overrides

    raw = {
        "input": {"path": "x"},
        "output": "o",
        "stages": [{"kind": "pii", "phone": {"action": "drop"}}],
    }
    raw = json.loads(validate_config(raw).model_dump_json())
    cfg, changes = plan_overrides(raw, ["stages.pii.max_counts.phone=9"])
    assert build_stage(cfg.stages[0]).thresholds() == {"pii_phone": {"max_counts.phone": 9.0}}
    assert [(c.field, c.after) for c in changes] == [("max_counts", {"phone": 9})]
    with pytest.raises(ConfigError, match="not a pure threshold"):
        plan_overrides(raw, ["stages.pii.email.action=keep"])


def test_spam_mails_are_redacted_and_nothing_findable_is_left(spark, shared_data):
    """Real spam and ham: every span the kernel finds is replaced, and the rest is untouched."""
    docs = []
    with (shared_data / "text" / "spamassassin.jsonl").open(encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if i % 40 == 0:
                doc = json.loads(line)
                docs.append((doc["id"], doc["text"]))
    rows = run(spark, PiiConfig(), docs)
    with_pii = 0
    for doc_id, text in docs:
        spans = find_pii(text)
        with_pii += bool(spans)
        out = rows[doc_id]
        assert sum(out[column(k)] for k in KINDS) == len(spans)
        assert find_pii(out[C.TEXT]) == []
        kept = [text[a.end : b.start] for a, b in zip(spans, spans[1:], strict=False)]
        assert all(piece in out[C.TEXT] for piece in kept)
    assert with_pii > len(docs) // 3  # spam is full of addresses: the sample exercises redaction
