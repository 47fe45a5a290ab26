"""Odd input field names, fields named like the run's columns, and user errors as one line.

Field names with a dot, a backtick, a space or non-ASCII letters ride through every stage into
`documents` and `rejected`, and what-if and the report read them back. A field named like a
column the run writes is refused before any stage runs (or renamed when the recipe says so).
A user error (unwritable output, a malformed master, a missing input) is one line on stderr and
exit code 2, checked before Spark starts; ``-v`` adds the traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from curation.config import validate_config
from curation.datasets.sample import clean_text
from curation.delta import open_store
from curation.driver import Pipeline
from curation.errors import ConfigError, PlanError
from curation.run_layout import STATS, RunLayout
from curation.stages.langid import LangIdConfig

pytestmark = pytest.mark.fault

ROOT = Path(__file__).resolve().parents[2]
ODD = ("meta.url", "a`b", "with space", "ünï", "lang.source")
STAGES = [{"kind": "length", "min_words": 10}, {"kind": "quality"}, {"kind": "exact_dedup"}]


def odd_rows() -> list[dict]:
    """Three clean pages (kept), a short one (length) and a copy of the first (exact dedup)."""
    texts = {f"p{i}": clean_text(42, i) for i in range(3)}
    texts["short"] = "Too short to keep."
    texts["p0-copy"] = texts["p0"]  # p0 < p0-copy: the first page survives
    return [
        {
            "id": doc_id,
            "text": text,
            "meta.url": f"https://example.org/{doc_id}",
            "a`b": n,
            "with space": f"has space {doc_id}",
            "ünï": f"ü-{doc_id}",
            "lang.source": "crawler",  # named like the report's signal prefix `lang`
        }
        for n, (doc_id, text) in enumerate(texts.items())
    ]


def write_input(folder: Path, fmt: str, rows: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if fmt == "jsonl":
        path = folder / "in.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    else:
        path = folder / "in.parquet"
        pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def run_config(path: Path, out: Path, stages=STAGES, fmt: str = "jsonl", **inp):
    return validate_config(
        {
            "input": {"path": str(path), "format": fmt, **inp},
            "output": str(out),
            "storage": {"engine": "rust"},
            "stages": stages,
        }
    )


def run(spark, cfg, run_id="r1", pipeline=Pipeline):
    return pipeline(cfg, spark, open_store(spark, "rust")).run(run_id)


def outcome(spark, out: Path) -> dict[str, dict]:
    """Every row of documents and rejected by id (documents' rows have drop_reason null)."""
    store = open_store(spark, "rust")
    rows = {}
    for table in ("documents", "rejected"):
        for row in store.read(str(out / table)).collect():
            rows[row["id"]] = row.asDict()
    return rows


def odd_run_in(spark, folder: Path, fmt: str) -> Path:
    out = folder / "out"
    run(spark, run_config(write_input(folder, fmt, odd_rows()), out, fmt=fmt))
    return out


def assert_odd_fields_carried(rows: dict[str, dict]) -> None:
    expected = {r["id"]: {k: r[k] for k in ODD} for r in odd_rows()}
    assert {i: {k: row[k] for k in ODD} for i, row in rows.items()} == expected
    reasons = {i: row["drop_reason"] for i, row in rows.items()}
    assert reasons == {
        "p0": None,
        "p1": None,
        "p2": None,
        "short": "length:too_few_words",
        "p0-copy": "dedup:exact",
    }


@pytest.fixture(scope="module")
def odd_run(spark, tmp_path_factory):
    return odd_run_in(spark, tmp_path_factory.mktemp("odd"), "jsonl")


# -- item 4: odd field names -----------------------------------------------------------------


def test_odd_jsonl_field_names_ride_through_every_stage(spark, odd_run):
    assert_odd_fields_carried(outcome(spark, odd_run))


def test_odd_parquet_column_names_ride_through_every_stage(spark, tmp_path):
    assert_odd_fields_carried(outcome(spark, odd_run_in(spark, tmp_path, "parquet")))


def test_whatif_and_report_read_a_run_with_odd_field_names(odd_run, run_cli, tmp_path):
    whatif = run_cli("whatif", str(odd_run), "--set", "stages.length.min_words=100000")
    assert whatif.returncode == 0, whatif.stderr
    assert "documents newly dropped: 3; newly kept: 0" in whatif.stdout

    html = tmp_path / "report.html"
    report = run_cli("report", str(odd_run), "-o", str(html))
    assert report.returncode == 0, report.stderr
    # A metadata column named like a signal (`lang...`) is charted, by its literal name.
    assert 'data-column="lang.source"' in html.read_text(encoding="utf-8")


# -- item 5: fields named like the run's columns ----------------------------------------------

COLLIDING = {
    "lang": "xx",
    "run_id": "theirs",
    "len_words": -1,
    "dup_of": "nobody",
    "drop_reason": "their reason",
    "read_source": "crawl-7",
}
WITH_LANGID = [STAGES[0], {"kind": "langid"}, STAGES[2]]


def colliding_input(folder: Path) -> Path:
    rows = [{"id": f"p{i}", "text": clean_text(42, i), **COLLIDING} for i in range(2)]
    return write_input(folder, "jsonl", rows)


def test_fields_named_like_run_columns_are_refused_before_any_stage(spark, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(PlanError) as err:
        run(spark, run_config(colliding_input(tmp_path), out, WITH_LANGID))
    message = str(err.value)
    assert "\n" not in message
    for part in (
        "'lang' (written by stage 'langid')",
        "'len_words' (written by stage 'length')",
        "'run_id' (written by the driver)",
        "'dup_of' (written by the driver and stage 'exact_dedup')",
        "'drop_reason' (written by the reader and every stage)",
        "'read_source' (written by the reader)",
        "input.rename_colliding",
    ):
        assert part in message
    # Refused at plan time: no segment ran, nothing was committed.
    assert not Path(RunLayout(str(out)).segment("r1", 0)).exists()
    assert not (out / "documents").exists()


def test_rename_colliding_carries_the_fields_through_under_a_prefix(spark, tmp_path):
    out = tmp_path / "out"
    cfg = run_config(colliding_input(tmp_path), out, WITH_LANGID, rename_colliding="input_")
    run(spark, cfg)
    rows = outcome(spark, out)
    assert sorted(rows) == ["p0", "p1"]
    for row in rows.values():
        assert {k: row[f"input_{k}"] for k in COLLIDING} == COLLIDING
        # The run's own columns hold the run's values.
        assert (row["run_id"], row["lang"], row["drop_reason"]) == ("r1", "en", None)
        assert row["len_words"] > 100 and row["read_source"].endswith("in.jsonl")


# -- item 7: user errors are one line, before Spark starts -------------------------------------


def cli_process(*args: str) -> subprocess.CompletedProcess:
    """``curation ARGS`` as its own process: the exit code and the whole stderr are the test."""
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path, "PYSPARK_PYTHON": sys.executable}
    return subprocess.run(
        [sys.executable, "-m", "curation.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def recipe(tmp_path: Path, **changes) -> str:
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": "a", "text": "hello world"}\n', encoding="utf-8")
    body = {
        "input": {"path": str(source), "format": "jsonl"},
        "output": str(tmp_path / "out"),
        "storage": {"engine": "rust"},
        "spark": {"master": "local[1]"},
        "stages": [{"kind": "length"}],
    }
    for key, value in changes.items():
        section, _, field = key.partition("__")
        if field:
            body[section][field] = value
        else:
            body[section] = value
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(body), encoding="utf-8")
    return str(path)


def assert_one_line_error(proc: subprocess.CompletedProcess, *parts: str) -> str:
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr[-3000:]
    for part in parts:
        assert part in lines[0]
    return lines[0]


@pytest.mark.parametrize("where", ["proc", "file"])
def test_an_unwritable_output_root_is_one_line_exit_2(tmp_path, where):
    if where == "proc":
        output = "/proc/curation-out"
    else:
        (tmp_path / "a-file").write_text("not a directory")
        output = str(tmp_path / "a-file" / "out")
    proc = cli_process("run", recipe(tmp_path, output=output))
    assert_one_line_error(proc, f"output {output!r} cannot be written", "set output to")


def test_a_malformed_master_is_one_line_naming_the_forms_spark_accepts(tmp_path):
    proc = cli_process("run", recipe(tmp_path, spark__master="local[two]"))
    assert_one_line_error(proc, "spark.master", "'local[two]'", "local[N]", "spark://HOST:PORT")


def test_a_missing_jsonl_input_is_one_line_before_spark_logs_a_stack(tmp_path):
    missing = str(tmp_path / "nope" / "in.jsonl")
    proc = cli_process("run", recipe(tmp_path, input={"path": missing, "format": "jsonl"}))
    assert_one_line_error(proc, f"input.path {missing!r} does not exist")


def test_verbose_adds_the_traceback(tmp_path):
    proc = cli_process("run", recipe(tmp_path, spark__master="local[two]"), "-v")
    assert proc.returncode == 2
    assert "Traceback (most recent call last)" in proc.stderr
    assert proc.stderr.splitlines()[-1].startswith("error: ")


def test_a_glob_input_whose_folder_is_missing_is_one_line(tmp_path, run_cli):
    pattern = str(tmp_path / "nope" / "*.jsonl")
    result = run_cli("run", recipe(tmp_path, input={"path": pattern, "format": "jsonl"}))
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: input.path {pattern!r} matches no files")
    assert len(result.stderr.splitlines()) == 1


def test_a_malformed_master_flag_is_one_line(tmp_path, run_cli):
    result = run_cli("stats", str(tmp_path), "--master", "local[two]")
    assert result.returncode == 2
    assert result.stderr.startswith("error: --master 'local[two]' is not a Spark master URL")


def test_reading_a_glob_logs_no_java_stack(spark):
    """Spark probes a single input path for a streaming sink's metadata and, for a glob, logs
    the failed probe as a WARN with a Java stack on every read; sessions we build raise that
    logger to ERROR."""
    logger = "org.apache.spark.sql.execution.streaming.sinks.FileStreamSink"
    log4j = spark._jvm.org.apache.logging.log4j  # noqa: SLF001
    assert log4j.LogManager.getLogger(logger).getLevel().toString() == "ERROR"


# -- item 8e: stats of a run that has not finished ----------------------------------------------


class Killed(Exception):
    """The driver process dying between the documents/rejected commits and the stats commit."""


class DiesBeforeStats(Pipeline):
    def _commit_table(self, name, rows, run_id):
        if name == STATS:
            raise Killed(run_id)
        super()._commit_table(name, rows, run_id)


def test_stats_of_an_unfinished_run_names_it_and_how_to_finish_it(spark, tmp_path, run_cli):
    rows = [{"id": f"p{i}", "text": clean_text(42, i)} for i in range(2)]
    cfg = run_config(write_input(tmp_path, "jsonl", rows), tmp_path / "out", [STAGES[0]])
    out = str(tmp_path / "out")
    with pytest.raises(Killed):
        run(spark, cfg, "r1", DiesBeforeStats)
    assert (tmp_path / "out" / "documents").is_dir()  # the state the issue describes

    stats = run_cli("stats", out)
    assert stats.returncode == 2
    assert "run 'r1'" in stats.stderr and "has not finished" in stats.stderr
    assert "--run-id r1" in stats.stderr and "curation output root" not in stats.stderr

    run(spark, cfg, "r1")  # the advice: the same run id resumes and finishes
    assert run_cli("stats", out).stdout.startswith("run r1")

    # With another run finished, asking for the unfinished one says the same.
    with pytest.raises(Killed):
        run(spark, cfg, "r2", DiesBeforeStats)
    stats = run_cli("stats", out, "--run-id", "r2")
    assert stats.returncode == 2 and "run 'r2'" in stats.stderr and "--run-id r2" in stats.stderr


# -- item 8f: langid.allowed written as one string --------------------------------------------


def test_langid_allowed_as_one_code_is_a_one_item_list():
    assert LangIdConfig(allowed="en").allowed == ("en",)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("en, de", "a list of language codes: allowed: [en, de]"), (5, "a list of language codes")],
)
def test_langid_allowed_errors_speak_of_a_list_of_codes(value, expected):
    raw = {"input": {"path": "x"}, "output": "o", "stages": [{"kind": "langid", "allowed": value}]}
    with pytest.raises(ConfigError) as err:
        validate_config(raw)
    assert "stages.langid.allowed" in str(err.value) and expected in str(err.value)
    assert "tuple" not in str(err.value)
