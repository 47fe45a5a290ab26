"""Language ID stage: real lid.176 model, real Spark, sentences in eight languages."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError
from pyspark.sql.types import StringType, StructField, StructType

import curation
from curation.errors import ConfigError
from curation.stages import STAGES_BY_KIND
from curation.stages.langid import LangId, LangIdConfig, bundled_lid_model
from curation.stages.rowwise import apply_row_stages

SCHEMA = StructType([StructField("id", StringType(), False), StructField("text", StringType())])

# Short real sentences, one per language, written for this test.
SENTENCES = {
    "en": "The museum opens at nine in the morning, and the guided tours start an hour later.",
    "de": "Der Zug nach Hamburg hatte heute Morgen wegen eines Stellwerksproblems Verspätung.",
    "fr": "Nous avons passé le week-end à la campagne chez mes grands-parents, loin du bruit.",
    "es": "La biblioteca municipal amplió su horario para que los estudiantes puedan preparar "
    "sus exámenes.",
    "ru": "Вчера вечером мы гуляли по набережной и смотрели, как корабли уходят в море.",
    "zh": "我们明天早上八点在火车站见面，然后一起去山上看日出。",
    "ar": "ذهبت إلى السوق صباح اليوم واشتريت الخبز والخضروات الطازجة لعائلتي.",
    "ja": "昨日は雨が降っていたので、一日中家で本を読んで過ごしました。",
}


def _df(spark, rows):
    return spark.createDataFrame(rows, SCHEMA)


def test_bundled_model_is_the_packaged_lid176_with_its_license():
    import hashlib
    from pathlib import Path

    path = Path(bundled_lid_model())
    assert (
        path.name == "lid.176.ftz"
        and path.parent == Path(curation.__file__).parent / "data" / "langid"
    )
    # The file whose license and source curation/data/langid/README.md states, byte for byte.
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    notice = (path.parent / "README.md").read_text()
    assert digest in notice and "CC BY-SA 3.0" in notice


def test_detects_eight_languages(spark):
    rows = [(code, text) for code, text in SENTENCES.items()]
    stage = LangId(LangIdConfig(allowed=(), min_score=0.0))
    stage.prepare(spark)
    out = {r["id"]: r for r in apply_row_stages(_df(spark, rows), [stage]).collect()}
    for code in SENTENCES:
        assert out[code]["lang"] == code, (code, out[code]["lang"])
        assert 0.5 < out[code]["lang_score"] <= 1.0
        assert out[code]["drop_reason"] is None


def test_multiline_text_is_scored_as_one_document(spark):
    text = "First line of an English letter.\nSecond line, still English.\n\nSigned, the author."
    stage = LangId(LangIdConfig())
    stage.prepare(spark)
    (row,) = apply_row_stages(_df(spark, [("a", text)]), [stage]).collect()
    assert row["lang"] == "en"
    assert row["drop_reason"] is None


def test_filters_by_language_and_score(spark):
    rows = [
        ("en", SENTENCES["en"]),
        ("de", SENTENCES["de"]),
        ("fr", SENTENCES["fr"]),
        ("short", "ok"),  # too little text for a confident guess
        ("empty", "   \n "),
        ("null", None),
    ]
    stage = LangId(LangIdConfig(allowed=("en", "de"), min_score=0.65))
    stage.prepare(spark)
    out = {r["id"]: r for r in apply_row_stages(_df(spark, rows), [stage]).collect()}
    assert stage.thresholds() == {"lang_score": {"min_score": 0.65}}
    assert out["en"]["drop_reason"] is None
    assert out["de"]["drop_reason"] is None
    assert out["fr"]["drop_reason"] == "langid:not_allowed"
    assert out["fr"]["drop_stage"] == "langid"
    assert out["empty"]["lang"] is None and out["empty"]["lang_score"] == 0.0
    assert out["empty"]["drop_reason"] == "langid:not_allowed"
    assert out["null"]["drop_reason"] == "langid:not_allowed"
    short = out["short"]
    if short["lang"] in ("en", "de"):
        assert (short["drop_reason"] == "langid:low_score") == (short["lang_score"] < 0.65)
    else:
        assert short["drop_reason"] == "langid:not_allowed"


def test_low_score_reason_when_all_languages_allowed(spark):
    # Mixed-language text splits the probability mass; with every language allowed, only the
    # score rule can drop it.
    mixed = SENTENCES["en"][:40] + " " + SENTENCES["de"][:40] + " " + SENTENCES["fr"][:40]
    stage = LangId(LangIdConfig(allowed=(), min_score=0.99))
    stage.prepare(spark)
    out = {
        r["id"]: r
        for r in apply_row_stages(
            _df(spark, [("mixed", mixed), ("de", SENTENCES["de"])]), [stage]
        ).collect()
    }
    assert out["mixed"]["lang_score"] < 0.99
    assert out["mixed"]["drop_reason"] == "langid:low_score"
    assert out["de"]["drop_reason"] is None


def test_shared_english_texts_are_english(spark, shared_data):
    rows = []
    for name in ("wikipedia_sample.jsonl", "brown.jsonl"):
        with open(shared_data / "text" / name, encoding="utf-8") as fh:
            for i, line in enumerate(fh):
                if i >= 15:
                    break
                doc = json.loads(line)
                rows.append((doc["id"], doc["text"]))
    stage = LangId(LangIdConfig())
    stage.prepare(spark)
    out = apply_row_stages(_df(spark, rows), [stage]).collect()
    assert len(out) == 30
    assert all(r["lang"] == "en" for r in out), [(r["id"], r["lang"]) for r in out]
    assert all(r["drop_reason"] is None for r in out)


def test_other_model_path_is_used(spark, tmp_path):
    # A copy of the model under another name exercises model_path and shipping by path.
    import shutil

    copy = tmp_path / "my_lid.ftz"
    shutil.copy(bundled_lid_model(), copy)
    stage = LangId(LangIdConfig(model_path=str(copy), allowed=("fr",)))
    stage.prepare(spark)
    assert stage._model.name == "my_lid.ftz"
    (row,) = apply_row_stages(_df(spark, [("fr", SENTENCES["fr"])]), [stage]).collect()
    assert row["lang"] == "fr" and row["drop_reason"] is None


def test_config_errors():
    with pytest.raises(ValidationError):
        LangIdConfig(min_score=1.5)
    with pytest.raises(ValidationError):
        LangIdConfig(unknown=1)
    with pytest.raises(ValidationError, match="without __label__"):
        LangIdConfig(allowed=("__label__en",))
    assert STAGES_BY_KIND["langid"] is LangId


def test_missing_model_path_is_a_config_error(spark, tmp_path):
    stage = LangId(LangIdConfig(model_path=str(tmp_path / "nope.bin")))
    with pytest.raises(ConfigError, match="does not exist"):
        stage.prepare(spark)
