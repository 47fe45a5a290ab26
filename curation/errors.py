"""Exceptions a user can act on. The CLI prints them without a traceback."""


class CurationError(Exception):
    """Base class for errors that carry a message meant for the user."""


class ConfigError(CurationError):
    """A configuration value is invalid: the message names the field, the value and the fix."""


class PlanError(CurationError):
    """The stages of a run do not fit together (a stage needs a column nothing produces)."""


class InvariantError(CurationError):
    """Rows were lost or invented: rows in != rows kept + rows rejected."""


class TrainingError(CurationError):
    """Training could not produce a model (too little data, fastText diverged)."""


class DeltaError(CurationError):
    """A Delta table cannot be read or written as asked (schema mismatch, unsupported feature)."""


class CommitConflictError(DeltaError):
    """Another writer committed first; nothing of ours was committed, nothing of theirs was lost."""


class StorageError(DeltaError):
    """A path names no location a file system can reach (empty, or a scheme pyarrow lacks).

    A DeltaError so that handlers written when paths were part of the Delta module still catch it.
    """
