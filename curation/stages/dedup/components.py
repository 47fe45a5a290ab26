"""Connected components of an edge list in Spark, without GraphFrames.

Alternating large-star / small-star (Kiveris et al., "Connected Components in MapReduce and
Beyond", SoCC 2014). Edges are kept oriented from the larger node to the smaller one:

* large-star: every node u links each neighbour v > u to m(u), the smallest of u and its
  neighbours;
* small-star: every node u links itself and each neighbour v < u to the smallest of them.

Both steps keep connectivity; they reach a fixed point where every component is a star whose
centre is its smallest node. We stop when the edges form such stars (every node with an edge
has exactly one, and it points at a node with none), so the label of a node is the centre it
points to, i.e. the component's minimum. The number of rounds grows like log^2(n) in theory
and log(n) in practice; each round is checkpointed so the query plan stays short.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StructField, StructType

from curation.errors import CurationError

SRC, DST = "src", "dst"


class ComponentsDidNotConverge(CurationError):
    """Large-star/small-star did not reach stars within the iteration budget."""


@dataclass(frozen=True)
class ComponentsResult:
    """Node -> component label (the component's smallest node), and how many rounds it took."""

    labels: DataFrame  # columns: node, label (nodes without any edge are absent)
    rounds: int
    # How many rows ``labels`` holds when they were found on the driver (a union-find), so a
    # join can broadcast them; None after distributed rounds (not counted: maybe many).
    local_rows: int | None = None


def _oriented(edges: DataFrame) -> DataFrame:
    """Distinct edges as (larger, smaller), self-loops removed."""
    return (
        edges.select(
            F.greatest(SRC, DST).alias(SRC),
            F.least(SRC, DST).alias(DST),
        )
        .where(F.col(SRC) != F.col(DST))
        .distinct()
    )


def large_star(edges: DataFrame) -> DataFrame:
    """Link every neighbour v > u of each node u to min(u, neighbours of u)."""
    both = edges.unionByName(edges.select(F.col(DST).alias(SRC), F.col(SRC).alias(DST)))
    by_node = Window.partitionBy(SRC)
    with_min = both.withColumn("m", F.least(F.min(DST).over(by_node), F.col(SRC)))
    # No distinct here: small-star's minimum ignores duplicates and ends with one.
    return with_min.where(F.col(DST) > F.col(SRC)).select(
        F.col(DST).alias(SRC), F.col("m").alias(DST)
    )


def small_star(edges: DataFrame) -> DataFrame:
    """Link every node u and its smaller neighbours to the smallest of them."""
    # Edges are oriented larger -> smaller, so a node's smaller neighbours are its out-edges.
    with_min = edges.withColumn("m", F.min(DST).over(Window.partitionBy(SRC)))
    neighbours = with_min.select(F.col(DST).alias(SRC), F.col("m").alias(DST))
    centre = with_min.select(F.col(SRC), F.col("m").alias(DST))
    return neighbours.unionByName(centre).where(F.col(SRC) != F.col(DST)).distinct()


def is_star_forest(edges: DataFrame) -> bool:
    """Every node with an out-edge has exactly one, and no edge points at such a node."""
    roles = edges.select(F.col(SRC).alias("node"), F.lit(1).alias("out"), F.lit(0).alias("inn"))
    roles = roles.unionByName(
        edges.select(F.col(DST).alias("node"), F.lit(0).alias("out"), F.lit(1).alias("inn"))
    )
    bad = (
        roles.groupBy("node")
        .agg(F.sum("out").alias("out"), F.sum("inn").alias("inn"))
        .where((F.col("out") > 1) | ((F.col("out") > 0) & (F.col("inn") > 0)))
    )
    return bad.limit(1).count() == 0


def connected_components(
    edges: DataFrame, max_rounds: int = 100, local_max_edges: int = 0
) -> ComponentsResult:
    """Label each node of ``edges`` (columns src, dst; any orderable type) with its component's
    smallest node. Exact; the edge direction and duplicates do not matter.

    ``local_max_edges``: when the distinct edges number at most this, they are collected and
    finished with a union-find on the driver instead (same labels; saves a few Spark jobs per
    round on small graphs). 0 always runs the distributed rounds.

    >>> connected_components(spark.createDataFrame([("b", "a"), ("c", "b")], "src string, dst string"))
    ... # labels: a->a, b->a, c->a
    """
    oriented = _oriented(edges)
    if local_max_edges > 0:
        # One job: fetch up to one edge more than the limit; finish locally if that is all.
        few = oriented.limit(local_max_edges + 1).collect()
        if len(few) <= local_max_edges:
            return _local_result(oriented, few)
    current = oriented.localCheckpoint()
    rounds = 0
    while not is_star_forest(current):
        if rounds >= max_rounds:
            raise ComponentsDidNotConverge(
                f"connected components did not converge in max_rounds={max_rounds}; "
                "raise max_rounds (a chain of n nodes needs about log2(n)^2 rounds at worst)"
            )
        # Checkpoint every round: the loop would otherwise grow the plan (and the lineage
        # recomputed on failure) with every step.
        current = small_star(large_star(current)).localCheckpoint()
        rounds += 1
    roots = current.select(F.col(DST).alias("node")).distinct()
    labels = current.select(F.col(SRC).alias("node"), F.col(DST).alias("label")).unionByName(
        roots.select("node", F.col("node").alias("label"))
    )
    return ComponentsResult(labels=labels, rounds=rounds)


def no_components(edges: DataFrame) -> ComponentsResult:
    """The components of an edge list known to be empty (``edges`` gives the node type)."""
    return _local_result(edges, [])


def union_find(pairs) -> dict:
    """Node -> smallest node of its component, for an iterable of (a, b) pairs."""
    parent: dict = {}

    def find(x):
        root = x
        while parent.setdefault(root, root) != root:
            root = parent[root]
        while parent[x] != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            # The smaller root wins, so every root is its component's minimum.
            if rb < ra:
                ra, rb = rb, ra
            parent[rb] = ra
    return {x: find(x) for x in list(parent)}


def _local_result(edges: DataFrame, rows: list) -> ComponentsResult:
    labels = union_find((r[0], r[1]) for r in rows)
    node_type = edges.schema[SRC].dataType
    schema = StructType([StructField("node", node_type), StructField("label", node_type)])
    frame = edges.sparkSession.createDataFrame(list(labels.items()), schema)
    return ComponentsResult(labels=frame, rounds=0, local_rows=len(labels))
