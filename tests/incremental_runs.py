"""Helpers of the incremental-run fault tests (tests/faults/test_incremental*.py): corpora made
of real paragraphs and one-word edits, runs into one output root, and the invariants checked."""

from __future__ import annotations

import json
from pathlib import Path

from pyspark.sql import functions as F

from curation import columns as C
from curation.config import validate_config
from curation.delta import open_store
from curation.driver import Pipeline
from curation.text import shingles as sh

DEDUP = [{"kind": "exact_dedup"}, {"kind": "near_dedup"}]
# Small signatures for the property test: 16 bands of 2 rows find pairs at 0.8 with
# probability 1 - (1 - 0.64)^16 > 0.9999, and exact verification removes false positives.
SMALL_NEAR = {"kind": "near_dedup", "num_perm": 32, "bands": 16, "rows": 2}


# -- corpus helpers ---------------------------------------------------------------------------


def paragraphs(shared_data: Path, n: int, min_words: int = 150) -> list[str]:
    """The first ``n`` paragraphs of at least ``min_words`` words of the Wikipedia sample."""
    out = []
    with open(shared_data / "text" / "wikipedia_sample.jsonl", encoding="utf-8") as fh:
        for line in fh:
            for para in json.loads(line)["text"].split("\n\n"):
                if len(para.split()) >= min_words:
                    out.append(para)
                    if len(out) == n:
                        return out
    raise AssertionError(f"the sample has fewer than {n} paragraphs of {min_words} words")


def edit_words(text: str, positions: list[int], tag: str) -> str:
    """``text`` with the words at ``positions`` replaced by tokens found nowhere else."""
    words = text.split(" ")
    for k, at in enumerate(positions):
        words[at] = f"zq{tag}x{k}"
    return " ".join(words)


def jaccard(a: str, b: str) -> float:
    import pyarrow as pa

    return float(sh.pairwise_jaccard(pa.array([a]), pa.array([b]), 5)[0])


def write_jsonl(path: Path, rows: list[tuple[str, str]]) -> str:
    path.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in rows))
    return str(path)


def run_config(input_path: str, out: str, stages=None, **extra):
    return validate_config(
        {
            "input": {"path": input_path, "format": "jsonl"},
            "output": out,
            "storage": {"engine": "rust"},
            "stages": stages or DEDUP,
            **extra,
        }
    )


def run(spark, input_path: str, out: str, run_id: str, stages=None, **extra):
    store = open_store(spark, "rust")
    return Pipeline(run_config(input_path, out, stages, **extra), spark, store).run(run_id), store


def table(store, out: str, name: str):
    return store.read(f"{out}/{name}")


def assert_no_self_dup_of(store, out: str) -> None:
    rejected = table(store, out, "rejected")
    selfish = rejected.where(F.col(C.DUP_OF) == F.col(C.ID)).select(C.ID).collect()
    assert not selfish, f"dup_of names the row's own id: {[r.id for r in selfish]}"


def assert_unique_ids(store, out: str) -> None:
    docs = table(store, out, "documents")
    repeated = docs.groupBy(C.ID).count().where("count > 1").collect()
    assert not repeated, f"documents holds ids more than once: {repeated[:5]}"
