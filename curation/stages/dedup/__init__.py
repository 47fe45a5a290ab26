"""Exact and near-duplicate removal, as shuffle stages."""

from curation.stages.dedup.near import ExactDedup, ExactDedupConfig, NearDedup, NearDedupConfig

__all__ = ["ExactDedup", "ExactDedupConfig", "NearDedup", "NearDedupConfig"]
