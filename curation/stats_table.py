"""The ``stats`` table: its schema, a stage's counts in a run, and the rows a run appends.

One row per (run, stage) with the stage's totals (``reason`` null), one per (run, stage, reason)
with that reason's drops, and a final ``run`` row with the run's totals. ``summary.py`` reads
them back.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from pyspark.sql.types import (
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

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
    ]
)


@dataclass
class StageStats:
    """What one stage did in a run: rows in and kept, drops per reason, seconds, details."""

    stage: str
    kind: str
    rows_in: int
    rows_kept: int
    dropped: dict[str, int]
    seconds: float
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def rows_dropped(self) -> int:
        return sum(self.dropped.values())


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
            + (float(s.seconds), details, now)
        )
        for reason, n in sorted(s.dropped.items()):
            rows.append(
                (run_id, i, s.stage, s.kind, reason, s.rows_in, s.rows_kept, int(n))
                + (float(s.seconds), None, now)
            )
    rows.append(
        (run_id, len(stats), RUN_ROW, RUN_ROW, None, total_in, rows_kept, rows_rejected)
        + (float(seconds), None, now)
    )
    return rows
