"""Read a run's results back: its counts table (``stats``) and one document's fate (``explain``).

Both read through a ``ResultTables``: ``SparkTables`` (any store, any cluster) or ``ArrowTables``
(delta-rs on this process, no JVM), so ``curation stats`` answers in a second on a laptop.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.dataset as ds
from pyspark.sql import functions as F

from curation import columns as C
from curation.delta import DeltaStore, is_delta_table, read_arrow
from curation.errors import CurationError
from curation.run_layout import DOCUMENTS, ROW_TABLES, RUNS, STATS, RunLayout
from curation.stats_table import RUN_ROW, TOKEN_COLUMNS

# What the counts table says instead of token columns for a run that counted none.
NO_TOKENIZER = "tokens: no tokenizer in the recipe (set tokenizer: to a tokenizer.json to count)"


class ResultTables(Protocol):
    """The tables under one output root, read as rows (results are small or filtered by id)."""

    root: str

    def exists(self, name: str) -> bool: ...

    def rows(self, name: str, doc_id: str | None = None) -> list[dict]: ...


class SparkTables:
    """Through a Delta store's Spark session: works wherever the run itself could read."""

    def __init__(self, store: DeltaStore, root: str, catalog: str | None = None):
        self.store, self.root = store, root.rstrip("/")
        self._layout = RunLayout(root, catalog)

    def exists(self, name: str) -> bool:
        return self.store.exists(self._layout.table(name))

    def rows(self, name: str, doc_id: str | None = None) -> list[dict]:
        df = self.store.read(self._layout.table(name))
        if doc_id is not None:
            df = df.filter(F.col(C.ID) == doc_id)
        return [r.asDict(recursive=True) for r in df.collect()]


class ArrowTables:
    """Through delta-rs and pyarrow in this process: no Spark session, no JVM start-up.

    Refuses (``DeltaError``) what the rust engine cannot read faithfully, e.g. deletion vectors;
    callers fall back to ``SparkTables`` then.
    """

    def __init__(self, root: str, storage_options: dict[str, str] | None = None):
        self.root = root.rstrip("/")
        self._layout = RunLayout(root)
        self._options = storage_options

    def exists(self, name: str) -> bool:
        return is_delta_table(self._layout.table(name), self._options)

    def rows(self, name: str, doc_id: str | None = None) -> list[dict]:
        # Files delta-rs rewrote (the merge that deletes replaced documents) store strings as
        # string_view, which pyarrow's filter cannot compare with a string: compare as string.
        where = ds.field(C.ID).cast(pa.string()) == doc_id if doc_id is not None else None
        return read_arrow(self._layout.table(name), where, self._options).to_pylist()


def _stats_rows(tables: ResultTables) -> list[dict]:
    if not tables.exists(STATS):
        started = RunLayout(tables.root).started_runs()
        if started:
            raise CurationError(_unfinished(started, tables.root))
        raise CurationError(
            f"no '{STATS}' table under {tables.root!r}: is this a curation output root?"
        )
    return tables.rows(STATS)


def _unfinished(run_ids: list[str], root: str) -> str:
    """Runs with a record but no stats: the stats commit is a run's last, so they have not ended."""
    runs = ("run " if len(run_ids) == 1 else "runs ") + ", ".join(repr(r) for r in run_ids)
    has = "has" if len(run_ids) == 1 else "have"
    run_id = run_ids[0] if len(run_ids) == 1 else "ID"
    return (
        f"{runs} under {root!r} {has} not finished: started (a record in "
        f"{RunLayout(root).table(RUNS)}) but no stats committed, so still running or died before "
        f"the last commit; finish by re-running the recipe with the same run id (curation run "
        f"RECIPE --run-id {run_id}), which resumes after the last commit"
    )


def _latest(stats: list[dict], root: str) -> str:
    """The run that finished last (ties broken by the larger run id, as ids sort by time)."""
    finished: dict[str, Any] = {}
    for r in stats:
        t = r["finished_at"]
        if t is not None and (r["run_id"] not in finished or t > finished[r["run_id"]]):
            finished[r["run_id"]] = t
    if not finished:
        raise CurationError(f"the stats table under {root!r} is empty: no run has finished there")
    return max(finished, key=lambda run: (finished[run], run))


