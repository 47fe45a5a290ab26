"""The toxicity stage in the demo: the run summary counts flagged rows, and the default recipe
catches the sample corpus's toxic pages at the rates the README states."""

from __future__ import annotations

import json

from pyspark.sql.types import StringType, StructField, StructType

from curation.config import load_config
from curation.datasets.sample import make_document
from curation.stages.rowwise import apply_row_stages
from curation.stages.toxicity.stage import Toxicity
from tests.recipes import DEMO_RECIPE

SCHEMA = StructType([StructField("id", StringType(), False), StructField("text", StringType())])
MILD = "The match ended late. He called him a faggot."  # one slur at 3: class mild
TOXIC = "Kill all the niggers and the Jews. Muslims are vermin."  # class toxic
NEUTRAL = "The library opens at nine. My neighbour is a Muslim doctor."


def test_run_summary_reports_flagged_rows_per_stage(run_cli, tmp_path):
    src = tmp_path / "in.jsonl"
    rows = [("m1", MILD), ("m2", MILD + " Again."), ("t", TOXIC), ("n", NEUTRAL)]
    src.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in rows))
    recipe = tmp_path / "r.json"
    recipe.write_text(
        json.dumps(
            {
                "input": {"path": str(src), "format": "jsonl"},
                "output": str(tmp_path / "out"),
                "storage": {"engine": "rust"},
                "spark": {"shuffle_partitions": 2, "ui": False},
                "stages": [{"kind": "toxicity", "on_mild": "flag", "on_toxic": "drop"}],
            }
        )
    )
    res = run_cli("run", str(recipe))
    assert res.returncode == 0, res.stderr
    line = next(x for x in res.stdout.splitlines() if "[toxicity]" in x and "kept" in x)
    assert "dropped          1  flagged          2" in line, line
    stats = run_cli("stats", str(tmp_path / "out"))
    flagged = [x for x in stats.stdout.splitlines() if "(flagged, kept)" in x]
    assert len(flagged) == 1 and flagged[0].split()[-1] == "2", stats.stdout


def test_default_recipe_catches_the_sample_corpus_toxic_pages(spark):
    """README, "Toxicity": the toxic pages in the first 2,000 documents of `curation sample`
    (seed 42, as `make run` writes it) caught by conf/local_demo.yaml's toxicity stage."""
    cfg = load_config(DEMO_RECIPE)
    stage = Toxicity(next(s for s in cfg.stages if s.kind == "toxicity"))
    stage.prepare(spark)
    docs = [make_document(42, i) for i in range(2000)]
    rows = [(d[0], d[1]) for d in docs if d[3] in ("toxic", "clean")]
    kind = {d[0]: d[3] for d in docs}
    df = spark.createDataFrame(rows, SCHEMA).repartition(2)
    out = apply_row_stages(df, [stage]).select("id", "drop_reason", "content_warning").collect()
    toxic = [r for r in out if kind[r.id] == "toxic"]
    clean = [r for r in out if kind[r.id] == "clean"]
    caught = [r for r in toxic if r.drop_reason or r.content_warning]
    dropped = [r for r in toxic if r.drop_reason]
    assert len(toxic) == 53 and len(clean) == 1260
    # README: 48 of 53 flagged by the demo's lexicon backend (mild: one dimension at 3, or a sum
    # of 4-6); none reaches the toxic class (sum >= 7), so none is dropped; no clean page is
    # flagged.
    assert len(caught) == 48 and dropped == []
    assert [r.id for r in clean if r.drop_reason or r.content_warning] == []
