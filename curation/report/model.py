"""The data the run report shows: every number and sample, gathered once, rendered by ``html``.

Nothing here touches Spark: ``gather`` fills these from the run's tables, ``html`` and ``svg``
draw them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from curation.stages.base import ReportSection

# Shares of each histogram's values: rows kept, dropped by the stage owning the column, others.
KEPT, HERE, OTHER = 0, 1, 2
# Rejected documents shown per drop reason, and how much of each text.
SAMPLES_PER_REASON = 3
SAMPLE_CHARS = 600
# Signal columns no stage of the run declares (a custom stage, a config from an older version).
OTHER_SIGNALS = ReportSection("other", "Other signals", "no undeclared signal columns")


@dataclass
class Signal:
    """A signal column, the stage that writes it and the report section it belongs to."""

    column: str
    stage: str | None
    section: str  # a ReportSection id
    numeric: bool
    thresholds: dict[str, float] = field(default_factory=dict)


@dataclass
class Histogram:
    """Counts per bin and share (kept / dropped here / dropped elsewhere) of a numeric signal."""

    signal: Signal
    lo: float
    width: float
    bins: list[list[int]]
    under: list[int]  # values below the charted range (heavy tails are clipped to p1..p99)
    over: list[int]
    integer: bool
    n: int
    minimum: float
    maximum: float

    @property
    def hi(self) -> float:
        return self.lo + self.width * len(self.bins)


@dataclass
class Categories:
    """Counts per value and share of a categorical signal (language, toxicity class...)."""

    signal: Signal
    values: list[tuple[str, list[int]]]  # most frequent first
    distinct: int


@dataclass
class ReportData:
    run_id: str
    sections: list[ReportSection]  # signal sections in page order
    cluster_section: str | None  # the section that shows duplicate cluster sizes
    record: dict[str, Any]
    stats: list[dict[str, Any]]
    bytes_dropped: dict[str, int]  # stage -> bytes of text it dropped
    bytes_total: int
    histograms: list[Histogram]
    categories: list[Categories]
    skipped: list[tuple[str, str]]  # (section, why a signal column is not charted)
    samples: dict[str, list[dict[str, Any]]]
    sample_columns: dict[str, list[str]]
    cluster_sizes: list[tuple[int, int]] | None
    versions: list[dict[str, Any]]
    packages: dict[str, str]
    warnings: list[str]
