"""Every number the run report shows, gathered from the run's Delta tables in a few Spark passes.

Drops and bytes per stage; a profile of every signal column; one pass for all histograms and
value counts; a stratified sample per drop reason. Only those small aggregates reach the driver,
so a report over a billion rows costs a few scans, never a collect. Which columns are signals,
which section charts them and which thresholds to draw come from what each stage declares.
"""

from __future__ import annotations

import json
import math
import platform
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from importlib import metadata as importlib_metadata
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from curation import columns as C
from curation.config import validate_config
from curation.delta import DeltaStore
from curation.errors import CurationError
from curation.models import FASTTEXT_DIST
from curation.report.model import (
    HERE,
    KEPT,
    OTHER,
    OTHER_SIGNALS,
    SAMPLE_CHARS,
    SAMPLES_PER_REASON,
    Categories,
    Histogram,
    ReportData,
    Signal,
)
from curation.run_layout import REJECTED, RESULT_TABLES, RunLayout
from curation.stages import STAGE_CLASSES, Stage, build_stage
from curation.stages.base import ReportSection
from curation.stats_table import RUN_ROW
from curation.summary import SparkTables, run_stats

FLOAT_BINS = 40
MAX_CATEGORIES = 200  # a string signal with more distinct values is not a category
SAMPLE_SIGNALS = 8  # signal values shown next to a sample when none is named like its rule
# Columns that describe a row but are not signals to chart.
NOT_SIGNALS = {C.ID, C.TEXT, C.DROP_STAGE, C.DROP_REASON, C.DUP_OF, "run_id", C.N_TOKENS}
SIGNAL_PREFIXES = ("q_", "len_", "lang", "quality", "tox_", "dup_")
PACKAGES = (
    "curation",
    "pyspark",
    "delta-spark",
    "deltalake",
    "pyarrow",
    "pandas",
    "numpy",
    "pydantic",
    FASTTEXT_DIST,
    "datasketch",
)


# -- gathering the run ---------------------------------------------------------------------


def gather(
    spark: SparkSession,
    store: DeltaStore,
    output_root: str,
    run_id: str | None = None,
    *,
    progress: Callable[[str], None] | None = None,
    stages: Sequence[Stage] | None = None,
) -> ReportData:
    """Every number the report shows, from a few Spark aggregations over the run's tables.

    ``stages``: the run's stages when they are not all in the registry (custom stages run from
    a notebook); by default they are rebuilt from the run's recorded config.
    """
    say = progress or (lambda msg: None)
    run_id, stats = run_stats(SparkTables(store, output_root), run_id)
    layout = RunLayout(output_root)
    record = layout.load_record(run_id)
    warnings: list[str] = []
    stages = list(stages) if stages is not None else _stages(record, warnings)
    rows = layout.run_rows(store, run_id)
    sections, owners = _sections(stages)
    signals, skipped = _signals(rows, owners, stats)

    say(f"[report] run {run_id}: bytes per stage")
    bytes_dropped, bytes_total, counted = _bytes_per_stage(rows)
    rows_in = next((r["rows_in"] for r in stats if r["stage"] == RUN_ROW), None)
    if rows_in is not None and rows_in != counted:
        warnings.append(
            f"the stats table says {rows_in:,} rows entered the run but documents and rejected "
            f"hold {counted:,} rows of it: were the tables changed after the run?"
        )
    say(f"[report] distributions of {len(signals)} signal columns")
    histograms, categories, more_skipped = _distributions(rows, signals)
    say("[report] sample documents per drop reason")
    samples, sample_columns = _samples(store, output_root, run_id, stats, stages)
    cluster_sizes = _cluster_sizes(rows)
    if any(s.section == OTHER_SIGNALS.id for s in signals):
        sections.append(OTHER_SIGNALS)
    dup_owner = owners.get(C.DUP_OF)
    return ReportData(
        run_id=run_id,
        sections=sections,
        cluster_section=dup_owner.report_section.id if dup_owner else None,
        record=record,
        stats=stats,
        bytes_dropped=bytes_dropped,
        bytes_total=bytes_total,
        histograms=histograms,
        categories=categories,
        skipped=skipped + more_skipped,
        samples=samples,
        sample_columns=sample_columns,
        cluster_sizes=cluster_sizes,
        versions=_versions(store, output_root, run_id, record),
        packages=_packages(spark),
        warnings=warnings,
    )


