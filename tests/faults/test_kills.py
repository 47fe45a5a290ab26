"""kill -9 of the driver at each segment boundary and in the middle of a commit, then a re-run
with the same run id: the outputs equal an uninterrupted run's, nothing lost or duplicated.

Each crash is a real process killed with SIGKILL (``tests/crash_run.py``); the resume runs in
this test's session. The recipe has row passes, exact dedup and near dedup (which also
appends to ``dedup_index``), so every kind of commit a run makes is interrupted once. The row
passes hold every row stage of the filters wave too (PII redaction, a URL block list,
decontamination against a benchmark file, token counts), each set to act on some documents.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from pyspark.sql import functions as F
from recipes import outputs, write_corpus
from tokenizers import Tokenizer, models, pre_tokenizers

from curation.config import load_config
from curation.delta import open_store
from curation.driver import Pipeline

pytestmark = [pytest.mark.fault, pytest.mark.slow]

CRASH = Path(__file__).resolve().parents[1] / "crash_run.py"


@pytest.fixture(scope="module")
def corpus(spark, tmp_path_factory) -> Path:
    """The tests' sample corpus, with a mail address and a phone number added to every fifth
    document for the PII stage to redact."""
    tmp = tmp_path_factory.mktemp("kills")
    write_corpus(spark, tmp / "sample")
    store = open_store(spark, "rust")
    contact = F.concat(
        F.col("text"), F.lit(" Write to jane.doe@mailbox.org or call (212) 734-9186.")
    )
    with_pii = F.when(F.abs(F.hash("id")) % 5 == 0, contact).otherwise(F.col("text"))
    store.write(store.read(str(tmp / "sample")).withColumn("text", with_pii), str(tmp / "corpus"))
    return tmp / "corpus"


@pytest.fixture(scope="module")
def filter_files(spark, corpus, tmp_path_factory) -> dict[str, str]:
    """A block list naming three of the corpus's hosts, a benchmark whose items are passages of
    two documents, and a word-level tokenizer.json."""
    tmp = tmp_path_factory.mktemp("kills-filters")
    rows = open_store(spark, "rust").read(str(corpus)).where("gen_kind = 'clean'")
    rows = sorted(rows.select("url", "text").collect())
    hosts = tmp / "hosts.txt"
    hosts.write_text("".join(urlsplit(r.url).hostname + "\n" for r in rows[:3]))
    items = [{"qid": i, "question": " ".join(r.text.split()[:40])} for i, r in enumerate(rows[-2:])]
    bench = tmp / "bench.jsonl"
    bench.write_text("".join(json.dumps(item) + "\n" for item in items))
    tok = Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.save(str(tmp / "tokenizer.json"))
    return {"hosts": str(hosts), "bench": str(bench), "tokenizer": str(tmp / "tokenizer.json")}


def _recipe(tmp_path: Path, corpus: Path, out: Path, files: dict[str, str]) -> Path:
    stages = [
        {"kind": "length", "min_words": 20, "max_words": 100_000},
        {"kind": "pii"},
        {"kind": "url_filter", "domain_lists": [files["hosts"]]},
        {
            "kind": "decontaminate",
            "benchmarks": [{"name": "b", "path": files["bench"], "fields": ["question"],
                            "id_field": "qid"}],
        },
        {"kind": "quality"},
        {"kind": "exact_dedup"},
        {"kind": "near_dedup", "num_perm": 64, "bands": 8, "rows": 8},
    ]  # fmt: skip
    path = tmp_path / "recipe.json"
    path.write_text(
        json.dumps(
            {
                "input": {"path": str(corpus), "format": "delta"},
                "output": str(out),
                "storage": {"engine": "rust"},
                "spark": {"master": "local[2]", "shuffle_partitions": 4, "ui": False},
                "tokenizer": files["tokenizer"],
                "stages": stages,
            }
        )
    )
    return path


def _run(spark, recipe: Path, run_id: str) -> None:
    Pipeline(load_config(recipe), spark, open_store(spark, "rust")).run(run_id)


def _index_rows(spark, root: Path) -> list[tuple]:
    df = open_store(spark, "rust").read(f"{root}/dedup_index").drop("run_id")
    return sorted(tuple(r) for r in df.select(sorted(df.columns)).collect())


@pytest.fixture(scope="module")
def reference(spark, corpus, filter_files, tmp_path_factory) -> tuple[dict, list]:
    tmp = tmp_path_factory.mktemp("kills-reference")
    out = tmp / "out"
    _run(spark, _recipe(tmp, corpus, out, filter_files), "k")
    found = outputs(spark, out)
    # Each filter of the wave acted, so a resume that lost its work would show.
    reasons = {row for row in found["stats"] if row[3] is not None}
    for stage in ("url_filter", "decontaminate", "length", "exact_dedup"):
        assert any(r[1] == stage and r[6] > 0 for r in reasons), (stage, found["stats"])
    docs = open_store(spark, "rust").read(f"{out}/documents")
    assert docs.where("n_tokens > 0 and pii_email > 0 and pii_phone > 0").count() > 0
    return found, _index_rows(spark, out)


@pytest.mark.parametrize(
    "mode, where",
    [
        ("after-segment", "0"),  # the first segment committed
        ("after-segment", "1"),  # the second committed (quality's C4 rewrite has its own pass)
        ("mid-commit", "dedup_index"),  # near dedup's index rows written, not committed
        ("mid-commit", "rejected"),  # documents appended, rejected and stats not yet
    ],
)
def test_killed_anywhere_resumes_to_the_uninterrupted_outputs(
    spark, corpus, filter_files, reference, tmp_path, run_cli, mode, where
):
    out = tmp_path / "out"
    recipe = _recipe(tmp_path, corpus, out, filter_files)
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    proc = subprocess.run(
        [sys.executable, str(CRASH), str(recipe), "k", mode, where],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == -9, proc.stderr[-3000:]
    store = open_store(spark, "rust")
    assert not store.exists(f"{out}/stats")  # it died before the run finished

    resumed = run_cli("run", str(recipe), "--run-id", "k")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    if mode == "after-segment":  # the committed segments are not run again
        assert "already committed in run k; resuming after it" in resumed.stdout
    assert outputs(spark, out) == reference[0]
    assert _index_rows(spark, out) == reference[1]
    # Uncommitted Parquet files of the killed write are not part of any table.
    docs = store.read(f"{out}/documents")
    assert docs.count() == docs.select("id").distinct().count()
