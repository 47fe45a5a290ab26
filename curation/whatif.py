"""What-if: re-apply changed thresholds to a finished run's stored signals, without rescoring.

The run's config is rebuilt from its run record (``run_layout``) with the overrides applied; the
decisions of row stages are reset and re-made with ``rules()`` over the stored signal columns of
``documents`` and ``rejected`` together, in the run's order. No model runs, no signal is
recomputed, and only a small aggregate reaches the driver.

>>> result = whatif(spark, store, "out", ["stages.length.min_words=80"])
>>> print(result.format())

When the run counted tokens (its recipe named a tokenizer, so rows have ``n_tokens``), every line
shows tokens next to documents, summed in the same aggregation: what a threshold costs in
training tokens. Without them the table says so instead of estimating.

What cannot be recomputed is said, never guessed: a row that a looser threshold lets through to a
stage that never saw it in the run has no signals for that stage, and a shuffle stage (dedup)
cannot re-choose survivors. Such rows are counted as *unknown* and each such stage gets a note.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from curation import columns as C
from curation.config import RunConfig, apply_override, stage_index, validate_config
from curation.delta import DeltaStore
from curation.errors import ConfigError, CurationError
from curation.plan import plan
from curation.readers import READ_STAGE
from curation.run_layout import RunLayout
from curation.stages import STAGES_BY_KIND, RowStage, ShuffleStage, Stage, build_stage
from curation.stages.base import with_decision
from curation.summary import NO_TOKENIZER, SparkTables, run_stats

# Columns added to the compared rows; the underscore keeps them clear of signal names.
RUN_STAGE, RUN_REASON = "run_drop_stage", "run_drop_reason"
UNKNOWN_AT = "whatif_unknown_at"  # first stage whose outcome for the row cannot be recomputed
_RUN_POS = "_whatif_run_pos"  # index of the stage that dropped the row in the run
_GONE = "_whatif_gone"
# Placeholder decision so rows with an unknown outcome are not decided by later rules.
_UNKNOWN_REASON = "whatif:unknown"
KEPT = "(kept)"
UNKNOWN = "(unknown)"


# -- the result -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One config field the what-if changes."""

    stage: str
    field: str
    before: Any
    after: Any


@dataclass(frozen=True)
class Line:
    """Rows one stage dropped for one reason (or passed, ``reason == KEPT``), run vs what-if;
    and their tokens (None when the run counted none)."""

    stage: str
    reason: str
    run: int
    whatif: int
    run_tokens: int | None = None
    whatif_tokens: int | None = None

    @property
    def delta(self) -> int:
        return self.whatif - self.run


@dataclass(frozen=True)
class TokenTotals:
    """The run's tokens: in, kept by the run and by the what-if, and those that moved."""

    total: int
    kept_run: int
    kept_whatif: int
    unknown: int
    newly_dropped: int
    newly_kept: int


@dataclass
class WhatIfResult:
    """Counts per stage and reason, run vs what-if, plus the per-row outcomes as a DataFrame.

    ``decisions`` has ``id``, the run's ``run_drop_stage``/``run_drop_reason``, the what-if's
    ``drop_stage``/``drop_reason`` and ``whatif_unknown_at`` (non-null: not recomputable).
    """

    run_id: str
    changes: list[Change]
    lines: list[Line]
    total: int
    kept_run: int
    kept_whatif: int
    unknown: int
    newly_dropped: int
    newly_kept: int
    notes: list[str] = field(default_factory=list)
    decisions: DataFrame | None = None
    tokens: TokenTotals | None = None  # None: the run counted no tokens

    def format(self) -> str:
        """The table a person reads: one line per stage and reason, run vs what-if, in
        documents and (when the run counted them) tokens."""
        t = self.tokens
        out = [f"what-if for run {self.run_id}: {self.total:,} documents"]
        out[0] += f", {t.total:,} tokens" if t else ""
        if self.changes:
            out.append("changes:")
            out += [f"  {c.stage}.{c.field}: {c.before!r} -> {c.after!r}" for c in self.changes]
        else:
            out.append("changes: none (the run's own thresholds)")
        header = f"{'stage':<22} {'reason':<38} {'run':>12} {'what-if':>12} {'change':>10}"
        header += f" {'run tokens':>14} {'what-if tokens':>14} {'change':>12}" if t else ""
        out += ["", header, "-" * len(header)]
        for ln in self.lines:
            tokens = (ln.run_tokens, ln.whatif_tokens) if t else None
            out.append(_row(ln.stage, ln.reason, (ln.run, ln.whatif), tokens))
        out.append("-" * len(header))
        tokens = (t.kept_run, t.kept_whatif) if t else None
        out.append(_row("TOTAL", KEPT, (self.kept_run, self.kept_whatif), tokens))
        if self.unknown:
            out.append(_row("", UNKNOWN, (None, self.unknown), (None, t.unknown) if t else None))
        out += ["", _moved("documents", self), _moved("tokens", t) if t else NO_TOKENIZER]
        if self.notes:
            out.append("notes:")
            out += [f"  - {n}" for n in self.notes]
        return "\n".join(out)


