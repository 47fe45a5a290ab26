"""The ``stats`` table: its schema, a stage's counts in a run, and the rows a run appends.

One row per (run, stage) with the stage's totals (``reason`` null), one per (run, stage, reason)
with that reason's drops, and a final ``run`` row with the run's totals. ``summary.py`` reads
them back.

Documents and, when the recipe names a tokenizer, tokens: ``tokens_in``/``tokens_kept``/
``tokens_dropped`` are sums of ``n_tokens`` and null in a run without a tokenizer. Tables written
before the token columns existed are read as they are and upgraded before the next append
(``add_token_columns``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import (
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from curation import columns as C
from curation.errors import CommitConflictError

if TYPE_CHECKING:  # typing only: the table's schema and rows need no store
    from curation.delta import DeltaStore

RUN_ROW = "run"  # the stage name of the row with the run's totals

STATS_SCHEMA = StructType(
    [
        StructField("run_id", StringType(), False),
        StructField("stage_index", IntegerType(), False),
        StructField("stage", StringType(), False),
        StructField("kind", StringType(), False),
        StructField("reason", StringType(), True),  # null: the stage's totals row
        StructField("rows_in", LongType(), False),
        StructField("rows_kept", LongType(), False),
        StructField("rows_dropped", LongType(), False),
        StructField("seconds", DoubleType(), False),
        StructField("details", StringType(), True),  # JSON: thresholds used, fused stages...
        StructField("finished_at", TimestampType(), False),
        # Last, and nullable: added after the first tables were written (see add_token_columns).
        StructField("tokens_in", LongType(), True),  # null: no tokenizer in the recipe
        StructField("tokens_kept", LongType(), True),
        StructField("tokens_dropped", LongType(), True),
    ]
)
TOKEN_COLUMNS = ("tokens_in", "tokens_kept", "tokens_dropped")
# Overwrites that lose a race to another run's append retry on the new snapshot.
UPGRADE_ATTEMPTS = 3


@dataclass
class StageStats:
    """What one stage did in a run: rows in and kept, drops per reason, seconds, details; and
    tokens in and dropped per reason when the run counts tokens (``tokens_in`` None otherwise)."""

    stage: str
    kind: str
    rows_in: int
    rows_kept: int
    dropped: dict[str, int]
    seconds: float
    details: dict[str, Any] = field(default_factory=dict)
    tokens_in: int | None = None
    dropped_tokens: dict[str, int] = field(default_factory=dict)

    @property
    def rows_dropped(self) -> int:
        return sum(self.dropped.values())

    @property
    def tokens_dropped(self) -> int | None:
        return None if self.tokens_in is None else sum(self.dropped_tokens.values())

    @property
    def tokens_kept(self) -> int | None:
        return (
            None if self.tokens_in is None else self.tokens_in - sum(self.dropped_tokens.values())
        )


Group = tuple[str | None, str | None]  # (drop_stage, drop_reason); (None, None) is kept


@dataclass(frozen=True)
class SegmentCounts:
    """Rows, and tokens when the rows have ``n_tokens``, per (drop_stage, drop_reason)."""

    rows: dict[Group, int]
    tokens: dict[Group, int] | None  # None: the run counts no tokens

    # stage -> {group: rows the stage flagged}, for stages that flag (see Stage.flagged)
    flags: dict[str, dict[Group, int]] = field(default_factory=dict)

    @classmethod
    def of(cls, decided: DataFrame, flags: Mapping[str, Any] | None = None) -> SegmentCounts:
        """Counted in one aggregation over a segment's decided rows (the sum rides along, and
        so does a count per flagging stage of the rows its ``flags`` expression marks)."""
        counted = C.N_TOKENS in decided.columns
        sums = [F.count(F.lit(1)).alias("n")]
        if counted:  # a row without text (an unreadable record) holds no tokens
            sums.append(F.coalesce(F.sum(C.N_TOKENS), F.lit(0)).alias("t"))
        names = list(flags or {})
        sums += [F.count(F.when(flags[n], 1)).alias(f"f{i}") for i, n in enumerate(names)]
        found = decided.groupBy(C.DROP_STAGE, C.DROP_REASON).agg(*sums).collect()
        key = [((r[C.DROP_STAGE], r[C.DROP_REASON]), r) for r in found]
        return cls(
            rows={k: int(r["n"]) for k, r in key},
            tokens={k: int(r["t"]) for k, r in key} if counted else None,
            flags={n: {k: int(r[f"f{i}"]) for k, r in key} for i, n in enumerate(names)},
        )

    def flagged(self, name: str, dropped_before: Sequence[str]) -> int | None:
        """Rows stage ``name`` flagged that no stage before it dropped (None: it flags none)."""
        per_group = self.flags.get(name)
        if per_group is None:
            return None
        return sum(n for (s, _), n in per_group.items() if s not in dropped_before)

    @property
    def total(self) -> int:
        return sum(self.rows.values())

    @property
    def kept(self) -> int:
        return self.rows.get((None, None), 0)

    @property
    def total_tokens(self) -> int | None:
        return None if self.tokens is None else sum(self.tokens.values())

    def stage(
        self,
        name: str,
        kind: str,
        rows_in: int,
        tokens_in: int | None,
        seconds: float,
        details: dict[str, Any] | None = None,
    ) -> StageStats:
        """The stats of stage ``name``, given what entered it: its drops are the groups it named."""
        drops = {r: n for (s, r), n in self.rows.items() if s == name}
        tokens = {r: t for (s, r), t in (self.tokens or {}).items() if s == name}
        return StageStats(
            name,
            kind,
            rows_in,
            rows_in - sum(drops.values()),
            drops,
            seconds,
            details or {},
            tokens_in=tokens_in if self.tokens is not None else None,
            dropped_tokens=tokens,
        )


def stats_rows(
    run_id: str,
    stats: Sequence[StageStats],
    total_in: int,
    rows_kept: int,
    rows_rejected: int,
    seconds: float,
) -> list[tuple]:
    """The rows of ``STATS_SCHEMA`` a run appends: per stage, per reason, and the run's totals."""
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    rows: list[tuple] = []
    for i, s in enumerate(stats):
        details = json.dumps(s.details, sort_keys=True) if s.details else None
        rows.append(
            (run_id, i, s.stage, s.kind, None, s.rows_in, s.rows_kept, s.rows_dropped)
            + (float(s.seconds), details, now, s.tokens_in, s.tokens_kept, s.tokens_dropped)
        )
        for reason, n in sorted(s.dropped.items()):
            tokens = s.dropped_tokens.get(reason, 0) if s.tokens_in is not None else None
            rows.append(
                (run_id, i, s.stage, s.kind, reason, s.rows_in, s.rows_kept, int(n))
                + (float(s.seconds), None, now, s.tokens_in, s.tokens_kept, tokens)
            )
    # The run's tokens: only when every stage counted them (the count is the run's first pass).
    counted = bool(stats) and all(s.tokens_in is not None for s in stats)
    tokens_in = stats[0].tokens_in if counted else None
    tokens_kept = stats[-1].tokens_kept if counted else None
    tokens_dropped = sum(s.tokens_dropped or 0 for s in stats) if counted else None
    rows.append(
        (run_id, len(stats), RUN_ROW, RUN_ROW, None, total_in, rows_kept, rows_rejected)
        + (float(seconds), None, now, tokens_in, tokens_kept, tokens_dropped)
    )
    return rows


