"""Exact and near-duplicate removal, as shuffle stages.

``common`` holds what both share (output columns, drop reasons, survivor policy); ``exact`` and
``near`` are the two stages; near dedup builds on ``signatures`` (Arrow MinHash kernels),
``components`` (connected components in Spark) and ``index`` (the incremental ``dedup_index``).
"""

from curation.stages.dedup.exact import ExactDedup, ExactDedupConfig
from curation.stages.dedup.near import NearDedup
from curation.stages.dedup.near_config import NearDedupConfig

__all__ = ["ExactDedup", "ExactDedupConfig", "NearDedup", "NearDedupConfig"]
