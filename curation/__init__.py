"""curation: distributed corpus filtering for LLM pretraining data on Spark and Delta Lake."""

__version__ = "0.1.0"
