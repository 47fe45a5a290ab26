"""Connected components (large-star/small-star) against a union-find on the same edges."""

from __future__ import annotations

import random

import pytest

from curation.stages.dedup.components import ComponentsDidNotConverge, connected_components


def union_find_labels(edges) -> dict:
    parent: dict = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {x: find(x) for x in list(parent)}


def mixed_graph(seed: int) -> list[tuple[str, str]]:
    """A long chain with shuffled names, a star, a random sparse graph, cliques, noise."""
    rng = random.Random(seed)
    edges = []
    # Chain of 200 whose node names are not in chain order: the slow case for star methods.
    names = [f"c{i:04d}" for i in range(200)]
    rng.shuffle(names)
    edges += list(zip(names, names[1:], strict=False))
    # Star of 300 around a centre whose name is not the smallest.
    edges += [("s_zz_centre", f"s{i:04d}") for i in range(300)]
    # Random sparse graph: many small components and some isolated pairs.
    edges += [(f"r{rng.randrange(400):04d}", f"r{rng.randrange(400):04d}") for _ in range(300)]
    # Three cliques of 6 (both directions, duplicates).
    for k in range(3):
        members = [f"k{k}_{i}" for i in range(6)]
        edges += [(a, b) for a in members for b in members if a != b]
    edges += [("self", "self"), ("c0000", "c0000")]  # self-loops
    rng.shuffle(edges)
    return edges


def test_components_equal_union_find(spark):
    edges = mixed_graph(0)
    df = spark.createDataFrame(edges, "src string, dst string").repartition(3)
    result = connected_components(df)
    got = {r.node: r.label for r in result.labels.collect()}
    expected = {n: lab for n, lab in union_find_labels(edges).items() if n != "self"}
    assert got == expected
    # The chain needs several rounds; each component's label is its smallest member.
    assert result.rounds >= 2
    assert got["s_zz_centre"] == "s0000"
    # The driver-side finish for small graphs gives the same labels without rounds.
    local = connected_components(df, local_max_edges=10_000)
    assert local.rounds == 0
    assert {r.node: r.label for r in local.labels.collect()} == expected
    # Labels found on the driver say how many they are (near dedup broadcasts them when few);
    # after distributed rounds nobody counted them.
    assert local.local_rows == len(expected) and result.local_rows is None


@pytest.mark.parametrize("seed", [1, 2])
def test_components_with_integer_nodes(spark, seed):
    rng = random.Random(seed)
    n = 300
    # Random graph plus a reversed chain through a random permutation of the nodes.
    perm = list(range(n))
    rng.shuffle(perm)
    edges = [(rng.randrange(n), rng.randrange(n)) for _ in range(150)]
    edges += [(perm[i + 1], perm[i]) for i in range(0, 120)]
    df = spark.createDataFrame(edges, "src long, dst long")
    got = {r.node: r.label for r in connected_components(df).labels.collect()}
    # A node seen only in self-loops has no edge, hence no label.
    assert got == union_find_labels([(a, b) for a, b in edges if a != b])


def test_no_edges_gives_no_labels(spark):
    df = spark.createDataFrame([], "src string, dst string")
    result = connected_components(df)
    assert result.labels.count() == 0 and result.rounds == 0


def test_round_budget_is_enforced(spark):
    names = [f"n{i:03d}" for i in range(64)]
    random.Random(3).shuffle(names)
    df = spark.createDataFrame(list(zip(names, names[1:], strict=False)), "src string, dst string")
    with pytest.raises(ComponentsDidNotConverge, match="max_rounds=1"):
        connected_components(df, max_rounds=1)
