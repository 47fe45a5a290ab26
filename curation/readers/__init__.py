"""Reading a run's input (JSONL, Parquet, Delta, plain-text files) into the document schema.

``config``: the ``input:`` settings; ``documents``: ``read_documents`` and what it produces;
``staging``: what each format hands to the common tail (columns, reasons); ``jsonl``: JSON
lines; ``compressed``: .gz/.bz2/.zst decoded on executors, damage and all; ``listing``: the
files an input path names; ``variant_schema``: inferred JSON types -> Spark types.
"""

from curation.readers.compressed import CorruptInputError
from curation.readers.config import InputConfig
from curation.readers.documents import (
    RAW,
    READ_STAGE,
    SOURCE,
    count_read_rejects,
    detect_format,
    read_documents,
)
from curation.readers.listing import Listing, list_input
from curation.readers.variant_schema import parse_variant_schema

__all__ = [
    "RAW",
    "CorruptInputError",
    "READ_STAGE",
    "SOURCE",
    "InputConfig",
    "Listing",
    "count_read_rejects",
    "detect_format",
    "list_input",
    "parse_variant_schema",
    "read_documents",
]