def add_token_columns(store: DeltaStore, path: str) -> int | None:
    """Give a stats table written before the token columns existed those columns (null).

    Neither Delta engine adds a column on append here (the rust engine refuses files whose
    schema differs from the table's), so the table is rewritten once with the columns added:
    the same rows, one overwrite commit, earlier versions still readable. Returns the rows
    rewritten, or None when there was nothing to do (no table, or the columns are there).
    """
    for _attempt in range(UPGRADE_ATTEMPTS):
        if not store.exists(path):
            return None
        old = store.read(path)
        missing = [f for f in STATS_SCHEMA if f.name not in old.columns]
        if not missing:
            return None
        upgraded = old
        for f in missing:
            upgraded = upgraded.withColumn(f.name, F.lit(None).cast(f.dataType))
        # Columns an older or newer writer added stay, after ours.
        order = [f.name for f in STATS_SCHEMA] + [
            c for c in old.columns if c not in {f.name for f in STATS_SCHEMA}
        ]
        rows = old.count()
        try:
            store.write(
                upgraded.select(*order),
                path,
                mode="overwrite",
                overwrite_schema=True,
                metadata={"operation": "add columns " + ", ".join(f.name for f in missing)},
            )
        except CommitConflictError:
            continue  # another run appended (or upgraded) meanwhile: look again
        return rows
    raise CommitConflictError(
        f"{path} kept changing while its token columns were being added; re-run to retry"
    )