# -- gathering ----------------------------------------------------------------------------------


def _stages(record: Mapping[str, Any], warnings: list[str]) -> list[Stage]:
    """The run's stage objects (for column owners and thresholds); none if the config is stale."""
    try:
        cfg = validate_config(json.loads(json.dumps(record["config"])), source="run config")
        return [build_stage(s) for s in cfg.stages]
    except CurationError as exc:
        warnings.append(
            "the run's config no longer validates with this version of curation, so signals "
            f"are shown without thresholds: {exc}"
        )
        return []


def _sections(stages: Sequence[Stage]) -> tuple[list[ReportSection], dict[str, Stage]]:
    """The signal sections in page order, and the stage that writes each column.

    Every registered stage family's section is shown, so a run without one says so; a custom
    stage's section follows. A re-declared column belongs to its last writer.
    """
    sections: list[ReportSection] = []
    for section in [cls.report_section for cls in STAGE_CLASSES] + [
        s.report_section for s in stages
    ]:
        if section.id not in {x.id for x in sections}:
            sections.append(section)
    owners = {f.name: stage for stage in stages for f in stage.output_fields()}
    return sections, owners


def _section_of(stage: Stage | None) -> str:
    return stage.report_section.id if stage is not None else OTHER_SIGNALS.id


def _signals(
    rows: DataFrame, owners: Mapping[str, Stage], stats: Sequence[Mapping[str, Any]]
) -> tuple[list[Signal], list[tuple[str, str]]]:
    """Signal columns present in the tables: those the stages declare, in stage order."""
    # Columns no configured stage declares (a custom stage, a stale config) are charted too, in
    # their own section, when they follow the naming convention of signal columns.
    names = [c for c in owners if c in rows.columns]
    names += [c for c in rows.columns if c.startswith(SIGNAL_PREFIXES) and c not in owners]
    details = {
        r["stage"]: json.loads(r["details"])
        for r in stats
        if r["reason"] is None and r.get("details")
    }
    types = {f.name: f.dataType for f in rows.schema.fields}
    signals: list[Signal] = []
    skipped: list[tuple[str, str]] = []
    for name in names:
        if name in NOT_SIGNALS:
            continue
        stage = owners.get(name)
        dtype = types[name]
        numeric = isinstance(dtype, T.NumericType)
        if not numeric and not isinstance(dtype, (T.StringType, T.BooleanType)):
            why = f"{name} ({dtype.simpleString()}): not a number or a category"
            skipped.append((_section_of(stage), why))
            continue
        cuts: dict[str, float] = {}
        if stage is not None:
            # A run-level cut (e.g. a top-k% quantile) is known from the run's stats details.
            used = details.get(stage.name) or {}
            cuts = {k: float(v) for k, v in stage.thresholds(used).get(name, {}).items()}
        signals.append(
            Signal(name, stage.name if stage else None, _section_of(stage), numeric, cuts)
        )
    return signals, skipped


def _bytes_per_stage(rows: DataFrame) -> tuple[dict[str, int], int, int]:
    """Bytes of stored text (UTF-8) dropped per stage, total bytes, and rows counted."""
    found = (
        rows.groupBy(C.DROP_STAGE)
        .agg(
            F.count(F.lit(1)).alias("n"),
            F.coalesce(F.sum(F.octet_length(F.col(C.TEXT))), F.lit(0)).alias("b"),
        )
        .collect()
    )
    dropped = {r[C.DROP_STAGE]: int(r["b"]) for r in found if r[C.DROP_STAGE] is not None}
    return dropped, sum(int(r["b"]) for r in found), sum(int(r["n"]) for r in found)


