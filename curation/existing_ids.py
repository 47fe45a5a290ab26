"""What a run does with document ids its output root already holds: skip them, or replace them.

An id is *held* when an earlier run decided it: its row is in ``documents`` (kept) or in
``rejected`` with a stage's decision. A record the reader could not read was never decided (it
may arrive again, readable), and rows of the current run never count, so a resumed run does not
reject its own rows. The policy is the recipe's ``existing_ids``:

* ``skip`` (default): a held id's row is rejected by stage ``read``, reason
  ``read:already_present``, before any stage scores it: the first decision stands.
* ``replace``: the row is processed as new; when the run ends, the earlier version leaves
  ``documents`` for ``rejected`` (under its own run id, reason ``read:replaced``) and leaves
  ``dedup_index``. The read stage's stats details count the replaced documents.

While a run works, rows of earlier runs in the tables its stages read (``documents``,
``dedup_index``) whose id the run decides are left out: they are earlier versions, and a document
is never compared with, nor dropped in favour of, itself. When it ends, such ``dedup_index`` rows
are deleted under either policy (under ``skip`` only a run that never finished leaves them).

Order of the final commits, each idempotent: ``rejected`` (with the moved rows), the deletions
(keyed by id and an earlier run id, so a retry finds nothing more and never touches the run's
own rows), then ``documents``. A crash in between leaves the earlier version in both tables or in
``rejected`` only, never two versions in ``documents``; re-running the run id completes it.
"""

from __future__ import annotations

from typing import Literal

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from curation import columns as C
from curation.checkpoint import checkpointed
from curation.delta import DeltaStore
from curation.readers import READ_STAGE
from curation.run_layout import DEDUP_INDEX, RunLayout

ExistingIds = Literal["skip", "replace"]
REASON_ALREADY_PRESENT = "read:already_present"
REASON_REPLACED = "read:replaced"
# Work-table column (never in documents or rejected): the row replaces a kept document. It
# makes the count in stats come from committed data, so a resumed run reports the same number.
REPLACES = "_replaces_kept"
RUN_ID = "run_id"
_KEPT = "_held_kept"
# Commits read at most to find whether a table holds rows of an earlier run at all.
_HISTORY_PEEK = 8


def held_ids(store: DeltaStore, layout: RunLayout, run_id: str) -> DataFrame | None:
    """(id, kept) of every id an earlier run decided; None when the root holds no rows yet."""
    earlier = F.col(RUN_ID) != F.lit(run_id)
    parts = []
    if store.exists(layout.documents):
        docs = store.read(layout.documents).where(earlier)
        parts.append(docs.select(C.ID, F.lit(True).alias(_KEPT)))
    if store.exists(layout.rejected):
        rejected = store.read(layout.rejected).where(earlier & (F.col(C.DROP_STAGE) != READ_STAGE))
        parts.append(rejected.select(C.ID, F.lit(False).alias(_KEPT)))
    if not parts:
        return None
    held = parts[0] if len(parts) == 1 else parts[0].unionByName(parts[1])
    return held.where(F.col(C.ID).isNotNull()).groupBy(C.ID).agg(F.max(_KEPT).alias(_KEPT))


def apply_policy(source: DataFrame, held: DataFrame | None, policy: ExistingIds) -> DataFrame:
    """The reader's rows with ``policy`` applied to held ids (see the module docstring)."""
    if held is None:
        return source
    columns = source.columns
    joined = source.join(held, C.ID, "left")
    undecided = F.col(C.DROP_REASON).isNull()
    if policy == "replace":
        replaces = undecided & F.coalesce(F.col(_KEPT), F.lit(False))
        return joined.select(*columns, replaces.alias(REPLACES))
    present = undecided & F.col(_KEPT).isNotNull()
    decided = {
        C.DROP_STAGE: F.when(present, F.lit(READ_STAGE)).otherwise(F.col(C.DROP_STAGE)),
        C.DROP_REASON: F.when(present, F.lit(REASON_ALREADY_PRESENT)).otherwise(
            F.col(C.DROP_REASON)
        ),
    }
    return joined.select(*[decided.get(c, F.col(c)).alias(c) for c in columns])


def decided_ids(rows: DataFrame) -> DataFrame:
    """Ids of the rows that got past the reader (the run decides them), from the first
    segment's rows or the reader's rows with the policy applied."""
    past_reader = F.col(C.DROP_STAGE).isNull() | (F.col(C.DROP_STAGE) != READ_STAGE)
    return rows.where(past_reader).select(C.ID).distinct()


def without_superseded(rows: DataFrame, decided: DataFrame) -> DataFrame:
    """Rows of an earlier run's table without those about a document this run decides again."""
    if C.ID not in rows.columns:
        return rows
    # Ids only, checkpointed once: a stage may read ``rows`` several times, and ``decided`` can
    # be the run's input. They are few (re-arriving documents): excluding them is a broadcast.
    superseded, n_superseded = checkpointed(
        rows.select(C.ID).join(decided, C.ID, "left_semi").distinct()
    )
    if n_superseded == 0:
        return rows
    return rows.join(F.broadcast(superseded), C.ID, "left_anti")


def replaced_count(first_rows: DataFrame) -> int:
    """Kept documents this run replaces, from its first segment's committed rows."""
    if REPLACES not in first_rows.columns:
        return 0
    return first_rows.where(F.col(REPLACES)).count()


def with_moved_rows(
    rejected: DataFrame, store: DeltaStore, layout: RunLayout, decided: DataFrame, run_id: str
) -> DataFrame:
    """``rejected`` (this run's rejected rows) plus the kept rows of earlier runs that this
    run's rows replace, as ``read:replaced`` rows that keep their own run id."""
    if not store.exists(layout.documents):
        return rejected
    docs = store.read(layout.documents).where(F.col(RUN_ID) != F.lit(run_id))
    moved = (
        docs.join(decided, C.ID, "left_semi")
        .withColumn(C.DROP_STAGE, F.lit(READ_STAGE))
        .withColumn(C.DROP_REASON, F.lit(REASON_REPLACED))
    )
    # By name: a column either side lacks is null there (dup_of in moved rows; the columns of a
    # stage this recipe no longer runs, which the moved rows keep, in this run's rows).
    return rejected.unionByName(moved, allowMissingColumns=True)


def delete_superseded(
    store: DeltaStore,
    layout: RunLayout,
    decided: DataFrame,
    run_id: str,
    policy: ExistingIds,
) -> None:
    """Delete the earlier versions of this run's documents: from ``dedup_index`` always, from
    ``documents`` under ``replace`` (after ``with_moved_rows`` reached ``rejected``)."""
    names = ([layout.documents] if policy == "replace" else []) + [layout.table(DEDUP_INDEX)]
    for path in names:
        if not store.exists(path) or _written_only_by(store, path, run_id):
            continue
        keys = (
            store.read(path)
            .where(F.col(RUN_ID) != F.lit(run_id))
            .select(C.ID, RUN_ID)
            .join(decided, C.ID, "left_semi")
        )
        store.delete_matching(path, keys, metadata={"run_id": run_id, "stage": "existing_ids"})


def _written_only_by(store: DeltaStore, path: str, run_id: str) -> bool:
    """Whether every commit of ``path`` is ``run_id``'s, so that it holds no earlier run's rows
    (a run writes only rows with its own run id; other writers' commits do not say whose rows
    they hold). Read from a short log only: the ``dedup_index`` a run into a new root creates
    is the common case, and looking for earlier rows there costs two Spark jobs."""
    if store.version(path) >= _HISTORY_PEEK:
        return False
    return all(e["metadata"].get("run_id") == run_id for e in store.history(path))
