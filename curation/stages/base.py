"""The stage contract.

A stage is DataFrame -> DataFrame with one frozen pydantic config. Two families:

* ``RowStage``: each row's outcome depends on that row alone (signals, language ID, classifiers,
  toxicity). It *scores* in Python over Arrow batches (``scorer``) and *decides* with Spark column
  expressions over the stored signals (``rules``). Consecutive row stages share one Python pass
  (see ``rowwise.py``), and decisions can be re-applied later without rescoring (what-if).
* ``ShuffleStage``: needs to see many rows at once (dedup). It gets the kept rows and any auxiliary
  tables it asked for (e.g. ``dedup_index``) and returns rows with its own decisions, plus
  auxiliary rows for the driver to commit.

Stages never build sessions or touch storage; the driver does both.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar

import pyarrow as pa
from pydantic import Field
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StructField

from curation import columns as C
from curation.frozen import FrozenModel


class StageConfig(FrozenModel):
    """Fields every stage config has. Subclasses fix ``kind`` with a Literal."""

    kind: str
    name: str | None = Field(
        None,
        description="Label written to drop_stage and stats; defaults to the kind. "
        "Needed only when a recipe uses the same kind twice.",
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.-]+$",
    )

    @property
    def stage_name(self) -> str:
        return self.name or self.kind


# A rule: (reason, condition). The first rule whose condition is true names the drop reason.
Rule = tuple[str, Column]
# A scorer maps an Arrow batch (input columns plus what earlier stages added) to new columns.
Scorer = Callable[[pa.RecordBatch], Mapping[str, pa.Array]]
# Cut values that depend on the run's data (e.g. the score at a top-k% quantile), by name.
Cutoffs = Mapping[str, float | None]
NO_CUTOFFS: Cutoffs = MappingProxyType({})


@dataclass(frozen=True)
class ReportSection:
    """Where the run report charts a stage's signal columns.

    ``absent`` completes "No data: ..." when no stage of the run fills the section.
    """

    id: str
    title: str
    absent: str


HEURISTICS = ReportSection(
    "heuristics", "Heuristic signals", "no heuristic signal columns (length, q_*) in this run"
)


class Stage(ABC):
    """What every stage declares so the driver, what-if and the report need nothing else.

    The driver checks a plan from ``requires``/``output_fields`` before any Spark action,
    what-if re-decides from ``decision_fields``, the stats table records ``run_details`` and the
    report charts ``output_fields`` in ``report_section`` with ``thresholds`` drawn in.
    """

    config_class: ClassVar[type[StageConfig]]
    # Config fields read only by rules(), never by scoring: `curation whatif` may change these
    # and re-decide from the stored signals. Everything else needs a re-run to change.
    decision_fields: ClassVar[frozenset[str]] = frozenset()
    report_section: ClassVar[ReportSection] = HEURISTICS

    def __init__(self, config: StageConfig):
        self.config = config

    @property
    def name(self) -> str:
        return self.config.stage_name

    def requires(self) -> Sequence[str]:
        """Columns this stage reads."""
        return (C.ID, C.TEXT)

    @abstractmethod
    def output_fields(self) -> Sequence[StructField]:
        """Columns this stage adds (or replaces, e.g. ``text`` for line filters)."""

    def prepare(self, spark: Any) -> None:  # noqa: B027 - optional hook
        """Driver-side setup before the stage runs (e.g. ship a model file to executors)."""

    def resolved(self) -> Stage:
        """The stage that runs, once ``prepare`` has been called: itself, or another
        implementation of the same kind and columns chosen from what ``prepare`` learned (the
        decontaminate stage joins an index too large to ship). The driver plans after this."""
        return self

    def thresholds(self, cutoffs: Cutoffs = NO_CUTOFFS) -> Mapping[str, Mapping[str, float]]:
        """Cut values per signal column, for the report (``cutoffs``: the run's, if any).

        >>> LengthFilter(cfg).thresholds()   # {"len_words": {"min_words": 50, ...}}
        """
        return {}

    def run_details(self, cutoffs: Cutoffs = NO_CUTOFFS) -> dict[str, Any]:
        """Run-level facts for the stats table's ``details`` (the cutoffs used, by default)."""
        return dict(cutoffs)

    def flagged(self) -> Any | None:
        """A boolean column expression true on rows this stage kept with a flag (e.g. a content
        warning), counted in the run's summary next to its drops; None: it flags nothing."""
        return None


class RowStage(Stage):
    """A stage that scores each row independently, then decides with column expressions."""

    @abstractmethod
    def scorer(self) -> Scorer:
        """Build the batch scorer. Runs on executors; load models here (once per worker)."""

    def cutoffs(self, scored: DataFrame) -> Cutoffs:
        """Cut values computed from the run's scored rows (e.g. a top-k% quantile); most
        stages have none. Called once per decision; the result is passed to ``rules``."""
        return NO_CUTOFFS

    @abstractmethod
    def rules(self, scored: DataFrame, cutoffs: Cutoffs) -> Sequence[Rule]:
        """Decision rules over the scored columns, in priority order.

        ``scored`` is the materialised output of scoring (its columns tell which signals
        exist); ``cutoffs`` is what ``cutoffs(scored)`` returned.
        """


@dataclass
class ShuffleResult:
    """Rows with the stage's decisions, and rows to append to auxiliary tables by name."""

    rows: DataFrame
    aux: dict[str, DataFrame] = field(default_factory=dict)


class ShuffleStage(Stage):
    """A stage that needs many rows at once. Its output is materialised to Delta by the driver."""

    def aux_tables(self) -> Sequence[str]:
        """Names of tables under the output root this stage reads and appends to."""
        return ()

    @abstractmethod
    def apply(self, df: DataFrame, aux: Mapping[str, DataFrame | None]) -> ShuffleResult:
        """Decide over ``df`` (kept rows only); ``aux`` maps each aux table to its rows or None."""


def with_decision(df: DataFrame, stage_name: str, rules: Sequence[Rule]) -> DataFrame:
    """Set drop_stage/drop_reason from ``rules`` on rows no earlier stage dropped.

    >>> with_decision(df, "length", [("length:too_short", F.col("n_words") < 50)])
    """
    if not rules:
        return df
    reason: Column = F.when(rules[0][1], F.lit(rules[0][0]))
    for why, cond in rules[1:]:
        reason = reason.when(cond, F.lit(why))
    already = F.col(C.DROP_REASON).isNotNull()
    return df.withColumn(
        C.DROP_STAGE,
        F.when(already, F.col(C.DROP_STAGE)).otherwise(
            F.when(reason.isNotNull(), F.lit(stage_name))
        ),
    ).withColumn(C.DROP_REASON, F.when(already, F.col(C.DROP_REASON)).otherwise(reason))


def ensure_decision_columns(df: DataFrame) -> DataFrame:
    """Add null drop_stage/drop_reason to a DataFrame that has none (notebook use)."""
    for col in C.DECISION_COLUMNS:
        if col not in df.columns:
            df = df.withColumn(col, F.lit(None).cast("string"))
    return df
