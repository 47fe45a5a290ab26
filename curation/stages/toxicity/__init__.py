"""The toxicity stage, now a package; its module is split into config, backends and stage next."""

from curation.stages.toxicity.stage import (
    FastTextBackendConfig,
    LexiconBackendConfig,
    ModelOutput,
    Toxicity,
    ToxicityConfig,
    TransformersBackendConfig,
    dims_from_probs,
)

__all__ = [
    "FastTextBackendConfig",
    "LexiconBackendConfig",
    "ModelOutput",
    "Toxicity",
    "ToxicityConfig",
    "TransformersBackendConfig",
    "dims_from_probs",
]