# -- overrides --------------------------------------------------------------------------------


def plan_overrides(raw: dict[str, Any], overrides: Sequence[str]) -> tuple[RunConfig, list[Change]]:
    """Apply ``stages.<stage>.<field>=V`` overrides to a run's raw config; refuse non-thresholds.

    Only fields a stage lists in ``decision_fields`` may change: anything else (a model path, an
    n-gram size, a stage's name) changes the stored signals or the plan, and needs a re-run.
    """
    before = validate_config(copy.deepcopy(raw), source="run config")
    edited = copy.deepcopy(raw)
    for item in overrides:
        _check_override_key(edited, item)
        apply_override(edited, item)
    after = validate_config(edited, source="what-if config")
    changes: list[Change] = []
    for old, new in zip(before.stages, after.stages, strict=True):
        cls = STAGES_BY_KIND[new.kind]
        a, b = old.model_dump(mode="json"), new.model_dump(mode="json")
        for name in sorted(set(a) | set(b)):
            if a.get(name) == b.get(name):
                continue
            if name not in cls.decision_fields:  # e.g. changed by a validator as a side effect
                raise ConfigError(_not_a_threshold(old.stage_name, name, cls))
            changes.append(Change(old.stage_name, name, a.get(name), b.get(name)))
    return after, changes


def _check_override_key(raw: dict[str, Any], item: str) -> None:
    key = item.partition("=")[0].strip()
    parts = [p for p in key.split(".") if p]
    if "=" not in item or len(parts) < 3 or parts[0] != "stages":
        raise ConfigError(
            f"--set {item!r}: what-if changes stage thresholds only; write "
            "stages.<stage>.<field>=VALUE, e.g. stages.length.min_words=80"
        )
    stages = raw.get("stages") or []
    spec = stages[stage_index(stages, parts[1], parts[:2], item)]
    cls = STAGES_BY_KIND.get(spec.get("kind")) if isinstance(spec, dict) else None
    if cls is None:
        raise ConfigError(f"--set {item!r}: stage {parts[1]!r} has no known kind")
    name = spec.get("name") or spec.get("kind")
    if issubclass(cls, ShuffleStage):
        raise ConfigError(
            f"--set {item!r}: stage {name!r} ({spec['kind']}) decides over many rows at once "
            "(e.g. which duplicate survives), so its decisions cannot be re-applied from stored "
            "columns; re-run the pipeline to change it"
        )
    if parts[2] not in cls.config_class.model_fields:
        raise ConfigError(
            f"--set {item!r}: stage {name!r} ({spec['kind']}) has no setting {parts[2]!r}; "
            + _allowed(cls)
        )
    if parts[2] not in cls.decision_fields:
        raise ConfigError(f"--set {item!r}: " + _not_a_threshold(name, parts[2], cls))


def _allowed(cls: type[Stage]) -> str:
    if not cls.decision_fields:
        return "this stage has no threshold what-if can re-apply"
    return "thresholds what-if can change here: " + ", ".join(sorted(cls.decision_fields))


def _not_a_threshold(stage: str, name: str, cls: type[Stage]) -> str:
    return (
        f"{stage}.{name} is not a pure threshold: changing it changes the stored signals or the "
        f"plan, so re-run the pipeline (curation run ... --set stages.{stage}.{name}=...); "
        + _allowed(cls)
    )


# -- replay -----------------------------------------------------------------------------------