def _share(signal: Signal) -> Column:
    """0 kept, 1 dropped by the stage that wrote the column, 2 dropped by another stage."""
    here = F.col(C.DROP_STAGE) == F.lit(signal.stage) if signal.stage else F.lit(False)
    return (
        F.when(F.col(C.DROP_STAGE).isNull(), F.lit(KEPT))
        .when(here, F.lit(HERE))
        .otherwise(F.lit(OTHER))
    )


def _as_number(name: str, dtype: T.DataType) -> Column:
    x = F.col(C.quoted(name)).cast("double")  # a metadata column may be named like a.b
    if isinstance(dtype, (T.FloatType, T.DoubleType)):
        x = F.when(F.isnan(x), None).otherwise(x)  # NaN is "no value", not a bin
    return x


def _distributions(
    rows: DataFrame, signals: Sequence[Signal]
) -> tuple[list[Histogram], list[Categories], list[tuple[str, str]]]:
    """Two passes: a profile of every signal (range, tails, distinct values), then all bins."""
    if not signals:
        return [], [], []
    types = {f.name: f.dataType for f in rows.schema.fields}
    nums = [s for s in signals if s.numeric]
    cats = [s for s in signals if not s.numeric]
    profile: list[Column] = [F.count(F.lit(1)).alias("rows")]
    for i, s in enumerate(nums):
        x = _as_number(s.column, types[s.column])
        profile += [
            F.min(x).alias(f"mn{i}"),
            F.max(x).alias(f"mx{i}"),
            F.count(x).alias(f"n{i}"),
            F.percentile_approx(x, [0.01, 0.99], 1000).alias(f"p{i}"),
        ]
    for j, s in enumerate(cats):
        col = F.col(C.quoted(s.column))
        profile += [F.approx_count_distinct(col).alias(f"d{j}"), F.count(col).alias(f"dn{j}")]
    prof = rows.agg(*profile).first()

    skipped: list[tuple[str, str]] = []
    layouts: list[tuple[Signal, dict[str, Any]]] = []
    items: list[Column] = []
    for i, s in enumerate(nums):
        if prof[f"n{i}"] == 0:
            skipped.append((s.section, f"{s.column}: no values"))
            continue
        integer = isinstance(types[s.column], T.IntegralType)
        lay = _layout(prof[f"mn{i}"], prof[f"mx{i}"], prof[f"p{i}"], s.thresholds, integer)
        lay.update(n=int(prof[f"n{i}"]), minimum=prof[f"mn{i}"], maximum=prof[f"mx{i}"])
        x = _as_number(s.column, types[s.column])
        nb, lo, width = lay["bins"], lay["lo"], lay["width"]
        inside = F.least(F.floor((x - F.lit(lo)) / F.lit(width)).cast("int"), F.lit(nb - 1))
        b = F.when(x < F.lit(lo), F.lit(-1)).when(x >= F.lit(lo + nb * width), F.lit(nb))
        b = b.otherwise(inside)
        if not integer:  # the top edge belongs to the last bin
            b = F.when(x == F.lit(lay["top"]), F.lit(nb - 1)).otherwise(b)
        items.append(_item(len(layouts), b, F.lit(None).cast("string"), _share(s)))
        layouts.append((s, lay))
    cat_index: list[tuple[Signal, int]] = []
    for j, s in enumerate(cats):
        distinct, values = int(prof[f"d{j}"] or 0), int(prof[f"dn{j}"] or 0)
        # A category repeats: few values overall, or few per row (ids and hashes do not).
        if distinct > MAX_CATEGORIES or (distinct > 20 and distinct * 10 > values):
            skipped.append(
                (s.section, f"{s.column}: ~{distinct:,} distinct values, not a category")
            )
            continue
        code = 10_000 + len(cat_index)
        value = F.col(C.quoted(s.column)).cast("string")
        items.append(_item(code, F.lit(None).cast("int"), value, _share(s)))
        cat_index.append((s, distinct))
    if not items:
        return [], [], skipped

    counted = (
        rows.select(F.explode(F.array(*items)).alias("it"))
        .select("it.*")
        .filter(F.col("b").isNotNull() | F.col("v").isNotNull())
        .groupBy("c", "b", "v", "k")
        .agg(F.count(F.lit(1)).alias("n"))
        .collect()
    )
    hists = []
    for idx, (s, lay) in enumerate(layouts):
        bins = [[0, 0, 0] for _ in range(lay["bins"])]
        under, over = [0, 0, 0], [0, 0, 0]
        for r in counted:
            if r["c"] != idx or r["b"] is None:
                continue
            target = under if r["b"] < 0 else over if r["b"] >= lay["bins"] else bins[r["b"]]
            target[r["k"]] += int(r["n"])
        hists.append(
            Histogram(
                s,
                lay["lo"],
                lay["width"],
                bins,
                under,
                over,
                lay["integer"],
                lay["n"],
                lay["minimum"],
                lay["maximum"],
            )
        )
    categories = []
    for pos, (s, distinct) in enumerate(cat_index):
        values: dict[str, list[int]] = {}
        for r in counted:
            if r["c"] == 10_000 + pos and r["v"] is not None:
                values.setdefault(r["v"], [0, 0, 0])[r["k"]] += int(r["n"])
        ordered = sorted(values.items(), key=lambda kv: (-sum(kv[1]), kv[0]))
        categories.append(Categories(s, ordered, distinct))
    return hists, categories, skipped


