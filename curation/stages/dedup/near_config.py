"""``NearDedupConfig``: shingles, MinHash, LSH bands, verification and survivor of near dedup.

A module of its own (not in ``near.py``) because the Arrow kernels in ``signatures.py`` read it
too, and ``near.py`` imports those kernels: here, both import it without a cycle.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, model_validator

from curation.stages.base import StageConfig
from curation.stages.dedup.common import SurvivorPolicy
from curation.text import minhash as mh


class NearDedupConfig(StageConfig):
    """MinHash LSH near-duplicate removal at a Jaccard threshold over shingle sets."""

    kind: Literal["near_dedup"] = "near_dedup"
    # 0.8 Jaccard over word 5-grams: Lee et al. 2022, "Deduplicating Training Data Makes
    # Language Models Better" (NearDup).
    threshold: float = Field(
        0.8, gt=0.0, lt=1.0, description="Jaccard similarity at or above which two docs are dups."
    )
    shingle_unit: Literal["word", "char"] = Field(
        "word", description="Shingle over words (after normalisation) or over characters."
    )
    ngram: int = Field(5, ge=1, le=64, description="Units per shingle (Lee et al. 2022: 5 words).")
    # 128: datasketch's default; FineWeb uses 112 (14x8), text-dedup 256.
    num_perm: int = Field(128, ge=8, le=1024, description="MinHash permutations.")
    bands: int | None = Field(
        None,
        ge=1,
        le=1024,
        description="LSH bands; with rows, overrides the threshold-derived choice (e.g. 14 for "
        "FineWeb's 14x8). Set both or neither.",
    )
    rows: int | None = Field(None, ge=1, le=1024, description="Permutations per LSH band.")
    # Unset: datasketch's 0.5/0.5 without verification. With verification, false positives
    # are removed afterwards, so the bands are tuned for recall: 0.05/0.95 took F1 from 0.94 to
    # 0.996 at threshold 0.8 in benchmarks/dedup_accuracy.py, for 44% more candidate pairs.
    fp_weight: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Weight of the false-positive area when deriving bands from the threshold "
        "(default 0.5, or 0.05 when verify is on).",
    )
    fn_weight: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Weight of the false-negative area (default 0.5, or 0.95 when verify is on).",
    )
    seed: int = Field(1, ge=0, lt=2**32, description="Permutation seed (datasketch's default: 1).")
    scheme: mh.MinHashScheme = Field(
        "fast",
        description="'fast' (vectorised 64-bit shingle hash), 'datasketch' (bit-identical to "
        "datasketch 2.0.0 MinHash, affine32 + SHA-1; slower), 'datasketch_legacy' (datasketch 1.x).",
    )
    # Exact verification removes LSH false positives; measured in benchmarks/dedup_accuracy.py.
    verify: Literal["exact", "signature", "none"] = Field(
        "exact",
        description="Check each candidate pair: 'exact' = Jaccard of shingle sets, 'signature' = "
        "MinHash estimate, 'none' = every LSH candidate is a duplicate (FineWeb, datatrove).",
    )
    survivor: SurvivorPolicy = Field(
        default_factory=SurvivorPolicy, description="Which member of a cluster is kept."
    )
    max_cc_rounds: int = Field(
        100, ge=1, le=10_000, description="Bound on connected-components rounds (log^2 n worst)."
    )
    # 100k string pairs collect in about a second; distributed rounds cost a few Spark jobs each.
    cc_local_max_edges: int = Field(
        100_000,
        ge=0,
        le=10_000_000,
        description="Verified edges up to which components are finished on the driver with a "
        "union-find instead of distributed large-star/small-star rounds; 0 = always distributed.",
    )

    @model_validator(mode="after")
    def _lsh_shape(self) -> NearDedupConfig:
        if (self.bands is None) != (self.rows is None):
            raise ValueError(
                f"bands={self.bands}, rows={self.rows}: set both, or neither to derive them "
                "from threshold"
            )
        if self.bands is not None and self.bands * self.rows > self.num_perm:
            raise ValueError(
                f"bands*rows={self.bands * self.rows} exceeds num_perm={self.num_perm}; "
                "raise num_perm or lower bands/rows"
            )
        fp, fn = self.lsh_weights
        if fp + fn <= 0:
            raise ValueError("fp_weight and fn_weight are both 0; give at least one a weight")
        return self

    @property
    def lsh_weights(self) -> tuple[float, float]:
        """(fp_weight, fn_weight) with the verify-dependent defaults filled in."""
        fp_default, fn_default = (0.5, 0.5) if self.verify == "none" else (0.05, 0.95)
        return (
            fp_default if self.fp_weight is None else self.fp_weight,
            fn_default if self.fn_weight is None else self.fn_weight,
        )

    @property
    def lsh_params(self) -> tuple[int, int]:
        """(bands, rows): explicit, or datasketch's optimum for the threshold."""
        if self.bands is not None and self.rows is not None:
            return self.bands, self.rows
        return _optimal(self.threshold, self.num_perm, *self.lsh_weights)

    @property
    def params_key(self) -> str:
        """What makes band hashes comparable across runs; stored with the index."""
        b, r = self.lsh_params
        return f"{self.scheme}:{self.num_perm}:{self.seed}:{b}x{r}:{self.shingle_unit}{self.ngram}"


@lru_cache(maxsize=64)
def _optimal(threshold: float, num_perm: int, fp_w: float, fn_w: float) -> tuple[int, int]:
    return mh.optimal_lsh_params(threshold, num_perm, fp_w, fn_w)