def whatif(
    spark: SparkSession,
    store: DeltaStore,
    output_root: str,
    overrides: list[str],
    run_id: str | None = None,
) -> WhatIfResult:
    """Re-decide run ``run_id`` (default: the latest) with ``overrides`` and compare.

    ``overrides`` are ``stages.<stage>.<field>=VALUE`` strings, as for ``curation run --set``.
    ``spark`` is accepted for a uniform command signature; the store's session reads the tables.
    """
    # A clear error for an unfinished run.
    run_id, stats = run_stats(SparkTables(store, output_root), run_id)
    record = RunLayout(output_root).load_record(run_id)
    cfg, changes = plan_overrides(record["config"], overrides)
    stages = [build_stage(s) for s in cfg.stages]
    result = compare(RunLayout(output_root).run_rows(store, run_id), stages, run_id, changes)
    rows_in = next((r["rows_in"] for r in stats if r["stage"] == "run"), None)
    if rows_in is not None and rows_in != result.total:
        result.notes.append(
            f"the stats table says {rows_in:,} rows entered the run, but documents and rejected "
            f"hold {result.total:,} of its rows: were the tables changed after the run?"
        )
    return result


def compare(
    rows: DataFrame, stages: Sequence[Stage], run_id: str, changes: Sequence[Change] = ()
) -> WhatIfResult:
    """Re-decide ``rows`` (a run's documents and rejected rows) with ``stages``, and count.

    For notebooks with custom stages: ``stages`` must have the names and order of the run's.
    """
    decisions = replay(rows, stages)
    counted = C.N_TOKENS in decisions.columns
    sums = [F.count(F.lit(1)).alias("n")]
    if counted:  # a row without text (an unreadable record) holds no tokens
        sums.append(F.coalesce(F.sum(C.N_TOKENS), F.lit(0)).alias("t"))
    # The only collect: one row per (run outcome, what-if outcome) pair, rows and tokens.
    groups = [
        (r[RUN_STAGE], r[RUN_REASON], r[C.DROP_STAGE], r[C.DROP_REASON], r[UNKNOWN_AT], r["n"])
        + ((int(r["t"]),) if counted else ())
        for r in decisions.groupBy(RUN_STAGE, RUN_REASON, C.DROP_STAGE, C.DROP_REASON, UNKNOWN_AT)
        .agg(*sums)
        .collect()
    ]
    names = [s.name for s in stages]
    unknown_stages = {g[0] for g in groups if g[0] is not None} - {READ_STAGE, *names}
    if unknown_stages:
        raise CurationError(
            f"run {run_id} has rows dropped by {sorted(unknown_stages)}, which are not stages of "
            f"its config ({', '.join(names) or 'none'}); was it run with custom stages? Pass "
            "them to curation.whatif.compare"
        )
    docs = _tally(groups, names, DOCS)
    tokens = _tally(groups, names, TOKENS) if counted else None
    return WhatIfResult(
        run_id=run_id,
        changes=list(changes),
        lines=_lines(names, docs, tokens),
        decisions=decisions,
        notes=_notes(groups, stages),
        tokens=TokenTotals(**tokens.totals) if tokens else None,
        **docs.totals,
    )


def replay(rows: DataFrame, stages: Sequence[Stage]) -> DataFrame:
    """Rows with the run's decisions in ``run_drop_*`` and the re-made ones in ``drop_*``."""
    segments = plan(stages)
    # Position of the first stage of the segment a stage runs in: a row dropped anywhere in a
    # segment was scored by all of it (a fused pass scores every row before any decision).
    entry = {
        s.name: [x.name for x in stages].index(seg.stages[0].name)
        for seg in segments
        for s in seg.stages
    }
    run_pos = F.lit(len(stages))  # kept rows passed every stage
    for name, start in entry.items():
        run_pos = F.when(F.col(RUN_STAGE) == F.lit(name), F.lit(start)).otherwise(run_pos)
    run_pos = F.when(F.col(RUN_STAGE) == F.lit(READ_STAGE), F.lit(-1)).otherwise(run_pos)
    df = (
        rows.withColumn(RUN_STAGE, F.col(C.DROP_STAGE))
        .withColumn(RUN_REASON, F.col(C.DROP_REASON))
        .withColumn(_RUN_POS, run_pos)
        .withColumn(UNKNOWN_AT, F.lit(None).cast("string"))
    )
    # Stages' decisions are reset; the reader's (and an unknown stage's) stay as they were.
    keep = F.col(RUN_STAGE).isNotNull() & ~F.col(RUN_STAGE).isin(*entry)
    df = df.withColumn(C.DROP_STAGE, F.when(keep, F.col(RUN_STAGE)))
    df = df.withColumn(C.DROP_REASON, F.when(keep, F.col(RUN_REASON)))

    for seg in segments:
        start = entry[seg.stages[0].name]
        # Rows reaching the segment now that did not reach it in the run have no signals for it.
        seen = F.col(_RUN_POS) >= F.lit(start)
        df = _mark_unknown(df, F.col(C.DROP_REASON).isNull() & ~seen, seg.stages[0].name)
        if seg.is_shuffle:
            df = _reuse_shuffle_decisions(df, seg.stages[0], start)
            continue
        # As in the driver: every stage of the segment decides over the segment's input.
        scored = df.filter(F.col(C.DROP_REASON).isNull())
        for stage in seg.stages:
            rules = stage.rules(scored, stage.cutoffs(scored))  # type: ignore[union-attr]
            df = with_decision(df, stage.name, rules)
    unknown = F.col(UNKNOWN_AT).isNotNull()
    df = df.withColumn(C.DROP_STAGE, F.when(~unknown, F.col(C.DROP_STAGE)))
    df = df.withColumn(C.DROP_REASON, F.when(~unknown, F.col(C.DROP_REASON)))
    return df.drop(_RUN_POS)


