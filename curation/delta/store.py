"""The interface every Delta engine implements, and what the engines share.

Both engines check write arguments the same way and keep commit metadata (run id, stage, ...)
as a JSON object in the commit's ``userMetadata``, so ``history`` reads the same either way.
"""

from __future__ import annotations

import datetime as dt
import json
from abc import ABC, abstractmethod
from typing import Any, Literal

from pyspark.sql import DataFrame, SparkSession

from curation.errors import DeltaError

Mode = Literal["append", "overwrite"]


class DeltaStore(ABC):
    """Read, write and inspect Delta tables; one implementation per engine."""

    engine: str

    def __init__(self, spark: SparkSession):
        self.spark = spark

    @abstractmethod
    def exists(self, path: str) -> bool:
        """Whether a Delta table is at ``path``."""

    @abstractmethod
    def version(self, path: str) -> int:
        """The table's latest version."""

    @abstractmethod
    def read(self, path: str, version: int | None = None) -> DataFrame:
        """The table (at ``version`` when given) as a DataFrame."""

    @abstractmethod
    def write(
        self,
        df: DataFrame,
        path: str,
        mode: Mode = "append",
        *,
        app_id: str | None = None,
        txn_version: int | None = None,
        metadata: dict[str, str] | None = None,
        overwrite_schema: bool = False,
        add_columns: bool = False,
    ) -> int | None:
        """Commit ``df`` in one transaction; the new version, or None when already committed.

        With ``app_id`` and ``txn_version``, a write whose version is not above the one recorded
        for ``app_id`` is skipped (a retried job does not duplicate rows). The table is created
        when absent. ``metadata`` lands in the commit's userMetadata. An overwrite keeps the
        table's schema unless ``overwrite_schema``. An append must match the table's columns
        unless ``add_columns``: then it merges schemas as Delta's ``mergeSchema`` does (columns
        new to the table are added, nullable; nullable columns it lacks are null in its rows).
        """

    @abstractmethod
    def delete_matching(
        self, path: str, keys: DataFrame, *, metadata: dict[str, str] | None = None
    ) -> int | None:
        """Delete, in one commit, every row of ``path`` that equals a row of ``keys`` on all of
        ``keys``' columns (which the table has; keys are never null); the new version, or None
        when nothing was committed (no table, no key; the rust engine also skips a commit that
        would delete nothing). A retry deletes nothing more, so it needs no app id: choose
        ``keys`` so that rows written since (e.g. a resumed run's own) never match.
        """

    @abstractmethod
    def txn_version(self, path: str, app_id: str) -> int | None:
        """The last version committed for ``app_id``, None if none (or no table)."""

    @abstractmethod
    def history(self, path: str) -> list[dict[str, Any]]:
        """Commits newest first: version, timestamp (UTC), operation, metadata."""


# --------------------------------------------------------------------------------------------
# Arguments and commit metadata shared by both engines


def check_write_args(
    mode: str, app_id: str | None, txn_version: int | None, metadata: dict[str, str] | None
) -> str | None:
    """Validate write arguments; return the userMetadata JSON (None without metadata)."""
    if mode not in ("append", "overwrite"):
        raise DeltaError(f"write mode must be 'append' or 'overwrite', not {mode!r}")
    if (app_id is None) != (txn_version is None):
        raise DeltaError(
            "idempotent writes need both app_id and txn_version (got "
            f"app_id={app_id!r}, txn_version={txn_version!r}); pass both or neither"
        )
    if app_id is not None and (not isinstance(app_id, str) or not app_id):
        raise DeltaError(f"app_id must be a non-empty string, not {app_id!r}")
    if txn_version is not None and (
        not isinstance(txn_version, int) or isinstance(txn_version, bool) or txn_version < 0
    ):
        raise DeltaError(f"txn_version must be an integer >= 0, not {txn_version!r}")
    if not metadata:
        return None
    bad = {k: v for k, v in metadata.items() if not isinstance(k, str) or not isinstance(v, str)}
    if bad:
        raise DeltaError(f"commit metadata keys and values must be strings; not: {bad!r}")
    return json.dumps(metadata, sort_keys=True)


def parse_user_metadata(raw: Any) -> dict[str, str]:
    """Our commits store a JSON object; commits by other writers may hold free text."""
    if raw is None or raw == "":
        return {}
    try:
        parsed = json.loads(raw)
    except (TypeError, ValueError):
        return {"userMetadata": str(raw)}
    if isinstance(parsed, dict):
        return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in parsed.items()}
    return {"userMetadata": str(raw)}


def utc_from_millis(ms: int | None) -> dt.datetime | None:
    return None if ms is None else dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc)
