"""``FrozenModel``, the base of every config model.

It lives alone so that a config (session settings, the input, a training run) can be declared
without importing the stages: importing ``curation.stages`` loads every stage family.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class FrozenModel(BaseModel):
    """Base for every config model: unknown keys are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)
