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
from derive.errors import DeriveError
from verifier import claims
from verifier.records import Result, record, stable
from verifier.stages import bounds as bound_stage

GENERATED = Path(__file__).resolve().parent.parent / "numeric" / "generated"
PROOF_CASES = [((1, 1, 2), 1), ((2, 1, 2), 2), ((1, 3, 3), 3), ((3, 2, 2), 2)]
CHECK_CASES = [dict(B=3, tau=5, scale=1.0), dict(B=2, tau=8, scale=0.3), dict(B=4, tau=4, scale=3.0)]


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
        results.append(record(f"{name}/derivation", "derivation", name, True, cases=len(equations),
                              source=d.model.source, equations=equations, notes=d.model.notes,
                              forward=[eq.text for eq in d.model.equations] + [d.model.loss_text]))
        for sizes, tau in PROOF_CASES:
            rid = f"{name}/proof/n{sizes[0]}-m{sizes[1]}-K{sizes[2]}-tau{tau}"
            try:
                proofs = prove(d, sizes, tau, seed=seed)
            except DeriveError as e:    # a spec the evaluator cannot run: an error record, not a crash
                results.append(record(rid, "proof", name, False, error=e))
                continue
            results.append(record(rid, "proof", name, all(p.ok for p in proofs),
                                  cases=sum(p.entries for p in proofs),
                                  max_rel_error=max(p.max_rel_error for p in proofs), digits=110,
                                  failed=[p.wrt for p in proofs if not p.ok]))
        path = (Path(generated_dir) if generated_dir else GENERATED) / f"{name}.py"
        fresh = path.exists() and path.read_text() == generate(d)
        results.append(record(f"{name}/codegen-fresh", "check", name, fresh, cases=1,
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
            results.append(record(f"{name}/check/{check}/{grad}", "check", name, all(r.ok for r in rs),
                                  cases=len(rs), max_rel_error=max(r.max_rel_error for r in rs),
                                  max_allowed=stable(max(r.allowed for r in rs)),
                                  detail="" if all(r.ok for r in rs) else checks.report([r for r in rs if not r.ok])))
    results += [_bound_record(entry) for entry in bound_stage.results(seed=seed)]
    results += _claims(seed)
    return results


def _claims(seed) -> list:
    out = []
    for claim in claims.catalogue():
        r = claims.check(claim, seed=seed)
        out.append(Result(r.id, "claim", r.model or "scalar", r.status, r.cases, r.max_rel_error,
                          dict(source=r.source, statement=r.statement, text=getattr(claim, "text", ""),
                               verdict=r.verdict, expected=r.expected, evidence=r.evidence,
                               claim_kind=r.kind, parts=[dict(p) for p in r.parts])))
    return out


def _bound_record(entry: dict) -> Result:
    """A bound stage's entry (a dict) as a :class:`Result`."""
    fixed = ("id", "kind", "model", "status", "cases", "max_rel_error")
    return Result(entry["id"], entry["kind"] if entry["kind"] in ("bound", "fault") else "bound",
                  entry["model"], entry["status"], entry["cases"], entry.get("max_rel_error"),
                  {k: v for k, v in entry.items() if k not in fixed})
