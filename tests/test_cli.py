"""The command line explains itself: help on every argument, --version, no JVM or pyspark for
either, and output through logging with Spark's start-up warnings hidden unless -v."""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
from importlib import metadata

import pytest

from curation import logs
from curation.cli import build_parser, main


def _arguments(parser: argparse.ArgumentParser, path: str = "curation"):
    """(command path, action) for every argument of the parser and of every sub-command."""
    for action in parser._actions:  # noqa: SLF001 - argparse keeps its tree here, nowhere public
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            for name, sub in action.choices.items():
                yield from _arguments(sub, f"{path} {name}")
        elif not isinstance(action, argparse._HelpAction):  # noqa: SLF001
            yield path, action


def test_every_argument_of_every_command_has_help():
    seen = list(_arguments(build_parser()))
    missing = [
        f"{path} {'/'.join(a.option_strings) or a.dest}"
        for path, a in seen
        if not (a.help or "").strip() or a.help == argparse.SUPPRESS
    ]
    assert not missing, f"arguments without help text: {missing}"
    # The walk reached every sub-command's own options (a walk that saw none would pass).
    commands = {path for path, _ in seen}
    assert {"curation run", "curation sample", "curation train-classifier"} <= commands
    assert any(path == "curation sample" and "--seed" in a.option_strings for path, a in seen)


def test_the_walk_catches_an_option_without_help():
    parser = build_parser()
    parser._subparsers._group_actions[0].choices["stats"].add_argument("--bare")  # noqa: SLF001
    assert [a.dest for _, a in _arguments(parser) if not a.help] == ["bare"]


def test_version_is_the_installed_packages(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"curation {metadata.version('curation')}"


# A process in which `import pyspark` fails, as in a wheel installed without the spark extra.
NO_PYSPARK = "import sys; sys.modules['pyspark'] = None; from curation.cli import main; main()"


def _without_pyspark(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", NO_PYSPARK, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "JAVA_HOME": "/nonexistent"},  # and no JVM either
    )


def test_version_and_help_need_neither_pyspark_nor_a_jvm():
    version = _without_pyspark("--version")
    assert version.returncode == 0 and version.stdout.startswith("curation "), version.stderr
    for args in (["--help"], ["run", "--help"], ["sample", "--help"]):
        proc = _without_pyspark(*args)
        assert proc.returncode == 0 and "usage: curation" in proc.stdout, (args, proc.stderr)


def test_a_command_that_needs_spark_says_how_to_get_it(tmp_path):
    proc = _without_pyspark("sample", str(tmp_path / "s"), "--docs", "5")
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("error: pyspark is not installed") and "curation[spark]" in line


def test_quiet_jvm_options_keep_the_users_own(monkeypatch):
    monkeypatch.setattr(logs, "_verbose", False)
    user = {"spark.driver.extraJavaOptions": "-Dlog4j2.configurationFile=mine.xml -Xss4m"}
    (value,) = logs.jvm_conf(user).values()
    ours = f"-Dlog4j2.configurationFile={logs.QUIET_LOG4J.as_uri()}"
    # Ours first: the JVM takes the last -D of a name, so the user's file wins.
    assert value == f"{ours} -Dlog4j2.configurationFile=mine.xml -Xss4m"
    assert logs.QUIET_LOG4J.is_file() and logs.spark_log_level() == "ERROR"
    monkeypatch.setattr(logs, "_verbose", True)
    assert logs.jvm_conf(user) == {} and logs.spark_log_level() == "WARN"
    monkeypatch.setattr(logs, "_verbose", None)  # a library user's session: Spark's own setup
    assert logs.jvm_conf({}) == {} and logs.spark_log_level() == "WARN"


def test_progress_goes_to_stdout_and_warnings_to_stderr_through_logging(capsys):
    logs.configure(verbose=False)
    log = logging.getLogger("curation.driver")
    log.debug("hidden detail")
    log.info("  12.0s [langid] 100 in, 90 kept")
    log.warning("delta-rs cannot read x")
    out, err = capsys.readouterr()
    assert out == "  12.0s [langid] 100 in, 90 kept\n" and err == "delta-rs cannot read x\n"
    logs.configure(verbose=True)  # configuring again replaces the handlers: no doubled lines
    log.debug("shown detail")
    assert capsys.readouterr().out == "shown detail\n"
    logs.configure(verbose=False)


def test_after_configure_records_still_reach_the_hosts_handlers(caplog, capsys):
    logs.configure(verbose=False)  # as every in-process `curation` command in the suite does
    with caplog.at_level(logging.WARNING, logger="curation.stages.url_filter"):
        logging.getLogger("curation.stages.url_filter").warning("nothing is blocked")
    assert "nothing is blocked" in caplog.text
    assert capsys.readouterr().err == "nothing is blocked\n"


@pytest.mark.slow
def test_quiet_by_default_spark_warnings_with_v(tmp_path):
    """Two real JVM starts (about 20 s each here): the default hides Spark's start-up WARN
    lines and keeps the command's own output; -v shows them."""

    def sample(*extra: str) -> subprocess.CompletedProcess:
        out = tmp_path / f"s{len(extra)}"
        command = [sys.executable, "-m", "curation.cli", *extra, "sample", str(out), "--docs", "5"]
        env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
        return subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)

    quiet = sample()
    assert quiet.returncode == 0, quiet.stderr[-3000:]
    assert "5 documents" in quiet.stdout or str(tmp_path) in quiet.stdout, quiet.stdout
    assert " WARN " not in quiet.stderr and "Setting default log level" not in quiet.stderr, (
        quiet.stderr[-3000:]
    )
    loud = sample("-v")
    assert loud.returncode == 0, loud.stderr[-3000:]
    # This machine's JVM always warns at start-up (no native Hadoop library, at least).
    assert " WARN " in loud.stderr, loud.stderr[-3000:]
