"""fastText quality stage and text preparation: real fastText models trained here, real Spark."""

from __future__ import annotations

import json
import random
from pathlib import Path

import fasttext
import pyarrow as pa
import pytest
from pydantic import ValidationError
from pyspark.sql.types import StringType, StructField, StructType

from curation import models
from curation.errors import ConfigError
from curation.stages import STAGES_BY_KIND
from curation.stages.classifier import (
    FastTextQuality,
    FastTextQualityConfig,
    sidecar_path,
)
from curation.stages.rowwise import apply_row_stages
from curation.text.fasttext_prep import prepare_array, prepare_text, prepare_texts
from curation.train.config import FastTextParams
from curation.train.trainer import fit_fasttext

SCHEMA = StructType([StructField("id", StringType(), False), StructField("text", StringType())])

GOOD = (  # noqa: SIM905 - reads better as prose
    "the committee published a careful survey of the river valley and its ancient mills "
    "historians studied the archive records of the harbour and the cathedral restoration "
    "engineers measured the bridge before the council approved the railway expansion"
).split()
BAD = (  # noqa: SIM905 - reads better as prose
    "click here buy now cheap pills free offer limited deal winner casino bonus unsubscribe "
    "viagra discount order today act now guaranteed cash prize subscribe login password"
).split()


