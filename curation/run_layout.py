"""The on-disk layout of an output root: which tables live there, at which paths, and run records.

Only this module knows table names and paths; everything else asks it. Under a root::

    documents/   rejected/   stats/   dedup_index/     Delta tables shared by every run
    _runs/<run_id>/run.json                            the run record (id, fingerprint, config)
    _runs/<run_id>/segment_<i>/                        a segment's work table (resume points)

>>> layout = RunLayout("out/demo")
>>> layout.documents                      # "out/demo/documents"
>>> layout.segment("r1", 2)               # "out/demo/_runs/r1/segment_02"
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow.fs as pafs

from curation.errors import CurationError
from curation.storage import Location, write_bytes

if TYPE_CHECKING:  # typing only: the layout itself needs no Spark
    from pyspark.sql import DataFrame

    from curation.delta import DeltaStore

DOCUMENTS = "documents"
REJECTED = "rejected"
STATS = "stats"
DEDUP_INDEX = "dedup_index"
# Every row a run read is in exactly one of these two tables.
ROW_TABLES = (DOCUMENTS, REJECTED)
# What `curation run` prints as the run's outputs.
RESULT_TABLES = (DOCUMENTS, REJECTED, STATS)
RUNS = "_runs"
RECORD = "run.json"


def app_id(run_id: str) -> str:
    """The Delta transaction app id of a run: every commit of the run is idempotent under it."""
    return f"curation:{run_id}"


# The tables a catalog output holds as catalog tables; work tables stay under the root.
CATALOG_TABLES = (DOCUMENTS, REJECTED, STATS, DEDUP_INDEX)


@dataclass(frozen=True)
class RunLayout:
    """Paths under one output root (a local path or a URI). With ``catalog`` (``cat.schema``),
    the result tables are the catalog tables ``cat.schema.documents`` ... instead, and the root
    holds only run records and work tables."""

    root: str
    catalog: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", self.root.rstrip("/") or "/")

    def table(self, name: str) -> str:
        """Where result table ``name`` lives: a path, or a catalog table name."""
        if self.catalog is not None and name in CATALOG_TABLES:
            return f"{self.catalog}.{name}"
        return self._path(name)

    def _path(self, name: str) -> str:
        return f"{self.root}/{name}"

    @property
    def documents(self) -> str:
        return self.table(DOCUMENTS)

    @property
    def rejected(self) -> str:
        return self.table(REJECTED)

    @property
    def stats(self) -> str:
        return self.table(STATS)

    def run_dir(self, run_id: str) -> str:
        return self._path(f"{RUNS}/{run_id}")

    def segment(self, run_id: str, index: int) -> str:
        """The work table a run's segment ``index`` commits to (its resume point)."""
        return f"{self.run_dir(run_id)}/segment_{index:02d}"

    def record_path(self, run_id: str) -> str:
        return f"{self.run_dir(run_id)}/{RECORD}"

    def run_rows(self, store: DeltaStore, run_id: str) -> DataFrame:
        """Every row of run ``run_id``: its ``documents`` and ``rejected`` rows, aligned by name."""
        from pyspark.sql import functions as F

        parts = [
            store.read(self.table(name)).filter(F.col("run_id") == F.lit(run_id))
            for name in ROW_TABLES
            if store.exists(self.table(name))
        ]
        if not parts:
            raise CurationError(f"no documents or rejected table under {self.root!r}")
        rows = parts[0]
        for more in parts[1:]:
            rows = rows.unionByName(more, allowMissingColumns=True)
        return rows

    # -- the run record --------------------------------------------------------------------

    def read_record(self, run_id: str) -> dict[str, Any] | None:
        """The run's record, or None if the run was never started under this root."""
        loc = Location.of(self.record_path(run_id))
        if loc.fs.get_file_info(loc.fs_path).type != pafs.FileType.File:
            return None
        with loc.fs.open_input_stream(loc.fs_path) as fh:
            return json.loads(fh.read().decode())

    def write_record(self, run_id: str, body: dict[str, Any]) -> None:
        write_bytes(Location.of(self.record_path(run_id)), json.dumps(body, indent=2).encode())

    def started_runs(self) -> list[str]:
        """Ids of the runs started under this root (those with a run record), sorted."""
        loc = Location.of(self._path(RUNS))
        if loc.fs.get_file_info(loc.fs_path).type != pafs.FileType.Directory:
            return []
        dirs = loc.fs.get_file_info(pafs.FileSelector(loc.fs_path))
        records = [
            posixpath.join(d.path, RECORD) for d in dirs if d.type == pafs.FileType.Directory
        ]
        found = loc.fs.get_file_info(records)
        return sorted(posixpath.basename(posixpath.dirname(f.path)) for f in found if f.is_file)

    def load_record(self, run_id: str) -> dict[str, Any]:
        """The record of a finished or started run, with a readable error if it has none."""
        body = self.read_record(run_id)
        if body is None:
            raise CurationError(
                f"run {run_id!r} has no record at {self.record_path(run_id)}: was it written by "
                f"`curation run` into {self.root!r}?"
            )
        if not isinstance(body.get("config"), dict):
            raise CurationError(
                f"{self.record_path(run_id)} has no 'config' object; the run record is incomplete"
            )
        return body