def _mark_unknown(df: DataFrame, cond: Any, stage_name: str) -> DataFrame:
    return df.withColumn(
        UNKNOWN_AT, F.when(cond, F.lit(stage_name)).otherwise(F.col(UNKNOWN_AT))
    ).withColumn(
        C.DROP_REASON, F.when(cond, F.lit(_UNKNOWN_REASON)).otherwise(F.col(C.DROP_REASON))
    )


def _reuse_shuffle_decisions(df: DataFrame, stage: Stage, start: int) -> DataFrame:
    """A shuffle stage's decisions come from the run; rows whose survivor is gone are unknown."""
    entering = F.col(C.DROP_REASON).isNull()
    was_dropped_here = F.col(RUN_STAGE) == F.lit(stage.name)
    if C.DUP_OF in df.columns:
        # Rows the stage saw in the run that no longer reach it: their copies lose a survivor.
        gone = (
            df.filter(~entering & (F.col(_RUN_POS) >= F.lit(start)))
            .select(F.col(C.ID).alias(_GONE))
            .distinct()
        )
        df = df.join(gone, F.col(C.DUP_OF) == F.col(_GONE), "left")
        df = _mark_unknown(df, entering & was_dropped_here & F.col(_GONE).isNotNull(), stage.name)
        df = df.drop(_GONE)
        entering = F.col(C.DROP_REASON).isNull()
    redo = entering & F.coalesce(was_dropped_here, F.lit(False))
    return df.withColumn(
        C.DROP_STAGE, F.when(redo, F.col(RUN_STAGE)).otherwise(F.col(C.DROP_STAGE))
    ).withColumn(C.DROP_REASON, F.when(redo, F.col(RUN_REASON)).otherwise(F.col(C.DROP_REASON)))


# -- counting ---------------------------------------------------------------------------------


def _pos(stage: str | None, names: Sequence[str]) -> float:
    if stage is None:
        return float("inf")
    if stage == READ_STAGE:
        return -1
    return names.index(stage) if stage in names else float("inf")


# Where a group's weight is in its tuple: documents, and tokens when the run counted them.
DOCS, TOKENS = 5, 6


@dataclass
class _Tally:
    """One weight (documents or tokens) per stage and reason, in the run and in the what-if."""

    run_drop: dict[tuple[str, str], int]
    new_drop: dict[tuple[str, str], int]
    run_pos: list[tuple[float, int]]  # (position of the stage that dropped it, weight)
    new_pos: list[tuple[float, int]]
    totals: dict[str, int]

    def passed(self, here: int) -> tuple[int, int]:
        """Weight passing the stage at position ``here``, in the run and in the what-if."""
        return (
            sum(n for p, n in self.run_pos if p > here),
            sum(n for p, n in self.new_pos if p > here),
        )


