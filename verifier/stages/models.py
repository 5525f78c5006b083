"""The per-model stages of the report: derivation, proofs, generated code, numeric
checks and injected faults, each a list of :class:`~verifier.records.Result`.

:func:`steps` lists them for one model as ``(id, model, build)``; nothing here
names a model: whatever the registry holds gets the same stages.
"""
from __future__ import annotations

import importlib
from functools import partial
from pathlib import Path

from derive.adjoint import named_parts
from derive.codegen import generate, pretty
from derive.errors import DeriveError
from derive.models import derivation
from derive.proof import prove
from numeric import checks
from numeric import faults as fault_catalogue
from numeric.verify import make_data
from verifier.records import record, stable

__all__ = ["steps", "PROOF_CASES", "CHECK_CASES", "GENERATED"]

GENERATED = Path(importlib.import_module("numeric.generated").__file__).resolve().parent
PROOF_CASES = [((1, 1, 2), 1), ((2, 1, 2), 2), ((1, 3, 3), 3), ((3, 2, 2), 2)]
CHECK_CASES = [dict(B=3, tau=5, scale=1.0), dict(B=2, tau=8, scale=0.3), dict(B=4, tau=4, scale=3.0)]


def _derivation(name: str, seed: int) -> list:
    d = derivation(name)
    equations = [f"{eq.lhs.name} = {pretty(eq.rhs)}   (a named part of the forward pass)"
                 for eq in named_parts(d.model)]
    equations += [f"{a.name} = {pretty(a.rhs)}" for a in (*d.backward, *d.carries)]
    equations += [f"{g.lhs.name} = {'sum over t of ' if g.kind == 'param' else ''}{pretty(g.rhs)}"
                  for g in d.gradients]
    return [record(f"{name}/derivation", "derivation", name, True, cases=len(equations),
                   source=d.model.source, equations=equations, notes=d.model.notes,
                   forward=[eq.text for eq in d.model.equations] + [d.model.loss_text])]


def _proof(name: str, seed: int, sizes: tuple, tau: int) -> list:
    rid = f"{name}/proof/n{sizes[0]}-m{sizes[1]}-K{sizes[2]}-tau{tau}"
    try:
        proofs = prove(derivation(name), sizes, tau, seed=seed)
    except DeriveError as e:    # a spec the evaluator cannot run: an error record, not a crash
        return [record(rid, "proof", name, False, error=e)]
    return [record(rid, "proof", name, all(p.ok for p in proofs), cases=sum(p.entries for p in proofs),
                   max_rel_error=max(p.max_rel_error for p in proofs), digits=110,
                   failed=[p.wrt for p in proofs if not p.ok])]


def _fresh(name: str, seed: int, generated: Path) -> list:
    path = generated / f"{name}.py"
    fresh = path.exists() and path.read_text() == generate(derivation(name))
    return [record(f"{name}/codegen-fresh", "check", name, fresh, cases=1,
                   detail=f"numeric/generated/{name}.py " + ("is fresh" if fresh else
                                                             "is stale: run python -m derive codegen"))]


def _checks(name: str, seed: int) -> list:
    per_check = {}
    for i, case in enumerate(CHECK_CASES):
        gen, params, x, y, init = make_data(name, seed=seed + i, B=case["B"], tau=case["tau"], scale=case["scale"])
        for r in checks.check(checks.spec_for(name, params), gen.loss_and_grads, params, x, y, init, seed=seed + i):
            per_check.setdefault((r.check, r.gradient), []).append(r)
    return [record(f"{name}/check/{check}/{grad}", "check", name, all(r.ok for r in rs), cases=len(rs),
                   max_rel_error=max(r.max_rel_error for r in rs), max_allowed=stable(max(r.allowed for r in rs)),
                   detail="" if all(r.ok for r in rs) else checks.report([r for r in rs if not r.ok]))
            for (check, grad), rs in sorted(per_check.items())]


def _faults(name: str, seed: int) -> list:
    """Every derivation-level fault of the model, checked by the three oracles: each must be
    flagged by every one of them, on exactly the gradients it changes."""
    params, x, y, init = fault_catalogue.check_data(name)
    spec = checks.spec_for(name, params)
    out = []
    for fault in fault_catalogue.faults(name):
        results = checks.check(spec, fault_catalogue.inject(fault).loss_and_grads, params, x, y, init,
                               seed=seed, explain=False)
        missed = sorted({c for c in checks.CHECKS
                         if {r.gradient for r in results if r.check == c and not r.ok} != set(fault.gradients)})
        out.append(record(f"{name}/fault/{fault.id}", "fault", name, not missed, cases=len(results),
                          pattern=fault.pattern, statement=f"injected: {fault.description}",
                          evidence=("caught by " + ", ".join(checks.CHECKS) + " on " + ", ".join(fault.gradients))
                          if not missed else f"NOT caught as expected by {', '.join(missed)}"))
    return out


def steps(name: str, seed: int = 0, *, generated: Path = GENERATED) -> list:
    """``[(id, model, build), ...]`` for ``name``; ``build()`` returns its records."""
    out = [(f"{name}/derivation", name, partial(_derivation, name, seed))]
    out += [(f"{name}/proof/{sizes}-{tau}", name, partial(_proof, name, seed, sizes, tau)) for sizes, tau in PROOF_CASES]
    out += [(f"{name}/codegen-fresh", name, partial(_fresh, name, seed, Path(generated))),
            (f"{name}/check", name, partial(_checks, name, seed)),
            (f"{name}/faults", name, partial(_faults, name, seed))]
    return out
