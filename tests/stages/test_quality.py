"""The quality stage in Spark: drop reasons, C4 rewrite, per-language thresholds, re-deciding."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from curation import columns as C
from curation.stages import STAGES_BY_KIND, build_stage
from curation.stages.quality import QualityConfig, QualityStage
from curation.stages.rowwise import apply_row_stages, decide, score
from curation.text.quality_signals import SIGNAL_NAMES

SCHEMA = "id string, text string, lang string"
PROSE = (
    "The committee met on Tuesday to discuss the new proposal for the city park. Several "
    "members of the public spoke in favour of the plan, and others raised concerns about the "
    "cost. The chair said that the decision would be made at the next meeting, after a review "
    "of the budget.\nIt was agreed that the park should have more trees and a new playground for "
    "the children. The meeting ended with a short vote on the schedule for the coming year.\n"
    "Residents who want to comment on the plan can write to the council before the end of May."
)
# German prose full of long compounds: mean word length above Gopher's 10, otherwise clean.
COMPOUNDS = " ".join(
    [
        "Die Bundesausbildungsförderungsgesetzesnovelle wurde gestern im Landesparlament "
        "ausführlich diskutiert.",
        "Verkehrsministerin Hoffmann kündigte eine Straßenverkehrszulassungsordnungsänderung "
        "für Nutzfahrzeuge an.",
        "Die Donaudampfschifffahrtsgesellschaftskapitäne verlangten bessere Arbeitsbedingungen "
        "und Ruhezeitenregelungen.",
        "Krankenversicherungsbeitragserhöhungen belasten viele Durchschnittsverdienerhaushalte "
        "erheblich.",
        "Umweltschutzorganisationen kritisierten die Kohlekraftwerksstilllegungsverzögerungen "
        "scharf.",
        "Rechtsschutzversicherungsgesellschaften bieten zunehmend "
        "Onlineberatungsdienstleistungen an.",
        "Die Gemeindeverwaltungsreform sieht Zusammenlegungen kleinerer Verwaltungseinheiten vor.",
        "Feuerwehrhauptmannstellvertreter Krause lobte die Katastrophenschutzübungsteilnehmer "
        "ausdrücklich.",
        "Die Landwirtschaftskammerpräsidentin forderte Trockenheitsentschädigungszahlungen für "
        "betroffene Obstbaubetriebe.",
        "Haushaltskonsolidierungsmaßnahmen verzögern die Schulgebäudesanierungsprogramme "
        "vielerorts und überall.",
    ]
)
CJK = "".join(
    [
        "今天天气很好我们一起去公园散步。",
        "这个城市的历史非常悠久有很多古老的建筑。",
        "他每天早上六点起床然后去河边跑步。",
        "图书馆里的学生都在安静地看书。",
        "明年春天我们打算去南方旅行。",
        "这家饭店的菜又便宜又好吃。",
    ]
)


def run(spark, rows, config=None, schema=SCHEMA):
    df = spark.createDataFrame(rows, schema)
    stage = QualityStage(config or QualityConfig())
    out = df.transform(apply_row_stages, [stage]).orderBy("id")
    return {r["id"]: r for r in out.collect()}


def test_registered_as_kind_quality():
    assert STAGES_BY_KIND["quality"] is QualityStage
    assert isinstance(build_stage(QualityConfig()), QualityStage)


def test_each_kind_of_bad_page_drops_with_its_reason_and_prose_is_kept(spark):
    repeated = "\n".join(["Buy cheap watches now at the best price in town today."] * 20)
    lorem = (PROSE + "\nLorem ipsum dolor sit amet, consectetur adipiscing elit.\n") * 2
    code = PROSE + "\nThe function is written as f(x) { return x; } in the code.\n" + PROSE
    few = "This is one sentence. And two sentences here."
    hashtags = PROSE + " " + " ".join(f"#tag{i}" for i in range(40)) + "."
    menu = "\n".join(["Home", "About us", "Contact", "Shop", "Cart", "Login"] * 6) + "\n" + PROSE
    rows = [
        ("prose", PROSE, None),
        ("repeated", repeated, None),
        ("lorem", lorem, None),
        ("code", code, None),
        ("few", few, None),
        ("hashtags", hashtags, None),
        ("menu", menu, None),
    ]
    got = run(spark, rows)
    assert got["prose"][C.DROP_REASON] is None and got["prose"][C.DROP_STAGE] is None
    assert got["repeated"][C.DROP_REASON] == "gopher_repetition:dup_line_frac"
    assert got["lorem"][C.DROP_REASON] == "c4:lorem_ipsum"
    assert got["code"][C.DROP_REASON] == "c4:curly_bracket"
    assert got["few"][C.DROP_REASON] == "c4:num_sentences"
    assert got["hashtags"][C.DROP_REASON] == "gopher_quality:hash_ratio"
    # C4 removes the menu lines, so the rest of the page is kept, rewritten
    assert got["menu"][C.DROP_REASON] is None and got["menu"]["text"] == PROSE
    assert all(r[C.DROP_STAGE] in (None, "quality") for r in got.values())


def test_c4_rewrite_replaces_text_and_keeps_the_original_length(spark):
    text = "Menu\nHome\n" + PROSE + "\nPlease enable JavaScript to see the comments below."
    got = run(spark, [("a", text, None)])["a"]
    assert got["text"] == PROSE
    assert got["q_c4_orig_chars"] == len(text) and got["q_n_chars"] == len(PROSE)
    assert got["q_c4_lines_removed"] == 3
    cfg = QualityConfig(c4_line_filter={"enabled": False})
    assert "text" not in [f.name for f in QualityStage(cfg).output_fields()]
    same = run(spark, [("a", text, None)], cfg)["a"]
    assert same["text"] == text and same["q_n_chars"] == len(text)


def test_bad_input_has_a_defined_outcome(spark):
    junk = bytes(range(256)).decode("latin-1") * 20
    rows = [
        ("empty", "", None),
        ("null", None, None),
        ("space", " \n\t\n ", None),
        ("junk", junk, None),
        ("cjk", CJK, "zh"),
    ]
    got = run(spark, rows)
    assert got["null"][C.DROP_REASON] == "quality:no_text" and got["null"]["text"] is None
    assert got["null"]["q_word_count"] is None
    assert got["empty"][C.DROP_REASON] == "c4:num_sentences"
    assert got["space"][C.DROP_REASON] == "c4:num_sentences"
    assert got["junk"][C.DROP_REASON] is not None
    # C4's line-end rule knows ". ? ! \" '" only, so the Chinese line goes
    assert got["cjk"][C.DROP_REASON] == "c4:num_sentences"
    assert got["cjk"]["q_stop_word_frac"] is None  # no stop-word list for zh
    no_c4 = QualityConfig(c4={"enabled": False}, c4_line_filter={"enabled": False})
    got = run(spark, rows, no_c4)
    assert got["empty"][C.DROP_REASON] == "gopher_quality:word_count"
    # no spaces: six "words" of a clause each; the first 3-gram (count 1) is a third of the text,
    # which Gopher's top-n-gram rule (as datatrove computes it) already drops
    assert got["cjk"][C.DROP_REASON] == "gopher_repetition:top_3gram"


def test_language_override_changes_the_decision_for_that_language_only(spark):
    cfg = QualityConfig(overrides={"de": {"gopher_quality": {"max_avg_word_length": 20}}})
    rows = [("de", COMPOUNDS, "de"), ("en", COMPOUNDS, "en"), ("none", COMPOUNDS, None)]
    got = run(spark, rows, cfg)
    assert got["de"]["q_mean_word_length"] > 10
    assert got["de"][C.DROP_REASON] is None
    assert got["en"][C.DROP_REASON] == "gopher_quality:mean_word_length"
    assert got["none"][C.DROP_REASON] == "gopher_quality:mean_word_length"  # default_lang en


def test_override_can_switch_a_family_off_and_defaults_apply_without_lang_column(spark):
    cfg = QualityConfig(overrides={"en": {"gopher_quality": {"enabled": False}}})
    got = run(spark, [("a", COMPOUNDS)], cfg, schema="id string, text string")
    # no lang column: every row is default_lang "en", whose override switches the rule off
    assert got["a"][C.DROP_REASON] is None
    got = run(spark, [("a", COMPOUNDS)], QualityConfig(default_lang=None), "id string, text string")
    assert got["a"][C.DROP_REASON] == "gopher_quality:mean_word_length"


def test_thresholds_are_reapplied_from_stored_signal_columns_only(spark):
    df = spark.createDataFrame([("a", PROSE, None), ("b", COMPOUNDS, None)], SCHEMA)
    scored = score(df, [QualityStage(QualityConfig())])
    # keep only the signals: the rules must not need text or anything else
    signals_only = scored.select("id", *SIGNAL_NAMES)
    strict = QualityConfig(gopher_quality={"min_doc_words": 500})
    loose = QualityConfig(gopher_quality={"max_avg_word_length": 30, "min_stop_words": None})
    reasons = {
        name: {
            r["id"]: r[C.DROP_REASON] for r in decide(signals_only, [QualityStage(c)])[0].collect()
        }
        for name, c in (("strict", strict), ("loose", loose))
    }
    assert reasons["strict"] == {
        "a": "gopher_quality:word_count",
        "b": "gopher_quality:word_count",
    }
    assert reasons["loose"] == {"a": None, "b": None}


def test_decision_fields_are_the_rule_sections():
    assert QualityStage.decision_fields == {
        "c4",
        "gopher_repetition",
        "gopher_quality",
        "fineweb",
        "overrides",
    }
    thr = QualityStage(QualityConfig()).thresholds()
    assert thr["q_word_count"] == {
        "gopher_quality.min_doc_words": 50.0,
        "gopher_quality.max_doc_words": 100000.0,
    }
    assert thr["q_fw_char_dup_ratio"] == {"fineweb.max_char_dup_ratio": 0.01}


def test_config_errors_name_the_field():
    with pytest.raises(ValidationError, match="max_avg_word_lenght"):
        QualityConfig(overrides={"de": {"gopher_quality": {"max_avg_word_lenght": 12}}})
    with pytest.raises(ValidationError, match="overrides.de.gopher_quality"):
        QualityConfig(overrides={"de": {"gopher_quality": {"max_bullet_lines_ratio": 2}}})
    with pytest.raises(ValidationError, match="not a language code"):
        QualityConfig(overrides={"German!": {}})
    with pytest.raises(ValidationError):
        QualityConfig(gopher_quality={"min_doc_words": -1})
    cfg = QualityConfig.model_validate(
        json.loads('{"kind": "quality", "overrides": {"de": {"fineweb": {"enabled": false}}}}')
    )
    assert cfg.rules_for("de", "fineweb").enabled is False
    assert cfg.rules_for("fr", "fineweb").enabled is True


def test_wikipedia_sample_is_mostly_kept(spark, shared_data):
    rows = []
    with (shared_data / "text" / "wikipedia_sample.jsonl").open(encoding="utf-8") as fh:
        for line in list(fh)[:40]:
            doc = json.loads(line)
            rows.append((doc["id"], doc["text"], None))
    got = run(spark, rows)
    kept = [i for i, r in got.items() if r[C.DROP_REASON] is None]
    assert len(kept) >= 0.7 * len(rows), {i: r[C.DROP_REASON] for i, r in got.items()}
    reasons = {r[C.DROP_REASON] for r in got.values()} - {None}
    assert all(
        r.split(":")[0] in {"c4", "gopher_quality", "gopher_repetition", "fineweb"} for r in reasons
    )
    assert all(r["q_c4_orig_chars"] >= r["q_n_chars"] for r in got.values())
