"""Score a peer tool's removed ids against true near-duplicate clusters.

Same rule as ``benchmarks/dedup_accuracy.py``: a true cluster of k documents calls for k - 1
removals whichever member survives; removed members of a cluster are true positives up to
k - 1; extra removals and removals of true singletons are false positives; missing removals are
false negatives. ``dedup_accuracy.score`` takes numpy label / mask arrays and reports no
tp/fp/fn, so this is the id-based, dependency-free form of it (no numpy, scipy or Spark).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable


def score_removals(
    removed: set[str],
    truth_clusters: dict[str, str] | list[set[str]],
    all_ids: Iterable[str],
) -> dict:
    """``truth_clusters``: id -> cluster label, or a list of id sets; ids in neither are singletons."""
    if isinstance(truth_clusters, dict):
        label = dict(truth_clusters)
    else:
        label = {i: k for k, members in enumerate(truth_clusters) for i in members}
    ids = set(all_ids)
    unknown = removed - ids  # ids the tool invented: count them as false positives
    size = Counter(label[i] for i in ids if i in label)
    removed_per = Counter(label[i] for i in removed & ids if i in label)
    tp = sum(min(n, size[c] - 1) for c, n in removed_per.items())
    fp = len(removed) - tp
    fn = sum(k - 1 for k in size.values()) - tp
    p = tp / len(removed) if removed else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {
        "precision": round(p, 4),
        "recall": round(r, 4),
        "f1": round(f1, 4),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "removed": len(removed),
        "unknown_ids": len(unknown),
    }
