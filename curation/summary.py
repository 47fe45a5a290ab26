"""Read a run's results back: its counts table (``stats``) and one document's fate (``explain``)."""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from curation import columns as C
from curation.errors import CurationError


def _table(store: Any, root: str, name: str) -> DataFrame:
    path = f"{root.rstrip('/')}/{name}"
    if not store.exists(path):
        raise CurationError(f"no {name!r} table under {root!r}: is this a curation output root?")
    return store.read(path)


def latest_run_id(store: Any, root: str) -> str:
    row = (
        _table(store, root, "stats")
        .groupBy("run_id")
        .agg(F.max("finished_at").alias("t"))
        .orderBy(F.col("t").desc(), F.col("run_id").desc())
        .first()
    )
    if row is None:
        raise CurationError(f"the stats table under {root!r} is empty: no run has finished there")
    return row["run_id"]


def run_stats(store: Any, root: str, run_id: str | None = None) -> tuple[str, list[dict]]:
    """(run id, stats rows in stage order) for ``run_id`` or the latest finished run."""
    run_id = run_id or latest_run_id(store, root)
    rows = [
        r.asDict()
        for r in _table(store, root, "stats")
        .filter(F.col("run_id") == run_id)
        .orderBy("stage_index", F.col("reason").asc_nulls_first())
        .collect()
    ]
    if not rows:
        raise CurationError(f"run {run_id!r} has no stats under {root!r}")
    return run_id, rows


def format_stats(rows: list[dict]) -> str:
    """The counts table a person reads at the end of a run: one line per stage and per reason."""
    header = f"{'stage':<22} {'reason':<38} {'rows in':>12} {'kept':>12} {'dropped':>12} {'sec':>8}"
    lines = [header, "-" * len(header)]
    for r in rows:
        if r["reason"] is None:
            name = r["stage"] if r["stage"] != "run" else "TOTAL"
            if r["stage"] == "run":
                lines.append("-" * len(header))
            lines.append(
                f"{name:<22} {'':<38} {r['rows_in']:>12,} {r['rows_kept']:>12,} "
                f"{r['rows_dropped']:>12,} {r['seconds']:>8.1f}"
            )
        else:
            lines.append(f"{'':<22} {r['reason']:<38} {'':>12} {'':>12} {r['rows_dropped']:>12,}")
    return "\n".join(lines)


def explain(store: Any, root: str, doc_id: str, max_text: int = 300) -> dict:
    """Whether ``doc_id`` was kept, which stage and reason dropped it, and its signal values."""
    for name in ("documents", "rejected"):
        path = f"{root.rstrip('/')}/{name}"
        if not store.exists(path):
            continue
        rows = store.read(path).filter(F.col(C.ID) == doc_id).collect()
        if rows:
            row = rows[-1].asDict(recursive=True)
            text = row.pop(C.TEXT, None) or ""
            signals = {
                k: v
                for k, v in sorted(row.items())
                if v is not None and k not in (C.ID, C.DROP_STAGE, C.DROP_REASON, "run_id")
            }
            return {
                "id": doc_id,
                "kept": name == "documents",
                "stage": row.get(C.DROP_STAGE),
                "reason": row.get(C.DROP_REASON),
                "dup_of": row.get(C.DUP_OF),
                "text": text[:max_text] + ("..." if len(text) > max_text else ""),
                "signals": signals,
                "copies": len(rows),
            }
    raise CurationError(f"no document with id {doc_id!r} in documents or rejected under {root!r}")


def format_explain(info: dict) -> str:
    lines = [f"id: {info['id']}"]
    if info["kept"]:
        lines.append("outcome: KEPT")
    else:
        lines.append(f"outcome: DROPPED by stage {info['stage']!r}, reason {info['reason']!r}")
        if info.get("dup_of"):
            lines.append(f"duplicate of: {info['dup_of']}")
    lines.append("signals:")
    for k, v in info["signals"].items():
        shown = f"{v:.4f}" if isinstance(v, float) else str(v)
        lines.append(f"  {k:<32} {shown[:100]}")
    lines.append(f"text: {info['text']!r}")
    return "\n".join(lines)
