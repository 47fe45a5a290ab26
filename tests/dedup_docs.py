"""Synthetic documents for the dedup tests (tests/stages/dedup/), and a reader of their decisions."""

from __future__ import annotations

import random

import pyarrow as pa

from curation.text import shingles as sh

SCHEMA = "id string, text string, quality_score double, source string"
VOCAB = [f"w{i}" for i in range(3000)]


def words(seed: int, n: int = 150) -> list[str]:
    rng = random.Random(seed)
    return [rng.choice(VOCAB) for _ in range(n)]


def replace_block(ws: list[str], at: int, size: int = 5, tag: str = "x") -> list[str]:
    """Replace ``size`` consecutive words: destroys size + 4 word 5-gram shingles."""
    out = list(ws)
    out[at : at + size] = [f"{tag}{k}" for k in range(size)]
    return out


def text(ws: list[str]) -> str:
    return " ".join(ws)


def jaccard(a: str, b: str) -> float:
    return float(sh.pairwise_jaccard(pa.array([a]), pa.array([b]), 5)[0])


def decisions(df) -> dict:
    return {
        r.id: (r.drop_stage, r.drop_reason, r.dup_of, r.dup_cluster_id, r.dup_cluster_size)
        for r in df.collect()
    }