def run_stats(tables: ResultTables, run_id: str | None = None) -> tuple[str, list[dict]]:
    """(run id, stats rows in stage order) for ``run_id`` or the latest finished run."""
    stats = _stats_rows(tables)  # read once: the latest run is picked from the same rows
    run_id = run_id or _latest(stats, tables.root)
    rows = [r for r in stats if r["run_id"] == run_id]
    if not rows and run_id in RunLayout(tables.root).started_runs():
        raise CurationError(_unfinished([run_id], tables.root))
    if not rows:
        raise CurationError(f"run {run_id!r} has no stats under {tables.root!r}")
    for r in rows:  # a table written before the token columns existed has none
        for column in TOKEN_COLUMNS:
            r.setdefault(column, None)
    # Per stage: its total line (reason null) first, then its reasons.
    rows.sort(key=lambda r: (r["stage_index"], r["reason"] is not None, r["reason"] or ""))
    return run_id, rows


def has_tokens(rows: list[dict]) -> bool:
    """Whether the run counted tokens (its recipe named a tokenizer)."""
    return any(r.get("tokens_in") is not None for r in rows if r["stage"] == RUN_ROW)


def format_stats(rows: list[dict]) -> str:
    """The counts table a person reads at the end of a run: one line per stage and per reason,
    documents and (when the run counted them) tokens in, kept and dropped."""
    tokens = has_tokens(rows)
    header = f"{'stage':<22} {'reason':<38} {'rows in':>12} {'kept':>12} {'dropped':>12}"
    if tokens:
        header += f" {'tokens in':>14} {'tokens kept':>14} {'tokens dropped':>14}"
    header += f" {'sec':>8}"
    lines = [header, "-" * len(header)]
    for r in rows:
        t_in, t_kept, t_dropped = (_count(r.get(c)) for c in TOKEN_COLUMNS)
        if r["reason"] is None:
            name = r["stage"] if r["stage"] != RUN_ROW else "TOTAL"
            if r["stage"] == RUN_ROW:
                lines.append("-" * len(header))
            line = (
                f"{name:<22} {'':<38} {r['rows_in']:>12,} {r['rows_kept']:>12,} "
                f"{r['rows_dropped']:>12,}"
            )
            if tokens:
                line += f" {t_in:>14} {t_kept:>14} {t_dropped:>14}"
            lines.append(line + f" {r['seconds']:>8.1f}")
            flagged = _flagged(r)
            if flagged is not None:  # kept with a flag (e.g. a content warning): under "kept"
                lines.append(f"{'':<22} {'(flagged, kept)':<38} {'':>12} {flagged:>12,}")
        else:
            line = f"{'':<22} {r['reason']:<38} {'':>12} {'':>12} {r['rows_dropped']:>12,}"
            lines.append(line + (f" {'':>14} {'':>14} {t_dropped:>14}" if tokens else ""))
    if not tokens:
        lines.append(NO_TOKENIZER)
    return "\n".join(lines)


def _flagged(row: dict) -> int | None:
    details = row.get("details")
    if not details:
        return None
    value = (json.loads(details) if isinstance(details, str) else details).get("flagged")
    return None if value is None else int(value)


def format_totals(run_id: str, rows: list[dict]) -> str:
    """One line: documents (and tokens) in, kept and rejected by run ``run_id``."""
    run = next(r for r in rows if r["stage"] == RUN_ROW)
    line = (
        f"run {run_id}: {run['rows_in']:,} documents in, {run['rows_kept']:,} kept, "
        f"{run['rows_dropped']:,} rejected"
    )
    if run.get("tokens_in") is None:
        return line
    return line + (
        f"; {run['tokens_in']:,} tokens in, {run['tokens_kept']:,} kept, "
        f"{run['tokens_dropped']:,} dropped"
    )


def _count(value: int | None) -> str:
    """A count with thousands separators; ``-`` where the row has none (not an estimate)."""
    return "-" if value is None else f"{value:,}"


def explain(tables: ResultTables, doc_id: str, max_text: int = 300) -> dict:
    """Whether ``doc_id`` was kept, which stage and reason dropped it, and its signal values."""
    for name in ROW_TABLES:
        if not tables.exists(name):
            continue
        rows = tables.rows(name, doc_id)
        if rows:
            row = dict(rows[-1])
            text = row.pop(C.TEXT, None) or ""
            signals = {
                k: v
                for k, v in sorted(row.items())
                if v is not None and k not in (C.ID, C.DROP_STAGE, C.DROP_REASON, "run_id")
            }
            return {
                "id": doc_id,
                "kept": name == DOCUMENTS,
                "stage": row.get(C.DROP_STAGE),
                "reason": row.get(C.DROP_REASON),
                "dup_of": row.get(C.DUP_OF),
                "text": text[:max_text] + ("..." if len(text) > max_text else ""),
                "signals": signals,
                "copies": len(rows),
            }
    raise CurationError(
        f"no document with id {doc_id!r} in documents or rejected under {tables.root!r}"
    )


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
