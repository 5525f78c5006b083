"""The claims stage: every claim of the catalogue (verifier/claims/catalogue), decided."""
from __future__ import annotations

from functools import partial

from verifier import claims
from verifier.records import Result

__all__ = ["steps"]


def _claim(claim, seed: int) -> list:
    r = claims.check(claim, seed=seed)
    return [Result(r.id, "claim", r.model or "scalar", r.status, r.cases, r.max_rel_error,
                   dict(source=r.source, statement=r.statement, text=getattr(claim, "text", ""),
                        verdict=r.verdict, expected=r.expected, evidence=r.evidence,
                        claim_kind=r.kind, parts=[dict(p) for p in r.parts]))]


def steps(seed: int = 0, *, models=None) -> list:
    """``[(id, "claims", build), ...]``, one per claim (only those about ``models`` when given);
    the stage runs as one group, since its claims share their random points."""
    return [(c.id, "claims", partial(_claim, c, seed)) for c in claims.catalogue()
            if models is None or c.model in models]
