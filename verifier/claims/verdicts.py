"""Verdicts: each part's outcome, the claim's verdict over its parts, the evidence text.

A part's :class:`Outcome` is ``holds``, ``fails`` or ``undecided`` with its evidence.
The claim's verdict counts the parts that are not asides: ``holds`` when every one
holds, ``fails`` when every one fails, ``partial`` when some hold and some fail,
``undecided`` when one cannot be decided.  Asides are decided and reported in the
evidence but do not count.  The result's status is ``pass`` when the verdict is the one
the catalogue expects, ``fail`` when it is not, ``error`` when the claim could not be
checked (a located error, e.g. a time index beyond the tau it is checked at).
"""
from __future__ import annotations

from dataclasses import dataclass

from verifier.claims.claim import Claim
from verifier.claims.vocabulary import vocabulary

__all__ = ["Outcome", "ClaimResult", "aggregate", "result", "error_result", "plural", "sizes_text",
           "assignment_text"]


@dataclass(frozen=True)
class Outcome:
    """The decision about one part."""

    verdict: str            # "holds" | "fails" | "undecided"
    evidence: str
    rel: float              # largest relative difference seen (identity claims)
    cases: int


@dataclass(frozen=True)
class ClaimResult:
    id: str
    model: str
    source: str
    statement: str
    verdict: str                # "holds" | "fails" | "partial" | "undecided"
    evidence: str
    expected: str
    status: str                 # "pass" | "fail" | "error"
    max_rel_error: float
    cases: int
    seconds: float = 0.0
    kind: str = "identity"
    parts: tuple = ()           # ({"reading", "aside", "model", "statement", "verdict", "evidence", "cases"}, ...)


def aggregate(verdicts) -> str:
    """The claim's verdict from its counted parts' verdicts."""
    verdicts = list(verdicts)
    if any(v == "undecided" for v in verdicts):
        return "undecided"
    if all(v == "holds" for v in verdicts):
        return "holds"
    if all(v == "fails" for v in verdicts):
        return "fails"
    return "partial"


def result(claim: Claim, outcomes: list, seconds: float) -> ClaimResult:
    """The claim's result from its parts' outcomes (in the order of ``claim.parts``)."""
    counted = [(p, o) for p, o in zip(claim.parts, outcomes) if not p.aside]
    asides = [(p, o) for p, o in zip(claim.parts, outcomes) if p.aside]
    verdict = aggregate(o.verdict for _, o in counted)
    if len(counted) == 1 and not counted[0][0].reading:
        evidence = counted[0][1].evidence
    else:
        evidence = "; ".join(f"[{p.reading}] {o.verdict}: {o.evidence}" for p, o in counted)
    evidence += "".join(f"; aside [{p.reading}] {o.verdict}: {o.evidence}" for p, o in asides)
    parts = tuple({"reading": p.reading, "aside": p.aside, "model": p.model, "statement": p.statement,
                   "verdict": o.verdict, "evidence": o.evidence, "cases": o.cases}
                  for p, o in zip(claim.parts, outcomes))
    rel = max((o.rel for _, o in counted), default=0.0)
    cases = sum(o.cases for o in outcomes)
    status = "pass" if verdict == claim.expect else "fail"
    return ClaimResult(claim.id, claim.model, claim.source, claim.statement, verdict, evidence, claim.expect,
                       status, rel, cases, seconds, claim.kind, parts)


def error_result(claim: Claim, error: Exception, seconds: float) -> ClaimResult:
    """A claim that could not be checked: undecided, status ``error``, the located error as evidence."""
    return ClaimResult(claim.id, claim.model, claim.source, claim.statement, "undecided",
                       f"{type(error).__name__}: {error}", claim.expect, "error", float("nan"), 0, seconds,
                       claim.kind, ())


def plural(k: int, word: str) -> str:
    return f"{k} {word}" + ("" if k == 1 else "s")


def sizes_text(model_name: str, sizes) -> str:
    names = list(vocabulary(model_name).sizes)
    return "(" + ", ".join(f"{n}={s}" for n, s in zip(names, sizes)) + ")"


def assignment_text(env) -> str:
    """An assignment of the index variables as the evidence shows it: ``t=2, k=0, ``."""
    return "".join(f"{v}={x}, " for v, x in sorted((env or {}).items()))
