"""The run report: one self-contained HTML file (inline CSS and SVG, no script, no network).

``gather`` computes every number from the run's tables in a few Spark passes (``model`` holds
them), ``html`` and ``svg`` draw the page. Counts in the funnel and drop tables are those of the
``stats`` table and carry ``data-*`` attributes (``data-stage``, ``data-reason``,
``data-rows-dropped``, ``data-tokens-dropped`` when the run counted tokens ...) for tools and
tests.

>>> write_report(spark, store, "out/demo")             # -> "report.html"
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pyspark.sql import SparkSession

from curation.delta import DeltaStore
from curation.report.gather import gather
from curation.report.html import render
from curation.stages.base import Stage
from curation.storage import Location, write_bytes


def write_report(
    spark: SparkSession,
    store: DeltaStore,
    output_root: str,
    run_id: str | None = None,
    out_path: str = "report.html",
    *,
    progress: Callable[[str], None] | None = None,
    stages: Sequence[Stage] | None = None,
) -> str:
    """Write the HTML report of run ``run_id`` (default: the latest) to ``out_path``; return it.

    ``progress`` gets one line per aggregation (each is a scan of the run's tables); ``stages``
    as for ``gather``.
    """
    page = render(gather(spark, store, output_root, run_id, progress=progress, stages=stages))
    # Through curation.storage: a report may go next to the tables in a bucket.
    write_bytes(Location.of(out_path), page.encode("utf-8"))
    return out_path


__all__ = ["gather", "render", "write_report"]
