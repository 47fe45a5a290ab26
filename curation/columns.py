"""Names of the columns every stage agrees on (the document schema and the decision columns)."""

ID = "id"
TEXT = "text"
DROP_STAGE = "drop_stage"  # null while the document is kept
DROP_REASON = "drop_reason"  # "<stage family>:<rule>", e.g. "gopher_repetition:dup_line_frac"
DUP_OF = "dup_of"  # id of the surviving duplicate, set by dedup on the rows it drops

DECISION_COLUMNS = (DROP_STAGE, DROP_REASON)
