"""Recipes, inputs and expected outcomes for the tests that run the pipeline where users run it
(spark-submit locally and on a cluster, a packed environment, Spark Connect, a notebook), and the
docker compose file's job commands.

Two recipes: a small one (length, langid, exact_dedup) and the demo recipe conf/local_demo.yaml
with every stage, pointed at test paths. The input is the demo corpus generator's (seeded, so every
writer produces the same rows), small enough for a loaded 2-core machine; its ``gen_kind`` truth
says which stage must drop what.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import yaml
from pyspark.sql import functions as F

from curation.config import load_config, validate_config
from curation.datasets.sample import write_sample_corpus
from curation.delta import open_store
from curation.driver import Pipeline

REPO = Path(__file__).resolve().parents[1]
DEMO_RECIPE = REPO / "conf" / "local_demo.yaml"
TRAIN_RECIPE = REPO / "conf" / "train_demo.yaml"
COMPOSE = REPO / "docker" / "compose.yaml"
DOCS = 60
SEED = 7  # with 60 documents: foreign, too-short and exact-duplicate pages all occur
STAGES: list[dict[str, Any]] = [
    {"kind": "length", "min_words": 50, "max_words": 100_000},
    {"kind": "langid"},  # ships the packaged lid.176.ftz to the workers
    {"kind": "exact_dedup"},
]
# Generated kinds and the stage that must reject every document of that kind.
EXPECTED_STAGE = {"too_short": "length", "foreign": "langid", "exact_dup": "exact_dedup"}
# Columns whose values differ between two runs of the same recipe by design.
RUN_COLUMNS = ("run_id",)


def write_corpus(spark, path: str | Path) -> None:
    write_sample_corpus(spark, str(path), n_docs=DOCS, seed=SEED, engine="rust")


def recipe(input_path: str | Path, output: str | Path, **spark: Any) -> dict[str, Any]:
    return {
        "input": {"path": str(input_path), "format": "delta"},
        "output": str(output),
        "storage": {"engine": "rust"},
        "spark": {"shuffle_partitions": 4, "ui": False, **spark},
        "stages": STAGES,
    }


def write_recipe(path: Path, input_path: str | Path, output: str | Path, **spark: Any) -> Path:
    # JSON is YAML: the recipe loader reads it as any user recipe.
    path.write_text(json.dumps(recipe(input_path, output, **spark), indent=2))
    return path


def run_in_process(spark, input_path: str | Path, output: str | Path, run_id: str) -> None:
    """The reference: the same recipe through the library, in this test process's session."""
    cfg = validate_config(recipe(input_path, output))
    Pipeline(cfg, spark, open_store(spark, "rust")).run(run_id)


def demo_overrides(input_path: str | Path, output: str | Path, model: str | Path) -> list[str]:
    """``--set`` values that point conf/local_demo.yaml at test paths (as compose does)."""
    return [
        f"input.path={input_path}",
        f"output={output}",
        f"stages.fasttext_quality.model_path={model}",
        "storage.engine=rust",
    ]


def run_demo_in_process(spark, overrides: list[str], run_id: str) -> None:
    """The demo recipe through the library, in this test process's session."""
    Pipeline(load_config(DEMO_RECIPE, overrides), spark, open_store(spark, "rust")).run(run_id)


def compose_submit_jobs() -> list[tuple[str, list[str]]]:
    """(script, args) of each spark-submit the compose file's ``submit`` service runs, in order."""
    compose = yaml.safe_load(COMPOSE.read_text())
    (script,) = compose["services"]["submit"]["command"]
    # Compose turns $$ into $; the shell then expands $submit, the spark-submit command line.
    calls = []
    for statement in script.replace("$$", "$").split(";"):
        words = shlex.split(statement)
        if words and words[0] == "$submit":
            calls.append((words[1], words[2:]))
    return calls


def outputs(spark, root: str | Path) -> dict[str, list[tuple]]:
    """Every output table's rows, sorted, without the columns that differ between runs."""
    store = open_store(spark, "rust")
    out: dict[str, list[tuple]] = {}
    for name in ("documents", "rejected"):
        df = store.read(f"{root}/{name}").drop(*RUN_COLUMNS)
        out[name] = sorted((tuple(r) for r in df.select(sorted(df.columns)).collect()), key=repr)
    stats = store.read(f"{root}/stats").select(
        "stage_index", "stage", "kind", "reason", "rows_in", "rows_kept", "rows_dropped"
    )
    out["stats"] = sorted((tuple(r) for r in stats.collect()), key=repr)  # repr: nulls sort too
    return out


def decisions(spark, root: str | Path) -> tuple[set[str], set[tuple]]:
    """The ids kept under ``root`` and the (id, stage, reason) of every rejected row."""
    store = open_store(spark, "rust")
    kept = {r.id for r in store.read(f"{root}/documents").select("id").collect()}
    rejected = {
        tuple(r)
        for r in store.read(f"{root}/rejected").select("id", "drop_stage", "drop_reason").collect()
    }
    return kept, rejected


def check_outcome(
    spark,
    input_path: str | Path,
    root: str | Path,
    expected_stage: dict[str, str] = EXPECTED_STAGE,
    reasons: frozenset[str] = frozenset(
        {"length:too_few_words", "langid:not_allowed", "dedup:exact"}
    ),
) -> dict[str, int]:
    """Each generated kind in ``expected_stage`` is rejected by its stage, every ``reasons`` occurs,
    exact duplicates are all rejected, rows in = kept + rejected. Returns the counts."""
    store = open_store(spark, "rust")
    truth = {r.id: r.gen_kind for r in store.read(str(input_path)).collect()}
    kept = {r.id for r in store.read(f"{root}/documents").select("id").collect()}
    rejected = {
        r.id: (r.drop_stage, r.drop_reason)
        for r in store.read(f"{root}/rejected").select("id", "drop_stage", "drop_reason").collect()
    }
    assert not kept & set(rejected), "a document is both kept and rejected"
    assert kept | set(rejected) == set(truth), "documents were lost or invented"
    for doc, kind in truth.items():
        if kind in expected_stage:
            assert rejected.get(doc, (None,))[0] == expected_stage[kind], (doc, kind)
        if kind == "exact_dup":  # by dedup, or by the stage that dropped its identical source
            assert doc in rejected, doc
    found = {reason for _, reason in rejected.values()}
    assert reasons <= found, found
    run = store.read(f"{root}/stats").where(F.col("stage") == "run").first()
    assert (run.rows_in, run.rows_kept, run.rows_dropped) == (len(truth), len(kept), len(rejected))
    return {"in": len(truth), "kept": len(kept), "rejected": len(rejected)}
