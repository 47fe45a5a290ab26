"""Progress while a segment runs: a periodic line with the segment, its tasks and the time."""

from __future__ import annotations

import re
import time

import pytest
from test_driver import config, input_table  # noqa: F401 - fixture reused

from curation.delta import open_store
from curation.driver import Pipeline
from curation.errors import ConfigError
from curation.progress import ENV, Heartbeat, interval_seconds


def test_heartbeat_reports_spark_tasks_while_a_job_runs(spark):
    def slow(batches):
        for batch in batches:
            time.sleep(1.0)
            yield batch

    lines: list[str] = []
    with Heartbeat(spark, "quality", lines.append, every=0.3):
        spark.range(0, 8, 1, 4).mapInArrow(slow, "id long").write.format("noop").mode(
            "overwrite"
        ).save()
    progress = [re.fullmatch(r"\[quality\] running (\d+)s, tasks (\d+)/(\d+) .*", x) for x in lines]
    seen = [(int(m[2]), int(m[3])) for m in progress if m]
    assert seen, lines
    assert all(total == 4 and 0 <= done <= 4 for done, total in seen)
    # Lines stop when the block ends.
    n = len(lines)
    time.sleep(0.8)
    assert len(lines) == n


def test_pipeline_emits_heartbeats_between_stage_reports(spark, tmp_path, input_table, monkeypatch):  # noqa: F811
    monkeypatch.setenv(ENV, "0.2")
    lines: list[str] = []
    cfg = config(input_table, str(tmp_path / "out"))
    Pipeline(cfg, spark, open_store(spark, "rust"), progress=lines.append).run("hb")
    start = lines.index("[length] running")
    # The stage's own report once its segment committed: "[length]    0.6s  in   12  kept ..."
    report = next(i for i, x in enumerate(lines) if re.match(r"\[length\]\s+[\d.]+s\s+in\s", x))
    beats = [x for x in lines[start + 1 : report] if re.match(r"\[length\] running \d+s", x)]
    assert beats, lines


def test_bad_interval_names_the_variable(monkeypatch):
    monkeypatch.setenv(ENV, "soon")
    with pytest.raises(ConfigError, match=ENV):
        interval_seconds()
    monkeypatch.setenv(ENV, "0")
    with pytest.raises(ConfigError, match="positive"):
        interval_seconds()
    monkeypatch.delenv(ENV)
    assert interval_seconds() == 30.0
