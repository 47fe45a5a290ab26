"""fastText's supervised training as the trainers call it."""

from __future__ import annotations

from typing import Any

from curation.errors import TrainingError


def train_supervised(train_file: str, **kwargs: Any) -> Any:
    """fastText's supervised training, with its divergence turned into a :class:`TrainingError`.

    The build we depend on (fasttext-community) trains the same model from the same file and seed
    with one thread; fasttext-numpy2 0.10.4 read memory it had not initialised and diverged or not
    depending on what the process had done before (measured: one file, seed and lr gave NaN or a
    model from one call to the next). What remains is real divergence: a learning rate too high
    for the data.
    """
    import fasttext

    try:
        return fasttext.train_supervised(input=train_file, **kwargs)
    except RuntimeError as exc:
        if "NaN" not in str(exc):
            raise
        raise TrainingError(
            f"fastText training diverged (Encountered NaN) at lr {kwargs.get('lr')}; "
            "use a lower lr, word_ngrams >= 2 or more varied training text"
        ) from None
