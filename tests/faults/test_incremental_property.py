"""The incremental invariant as a property: any 2-3 runs into one root, with ids and texts drawn
at random (same id and text, same id and another text, another id and the same text, near
copies), publish what one run over their union would. Its own file so that xdist runs it
beside the other incremental tests (it is the slowest test of the suite)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import Phase, example, given, settings
from hypothesis import strategies as st
from incremental_runs import (
    SMALL_NEAR,
    assert_no_self_dup_of,
    assert_unique_ids,
    edit_words,
    jaccard,
    paragraphs,
    run,
    table,
    write_jsonl,
)

# Its seven examples run about 25 small pipelines: 727-1,084 s in suites on two cores, past
# pyproject's 1,500 s per test when the machine is loaded, so it gets the matrix's limit.
pytestmark = [pytest.mark.fault, pytest.mark.slow, pytest.mark.timeout(2400)]

# -- the invariant: any 2-3 runs into one root equal one run over their union -------------------

FAMILIES = 4
VARIANTS = (None, 30, 90)  # the paragraph, and copies with the word at 30 or 90 replaced
IDS = [f"d{i}" for i in range(8)]
RUN_ROWS = st.dictionaries(
    st.sampled_from(IDS), st.integers(0, FAMILIES * len(VARIANTS) - 1), min_size=1, max_size=6
)


class Families(tuple):
    """(texts, family of each text), shown briefly when hypothesis reports an example."""

    def __repr__(self) -> str:
        return f"Families({len(self[0])} texts in {len(set(self[1]))} families)"


@pytest.fixture(scope="module")
def families(shared_data):
    """4 paragraphs and their one-word edits. Members of a family are pairwise at Jaccard >=
    0.85 (one component, whatever arrives when); families share nothing."""
    texts, family = [], []
    for f, para in enumerate(paragraphs(shared_data, FAMILIES)):
        for at in VARIANTS:
            texts.append(para if at is None else edit_words(para, [at], f"f{f}v{at}"))
            family.append(f)
    for a in range(len(texts)):
        for b in range(a + 1, len(texts)):
            j = jaccard(texts[a], texts[b])
            assert j >= 0.85 if family[a] == family[b] else j < 0.2, (a, b, j)
    return Families((texts, family))


def expected_survivors(runs, texts, family):
    """(one run over the union, the runs in order) -> {id: text} kept, by the documented rules:
    an id is decided at its first arrival (existing_ids: skip); a family keeps one document,
    the longest text then the smallest id (the default survivor policy without a quality
    column), chosen in one run among all members, incrementally among the members of the
    earliest run that has one (a published document is never displaced)."""
    first: dict[str, tuple[int, int]] = {}
    for k, rows in enumerate(runs):
        for doc_id, t in rows.items():
            first.setdefault(doc_id, (k, t))
    members: dict[int, list[tuple[int, str, int]]] = {}
    for doc_id, (k, t) in first.items():
        members.setdefault(family[t], []).append((k, doc_id, t))

    def best(candidates):
        _, doc_id, t = min(candidates, key=lambda m: (-len(texts[m[2]]), m[1]))
        return doc_id, texts[t]

    union = dict(best(m) for m in members.values())
    incremental = dict(
        best([m for m in ms if m[0] == min(k for k, _, _ in ms)]) for ms in members.values()
    )
    return union, incremental, first


@settings(
    max_examples=6,
    deadline=None,
    database=None,
    # Each example runs Spark 3-4 times: a failure is reported as found, not shrunk for hours.
    phases=(Phase.explicit, Phase.generate),
)
@given(runs=st.lists(RUN_ROWS, min_size=2, max_size=3))
@example(
    runs=[
        {"d0": 0, "d1": 3, "d2": 1},
        # same id + same text, same id + other text, other id + same text, a near copy
        {"d0": 0, "d1": 6, "d3": 0, "d4": 4, "d5": 9},
    ]
)
def test_runs_in_sequence_equal_one_run_over_their_union(spark, families, runs):
    from curation.stages.dedup import ExactDedupConfig, NearDedupConfig
    from curation.stages.dedup.exact import exact_dedup
    from curation.stages.dedup.near import near_dedup

    texts, family = families
    union, incremental, first = expected_survivors(runs, texts, family)
    near_cfg = {k: v for k, v in SMALL_NEAR.items() if k != "kind"}

    # One run over the union (every id at its first arrival), through the same stages.
    rows = [(doc_id, texts[t]) for doc_id, (_, t) in sorted(first.items())]
    one = near_dedup(
        exact_dedup(spark.createDataFrame(rows, "id string, text string"), ExactDedupConfig()),
        NearDedupConfig(**near_cfg),
    )
    assert {r.id: r.text for r in one.where("drop_reason is null").collect()} == union

    with tempfile.TemporaryDirectory() as tmp:
        out, skipped = f"{tmp}/out", []
        for k, run_rows in enumerate(runs):
            path = write_jsonl(
                Path(tmp) / f"run{k}.jsonl", [(i, texts[t]) for i, t in sorted(run_rows.items())]
            )
            result, store = run(spark, path, out, f"r{k}", [{"kind": "exact_dedup"}, SMALL_NEAR])
            skipped.append(result.stages[0].dropped.get("read:already_present", 0))
        assert_unique_ids(store, out)
        assert_no_self_dup_of(store, out)
        docs = {r.id: r.text for r in table(store, out, "documents").collect()}
    assert docs == incremental
    # Each run skipped exactly its rows whose id an earlier run decided.
    assert skipped == [sum(first[i][0] < k for i in rows) for k, rows in enumerate(runs)]
    # The same content survives: one document per family, as in one run over the union.
    assert sorted(family[texts.index(t)] for t in docs.values()) == sorted(
        family[texts.index(t)] for t in union.values()
    )
