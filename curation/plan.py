"""The plan of a run: which stages share a pass (segments), and whether they fit together.

A plan groups consecutive row stages into one *segment* (one shared Python pass over the text);
each shuffle stage is a segment of its own, and a stage that rewrites ``text`` starts a new pass.
``check_plan`` refuses, before any Spark action, a stage that needs a column nothing produces
and an input field that a stage or the driver would overwrite (``input_renames`` offers a prefix).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from curation import columns as C
from curation.errors import PlanError
from curation.readers import RAW, READ_STAGE, SOURCE
from curation.stages import RowStage, ShuffleStage, Stage
from curation.stages.tokens import TokenCount


@dataclass
class Segment:
    index: int
    stages: list[Stage]

    @property
    def is_shuffle(self) -> bool:
        return isinstance(self.stages[0], ShuffleStage)

    @property
    def label(self) -> str:
        return "+".join(s.name for s in self.stages) or READ_STAGE


def plan(stages: Sequence[Stage]) -> list[Segment]:
    """Group stages into segments: runs of row stages fuse, shuffle stages stand alone."""
    segments: list[Segment] = []
    for stage in stages:
        # A stage that rewrites `text` starts a new pass: fused behind earlier stages, it would
        # also rewrite rows they drop, and `rejected` must hold the text the dropping stage saw.
        # The token count drops nothing, so a rewriting stage shares its pass (the count then
        # sees the text as read).
        fuse = (
            isinstance(stage, RowStage)
            and segments
            and not segments[-1].is_shuffle
            and (
                not rewrites_text(stage)
                or all(isinstance(s, TokenCount) for s in segments[-1].stages)
            )
        )
        if fuse:
            segments[-1].stages.append(stage)
        else:
            segments.append(Segment(len(segments), [stage]))
    return segments


def rewrites_text(stage: Stage) -> bool:
    return any(f.name == C.TEXT for f in stage.output_fields())


def check_plan(
    stages: Sequence[Stage],
    input_columns: Sequence[str] | None = None,
    input_fields: Sequence[str] | None = None,
) -> None:
    """Fail before any stage runs if a stage needs a column nothing before it produces, or if
    an input field (``input_fields``: the input's metadata names) would be overwritten.

    With ``input_columns`` None (the input not yet opened) only ordering mistakes are reported:
    a column some later stage produces. Columns no stage produces may still come from the input.
    """
    available = set(input_columns or ()) | {C.ID, C.TEXT, *C.DECISION_COLUMNS}
    producers: dict[str, list[str]] = {}
    for stage in stages:
        for f in stage.output_fields():
            producers.setdefault(f.name, []).append(stage.name)
    problems = []
    for stage in stages:
        for col in stage.requires():
            if col not in available:
                later = producers.get(col)
                if not later and input_columns is None:
                    continue
                hint = (
                    f"it is produced by {', '.join(later)}, which must run earlier"
                    if later
                    else "no stage produces it and the input does not have it"
                )
                problems.append(f"stage {stage.name!r} needs column {col!r}: {hint}")
        available |= {f.name for f in stage.output_fields()}
        if isinstance(stage, ShuffleStage) or any(
            f.name == C.DUP_OF for f in stage.output_fields()
        ):
            available.add(C.DUP_OF)
    if problems:
        raise PlanError("the plan does not fit together:\n  " + "\n  ".join(problems))
    clashes = colliding_fields(stages, input_fields or ())
    if clashes:
        named = ", ".join(f"{f!r} (written by {' and '.join(w)})" for f, w in clashes.items())
        raise PlanError(
            f"input fields have the names of columns this run writes: {named}; rename them in "
            "the input, or set input.rename_colliding to a prefix (e.g. input_) to carry them "
            f"through as {', '.join('input_' + f for f in clashes)}"
        )


# Columns the run writes whatever its stages, and what writes each (for messages).
RESERVED_COLUMNS: dict[str, str] = {
    C.RUN_ID: "the driver",  # on every output row
    C.DROP_STAGE: "the reader and every stage",  # the decision
    C.DROP_REASON: "the reader and every stage",
    C.DUP_OF: "the driver",  # dropped from documents; the dedup stages set it on duplicates
    SOURCE: "the reader",  # the file a row came from
    RAW: "the reader",  # the start of an unreadable record
}
# Characters delta-spark refuses in column names of a table without column mapping.
DELTA_SPARK_BAD_CHARS = " ,;{}()\n\t="


def column_writers(stages: Sequence[Stage]) -> dict[str, list[str]]:
    """Every column the run writes besides id and text, and what writes it."""
    writers = {name: [who] for name, who in RESERVED_COLUMNS.items()}
    for stage in stages:
        for f in stage.output_fields():
            if f.name not in (C.ID, C.TEXT):
                writers.setdefault(f.name, []).append(f"stage {stage.name!r}")
    return writers


def colliding_fields(stages: Sequence[Stage], fields: Sequence[str]) -> dict[str, list[str]]:
    """Input fields named like a column the run writes, with its writers.

    Ignoring case, as Spark resolves names: an input ``Lang`` is the langid stage's ``lang``.
    """
    writers = {name.lower(): who for name, who in column_writers(stages).items()}
    return {f: writers[f.lower()] for f in fields if f.lower() in writers}


def input_renames(
    stages: Sequence[Stage], fields: Sequence[str], prefix: str | None, engine: str
) -> dict[str, str]:
    """The new name of each input field that collides with a column the run writes.

    Refuses the input (PlanError) when ``prefix`` (input.rename_colliding) is unset and a field
    collides, when a new name is taken too, or when the spark engine cannot store a name.
    """
    if prefix is None:
        check_plan(stages, input_fields=fields)
    renames = {f: f"{prefix}{f}" for f in colliding_fields(stages, fields)} if prefix else {}
    taken = {n.lower() for n in [*column_writers(stages), *fields]}
    clash = [f"{f!r} -> {new!r}" for f, new in renames.items() if new.lower() in taken]
    if clash:
        raise PlanError(
            f"input.rename_colliding={prefix!r} renames {', '.join(clash)}, a name the input "
            "or the run already uses; choose another prefix"
        )
    bad = [n for n in (renames.get(f, f) for f in fields) if set(n) & set(DELTA_SPARK_BAD_CHARS)]
    if engine == "spark" and bad:
        raise PlanError(
            f"input fields {', '.join(map(repr, bad))} have characters delta-spark refuses in "
            f"column names ({DELTA_SPARK_BAD_CHARS!r}) of tables without column mapping; rename "
            "them in the input, or set storage.engine: rust"
        )
    return renames
