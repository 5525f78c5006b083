"""The one result record: what every stage of the pipeline reports.

Each stage has its own rich outputs (a proof's per-gradient differences, a
check's error-model terms, a claim's parts); the pipeline turns each into a
:class:`Result` with :func:`record`, and every report (Markdown, JSON, JUnit,
HTML) and the CLI read only these.

Numbers that depend on floating-point rounding (and so on the BLAS library and
the CPU) are kept exactly in the record and shown by :func:`stable` to a
precision that does not change from one machine to another.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

__all__ = ["Result", "record", "STATUSES", "KINDS", "stable", "decade"]

STATUSES = ("pass", "fail", "error")
KINDS = ("derivation", "proof", "check", "fault", "bound", "claim", "formula")


@dataclass(frozen=True)
class Result:
    """One outcome: ``id`` is unique in a report, ``kind`` one of :data:`KINDS`,
    ``status`` one of :data:`STATUSES`; ``details`` holds the kind's own fields
    (equations, evidence, verdict, ...), all JSON-serialisable."""

    id: str
    kind: str
    model: str
    status: str
    cases: int = 0
    max_rel_error: float | None = None
    details: Mapping = field(default_factory=dict)

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"result {self.id!r}: status must be one of {STATUSES}, got {self.status!r}")
        if self.kind not in KINDS:
            raise ValueError(f"result {self.id!r}: kind must be one of {KINDS}, got {self.kind!r}")

    @property
    def ok(self) -> bool:
        return self.status == "pass"

    def as_dict(self) -> dict:
        """The record as the reports write it: fixed fields, then the details."""
        rel = None if self.max_rel_error is None else decade(self.max_rel_error)
        return {"id": self.id, "kind": self.kind, "model": self.model, "status": self.status,
                "cases": int(self.cases), "max_rel_error": rel, **dict(self.details)}


def record(id: str, kind: str, model: str, ok, *, cases: int = 0, max_rel_error=None, error=None,
           **details) -> Result:
    """A :class:`Result`: ``ok`` True/False gives pass/fail; ``error`` (an exception
    or a message) gives an error record carrying it."""
    if error is not None:
        text = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else str(error)
        return Result(id, kind, model, "error", cases, None, {**details, "error": text})
    return Result(id, kind, model, "pass" if ok else "fail", cases,
                  None if max_rel_error is None else float(max_rel_error), details)


def decade(value: float) -> float:
    """A rounding-level error shown as the power of ten at or above it
    (3.2e-16 -> 1e-15; 0 -> 0.0): the same on every machine unless the error
    crosses a power of ten."""
    value = abs(float(value))
    if value == 0.0 or not math.isfinite(value):
        return value
    return float(f"1e{math.ceil(math.log10(value) - 1e-12)}")


def stable(value: float, digits: int = 2) -> float:
    """A ratio or bound that rounding changes only in its last bits, shown to
    ``digits`` significant digits."""
    value = float(value)
    if value == 0.0 or not math.isfinite(value):
        return value
    return float(f"{value:.{digits - 1}e}")
