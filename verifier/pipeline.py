"""The pipeline: every stage of the report, run in a fixed order, as result records.

Derive, prove, check freshness of the generated code, run the numeric checks,
confirm the decay bounds, decide the claims.  :mod:`verifier.report` formats
what :func:`collect` returns.
"""
from __future__ import annotations

from pathlib import Path

from derive.adjoint import named_parts
from derive.codegen import generate, pretty
from derive.models import REGISTRY, derivation
from derive.proof import prove
from numeric import checks
from numeric.verify import make_data
from verifier import claims
from verifier.stages import bounds as bound_stage

GENERATED = Path(__file__).resolve().parent.parent / "numeric" / "generated"
PROOF_CASES = [((1, 1, 2), 1), ((2, 1, 2), 2), ((1, 3, 3), 3), ((3, 2, 2), 2)]
CHECK_CASES = [dict(B=3, tau=5, scale=1.0), dict(B=2, tau=8, scale=0.3), dict(B=4, tau=4, scale=3.0)]


def _rel(x) -> float:
    return float(f"{float(x):.3e}")


def _entry(id, kind, model, status, cases, max_rel_error, **extra):
    return {"id": id, "kind": kind, "model": model, "status": status, "cases": cases,
            "max_rel_error": _rel(max_rel_error), **extra}


def collect(*, seed: int = 0, generated_dir=None) -> list:
    """Every result record of the report, in a fixed order."""
    results = []
    for name in sorted(REGISTRY):
        d = derivation(name)
        equations = [f"{eq.lhs.name} = {pretty(eq.rhs)}   (a named part of the forward pass)"
                     for eq in named_parts(d.model)]
        equations += [f"{a.name} = {pretty(a.rhs)}" for a in (*d.backward, *d.carries)]
        equations += [f"{g.lhs.name} = {'sum over t of ' if g.kind == 'param' else ''}{pretty(g.rhs)}"
                      for g in d.gradients]
        results.append(_entry(f"{name}/derivation", "derivation", name, "pass", len(equations), 0.0,
                              source=d.model.source, equations=equations, notes=d.model.notes,
                              forward=[eq.text for eq in d.model.equations] + [d.model.loss_text]))
        for sizes, tau in PROOF_CASES:
            try:
                proofs = prove(d, sizes, tau, seed=seed)
                ok = all(p.ok for p in proofs)
                results.append(_entry(f"{name}/proof/n{sizes[0]}-m{sizes[1]}-K{sizes[2]}-tau{tau}", "proof",
                                      name, "pass" if ok else "fail", sum(p.entries for p in proofs),
                                      max(p.max_rel_error for p in proofs), digits=110,
                                      failed=[p.wrt for p in proofs if not p.ok]))
            except Exception as e:  # noqa: BLE001 - reported as an error record
                results.append(_entry(f"{name}/proof/{sizes}-{tau}", "proof", name, "error", 0, 0.0,
                                      error=f"{type(e).__name__}: {e}"))
        path = (Path(generated_dir) if generated_dir else GENERATED) / f"{name}.py"
        fresh = path.exists() and path.read_text() == generate(d)
        results.append(_entry(f"{name}/codegen-fresh", "check", name, "pass" if fresh else "fail", 1, 0.0,
                              detail="numeric/generated/%s.py %s" % (name, "is fresh" if fresh else
                                                                      "is stale: run python -m derive codegen")))
        per_check = {}
        for i, case in enumerate(CHECK_CASES):
            gen, params, x, y, init = make_data(name, seed=seed + i, B=case["B"], tau=case["tau"],
                                                scale=case["scale"])
            for r in checks.check(checks.spec_for(name, params), gen.loss_and_grads, params, x, y, init,
                                  seed=seed + i):
                per_check.setdefault((r.check, r.gradient), []).append(r)
        for (check, grad), rs in sorted(per_check.items()):
            results.append(_entry(f"{name}/check/{check}/{grad}", "check", name,
                                  "pass" if all(r.ok for r in rs) else "fail", len(rs),
                                  max(r.max_rel_error for r in rs),
                                  max_allowed=_rel(max(r.allowed for r in rs)),
                                  detail="" if all(r.ok for r in rs) else checks.report([r for r in rs if not r.ok])))
    results += bound_stage.results(seed=seed)
    results += _claims(seed)
    return results


def _claims(seed) -> list:
    out = []
    for claim in claims.catalogue():
        try:
            r = claims.check(claim, seed=seed)
            out.append(_entry(r.id, "claim", r.model or "scalar", r.status, r.cases, r.max_rel_error,
                              source=r.source, statement=r.statement, text=getattr(claim, "text", ""),
                              verdict=r.verdict, expected=r.expected,
                              evidence=r.evidence, claim_kind=r.kind, parts=[dict(p) for p in r.parts]))
        except Exception as e:  # noqa: BLE001
            out.append(_entry(claim.id, "claim", claim.model, "error", 0, 0.0, verdict="undecided",
                              error=f"{type(e).__name__}: {e}"))
    return out
