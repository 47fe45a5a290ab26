"""Accuracy against the truth the corpus generator injected (``gen_*`` columns).

Read without Spark (delta-rs / pyarrow, projected columns only), so scoring never shares a JVM
with what it scores. Every figure is over documents whose truth is known:

* filters (langid, quality, fastText quality, toxicity): per injected kind, the share of
  documents dropped (or, for toxicity, scored mild/toxic); the junk kinds a stage targets give its
  recall, clean prose gives its false-drop rate.
* dedup: true clusters are a clean source plus its injected copies whose word 5-gram Jaccard with
  the source reaches the threshold (measured here on the texts, so an edit that pushed a copy
  below the threshold does not count against a tool that kept it). Only clean documents and
  their copies are scored: generated junk (lorem ipsum pages, boilerplate from one list of lines)
  is legitimately near-duplicate of itself, but the generator does not record those clusters.
  Removals are scored by dedup_accuracy.score: a cluster of k calls for k - 1 removals.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
from dedup_accuracy import score  # the k - 1 removals rule, one place

from curation.text import shingles as sh

JUNK = {
    "quality": ("boilerplate", "spam", "repeated_lines", "lorem", "too_short", "code"),
    "fasttext_quality": ("boilerplate", "spam", "repeated_lines", "lorem", "too_short", "code"),
    "langid": ("foreign",),
    "toxicity": ("toxic",),
}
CLEAN_ORIGIN = ("clean", "exact_dup", "near_dup")


def read_table(path: str | Path, columns: Iterable[str]) -> pa.Table:
    """The columns (those present) of the Delta table at ``path``."""
    from deltalake import DeltaTable

    data = DeltaTable(str(path)).to_pyarrow_dataset()
    present = [c for c in columns if c in data.schema.names]
    return data.to_table(columns=present)


def outcomes(output: str | Path, columns: Iterable[str] = ()) -> pa.Table:
    """Every input row once: kept rows from ``documents``, dropped ones from ``rejected``."""
    cols = ["id", "gen_kind", "drop_stage", "drop_reason", *columns]
    kept = read_table(Path(output) / "documents", cols)
    gone = read_table(Path(output) / "rejected", cols)
    kept = kept.append_column("dropped", pa.array(np.zeros(len(kept), bool)))
    gone = gone.append_column("dropped", pa.array(np.ones(len(gone), bool)))
    return pa.concat_tables([kept, gone], promote_options="permissive")


def per_kind(table: pa.Table, flag: np.ndarray) -> dict[str, dict]:
    """For each injected kind: documents, and how many have ``flag`` set."""
    kinds = np.asarray(table.column("gen_kind").to_pylist(), dtype=object)
    out = {}
    for kind in sorted(set(kinds)):
        mask = kinds == kind
        out[kind] = {"docs": int(mask.sum()), "flagged": int(flag[mask].sum())}
        out[kind]["share"] = round(out[kind]["flagged"] / out[kind]["docs"], 4)
    return out


def filter_accuracy(output: str | Path, stage_kind: str) -> dict:
    """Recall on the junk kinds ``stage_kind`` targets and false drops on clean prose."""
    extra = ["tox_class"] if stage_kind == "toxicity" else []
    table = outcomes(output, extra)
    if stage_kind == "toxicity":
        tox = np.asarray(table.column("tox_class").to_pylist(), dtype=object)
        flag = (tox == "mild") | (tox == "toxic")
    else:
        flag = np.asarray(table.column("dropped"))
    return summarise(per_kind(table, flag), stage_kind)


def summarise(kinds: dict[str, dict], stage_kind: str) -> dict:
    """Recall on the junk kinds ``stage_kind`` targets and the flagged share of clean prose."""
    target = [k for k in JUNK.get(stage_kind, ()) if k in kinds]
    hit = sum(kinds[k]["flagged"] for k in target)
    total = sum(kinds[k]["docs"] for k in target)
    clean = kinds.get("clean", {"docs": 0, "flagged": 0})
    return {
        "target_kinds": target,
        "recall": round(hit / total, 4) if total else None,
        "clean_flagged_share": round(clean["flagged"] / clean["docs"], 4)
        if clean["docs"]
        else None,
        "per_kind": kinds,
    }


def copy_jaccards(corpus: str | Path) -> tuple[pa.Table, np.ndarray]:
    """The corpus' clean-origin rows and, for each injected copy, its Jaccard with its source."""
    rows = read_table(corpus, ["id", "text", "gen_kind", "gen_source"])
    kinds = np.asarray(rows.column("gen_kind").to_pylist(), dtype=object)
    rows = rows.filter(pa.array(np.isin(kinds, CLEAN_ORIGIN)))
    ids = rows.column("id").to_pylist()
    index = {d: i for i, d in enumerate(ids)}
    src = rows.column("gen_source").to_pylist()
    copies = [i for i, s in enumerate(src) if s is not None and s in index]
    need = sorted({*copies, *(index[src[i]] for i in copies)})
    # large_string: a million documents' text passes 2 GB, beyond 32-bit offsets.
    texts = rows.column("text").cast(pa.large_string()).take(pa.array(need, pa.int64()))
    hashes, offsets = sh.shingle_hashes(texts.combine_chunks().cast(pa.large_string()), 5, "word")
    uh, uo = sh.unique_per_doc(hashes, offsets)
    where = {row: k for k, row in enumerate(need)}

    def shingles(row: int) -> np.ndarray:
        k = where[row]
        return uh[uo[k] : uo[k + 1]]

    jac = np.full(len(ids), np.nan)
    for i in copies:
        a, b = shingles(i), shingles(index[src[i]])
        inter = len(np.intersect1d(a, b, assume_unique=True))
        union = len(a) + len(b) - inter
        jac[i] = inter / union if union else 1.0
    return rows.drop_columns(["text"]), jac


