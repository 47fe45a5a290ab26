"""Two tiny training classes for the tests under tests/train/: topic prose vs. spam.

Rows are generated from two vocabularies (plus shared function words), so a small fastText model
separates them; ``train_config`` is a TrainConfig over them that trains in seconds, the same way
on every run.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from curation.readers import InputConfig
from curation.train.config import ClassSource, FastTextParams, TrainConfig

TOPIC = (  # noqa: SIM905 - reads better as prose
    "museum archive river valley harbour bridge cathedral council railway survey engineer "
    "historian parish orchard library century restoration census committee village mill "
    "lighthouse canal county festival research study evidence published measured described"
).split()
SPAM = (  # noqa: SIM905 - reads better as prose
    "click buy cheap pills free offer limited deal winner casino bonus unsubscribe discount "
    "order today guaranteed cash prize subscribe login password viagra loan credit urgent "
    "money rich fast earn income bitcoin crypto investment opportunity"
).split()
FUNCTION = "the of and a to in is was for on that with by as at from it this".split()  # noqa: SIM905


def line(rng: random.Random, vocab: list[str], n: int = 40) -> str:
    words = [rng.choice(vocab) if rng.random() < 0.6 else rng.choice(FUNCTION) for _ in range(n)]
    return " ".join(words[:20]) + "\n" + " ".join(words[20:])


def write_jsonl(path, texts, extra=None):
    with open(path, "w", encoding="utf-8") as fh:
        for i, t in enumerate(texts):
            row = {"id": f"{path.stem}-{i}", "text": t, **(extra(i) if extra else {})}
            fh.write(json.dumps(row) + "\n")
    return str(path)


def small_params(**kw) -> FastTextParams:
    # Small and single-threaded: fast, and the same result on every run.
    base = dict(dim=64, epoch=10, bucket=20_000, thread=1, min_count=1, word_ngrams=2)
    return FastTextParams(**{**base, **kw})


def write_tables(root: Path) -> dict:
    """The two tables under ``root``: 200 topic rows; 320 mail rows, 3 in 4 spam by ``label``."""
    rng = random.Random(11)
    good = write_jsonl(root / "good.jsonl", [line(rng, TOPIC) for _ in range(200)])
    # A mixed pool: spam rows and some topic rows, told apart by a metadata column.
    mail = write_jsonl(
        root / "mail.jsonl",
        [line(rng, SPAM) if i % 4 else line(rng, TOPIC) for i in range(320)],
        extra=lambda i: {"label": "spam" if i % 4 else "ham"},
    )
    return {"good": good, "mail": mail, "root": root}


def train_config(paths, out, **kw) -> TrainConfig:
    base = dict(
        tables={
            "good": InputConfig(path=paths["good"]),
            "mail": InputConfig(path=paths["mail"]),
        },
        positives=ClassSource(tables=("good",)),
        negatives=ClassSource(query="SELECT text FROM mail WHERE label = 'spam'"),
        output=str(out),
        min_chars=20,
        validation_fraction=0.2,
        seed=5,
        fasttext=small_params(),
    )
    return TrainConfig(**{**base, **kw})
