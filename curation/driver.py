"""Plan and run a multi-stage pipeline: segments, materialisation, invariants, resume, outputs.

A plan groups consecutive row stages into one *segment* (one shared Python pass); each shuffle
stage is a segment of its own. Every segment writes its output, kept and dropped rows alike, to a
work table ``_runs/<run_id>/segment_<i>`` in one idempotent commit, so a failed run re-run with
the same id resumes after the last committed segment and ends with exactly the rows an
uninterrupted run would. Decisions of row stages are applied when a work table is read back, from
the stored signals. At the end the run appends ``documents``, ``rejected`` and ``stats``, each an
idempotent commit keyed by the run id. Rows whose id an earlier run into the root decided are
skipped or replace the earlier version, as the recipe's ``existing_ids`` says (``existing_ids.py``).
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from curation import columns as C
from curation import existing_ids as existing
from curation import storage
from curation.config import RunConfig
from curation.delta import DeltaStore, open_store
from curation.errors import ConfigError, InvariantError
from curation.plan import Segment, check_plan, input_renames, plan
from curation.preflight import check_catalog_output, preflight
from curation.progress import Heartbeat
from curation.readers import READ_STAGE, read_documents
from curation.run_layout import DOCUMENTS, REJECTED, STATS, RunLayout, app_id
from curation.session import get_session
from curation.stages import ShuffleStage, Stage, build_stage
from curation.stages.base import NO_CUTOFFS, Cutoffs, ensure_decision_columns
from curation.stages.rowwise import decide, score
from curation.stages.tokens import TokenCount, with_token_count
from curation.stats_table import (
    STATS_SCHEMA,
    SegmentCounts,
    StageStats,
    add_token_columns,
    stats_rows,
)


@dataclass
class RunResult:
    run_id: str
    output: str  # the output root (for a catalog output: its work path)
    stages: list[StageStats]
    rows_in: int
    rows_kept: int
    rows_rejected: int
    resumed_segments: int = 0
    catalog: str | None = None

    def table(self, name: str) -> str:
        return RunLayout(self.output, self.catalog).table(name)


Progress = Callable[[str], None]
# Called after each segment commits; tests use it to kill the driver at a segment boundary.
AfterSegment = Callable[["Segment"], None]


class Pipeline:
    """Runs a RunConfig. Build it with a session and a Delta store; call ``run``."""

    def __init__(
        self,
        cfg: RunConfig,
        spark: SparkSession,
        store: DeltaStore,
        progress: Progress | None = None,
        stages: Sequence[Stage] | None = None,
        after_segment: AfterSegment | None = None,
    ):
        """``stages`` replaces the stages built from ``cfg.stages`` (custom stages in notebooks)."""
        self.cfg = cfg
        self.spark = spark
        self.store = store
        # Before anything touches storage: run records, models and tables use these options.
        storage.set_options(cfg.storage.options)
        self.layout = RunLayout(cfg.output_root, cfg.output_catalog)
        self.progress = progress or (lambda msg: None)
        self.after_segment = after_segment or (lambda seg: None)
        self.stages: list[Stage] = with_token_count(
            cfg.tokenizer,
            list(stages) if stages is not None else [build_stage(s) for s in cfg.stages],
        )
        self.segments = plan(self.stages)
        # Per segment: its decided rows and each row stage's cutoffs, computed once per run.
        self._decided_cache: dict[int, tuple[DataFrame, dict[str, Cutoffs]]] = {}

    # -- public -------------------------------------------------------------------------------

    def run(self, run_id: str | None = None) -> RunResult:
        run_id = run_id or new_run_id()
        check_plan(self.stages)
        check_catalog_output(self.cfg, self.store.engine)
        preflight(self.cfg)
        storage.configure_spark(
            self.spark, [u for u in (self.cfg.output_root, self.cfg.input.path) if u]
        )
        if self.store.engine == "spark":  # the rust engine moves files with pyarrow instead
            storage.check_spark_reaches(self.spark, self.cfg.output_root, "output")
        if self.cfg.input.path is not None and self.cfg.input.format != "delta":
            # Delta inputs are read by the store; catalog tables by the catalog.
            storage.check_spark_reaches(
                self.spark,
                self.cfg.input.path,
                "input.path",
                instead="or, for a Delta table, set input.format: delta (the rust engine reads "
                "its files with pyarrow and storage.options)",
            )
        self._claim_run(run_id)
        started = time.monotonic()
        for stage in self.stages:
            stage.prepare(self.spark)
        self.stages = [stage.resolved() for stage in self.stages]
        self.segments = plan(self.stages)

        source = self._apply_existing_ids(
            read_documents(self.spark, self.cfg.input, self.store, self._check_fields), run_id
        )
        check_plan(self.stages, source.columns)

        stats: list[StageStats] = []
        resumed = 0
        current = source  # rows entering the next segment
        total_in: int | None = None
        app = app_id(run_id)
        for seg in self.segments or [Segment(0, [])]:
            t0 = time.monotonic()
            path = self.layout.segment(run_id, seg.index)
            if self.store.txn_version(path, app) is not None:
                resumed += 1
                self.progress(f"[{seg.label}] already committed in run {run_id}; resuming after it")
            else:
                self.progress(f"[{seg.label}] running")
                with Heartbeat(self.spark, seg.label, self.progress):
                    rows = self._run_segment(seg, current, run_id)
                    self.store.write(
                        rows,
                        path,
                        mode="overwrite",
                        app_id=app,
                        txn_version=1,
                        metadata={"run_id": run_id, "stage": seg.label},
                    )
            elapsed = time.monotonic() - t0
            decided = self._decided(seg, self.store.read(path))
            seg_stats, kept_count = self._segment_stats(seg, decided, elapsed)
            if total_in is None:
                total_in = seg_stats[0].rows_in
            else:
                expected = stats[-1].rows_kept
                if seg_stats[0].rows_in != expected:
                    raise InvariantError(
                        f"segment {seg.label!r} returned {seg_stats[0].rows_in} rows for "
                        f"{expected} rows in: a stage lost or invented rows"
                    )
                if seg_stats[0].tokens_in != stats[-1].tokens_kept:
                    raise InvariantError(
                        f"segment {seg.label!r} returned {seg_stats[0].tokens_in} tokens for "
                        f"{stats[-1].tokens_kept} in: a stage changed or dropped {C.N_TOKENS}"
                    )
            for s in seg_stats:
                tokens = "" if s.tokens_in is None else f"  tokens dropped {s.tokens_dropped:>12,}"
                flagged = s.details.get("flagged")
                flag = "" if flagged is None else f"  flagged {flagged:>10,}"
                self.progress(
                    f"[{s.stage}] {s.seconds:7.1f}s  in {s.rows_in:>10,}  kept {s.rows_kept:>10,}"
                    f"  dropped {s.rows_dropped:>10,}{flag}{tokens}"
                )
            stats.extend(seg_stats)
            current = decided.filter(F.col(C.DROP_REASON).isNull())
            self.after_segment(seg)

        result = self._commit_outputs(run_id, stats, total_in or 0, time.monotonic() - started)
        result.resumed_segments = resumed
        return result

    def _check_fields(self, fields: Sequence[str], required: str | None) -> dict[str, str]:
        """The reader's hook: refuse or rename input fields named like the run's columns."""
        prefix = required or self.cfg.input.rename_colliding
        return input_renames(self.stages, fields, prefix, self.store.engine)

    # -- segments ----------------------------------------------------------------------------

    def _run_segment(self, seg: Segment, rows_in: DataFrame, run_id: str) -> DataFrame:
        rows_in = ensure_decision_columns(rows_in)
        if not seg.stages:
            return rows_in
        if seg.is_shuffle:
            stage: ShuffleStage = seg.stages[0]  # type: ignore[assignment]
            live = rows_in.filter(F.col(C.DROP_REASON).isNull())
            decided = self._decided_ids(run_id, seg, rows_in)
            aux = {name: self._read_aux(name, run_id, decided) for name in stage.aux_tables()}
            result = stage.apply(live, aux)
            for name, aux_rows in result.aux.items():
                self.store.write(
                    aux_rows.withColumn("run_id", F.lit(run_id)),
                    self.layout.table(name),
                    app_id=app_id(run_id),
                    txn_version=seg.index + 1,
                    metadata={"run_id": run_id, "stage": stage.name},
                )
            out = result.rows
        else:
            live = rows_in.filter(F.col(C.DROP_REASON).isNull())
            out = score(live, seg.stages)  # type: ignore[arg-type]
        # Rows an earlier step already rejected (only the reader's, in segment 0) ride along.
        done = rows_in.filter(F.col(C.DROP_REASON).isNotNull())
        return out.unionByName(done, allowMissingColumns=True)

    def _decided(self, seg: Segment, rows: DataFrame) -> DataFrame:
        """Rows of a work table with the segment's decisions (row stages decide on read)."""
        return self._decide(seg, rows)[0]

    def _decide(self, seg: Segment, rows: DataFrame) -> tuple[DataFrame, dict[str, Cutoffs]]:
        if not seg.stages or seg.is_shuffle:
            return rows, {}
        # Memoised so run-level statistics inside rules (e.g. a top-k% quantile) are computed once.
        if seg.index not in self._decided_cache:
            self._decided_cache[seg.index] = decide(rows, seg.stages)  # type: ignore[arg-type]
        return self._decided_cache[seg.index]

    def _segment_stats(
        self, seg: Segment, decided: DataFrame, seconds: float
    ) -> tuple[list[StageStats], int]:
        flags = {s.name: s.flagged() for s in seg.stages if s.flagged() is not None}
        counts = SegmentCounts.of(decided, flags)  # one aggregation: rows, tokens, flags
        cutoffs = self._decided_cache[seg.index][1] if seg.index in self._decided_cache else {}
        out: list[StageStats] = []
        remaining, tokens_left = counts.total, counts.total_tokens
        if seg.index == 0:
            out.append(
                counts.stage(
                    READ_STAGE,
                    READ_STAGE,
                    remaining,
                    tokens_left,
                    0.0,
                    self._existing_ids_details(decided),
                )
            )
            remaining, tokens_left = out[-1].rows_kept, out[-1].tokens_kept
        for k, stage in enumerate(seg.stages):
            if isinstance(stage, TokenCount):
                continue  # it decides nothing: its column is in the counts, not in the funnel
            details = {"fused_with": [s.name for s in seg.stages]} if len(seg.stages) > 1 else {}
            details.update(stage.run_details(cutoffs.get(stage.name, NO_CUTOFFS)))
            flagged = counts.flagged(stage.name, [s.name for s in seg.stages[:k]])
            if flagged is not None:
                details["flagged"] = flagged
            kind = stage.config.kind
            out.append(counts.stage(stage.name, kind, remaining, tokens_left, seconds, details))
            remaining, tokens_left = out[-1].rows_kept, out[-1].tokens_kept
        if remaining != counts.kept:
            raise InvariantError(
                f"segment {seg.label!r}: {counts.kept} rows kept but the stages account for "
                f"{remaining}; decision columns name an unknown stage: "
                f"{sorted(k for k in counts.rows if k[0])}"
            )
        return out, counts.kept

    def _read_aux(self, name: str, run_id: str, decided: DataFrame) -> DataFrame | None:
        path = self.layout.table(name)
        if not self.store.exists(path):
            return None
        # Rows this run committed before a crash must not count as prior documents on resume,
        # nor rows about documents this run decides again (their earlier versions).
        earlier = self.store.read(path).filter(F.col("run_id") != F.lit(run_id))
        return existing.without_superseded(earlier, decided)

    # -- ids the root already holds (curation/existing_ids.py) ------------------------------

    def _apply_existing_ids(self, source: DataFrame, run_id: str) -> DataFrame:
        """The reader's rows with the recipe's ``existing_ids`` policy applied."""
        held = existing.held_ids(self.store, self.layout, run_id)
        return existing.apply_policy(source, held, self.cfg.existing_ids)

    def _decided_ids(self, run_id: str, seg: Segment, rows_in: DataFrame) -> DataFrame:
        """Ids this run decides, from its first segment's rows (``rows_in`` when ``seg`` is it)."""
        first = rows_in if seg.index == 0 else self.store.read(self.layout.segment(run_id, 0))
        return existing.decided_ids(first)

    def _existing_ids_details(self, first_rows: DataFrame) -> dict[str, object]:
        """The read stage's stats details: what ``replace`` replaced (``skip``'s rejects are a
        drop reason, counted like any other)."""
        if self.cfg.existing_ids != "replace":
            return {}
        return {"existing_ids": "replace", "replaced": existing.replaced_count(first_rows)}

    # -- outputs -----------------------------------------------------------------------------

    def _commit_outputs(
        self, run_id: str, stats: list[StageStats], total_in: int, seconds: float
    ) -> RunResult:
        segments = self.segments or [Segment(0, [])]
        work = {
            seg.index: self.store.read(self.layout.segment(run_id, seg.index)) for seg in segments
        }
        final = self._decided(segments[-1], work[segments[-1].index])
        kept = final.filter(F.col(C.DROP_REASON).isNull())
        rejected = None
        for seg in segments:
            rows = self._decided(seg, work[seg.index])
            names = [s.name for s in seg.stages] + ([READ_STAGE] if seg.index == 0 else [])
            mine = rows.filter(F.col(C.DROP_STAGE).isin(names))
            rejected = (
                mine if rejected is None else rejected.unionByName(mine, allowMissingColumns=True)
            )
        # Give every rejected row the same columns as kept rows, so both tables line up.
        for f in kept.schema.fields:
            if f.name not in rejected.columns:
                rejected = rejected.withColumn(f.name, F.lit(None).cast(f.dataType))
        kept = kept.drop(C.DUP_OF, existing.REPLACES)
        rejected = rejected.drop(existing.REPLACES)
        # The run id on every output row ties it to its stats, config and lineage.
        kept = kept.withColumn("run_id", F.lit(run_id))
        rejected = rejected.withColumn("run_id", F.lit(run_id))
        # rejected first, then the earlier versions' deletion, then documents: a crash in
        # between never leaves two versions of a document in documents (existing_ids.py).
        decided = existing.decided_ids(work[segments[0].index])
        if self.cfg.existing_ids == "replace":
            rejected = existing.with_moved_rows(rejected, self.store, self.layout, decided, run_id)
        self._commit_table(REJECTED, rejected, run_id)
        existing.delete_superseded(self.store, self.layout, decided, run_id, self.cfg.existing_ids)
        self._commit_table(DOCUMENTS, kept, run_id)
        rows_kept = stats[-1].rows_kept if stats else total_in
        rows_rejected = sum(s.rows_dropped for s in stats)
        if total_in != rows_kept + rows_rejected:
            raise InvariantError(
                f"run {run_id}: {total_in} rows in but {rows_kept} kept + {rows_rejected} rejected"
            )
        stat_rows = stats_rows(run_id, stats, total_in, rows_kept, rows_rejected, seconds)
        rewritten = add_token_columns(self.store, self.layout.stats)
        if rewritten is not None:
            self.progress(
                f"[stats] the stats table predates token columns: added them "
                f"({rewritten:,} rows rewritten in one commit)"
            )
        self._commit_table(STATS, self.spark.createDataFrame(stat_rows, STATS_SCHEMA), run_id)
        return RunResult(
            run_id,
            self.cfg.output_root,
            stats,
            total_in,
            rows_kept,
            rows_rejected,
            catalog=self.cfg.output_catalog,
        )

    def _commit_table(self, name: str, rows: DataFrame, run_id: str) -> None:
        """Append ``rows`` to a result table, once per run however often the run is resumed.

        A recipe may gain or lose stages between runs into one root: `documents` and `rejected`
        then gain the new signal columns (null in earlier rows), and a dropped stage's columns
        are null in this run's rows. `stats` and `dedup_index` keep their fixed schemas."""
        self.store.write(
            rows,
            self.layout.table(name),
            app_id=app_id(run_id),
            txn_version=1,
            metadata={"run_id": run_id, "stage": name},
            add_columns=name in (DOCUMENTS, REJECTED),
        )

    # -- bookkeeping -------------------------------------------------------------------------

    def _claim_run(self, run_id: str) -> None:
        """Record the config of a new run; refuse to resume a run id with a different config."""
        fingerprint = config_fingerprint(self.cfg)
        previous = self.layout.read_record(run_id)
        if previous is not None:
            if previous.get("fingerprint") != fingerprint:
                raise ConfigError(
                    f"run id {run_id!r} was started with a different input, output, stages or "
                    "existing_ids; re-run it with the same config, or use a new --run-id"
                )
            return
        config = json.loads(self.cfg.model_dump_json())
        # A record is read by whoever reads the output root: no literal credentials in it.
        config["storage"]["options"] = self.cfg.storage.secrets_hidden()
        self.layout.write_record(
            run_id,
            {
                "run_id": run_id,
                "fingerprint": fingerprint,
                "started_at": datetime.now(timezone.utc).isoformat(),
                "config": config,
            },
        )


def config_fingerprint(cfg: RunConfig) -> str:
    """What must match for a resumed run to produce the same result: input, output, stages and
    the existing-ids policy and the tokenizer (its column is in every work table)."""
    body = cfg.model_dump(mode="json", include={"input", "output", "stages"})
    if body["input"].get("table") is None:  # runs recorded before input.table still resume
        body["input"].pop("table", None)
    # Each only when not the default, so runs recorded before the setting existed still resume.
    if cfg.existing_ids != "skip":
        body["existing_ids"] = cfg.existing_ids
    if cfg.tokenizer is not None:
        body["tokenizer"] = cfg.tokenizer.model_dump(mode="json")
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


def run_pipeline(
    cfg: RunConfig,
    spark: SparkSession | None = None,
    run_id: str | None = None,
    progress: Progress | None = None,
    after_segment: AfterSegment | None = None,
) -> RunResult:
    """Run ``cfg`` end to end (building a session and picking the Delta engine if needed)."""
    storage.set_options(cfg.storage.options)
    spark = spark or get_session(cfg.spark, delta_jars=cfg.storage.engine == "spark")
    store = open_store(spark, cfg.storage.engine)
    return Pipeline(cfg, spark, store, progress, after_segment=after_segment).run(run_id)