def _item(code: int, bucket: Column, value: Column, share: Column) -> Column:
    return F.struct(F.lit(code).alias("c"), bucket.alias("b"), value.alias("v"), share.alias("k"))


def _layout(
    mn: float, mx: float, pct: Sequence[float] | None, cuts: Mapping[str, float], integer: bool
) -> dict[str, Any]:
    """Bins for a column: its full range, or p1..p99 when the tails would squash the body.

    Thresholds inside the data's range are pulled into view unless that widens it tenfold.
    """
    lo, hi = float(mn), float(mx)
    p1, p99 = (float(pct[0]), float(pct[1])) if pct and None not in pct else (lo, hi)
    if p99 > p1 and (hi - lo) > 3 * (p99 - p1):
        lo, hi = p1, p99
    for t in cuts.values():
        if mn <= t <= mx and not (lo <= t <= hi):
            new_lo, new_hi = min(lo, t), max(hi, t)
            if (new_hi - new_lo) <= 10 * max(hi - lo, 1e-12):
                lo, hi = new_lo, new_hi
    if integer:
        lo = math.floor(lo)
        span = math.floor(hi) - lo + 1
        width = max(1, math.ceil(span / FLOAT_BINS))
        bins = max(1, math.ceil(span / width))
        return {"lo": lo, "width": float(width), "bins": bins, "integer": True, "top": None}
    if hi <= lo:
        hi = lo + 1.0
    width = (hi - lo) / FLOAT_BINS
    return {"lo": lo, "width": width, "bins": FLOAT_BINS, "integer": False, "top": hi}


def _samples(
    store: DeltaStore,
    root: str,
    run_id: str,
    stats: Sequence[Mapping[str, Any]],
    stages: Sequence[Stage],
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[str]]]:
    """A few rejected documents per reason, from one stratified sample (no sort, no shuffle)."""
    path = RunLayout(root).table(REJECTED)
    counts = {r["reason"]: int(r["rows_dropped"]) for r in stats if r["reason"] is not None}
    counts = {k: v for k, v in counts.items() if v > 0}
    if not counts or not store.exists(path):
        return {}, {}
    rejected = store.read(path).filter(F.col("run_id") == F.lit(run_id))
    # Expect ~6x the samples shown per reason, so a reason rarely comes up short.
    fractions = {r: min(1.0, 6.0 * SAMPLES_PER_REASON / n) for r, n in counts.items()}
    by_stage = {s.name: [f.name for f in s.output_fields()] for s in stages}
    signal_columns = {c for cols in by_stage.values() for c in cols} - NOT_SIGNALS
    extra = [c for c in rejected.columns if c in signal_columns]
    # dup_of names the survivor; n_tokens is shown next to the characters, not as a signal.
    extra += [c for c in (C.DUP_OF, C.N_TOKENS) if c in rejected.columns]
    picked = (
        rejected.sampleBy(C.DROP_REASON, fractions, seed=17)
        .select(
            C.ID,
            C.DROP_STAGE,
            C.DROP_REASON,
            F.substring(F.col(C.TEXT), 1, SAMPLE_CHARS).alias("text_head"),
            F.char_length(F.col(C.TEXT)).alias("text_chars"),
            *[F.col(C.quoted(c)) for c in extra],
        )
        .collect()
    )
    out: dict[str, list[dict[str, Any]]] = {}
    for r in sorted(picked, key=lambda r: (r[C.DROP_REASON], r[C.ID] or "")):
        group = out.setdefault(r[C.DROP_REASON], [])
        if len(group) < SAMPLES_PER_REASON:
            group.append(r.asDict())
    columns = {
        reason: _reason_columns(reason, by_stage.get(rows[0][C.DROP_STAGE], []), extra)
        for reason, rows in out.items()
    }
    return out, columns


