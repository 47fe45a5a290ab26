"""PII stage: count, redact, or drop on email addresses, phone numbers, IPs, cards, IBANs, SSNs.

Every document gets one count column per kind (``pii_email``, ``pii_phone``, ``pii_ipv4``,
``pii_ipv6``, ``pii_credit_card``, ``pii_iban``, ``pii_ssn``) from the kernel in
``curation.text.pii``. Per kind, ``action`` says what happens:

* ``redact`` (default): each span is replaced with the kind's placeholder (``<EMAIL>``, ...);
* ``keep``: the text is left alone, the spans are only counted;
* ``drop``: redacted like ``redact``, and a document with more than ``max_counts.<kind>``
  spans is dropped with ``pii:too_many_<kind>`` (Dolma: mask PII, and remove documents with
  more than 5 spans).

Redaction rewrites ``text``, so the stage runs in a pass of its own (``driver.plan``): rows an
earlier stage drops keep their original text. Rows this stage drops keep the redacted text: the
rejected table is written out like the kept one, and a limit later loosened with what-if must
not bring back an address. Counts are taken before redaction and do not depend on ``action``,
so ``max_counts`` is a pure threshold: ``curation whatif --set stages.pii.max_counts.phone=10``.

>>> cfg = PiiConfig(phone={"action": "drop"}, max_counts={"phone": 3}, ipv4={"action": "keep"})
>>> df.transform(apply_row_stages, [PiiStage(cfg)])  # adds pii_*, rewrites text, decides
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, field_validator, model_validator
from pyspark.sql import functions as F
from pyspark.sql.types import IntegerType, StringType, StructField

from curation import columns as C
from curation.frozen import FrozenModel
from curation.stages.base import NO_CUTOFFS, Cutoffs, ReportSection, RowStage, StageConfig
from curation.text.pii import CANDIDATES, KINDS, PiiParams, find_pii, redact

PiiKind = Literal["email", "phone", "ipv4", "ipv6", "credit_card", "iban", "ssn"]
PiiAction = Literal["redact", "keep", "drop"]

# Dolma (Soldaini et al. 2024; its mixer's `pii ... doc_count > 5` filter): documents with more
# than 5 PII spans are removed and the rest masked.
DOLMA_MAX_COUNT = 5
# Tags in the style of StarCoder's redaction (<EMAIL>, <KEY>, <NAME>) and Dolma's
# |||EMAIL_ADDRESS|||, |||PHONE_NUMBER|||, |||IP_ADDRESS|||: one token-like mark per kind.
PLACEHOLDERS: dict[str, str] = {
    "email": "<EMAIL>",
    "phone": "<PHONE>",
    "ipv4": "<IP_ADDRESS>",
    "ipv6": "<IP_ADDRESS>",
    "credit_card": "<CREDIT_CARD>",
    "iban": "<IBAN>",
    "ssn": "<SSN>",
}


def column(kind: str) -> str:
    """The count column of a PII kind: ``pii_<kind>``."""
    return f"pii_{kind}"


class PiiKindConfig(FrozenModel):
    """What happens to one kind of PII."""

    # FineWeb (datatrove's PIIFormatter) and StarCoder replace PII with placeholders
    action: PiiAction = Field(
        "redact",
        description="redact: replace each span with the placeholder; keep: only count; drop: "
        "redact, and drop documents with more than max_counts.<kind> spans.",
    )
    placeholder: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="What replaces each span (redact and drop); default <KIND>, e.g. <EMAIL>.",
    )

    @model_validator(mode="after")
    def _placeholder_needs_rewrite(self) -> PiiKindConfig:
        if self.placeholder is not None and self.action == "keep":
            raise ValueError(
                f"placeholder={self.placeholder!r} is never used with action 'keep'; set "
                "action: redact (or drop), or remove the placeholder"
            )
        return self


class PiiConfig(StageConfig):
    """Per kind of PII: redact, keep (count only) or drop above a count."""

    kind: Literal["pii"] = "pii"
    email: PiiKindConfig = Field(default_factory=PiiKindConfig, description="Email addresses.")
    phone: PiiKindConfig = Field(
        default_factory=PiiKindConfig,
        description="Phone numbers: +CC and 00CC international, NANP, national with trunk 0.",
    )
    ipv4: PiiKindConfig = Field(default_factory=PiiKindConfig, description="IPv4 addresses.")
    ipv6: PiiKindConfig = Field(default_factory=PiiKindConfig, description="IPv6 addresses.")
    credit_card: PiiKindConfig = Field(
        default_factory=PiiKindConfig,
        description="Payment card numbers (Luhn checksum and a network's prefix and length).",
    )
    iban: PiiKindConfig = Field(
        default_factory=PiiKindConfig, description="IBANs (ISO 13616 length and mod-97 check)."
    )
    ssn: PiiKindConfig = Field(
        default_factory=PiiKindConfig,
        description="US Social Security numbers (123-45-6789, 123 45 6789; nine digits after "
        "'SSN', or alone when bare_ssn).",
    )
    max_counts: dict[PiiKind, int] = Field(
        default_factory=dict,
        description=f"For kinds whose action is drop: more spans than this drops the document; "
        f"a drop kind not listed uses {DOLMA_MAX_COUNT} (Dolma).",
    )
    # documentation ranges are nobody's data (RFC 2606, 5737, 3849; NANP 555-01xx)
    allow_examples: bool = Field(
        True,
        description="Leave documentation values alone: example.com, 192.0.2.0/24, "
        "2001:db8::/32, 555-0100..0199, published test card numbers.",
    )
    # datatrove PIIFormatter(only_remove_public_ips=True): private addresses identify no one
    public_ips_only: bool = Field(
        True, description="Only globally routable IPs are PII (not 10.x, 192.168.x, ::1, ...)."
    )

    # Presidio's US_SSN recognizer also reports bare nine-digit numbers (at a low score)
    bare_ssn: bool = Field(
        True,
        description="A nine-digit number standing alone (no digits next to it, no label such "
        "as 'ID', 'order', '#' or '$' before it) in the SSA's issued ranges is an SSN; false: "
        "only after 'SSN' or 'social security'.",
    )

    @field_validator("max_counts")
    @classmethod
    def _counts_in_range(cls, value: dict[str, int]) -> dict[str, int]:
        for kind, n in value.items():
            if not 0 <= n <= 1_000_000:
                raise ValueError(f"max_counts.{kind}={n} must be between 0 and 1000000")
        return value

    @model_validator(mode="after")
    def _counts_for_drop_kinds(self) -> PiiConfig:
        for kind in self.max_counts:
            action = self.kind_config(kind).action
            if action != "drop":
                raise ValueError(
                    f"max_counts.{kind} is set but {kind}.action is {action!r}, so no document "
                    f"is dropped for it; set {kind}: {{action: drop}} or remove max_counts.{kind}"
                )
        return self

    def kind_config(self, kind: str) -> PiiKindConfig:
        return getattr(self, kind)

    def drop_limits(self) -> dict[str, int]:
        """The document limit of every kind whose action is drop."""
        return {
            k: self.max_counts.get(k, DOLMA_MAX_COUNT)  # type: ignore[call-overload]
            for k in KINDS
            if self.kind_config(k).action == "drop"
        }

    def placeholders(self) -> dict[str, str]:
        """Replacement text of every kind that is redacted (actions redact and drop)."""
        return {
            k: self.kind_config(k).placeholder or PLACEHOLDERS[k]
            for k in KINDS
            if self.kind_config(k).action != "keep"
        }

    def params(self) -> PiiParams:
        return PiiParams(
            allow_examples=self.allow_examples,
            public_ips_only=self.public_ips_only,
            bare_ssn=self.bare_ssn,
        )


class PiiStage(RowStage):
    """Counts PII per kind, redacts the kinds that are not kept, drops above the limits."""

    config_class = PiiConfig
    config: PiiConfig
    # Counts never depend on action or placeholder, so the limits can be re-applied.
    decision_fields: ClassVar[frozenset[str]] = frozenset({"max_counts"})
    report_section = ReportSection("pii", "Personal information", "no PII stage in this run")

    def output_fields(self):
        fields = [StructField(column(k), IntegerType()) for k in KINDS]
        if self.config.placeholders():
            fields.append(StructField(C.TEXT, StringType()))
        return fields

    def scorer(self):
        params = self.config.params()
        placeholders = self.config.placeholders()
        index = {k: i for i, k in enumerate(KINDS)}

        def run(batch: pa.RecordBatch) -> dict[str, pa.Array]:
            text_col = batch.column(C.TEXT)
            # RE2 over the whole batch in C++; Python sees only documents that may hold PII
            hit = pc.fill_null(pc.match_substring_regex(text_col, CANDIDATES), False)
            rows = pc.indices_nonzero(hit).to_pylist()
            texts = pc.take(text_col, pa.array(rows, pa.int64())).to_pylist() if rows else []
            counts = np.zeros((len(KINDS), len(text_col)), dtype=np.int32)
            changed_rows, new_texts = [], []
            for row, text in zip(rows, texts, strict=True):
                spans = find_pii(text, params)
                for s in spans:
                    counts[index[s.kind], row] += 1
                new = redact(text, spans, placeholders) if spans else text
                if new is not text:
                    changed_rows.append(row)
                    new_texts.append(new)
            null = pc.is_null(text_col).to_numpy(zero_copy_only=False)
            out: dict[str, pa.Array] = {
                column(k): pa.array(counts[i], pa.int32(), mask=null) for i, k in enumerate(KINDS)
            }
            if placeholders:
                out[C.TEXT] = _replace(text_col, changed_rows, new_texts)
            return out

        return run

    def rules(self, scored, cutoffs: Cutoffs):
        return [
            (f"pii:too_many_{kind}", F.col(column(kind)) > limit)
            for kind, limit in self.config.drop_limits().items()
        ]

    def thresholds(self, cutoffs: Cutoffs = NO_CUTOFFS):
        return {
            column(kind): {f"max_counts.{kind}": float(limit)}
            for kind, limit in self.config.drop_limits().items()
        }

    def run_details(self, cutoffs: Cutoffs = NO_CUTOFFS) -> dict[str, Any]:
        return {
            "redacted": sorted(self.config.placeholders()),
            "dropped_above": self.config.drop_limits(),
        }


def _replace(col: pa.Array, rows: list[int], values: list[str]) -> pa.Array:
    """``col`` with ``values`` at ``rows`` (ascending); the column itself when nothing changed."""
    if not rows:
        return col
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    mask = np.zeros(len(col), dtype=bool)
    mask[rows] = True
    return pc.replace_with_mask(col, pa.array(mask), pa.array(values, col.type))
