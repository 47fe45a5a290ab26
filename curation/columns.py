"""Names of the columns every stage agrees on (the document schema and the decision columns)."""

ID = "id"
TEXT = "text"
DROP_STAGE = "drop_stage"  # null while the document is kept
DROP_REASON = "drop_reason"  # "<stage family>:<rule>", e.g. "gopher_repetition:dup_line_frac"
DUP_OF = "dup_of"  # id of the surviving duplicate, set by dedup on the rows it drops
RUN_ID = "run_id"  # the run that wrote a result row, set by the driver on every output row
N_TOKENS = "n_tokens"  # tokens of the text as read, when the recipe names a tokenizer

DECISION_COLUMNS = (DROP_STAGE, DROP_REASON)


def quoted(name: str) -> str:
    """``name`` as Spark must see it to take it literally: input fields may hold dots or backticks.

    >>> F.col(quoted("meta.url"))   # the column named meta.url, not field url of column meta
    """
    return "`" + name.replace("`", "``") + "`"
