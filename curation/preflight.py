"""Checks a run makes before Spark starts: the output root can be written, a local input exists.

Each would otherwise fail late and loudly: an unwritable root after the JVM started (a Python
traceback from the run record), a missing path after Spark logged a Java stack. The CLI runs them
before building a session; the driver runs them again before any stage (notebooks, jobs).
"""

from __future__ import annotations

import posixpath
import re
import uuid

import pyarrow.fs as pafs

from curation.config import RunConfig
from curation.errors import ConfigError, StorageError
from curation.storage import Location


def preflight(cfg: RunConfig) -> None:
    """The checks that need no Spark, so the CLI runs them before a JVM starts: the output root
    can be written, and a local input path exists (Spark would log a stack before saying so)."""
    if cfg.storage.engine == "rust":  # auto is decided once Spark runs: the driver checks then
        check_catalog_output(cfg, "rust")
    check_output_writable(cfg.output_root)
    path = cfg.input.path
    if path is None:
        return  # a catalog table: only the session's catalog can say whether it exists
    try:
        loc = Location.of(path)
    except StorageError:
        return  # a scheme pyarrow cannot open: Spark's reader says whether it exists
    if not isinstance(loc.fs, pafs.LocalFileSystem):
        return  # a remote listing costs time; the reader answers for those
    # The part before the first glob character must exist, whatever the glob then matches.
    fixed = re.split(r"[*?\[{]", loc.fs_path, maxsplit=1)
    head = fixed[0] if len(fixed) == 1 else posixpath.dirname(fixed[0]) or "/"
    if loc.fs.get_file_info(head).type == pafs.FileType.NotFound:
        what = "does not exist" if len(fixed) == 1 else f"matches no files ({head} does not exist)"
        raise ConfigError(f"input.path {path!r} {what}; check the path")


def check_output_writable(output: str) -> None:
    """Fail before any stage runs if the output root cannot be created and written."""
    loc = Location.of(output)
    probe = loc.child(f".curation-write-check-{uuid.uuid4().hex[:8]}")
    try:
        loc.fs.create_dir(loc.fs_path, recursive=True)
        with loc.fs.open_output_stream(probe.fs_path):
            pass
        loc.fs.delete_file(probe.fs_path)
    except OSError as err:
        raise ConfigError(
            f"output {output!r} cannot be written ({err}); set output to a directory this "
            "process can create and write"
        ) from None


def check_catalog_output(cfg: RunConfig, engine: str) -> None:
    """Refuse a catalog output on the rust engine: delta-rs commits to paths only."""
    if cfg.output_catalog is None or engine != "rust":
        return
    raise ConfigError(
        f"output.catalog {cfg.output_catalog!r}: the rust engine cannot create catalog tables "
        "(delta-rs commits to storage paths and registers nothing in a metastore); run where "
        "the delta-spark jars are loaded (storage.engine: spark, e.g. on Databricks), or give "
        "output as a path or URI and register the tables with CREATE TABLE ... USING DELTA "
        "LOCATION '<output>/documents'"
    )
