"""One Python pass for a run of consecutive row stages.

Each JVM -> Python round trip copies the text, so N row stages in a row share a single
``mapInArrow``: every batch goes through each stage's scorer in order, and a stage that rewrites
``text`` (the C4 line filter, toxicity span removal) hands the rewritten text to the next one.
All rows are scored, even those an earlier stage will drop: decisions are column expressions
applied afterwards, so a threshold can be changed later without rerunning any model.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql.pandas.types import to_arrow_type
from pyspark.sql.types import StructField, StructType

from curation.stages.base import Cutoffs, RowStage, ensure_decision_columns, with_decision

# Scorers built on this Python worker, keyed by stage identity. Spark reuses Python workers
# (spark.python.worker.reuse, on by default), so models load once per worker, not per batch.
_SCORERS: dict[str, object] = {}


def _scorer_key(stage: RowStage) -> str:
    return f"{type(stage).__module__}.{type(stage).__qualname__}:{stage.config.model_dump_json()}"


def scored_schema(schema: StructType, stages: Sequence[RowStage]) -> StructType:
    """Input schema plus every stage's output fields; a re-declared column replaces in place."""
    fields: list[StructField] = list(schema.fields)
    for stage in stages:
        for new in stage.output_fields():
            names = [f.name for f in fields]
            if new.name in names:
                fields[names.index(new.name)] = new
            else:
                fields.append(new)
    return StructType(fields)


def score(df: DataFrame, stages: Sequence[RowStage]) -> DataFrame:
    """Run the scorers of ``stages`` over ``df`` in one Arrow pass. Adds their signal columns."""
    if not stages:
        return df
    out_schema = scored_schema(df.schema, stages)
    arrow_fields = [
        pa.field(f.name, to_arrow_type(f.dataType), nullable=True) for f in out_schema.fields
    ]
    keys = [_scorer_key(s) for s in stages]
    stage_list = list(stages)
    names = list(df.columns)

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        scorers = []
        for key, stage in zip(keys, stage_list, strict=True):
            if key not in _SCORERS:
                _SCORERS[key] = stage.scorer()
            scorers.append(_SCORERS[key])
        for batch in batches:
            # By position: the batch carries the placeholder names given below.
            cols = {name: batch.column(i) for i, name in enumerate(names)}
            for scorer in scorers:
                current = pa.RecordBatch.from_pydict(cols)
                cols.update(scorer(current))
            yield pa.RecordBatch.from_arrays(
                [_as_type(cols[f.name], f.type) for f in arrow_fields],
                schema=pa.schema(arrow_fields),
            )

    # mapInArrow resolves every input column by its name as an expression, which fails for
    # names with a dot or a backtick (`meta.url`): placeholders go in, the real names come out.
    placeholders = [f"_rowwise_{i}" for i in range(len(names))]
    return df.toDF(*placeholders).mapInArrow(run, out_schema)


def _as_type(arr: pa.Array | pa.ChunkedArray, typ: pa.DataType) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not isinstance(arr, pa.Array):
        arr = pa.array(arr, type=typ)
    return arr if arr.type == typ else arr.cast(typ)


def decide(scored: DataFrame, stages: Sequence[RowStage]) -> tuple[DataFrame, dict[str, Cutoffs]]:
    """Apply each stage's rules in order over already scored rows; first decision wins.

    Returns the decided rows and each stage's cutoffs (computed once here, from ``scored``).
    """
    out = ensure_decision_columns(scored)
    used: dict[str, Cutoffs] = {}
    for stage in stages:
        used[stage.name] = stage.cutoffs(scored)
        out = with_decision(out, stage.name, stage.rules(scored, used[stage.name]))
    return out, used


def apply_row_stages(df: DataFrame, stages: Sequence[RowStage]) -> DataFrame:
    """Score then decide, for notebook use: ``df.transform(apply_row_stages, [stage, ...])``."""
    return decide(score(ensure_decision_columns(df), stages), stages)[0]