def _doc(rng: random.Random, words: list[str], n: int = 40) -> str:
    lines = [" ".join(rng.choice(words) for _ in range(n // 4)) for _ in range(4)]
    return "\n".join(lines)


MODEL_NAME = "ftq_quality.bin"


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    """A tiny supervised model: __label__hq for GOOD-word text, __label__cc for BAD-word text."""
    rng = random.Random(7)
    root = tmp_path_factory.mktemp("ftq")
    train = root / "train.txt"
    with open(train, "w", encoding="utf-8") as fh:
        for _ in range(300):
            fh.write("__label__hq " + prepare_text(_doc(rng, GOOD), "dclm") + "\n")
            fh.write("__label__cc " + prepare_text(_doc(rng, BAD), "dclm") + "\n")
    params = FastTextParams(
        epoch=10, lr=0.1, word_ngrams=2, dim=64, min_count=1, bucket=20_000, thread=1
    )
    model = fit_fasttext(str(train), params, seed=1)
    # A basename no other test ships: shipped names are per session, and the suite shares one.
    path = root / MODEL_NAME
    model.save_model(str(path))
    return str(path)


def _mixed_rows(n: int, seed: int = 3) -> list[tuple[str, str]]:
    """Documents with a varying share of GOOD words, so scores spread over (0, 1)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        share = i / max(1, n - 1)
        words = [rng.choice(GOOD) if rng.random() < share else rng.choice(BAD) for _ in range(30)]
        rows.append((f"d{i:04d}", " ".join(words[:15]) + "\n\n" + " ".join(words[15:])))
    return rows


def _run(spark, stage, rows, partitions: int = 2):
    df = spark.createDataFrame(rows, SCHEMA).repartition(partitions)
    stage.prepare(spark)
    return apply_row_stages(df, [stage]).collect()


def _run_with_cutoffs(spark, stage, rows, partitions: int = 2):
    """Decided rows and the cutoffs the stage returned (the driver records these)."""
    from curation.stages.base import ensure_decision_columns
    from curation.stages.rowwise import decide, score

    df = ensure_decision_columns(spark.createDataFrame(rows, SCHEMA).repartition(partitions))
    stage.prepare(spark)
    decided, used = decide(score(df, [stage]), [stage])
    return decided.collect(), used[stage.name]


# --- text preparation ------------------------------------------------------------------------


def test_dclm_prep_replaces_newlines_only():
    assert prepare_text("Title\n\nBody Text\nÉtude", "dclm") == "Title  Body Text Étude"


def test_ultrafineweb_prep_normalises():
    text = "Crème Brûlée\n\n\n\nÜBER  den Fluß\u00a0– ﬁne\tcafé\r\n  Ελληνικά  "
    out = prepare_text(text, "ultrafineweb")
    assert out == "creme brulee uber den fluß – fine cafe ελληνικα"
    assert "\n" not in out and "  " not in out


def test_prep_keeps_nulls_and_handles_chunked_and_large_strings():
    arr = pa.chunked_array(
        [pa.array(["a\nb", None], pa.large_string()), pa.array(["É"], pa.large_string())]
    )
    assert prepare_array(arr, "ultrafineweb").to_pylist() == ["a b", None, "e"]
    assert prepare_texts(["x\ny", None], "dclm") == ["x y", None]
    with pytest.raises(ValueError, match="unknown fastText prep mode"):
        prepare_texts(["x"], "nope")  # type: ignore[arg-type]


# --- scoring ---------------------------------------------------------------------------------


@pytest.mark.parametrize("prep", ["dclm", "ultrafineweb"])
def test_scores_match_direct_predict(spark, model_path, prep):
    rows = _mixed_rows(40)
    stage = FastTextQuality(
        FastTextQualityConfig(model_path=model_path, prep=prep, keep_top_percent=100)
    )
    out = {r["id"]: r["quality_score"] for r in _run(spark, stage, rows)}
    model = fasttext.load_model(model_path)
    for rid, text in rows:
        labels, probs = model.predict(prepare_text(text, prep), k=-1)
        expected = dict(zip(labels, probs, strict=True))["__label__hq"]
        assert out[rid] == pytest.approx(min(1.0, expected), abs=1e-6)
        assert 0.0 <= out[rid] <= 1.0
    # The model separates the classes: all-GOOD text scores high, all-BAD text low.
    assert out["d0039"] > 0.9 and out["d0000"] < 0.1


def test_keep_top_percent_keeps_about_that_share_and_records_threshold(spark, model_path):
    rows = _mixed_rows(400)
    stage = FastTextQuality(FastTextQualityConfig(model_path=model_path, keep_top_percent=25))
    out, cutoffs = _run_with_cutoffs(spark, stage, rows, partitions=4)
    kept = [r for r in out if r["drop_reason"] is None]
    dropped = [r for r in out if r["drop_reason"] is not None]
    assert abs(len(kept) - 100) <= 8, len(kept)
    thr = cutoffs["threshold"]
    assert thr is not None and 0.0 < thr < 1.0
    assert stage.run_details(cutoffs)["threshold"] == thr
    assert stage.run_details(cutoffs)["keep_top_percent"] == 25
    assert stage.thresholds(cutoffs) == {"quality_score": {"threshold": thr}}
    # Nothing is stored on the stage: without the run's cutoffs there is no top-k% cut to show.
    assert stage.thresholds() == {}
    assert all(r["quality_score"] >= thr for r in kept)
    assert all(r["quality_score"] < thr for r in dropped)
    assert {r["drop_reason"] for r in dropped} == {"fasttext_quality:low_score"}
    assert {r["drop_stage"] for r in dropped} == {"fasttext_quality"}


def test_top_percent_ignores_rows_already_dropped(spark, model_path):
    rows = _mixed_rows(200)
    df = spark.createDataFrame(rows, SCHEMA)
    from pyspark.sql import functions as F

    # An earlier stage dropped the better half; the quantile must come from the live rows only.
    from curation.stages.rowwise import decide, score

    df = df.withColumn("drop_stage", F.when(F.col("id") >= "d0100", "earlier")).withColumn(
        "drop_reason", F.when(F.col("id") >= "d0100", "earlier:x")
    )
    stage = FastTextQuality(FastTextQualityConfig(model_path=model_path, keep_top_percent=50))
    stage.prepare(spark)
    scored = score(df, [stage]).cache()
    out = decide(scored, [stage])[0].collect()
    live = [r for r in out if r["id"] < "d0100"]
    kept = [r for r in live if r["drop_reason"] is None]
    assert abs(len(kept) - 50) <= 5, len(kept)
    assert all(r["drop_reason"] == "earlier:x" for r in out if r["id"] >= "d0100")
    scored.unpersist()


def test_absolute_threshold_and_null_text(spark, model_path):
    rows = _mixed_rows(30) + [("null", None)]
    stage = FastTextQuality(FastTextQualityConfig(model_path=model_path, threshold=0.5))
    assert stage.config.keep_top_percent is None
    decided, cutoffs = _run_with_cutoffs(spark, stage, rows)
    out = {r["id"]: r for r in decided}
    assert cutoffs == {"threshold": 0.5}
    assert stage.thresholds() == {"quality_score": {"threshold": 0.5}}
    assert out["null"]["quality_score"] is None
    assert out["null"]["drop_reason"] == "fasttext_quality:low_score"
    for rid, _ in rows[:-1]:
        r = out[rid]
        expect = None if r["quality_score"] >= 0.5 else "fasttext_quality:low_score"
        assert r["drop_reason"] == expect
    assert any(r["drop_reason"] is None for r in out.values())
    assert any(r["drop_reason"] is not None for r in out.values())


def test_model_loads_once_per_worker(spark, model_path):
    """Many tasks and batches, two stages sharing one model file: one load per Python worker."""
    rows = _mixed_rows(240)
    stages = [
        FastTextQuality(
            FastTextQualityConfig(model_path=model_path, keep_top_percent=100, name="q1")
        ),
        FastTextQuality(
            FastTextQualityConfig(
                model_path=model_path,
                keep_top_percent=100,
                name="q2",
                score_column="quality_score_2",
            )
        ),
    ]
    for s in stages:
        s.prepare(spark)
    key = stages[0]._model.key
    conf = "spark.sql.execution.arrow.maxRecordsPerBatch"
    old = spark.conf.get(conf)
    spark.conf.set(conf, "10")  # 3 batches per task
    try:
        df = spark.createDataFrame(rows, SCHEMA).repartition(8)
        out = apply_row_stages(df, stages).collect()
    finally:
        spark.conf.set(conf, old)
    assert len(out) == 240
    assert all(r["quality_score"] == r["quality_score_2"] for r in out)

    def report(batches):
        import os

        from curation import models as m

        for _ in batches:
            yield pa.RecordBatch.from_pydict({"pid": [os.getpid()], "loads": [m.load_count(key)]})

    counts = (
        spark.range(0, 16, numPartitions=16).mapInArrow(report, "pid long, loads long").collect()
    )
    per_worker = {r["pid"]: r["loads"] for r in counts}
    # Every worker that scored loaded the model exactly once; at least one of them was reused.
    assert max(per_worker.values()) == 1, per_worker
    assert set(per_worker.values()) <= {0, 1}


def test_shipped_file_is_resolved_from_spark_files(spark, model_path):
    stage = FastTextQuality(FastTextQualityConfig(model_path=model_path, keep_top_percent=100))
    stage.prepare(spark)
    ref = stage._model
    assert ref.shipped == "files" and ref.name == MODEL_NAME

    def where(batches):
        from curation import models as m

        for _ in batches:
            yield pa.RecordBatch.from_pydict({"path": [m.resolve_path(ref)]})

    (row,) = spark.range(1, numPartitions=1).mapInArrow(where, "path string").collect()
    # Workers read the copy Spark shipped (its userFiles directory), not the original path.
    assert row["path"] != model_path and row["path"].endswith("/" + MODEL_NAME)


def test_same_basename_from_two_folders_ships_under_two_names(spark, model_path, tmp_path):
    # A retrained model saved under the same name in another folder: other bytes, same basename.
    other = tmp_path / MODEL_NAME
    original = Path(model_path).read_bytes()
    other.write_bytes(b"retrained" + original[:100])
    a = models.ship_model(spark, model_path)
    b = models.ship_model(spark, str(other))
    assert a.name == MODEL_NAME and b.name != a.name and b.name.endswith(".bin")
    assert models.ship_model(spark, str(other)) == b  # shipped once per session

    def heads(batches):
        from curation import models as m

        for _ in batches:
            yield pa.RecordBatch.from_pydict(
                {"head": [[Path(m.resolve_path(r)).read_bytes()[:9] for r in (a, b)]]}
            )

    # Executors hold both files under their own names (Spark refuses a name whose bytes change).
    (row,) = spark.range(1, numPartitions=1).mapInArrow(heads, "head array<binary>").collect()
    assert row["head"] == [original[:9], b"retrained"]


def test_sidecar_disagreement_is_a_config_error(spark, model_path, tmp_path):
    import shutil

    path = tmp_path / "m.bin"
    shutil.copy(model_path, path)
    with open(sidecar_path(str(path)), "w") as fh:
        json.dump({"positive_label": "__label__hq", "prep": "ultrafineweb"}, fh)
    stage = FastTextQuality(FastTextQualityConfig(model_path=str(path), prep="dclm"))
    with pytest.raises(ConfigError, match="prep"):
        stage.prepare(spark)


def test_config_validation():
    with pytest.raises(ValidationError, match="either threshold or keep_top_percent"):
        FastTextQualityConfig(model_path="m.bin", threshold=0.3, keep_top_percent=10)
    with pytest.raises(ValidationError):
        FastTextQualityConfig(model_path="m.bin", positive_label="hq")
    with pytest.raises(ValidationError):
        FastTextQualityConfig(model_path="m.bin", keep_top_percent=0)
    assert FastTextQualityConfig(model_path="m.bin").keep_top_percent == 10.0
    assert STAGES_BY_KIND["fasttext_quality"] is FastTextQuality


def test_unknown_positive_label_fails_the_job_with_the_fix(spark, model_path):
    stage = FastTextQuality(
        FastTextQualityConfig(
            model_path=model_path, positive_label="__label__nope", keep_top_percent=100
        )
    )
    with pytest.raises(Exception, match="is not a label of the model"):
        _run(spark, stage, _mixed_rows(4))


def test_model_refs_for_uris_and_missing_files(spark, model_path, tmp_path):
    ref = models.ship_model(spark, model_path)
    assert models.ship_model(spark, "file://" + model_path) == ref  # same file, shipped once
    missing = models.local_ref(str(tmp_path / "gone.bin"))
    assert missing.shipped == "none" and missing.name == "gone.bin"
    with pytest.raises(FileNotFoundError, match="gone.bin"):
        models.resolve_path(missing)
    # On the driver, outside any worker, a shipped ref falls back to the original path.
    assert models.resolve_path(ref) == model_path