def _tally(groups: list[tuple], names: Sequence[str], weight: int) -> _Tally:
    """Add up ``groups`` by their element ``weight`` (DOCS or TOKENS)."""
    names_of_totals = ("total", "kept_run", "kept_whatif", "unknown", "newly_dropped", "newly_kept")
    t = _Tally({}, {}, [], [], dict.fromkeys(names_of_totals, 0))
    for g in groups:
        rs, rr, ns, nr, unk, n = *g[:5], g[weight]
        decided = unk is None  # the what-if's outcome is known
        if rs is not None:
            t.run_drop[(rs, rr)] = t.run_drop.get((rs, rr), 0) + n
        if not decided:
            t.new_drop[(unk, UNKNOWN)] = t.new_drop.get((unk, UNKNOWN), 0) + n
            t.new_pos.append((_pos(unk, names), n))
        elif ns is not None:
            t.new_drop[(ns, nr)] = t.new_drop.get((ns, nr), 0) + n
            t.new_pos.append((_pos(ns, names), n))
        else:
            t.new_pos.append((float("inf"), n))
        t.run_pos.append((_pos(rs, names), n))
        for name, applies in (
            ("total", True),
            ("unknown", not decided),
            ("kept_run", rs is None),
            ("kept_whatif", decided and ns is None),
            ("newly_dropped", decided and rs is None and ns is not None),
            ("newly_kept", decided and rs is not None and ns is None),
        ):
            t.totals[name] += n if applies else 0
    return t


def _lines(names: Sequence[str], docs: _Tally, tokens: _Tally | None) -> list[Line]:
    """Per stage: each reason's drops and what passes it, in the run and in the what-if."""
    lines: list[Line] = []
    for i, stage in enumerate([READ_STAGE, *names]):
        reasons = sorted(
            {r for s, r in docs.run_drop if s == stage}
            | {r for s, r in docs.new_drop if s == stage}
        )
        if stage == READ_STAGE and not reasons:
            continue
        for reason in reasons:
            key = (stage, reason)
            counts = (docs.run_drop.get(key, 0), docs.new_drop.get(key, 0))
            weights = (tokens.run_drop.get(key, 0), tokens.new_drop.get(key, 0)) if tokens else ()
            lines.append(Line(stage, reason, *counts, *weights))
        here = i - 1  # position of this stage (read is -1)
        weights = tokens.passed(here) if tokens else ()
        lines.append(Line(stage, KEPT, *docs.passed(here), *weights))
    return lines


def _row(
    stage: str, reason: str, docs: tuple[int | None, int], tokens: tuple[int | None, int] | None
) -> str:
    """A line of the what-if table: run, what-if and change, in documents then tokens."""
    line = f"{stage:<22} {reason:<38}" + _cells(*docs, 12, 10)
    return (line + (_cells(*tokens, 14, 12) if tokens else "")).rstrip()


def _cells(run: int | None, new: int, width: int, change_width: int) -> str:
    if run is None:  # the unknown line: no run count, no change
        return f" {'':>{width}} {new:>{width},} {'':>{change_width}}"
    change = f"{new - run:+,}" if new != run else "0"
    return f" {run:>{width},} {new:>{width},} {change:>{change_width}}"


def _moved(what: str, totals: WhatIfResult | TokenTotals) -> str:
    """``what`` newly dropped, newly kept and (if any) of unknown outcome."""
    unknown = f"; outcome unknown: {totals.unknown:,}" if totals.unknown else ""
    return (
        f"{what} newly dropped: {totals.newly_dropped:,}; newly kept: {totals.newly_kept:,}"
        + unknown
    )


def _notes(groups: list[tuple], stages: Sequence[Stage]) -> list[str]:
    """Say, per stage, what could not be recomputed and how many rows that concerns."""
    names = [s.name for s in stages]
    notes = []
    for i, stage in enumerate(stages):
        unknown_here = sum(g[5] for g in groups if g[4] == stage.name)
        if isinstance(stage, ShuffleStage):
            # Rows whose reaching this stage differs between the run and the what-if.
            moved = sum(
                g[5] for g in groups if (_pos(g[0], names) >= i) != (_pos(g[4] or g[2], names) >= i)
            )
            notes.append(
                f"{stage.name}: {stage.config.kind} decisions are not recomputed; they are "
                "taken from the run"
                + (
                    " (its input is unchanged, so they hold)."
                    if moved == 0 and unknown_here == 0
                    else f"; {moved:,} rows reach it differently than in the run, and "
                    f"{unknown_here:,} rows whose outcome depends on that are counted as "
                    "unknown (clusters and survivors are not re-chosen)."
                )
            )
        elif unknown_here:
            notes.append(
                f"{stage.name}: {unknown_here:,} rows now reach this stage but were dropped "
                "before it in the run, so they have no signals for it: outcome unknown."
            )
        if isinstance(stage, RowStage) and any(f.name == C.TEXT for f in stage.output_fields()):
            notes.append(
                f"{stage.name}: rewrites text; the stored (rewritten) text and signals are "
                "re-used as they are."
            )
    return notes
