"""The stage contract: a new stage declares what it needs and adds, and the driver, what-if and
the report pick it up from those declarations alone, with no change anywhere else.

The test stage below is what adding a stage takes: a kernel (here one line of pyarrow), a config,
and a ``RowStage`` declaring its columns, rules, a run-level cutoff and its report section.
"""

from __future__ import annotations

from typing import Literal

import pyarrow.compute as pc
from pydantic import Field
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, StructField

from curation import columns as C
from curation.config import validate_config
from curation.delta import open_store
from curation.driver import Pipeline
from curation.report import gather
from curation.report.html import render
from curation.run_layout import RunLayout
from curation.stages.base import ReportSection, RowStage, StageConfig
from curation.stages.length import LengthFilter, LengthFilterConfig
from curation.whatif import compare


class DigitShareConfig(StageConfig):
    kind: Literal["digit_share"] = "digit_share"
    keep_lowest_percent: float = Field(50.0, gt=0, le=100)


class DigitShare(RowStage):
    """Share of characters that are digits; drops the rows above the run's percentile."""

    config_class = DigitShareConfig
    config: DigitShareConfig
    decision_fields = frozenset({"keep_lowest_percent"})
    report_section = ReportSection("digits", "Digits", "no digit stage in this run")

    def output_fields(self):
        return [StructField("digit_share", DoubleType())]

    def scorer(self):
        def run(batch):
            text = batch.column(C.TEXT)
            digits = pc.count_substring_regex(text, r"[0-9]").cast("double")
            return {"digit_share": pc.divide(digits, pc.max_element_wise(pc.utf8_length(text), 1))}

        return run

    def cutoffs(self, scored):
        live = scored.filter(F.col(C.DROP_REASON).isNull())
        q = live.approxQuantile("digit_share", [self.config.keep_lowest_percent / 100], 0.0)
        return {"max_share": q[0] if q else None}

    def rules(self, scored, cutoffs):
        cut = cutoffs.get("max_share")
        return [] if cut is None else [("digit_share:too_many_digits", F.col("digit_share") > cut)]

    def thresholds(self, cutoffs=None):
        cut = (cutoffs or {}).get("max_share")
        return {"digit_share": {"max_share": cut}} if isinstance(cut, float) else {}


def _rows(spark):
    texts = [f"word {'x ' * 12}" + "7" * i for i in range(20)]
    return spark.createDataFrame(
        [(f"d{i:02d}", t) for i, t in enumerate(texts)], "id string, text string"
    )


def test_a_new_stage_runs_reports_and_replays_from_its_declarations(spark, tmp_path):
    store = open_store(spark, "rust")
    source = str(tmp_path / "in")
    store.write(_rows(spark), source)
    out = str(tmp_path / "out")
    cfg = validate_config(
        {"input": {"path": source, "format": "delta"}, "output": out, "stages": []}
    )
    stages = [LengthFilter(LengthFilterConfig(min_words=5)), DigitShare(DigitShareConfig())]
    result = Pipeline(cfg, spark, store, stages=stages).run("toy")

    # Driver: decisions, stats and the cutoff it returned (nothing was stored on the stage).
    digit = next(s for s in result.stages if s.stage == "digit_share")
    assert digit.rows_in == 20 and digit.dropped == {"digit_share:too_many_digits": 10}
    cut = digit.details["max_share"]
    assert 0 < cut < 1 and not hasattr(stages[1], "last_threshold")

    # What-if: the same stage re-decides from the stored signal with another percentile.
    looser = [stages[0], DigitShare(DigitShareConfig(keep_lowest_percent=75))]
    replay = compare(RunLayout(out).run_rows(store, "toy"), looser, "toy")
    assert replay.kept_run == 10 and replay.kept_whatif == 15

    # Report: the stage's section, its histogram and the run's cutoff drawn in.
    data = gather(spark, store, out, "toy", stages=stages)
    assert [s.id for s in data.sections][-1] == "digits"
    hist = next(h for h in data.histograms if h.signal.column == "digit_share")
    assert hist.signal.section == "digits" and hist.signal.thresholds == {"max_share": cut}
    page = render(data)
    assert '<section id="digits"><h2>Digits</h2>' in page
    assert 'data-column="digit_share"' in page
