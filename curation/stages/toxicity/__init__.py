"""The toxicity stage: Celadon's five dimensions scored by lexicon, fastText or transformers.

``config`` (what to score with, what to do per class) <- ``backends`` (scoring a batch) <-
``transformers`` (the optional torch backend) <- ``stage`` (the RowStage that runs them).
"""

from curation.stages.toxicity.config import ToxicityConfig
from curation.stages.toxicity.stage import Toxicity

__all__ = ["Toxicity", "ToxicityConfig"]
