"""Labelled toxicity sources read into one shape: text, source, hate (0/1), five dimension labels.

Three layouts are understood (``format`` of a source in the training config):

* ``davidson`` (Davidson et al. 2017 tweets): ``label`` hate | offensive | neither. Hate is
  ``label == "hate"``; offensive tweets are not hate (their slurs are mostly insults, which
  Davidson et al. separate from hate on purpose). Hateful tweets carry no dimension labels.
* ``ethos`` (Mollas et al. 2022): ``label`` hate | not_hate and, for hateful rows, per-aspect
  shares of annotators. A dimension is labelled when the share is at least 0.5, mapped to
  Celadon's five as the data's README suggests: race = max(race, national_origin),
  gender = max(gender, sexual_orientation), religion, ability = disability, violence.
* ``toxigen`` (ToxiGen human-written statements): ``label`` hate | neutral, and ``dimension``,
  the Celadon dimension of the group a statement is about. A hateful statement targets that
  dimension and no other identity dimension; whether it is violent is not labelled.

Dimension labels describe hateful rows only ("which groups does this hate target"): -1 means
not labelled. They train P(dimension | hate); a non-hateful row needs none.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from curation.errors import ConfigError
from curation.text.toxicity_lexicon import DIMENSIONS

SourceFormat = Literal["davidson", "ethos", "toxigen"]
UNLABELLED = -1
# Share of ETHOS annotators naming an aspect for it to count; the data's own hate label uses 0.5.
ASPECT_MIN_SHARE = 0.5
_ETHOS_ASPECTS = {
    "race": ("race", "national_origin"),
    "gender": ("gender", "sexual_orientation"),
    "religion": ("religion",),
    "ability": ("disability",),
    "violence": ("violence",),
}


@dataclass
class LabelledRows:
    """Rows of one or more sources, column-wise."""

    texts: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    hate: list[int] = field(default_factory=list)
    dims: list[tuple[int, ...]] = field(default_factory=list)  # 5 labels, -1 = unlabelled
    groups: list[str | None] = field(default_factory=list)  # ToxiGen's target group
    topics: list[str | None] = field(default_factory=list)  # ToxiGen's group's dimension

    def __len__(self) -> int:
        return len(self.texts)

    def add(
        self, text: str, source: str, hate: int, dims, group: str | None = None, topic=None
    ) -> None:
        self.texts.append(text)
        self.sources.append(source)
        self.hate.append(hate)
        self.dims.append(tuple(dims))
        self.groups.append(group)
        self.topics.append(topic)

    def row(self, i: int) -> tuple:
        return (
            self.texts[i],
            self.sources[i],
            self.hate[i],
            self.dims[i],
            self.groups[i],
            self.topics[i],
        )

    def take(self, mask: np.ndarray) -> LabelledRows:
        out = LabelledRows()
        for i in np.flatnonzero(mask).tolist():
            out.add(*self.row(i))
        return out

    def extend(self, other: LabelledRows) -> None:
        for i in range(len(other)):
            self.add(*other.row(i))

    @property
    def y(self) -> np.ndarray:
        return np.asarray(self.hate, dtype=np.int64)

    @property
    def dim_labels(self) -> np.ndarray:
        """(n, 5) int: 1 targeted, 0 not, -1 unlabelled."""
        return np.asarray(self.dims, dtype=np.int64).reshape(len(self), len(DIMENSIONS))

    def counts(self) -> dict[str, dict[str, int]]:
        c = Counter(zip(self.sources, self.hate, strict=True))
        return {s: {"hate": c[(s, 1)], "not_hate": c[(s, 0)]} for s in dict.fromkeys(self.sources)}


def read_source(
    path: str, fmt: SourceFormat, name: str, max_rows: int | None = None, seed: int = 13
) -> LabelledRows:
    """The rows of one JSONL file; ``max_rows`` keeps a seeded sample stratified by label."""
    try:
        fh = open(path, encoding="utf-8")  # noqa: SIM115 - closed below, errors mapped
    except OSError as exc:
        raise ConfigError(f"sources.{name}.path={path!r}: {exc.strerror}; fix the path") from None
    by_label: dict[str, list[dict]] = {}
    with fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                raise ConfigError(
                    f"sources.{name}: {path}:{n} is not JSON; give a JSONL file"
                ) from None
            if isinstance(r.get("text"), str) and r["text"].strip():
                by_label.setdefault(str(r.get("label")), []).append(r)
    if not by_label:
        raise ConfigError(f"sources.{name}: {path} has no rows with a text; check the path")
    rows_by_label = _sample(by_label, max_rows, seed)
    out = LabelledRows()
    parse = {"davidson": _davidson, "ethos": _ethos, "toxigen": _toxigen}[fmt]
    for r in rows_by_label:
        parsed = parse(r)
        if parsed is None:
            raise ConfigError(
                f"sources.{name}: row {r.get('id')!r} has label {r.get('label')!r}, not one of "
                f"the {fmt} labels; check format: {fmt}"
            )
        hate, dims, group = parsed
        out.add(
            r["text"], name, hate, dims, group, r.get("dimension") if fmt == "toxigen" else None
        )
    return out


def _sample(by_label: dict[str, list[dict]], max_rows: int | None, seed: int) -> list[dict]:
    total = sum(len(v) for v in by_label.values())
    rows: list[dict] = []
    rng = random.Random(seed)
    for label in sorted(by_label):
        group = by_label[label]
        if max_rows is not None and total > max_rows:
            k = max(1, round(len(group) * max_rows / total))
            group = rng.sample(group, k)
        rows.extend(group)
    rng.shuffle(rows)
    return rows


def _no_dims() -> tuple[int, ...]:
    return (0,) * len(DIMENSIONS)


def _davidson(r: dict):
    label = r.get("label")
    if label not in ("hate", "offensive", "neither"):
        return None
    if label == "hate":
        return 1, (UNLABELLED,) * len(DIMENSIONS), None
    return 0, _no_dims(), None


def _ethos(r: dict):
    label = r.get("label")
    if label not in ("hate", "not_hate"):
        return None
    if label == "not_hate":
        return 0, _no_dims(), None
    if not any(k in r for k in ("race", "gender", "violence")):
        return 1, (UNLABELLED,) * len(DIMENSIONS), None
    dims = tuple(
        int(max(float(r.get(a) or 0.0) for a in _ETHOS_ASPECTS[d]) >= ASPECT_MIN_SHARE)
        for d in DIMENSIONS
    )
    return 1, dims, None


def _toxigen(r: dict):
    label = r.get("label")
    dim = r.get("dimension")
    if label not in ("hate", "neutral") or dim not in DIMENSIONS:
        return None
    if label == "neutral":
        return 0, _no_dims(), r.get("target_group")
    dims = tuple(1 if d == dim else (UNLABELLED if d == "violence" else 0) for d in DIMENSIONS)
    return 1, dims, r.get("target_group")