def true_labels(rows: pa.Table, jac: np.ndarray, threshold: float) -> np.ndarray:
    """Cluster label per clean-origin row: a copy joins its source's cluster when J >= t."""
    ids = rows.column("id").to_pylist()
    index = {d: i for i, d in enumerate(ids)}
    labels = np.arange(len(ids))
    for i, s in enumerate(rows.column("gen_source").to_pylist()):
        if s is not None and s in index and jac[i] >= threshold:
            labels[i] = index[s]  # sources are clean, never copies, so one hop suffices
    return labels


def dedup_accuracy(
    rows: pa.Table, jac: np.ndarray, removed_ids: set[str], threshold: float
) -> dict:
    """Precision, recall and F1 of ``removed_ids`` over the clean-origin rows."""
    labels = true_labels(rows, jac, threshold)
    removed = np.array([d in removed_ids for d in rows.column("id").to_pylist()], dtype=bool)
    dense = np.unique(labels, return_inverse=True)[1]  # score() wants labels 0..k-1, all used
    return {**score(dense, removed), "copies_below_threshold": int(np.sum(jac < threshold))}


def removed_by_dedup(output: str | Path) -> set[str]:
    """Ids our run dropped as exact or near duplicates."""
    gone = read_table(Path(output) / "rejected", ["id", "drop_reason"])
    reasons = gone.column("drop_reason").to_pylist()
    return {
        d
        for d, r in zip(gone.column("id").to_pylist(), reasons, strict=True)
        if r and r.startswith("dedup:")
    }


def export_text(corpus: str | Path, out: str | Path, fmt: str = "parquet", files: int = 1) -> int:
    """Write the corpus' id and text for the peers (and for our runs on other input formats)
    as ``fmt`` (parquet or jsonl) in at least ``files`` files, one per worker, so that a peer
    that shards by file keeps every worker busy; returns the row count. Written to a temporary
    directory first, so an interrupted export is never taken for a finished one."""
    from deltalake import DeltaTable

    data = DeltaTable(str(corpus)).to_pyarrow_dataset()
    n = data.count_rows()
    per_file = max(1, min(50_000, -(-n // files)))
    out = Path(out)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    batches = data.scanner(columns=["id", "text"], batch_size=4096)
    if fmt == "parquet":
        ds.write_dataset(
            batches,
            str(tmp),
            format="parquet",
            max_rows_per_file=per_file,
            max_rows_per_group=min(10_000, per_file),
        )
    else:
        tmp.mkdir(parents=True)
        written, fh = 0, None
        for batch in batches.to_batches():
            for doc_id, text in zip(
                batch.column("id").to_pylist(), batch.column("text").to_pylist(), strict=True
            ):
                if written % per_file == 0:
                    if fh:
                        fh.close()
                    fh = (tmp / f"part-{written // per_file:05d}.jsonl").open("w", encoding="utf-8")
                fh.write(json.dumps({"id": doc_id, "text": text}, ensure_ascii=False) + "\n")
                written += 1
        if fh:
            fh.close()
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return n