def _reason_columns(reason: str, stage_columns: Sequence[str], present: Sequence[str]) -> list[str]:
    """The signals worth showing next to a sample: those named like the rule, else a few."""
    mine = [c for c in stage_columns if c in present and c not in NOT_SIGNALS]
    rule = reason.partition(":")[2]
    named = [c for c in mine if rule and rule in c]
    shown = named or mine[:SAMPLE_SIGNALS]
    return shown + ([C.DUP_OF] if C.DUP_OF in present else [])


def _cluster_sizes(rows: DataFrame) -> list[tuple[int, int]] | None:
    """(documents in a cluster: the survivor and its dropped copies, clusters) from ``dup_of``."""
    if C.DUP_OF not in rows.columns:
        return None
    found = (
        rows.filter(F.col(C.DUP_OF).isNotNull())
        .groupBy(C.DUP_OF)
        .agg(F.count(F.lit(1)).alias("copies"))
        .groupBy("copies")
        .agg(F.count(F.lit(1)).alias("clusters"))
        .collect()
    )
    return sorted((int(r["copies"]) + 1, int(r["clusters"])) for r in found)


def _versions(
    store: DeltaStore, root: str, run_id: str, record: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Version of each output table this run committed, and of the input when it started."""
    out = []
    for name in RESULT_TABLES:
        path = RunLayout(root).table(name)
        row: dict[str, Any] = {"table": name, "path": path, "version": None, "latest": None}
        try:
            history = store.history(path) if store.exists(path) else []
        except CurationError as exc:
            row["note"] = f"history unavailable: {exc}"
            history = []
        mine = [h for h in history if (h.get("metadata") or {}).get("run_id") == run_id]
        if history:
            row["latest"] = history[0]["version"]
        if mine:
            row["version"] = mine[-1]["version"]
            row["committed"] = _fmt_time(mine[-1].get("timestamp"))
        out.append(row)
    source = (record.get("config") or {}).get("input") or {}
    path, fmt = source.get("path"), source.get("format")
    row = {"table": "input", "path": path, "version": None, "latest": None, "format": fmt}
    started = _parse_time(record.get("started_at"))
    try:
        if path and fmt in (None, "auto", "delta") and store.exists(path):
            history = store.history(path)
            row["latest"] = history[0]["version"] if history else None
            if source.get("version") is not None:
                row["version"] = source["version"]
                row["note"] = "pinned by the run's config (input.version)"
            else:
                before = [
                    h for h in history if started and h["timestamp"] and h["timestamp"] <= started
                ]
                row["version"] = before[0]["version"] if before else None
                row["note"] = "the version current when the run started"
        elif path:
            row["note"] = f"{fmt or 'unknown'} input: not versioned"
    except CurationError as exc:
        row["note"] = f"unavailable: {exc}"
    out.append(row)
    return out


def _fmt_time(when: Any) -> str | None:
    if isinstance(when, datetime):
        return when.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    return None if when is None else str(when)


def _parse_time(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text))
    except (TypeError, ValueError):
        return None


def _packages(spark: SparkSession) -> dict[str, str]:
    found = {"python": platform.python_version(), "spark (runtime)": spark.version}
    for name in PACKAGES:
        try:
            found[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return found
