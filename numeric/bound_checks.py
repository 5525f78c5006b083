"""The checks of the derived decay bounds, on trajectories (:mod:`numeric.trajectories`).

All with case counts: :func:`sweep` (random weights, inputs and states, scales
from tiny to saturating, and a table of special values), :func:`search` (a
seeded (1+1) evolution strategy pushing actual / bound up), :func:`check_fault`
(a wrong bound of a spec's :attr:`~derive.spec.BoundCases.faults` must be caught
by the same checks) and :func:`activation_check` (``|phi'| <= gamma`` on a grid,
by complex step through the interpreter's scalar compiler).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from derive import bounds as dbounds
from derive.jacobian import state_params
from derive.spec import ACTIVATIONS, BoundFault
from numeric import interpret
from numeric.trajectories import (EPS, SAFETY, U, Case, attaining_case, cases_of, compile_scalar, concrete,
                                  decay, decay_tolerance, domain, evaluate, models, orthogonal, random_case,
                                  ratios, registered, shape_of, trajectory)

__all__ = [
    "TIGHT_GAP", "tight", "SweepResult", "special_cases", "sweep_trajectories", "sweep", "SearchResult", "held",
    "search", "faults", "FaultResult", "check_fault", "activation_check",
]

#: A bound counts as attained when the search reaches actual / bound >= 1 - TIGHT_GAP.
#: This is the search's convergence target, not a rounding tolerance: the
#: faults it must expose change the ratio by factors (1/4, sigma, 1/alpha) far
#: from 1, and the (1+1)-ES reaches 1 - 1e-6 or closer on the attained bounds.
TIGHT_GAP = 1e-3


def tight(model: str) -> bool:
    """True when the spec of ``model`` declares where its product bound is attained."""
    return cases_of(model).attaining is not None


# ---------------------------------------------------------------------------------------
# Sweep
# ---------------------------------------------------------------------------------------

@dataclass
class SweepResult:
    model: str
    trajectories: int
    cases: int                 # (trajectory, t) comparisons
    violations: int
    max_ratio: float
    worst: str
    max_tolerance: float


def _cases(model: str, *, count: int, seed: int, T: int, max_n: int = 5) -> list:
    """Random cases, n in 2..max_n, m in 1..2."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        n = int(rng.integers(2, max_n + 1))
        m = int(rng.integers(1, 3))
        out.append(random_case(concrete(model, n, m), rng, T, label=f"sweep case {i}"))
    return out


def special_cases(model: str, *, seed: int, T: int) -> list:
    """The table of special values: zero state and input (phi' at its maximum for
    tanh), recurrent matrices sigma * orthogonal with sigma in {0.5, 1, 2},
    time constants alternating between their low end and 10 (the most unequal units)."""
    rng = np.random.default_rng(seed + 7919)
    out = []
    for i, (n, sigma) in enumerate(((2, 0.5), (2, 1.0), (3, 2.0), (2, 2.0), (3, 0.5), (4, 1.0))):
        spec = concrete(model, n, 1)
        case = random_case(spec, rng, T, weight_scale=0.3, input_scale=0.0, state_scale=0.0, bias_scale=0.0,
                           label=f"special case {i}: zero state and input, sigma {sigma:g} x orthogonal")
        for p in spec.params:
            shape = shape_of(p)
            if p.name in state_params(spec) and len(shape) == 2 and shape[0] == shape[1]:
                case.params[p.name] = sigma * orthogonal(n, rng)
            if domain(spec, p.name):
                lo, hi = domain(spec, p.name)
                case.params[p.name] = np.where(np.arange(n) % 2 == 0, float(lo), 10.0 if hi is None else float(hi))
        out.append(case)
    return out


def sweep_trajectories(model: str, *, count: int = 40, seed: int = 0, T: int = 12) -> list:
    return [trajectory(c) for c in _cases(model, count=count, seed=seed, T=T) + special_cases(model, seed=seed, T=T)]


def sweep(model: str, *, count: int = 40, seed: int = 0, T: int = 12, fault: BoundFault = None,
          trajectories: list = None) -> SweepResult:
    """``count`` random trajectories of ``model`` plus :func:`special_cases`;
    every t = 1..T compared."""
    trajs = trajectories if trajectories is not None else sweep_trajectories(model, count=count, seed=seed, T=T)
    cases = violations = 0
    best, worst, max_tol = -np.inf, "", 0.0
    for tr in trajs:
        ev = evaluate(tr, fault)
        lr, ltol = ratios(tr, ev)
        finite = np.isfinite(ev.log_bound)
        cases += int(finite.sum())
        bad = (lr > ltol) & finite
        violations += int(bad.sum())
        max_tol = max(max_tol, float(np.max(np.expm1(ltol))))
        k = int(np.argmax(lr))
        if lr[k] > best:
            best, worst = float(lr[k]), f"{tr.case.describe()} at t={k + 1}"
    return SweepResult(model, len(trajs), cases, violations, float(np.exp(best)), worst, max_tol)


# ---------------------------------------------------------------------------------------
# Adversarial search
# ---------------------------------------------------------------------------------------

@dataclass
class SearchResult:
    model: str
    evaluations: int
    max_ratio: float
    violations: int
    best: str
    fixed: dict = field(default_factory=dict)


def held(model: str, n: int = 2, pairs: tuple = None) -> dict:
    """The parameters the search holds (``pairs``, default the spec's
    :attr:`~derive.spec.BoundCases.held`), as arrays at size n."""
    spec = concrete(model, n, 1)
    shapes = {p.name: shape_of(p) for p in spec.params}
    return {k: np.full(shapes[k], float(v)) for k, v in (cases_of(model).held if pairs is None else pairs)}


def _pack(case: Case, names: list) -> np.ndarray:
    parts = []
    for k in names:
        lo = (domain(case.model, k) or (None,))[0]
        v = np.asarray(case.params[k])
        parts.append(np.ravel(np.sqrt(v - lo) if lo is not None else v))
    parts += [np.ravel(case.x)] + [np.ravel(case.state0[k]) for k in sorted(case.state0)]
    return np.concatenate(parts)


def _unpack(theta: np.ndarray, template: Case, names: list, fixed: dict) -> Case:
    params, off = dict(template.params), 0
    for k in names:
        shape = np.shape(template.params[k])
        size = int(np.prod(shape))
        v = theta[off:off + size].reshape(shape)
        lo = (domain(template.model, k) or (None,))[0]
        params[k] = lo + v ** 2 if lo is not None else v          # time constants stay >= their low end
        off += size
    params.update(fixed)
    x = theta[off:off + template.x.size].reshape(template.x.shape)
    off += template.x.size
    state0 = {}
    for k in sorted(template.state0):
        r = template.state0[k].size
        state0[k] = theta[off:off + r]
        off += r
    return Case(template.model, params, x, state0, template.label)


def search(model: str, *, seed: int = 0, n: int = 2, m: int = 1, T: int = 4, starts: int = 3,
           iterations: int = 250, fixed: dict = None, fault: BoundFault = None) -> SearchResult:
    """A seeded (1+1) evolution strategy over the weights the states depend on,
    the inputs and the initial states (``fixed`` parameters held), maximising
    ``max_t actual / bound``; step size x1.5 on success, x0.9 otherwise."""
    spec = concrete(model, n, m)
    fixed = {k: np.asarray(v, float) for k, v in (fixed or {}).items()}
    names = [k for k in state_params(spec) if k not in fixed]
    rng = np.random.default_rng(seed)
    evaluations = violations = 0
    best_all, best_case = -np.inf, ""

    def objective(theta):
        nonlocal evaluations, violations
        case = _unpack(theta, template, names, fixed)
        tr = trajectory(case)
        ev = evaluate(tr, fault)
        lr, ltol = ratios(tr, ev)
        evaluations += 1
        violations += int(np.any((lr > ltol) & np.isfinite(ev.log_bound)))
        return float(np.max(lr)), case

    for s in range(starts):
        template = random_case(spec, rng, T, weight_scale=1.0, input_scale=1.0, state_scale=1.0,
                               bias_scale=1.0, alpha_max=4.0, label=f"search start {s}")
        theta = _pack(template, names)
        f, case = objective(theta)
        step = 0.3
        for _ in range(iterations):
            cand = theta + step * rng.standard_normal(theta.shape)
            fc, cc = objective(cand)
            if fc >= f:
                theta, f, case, step = cand, fc, cc, step * 1.5
            else:
                step *= 0.9
            step = min(max(step, 1e-9), 3.0)
        if f > best_all:
            best_all, best_case = f, case.describe()
    return SearchResult(model, evaluations, float(np.exp(best_all)), violations, best_case,
                        {k: np.asarray(v).tolist() for k, v in fixed.items()})


# ---------------------------------------------------------------------------------------
# Faults: wrong bounds, declared by the specs, caught by the same checks
# ---------------------------------------------------------------------------------------

def faults() -> tuple:
    """((model, :class:`~derive.spec.BoundFault`), ...) of every registered model's spec."""
    return tuple((model, f) for model in models() if registered(model) for f in cases_of(model).faults)


@dataclass
class FaultResult:
    model: str
    fault: BoundFault
    sweep: SweepResult
    search: SearchResult
    caught: bool
    how: str
    decay: object = None


def check_fault(model: str, fault: BoundFault, *, seed: int = 0, trajectories: dict = None,
                iterations: int = 100) -> FaultResult:
    """Run the same checks (sweep, search; on an attained bound also the decay
    rate where it is attained) with ``fault`` injected into the bound of ``model``."""
    sw = sweep(model, seed=seed, fault=fault, trajectories=(trajectories or {}).get(model))
    fixed = held(model, pairs=fault.held) if fault.held else None
    se = search(model, seed=seed, fault=fault, fixed=fixed, iterations=iterations, starts=2)
    how = []
    if sw.violations or se.violations:
        how.append(f"violations: sweep {sw.violations} of {sw.cases} comparisons, search {se.violations} of "
                   f"{se.evaluations} evaluations (max actual/bound {max(sw.max_ratio, se.max_ratio):.4g})")
    dr = None
    if tight(model):
        if se.max_ratio < 1 - TIGHT_GAP:
            how.append(f"tightness: the search reaches only {se.max_ratio:.4g} < 1 - {TIGHT_GAP:g}")
        case = attaining_case(model, seed=seed)
        dr = decay(case, fault=fault)
        if abs(dr.ratio - 1) > decay_tolerance(case):
            how.append(f"decay rate: measured {dr.measured_rate:.6g} per step where the bound is attained "
                       f"({case.label}), the faulty bound predicts {dr.bound_rate:.6g}")
    return FaultResult(model, fault, sw, se, bool(how), "; ".join(how) or "NOT CAUGHT", dr)


# ---------------------------------------------------------------------------------------
# Activations: gamma confirmed numerically
# ---------------------------------------------------------------------------------------

def activation_check(name: str, *, points: int = 4001, zmax: float = 40.0) -> dict:
    """|phi'(z)| of the activation ``name`` (a key of :data:`derive.spec.ACTIVATIONS`)
    on a grid (and at +-zmax, 0, 1e-300) by complex step through the interpreter's
    scalar compiler: cases, violations of |phi'| <= gamma (within the complex
    step's rounding), and max |phi'| / gamma."""
    g = dbounds.gamma(name)
    gval = float(g.value)
    phi = ACTIVATIONS[name]
    f = compile_scalar(phi.expr, tuple(phi.variables))
    z = np.concatenate([np.linspace(-zmax, zmax, points), [0.0, 1e-300, -1e-300, 1e-8, -1e-8]])
    d = np.imag(f(interpret.get_backend("numpy"), z + 1j * EPS)) / EPS * np.ones_like(z)
    tol = SAFETY * 8 * U                       # one elementwise function: a few ulps
    violations = int(np.sum(np.abs(d) > gval * (1 + tol)))
    ratio = float(np.max(np.abs(d)) / gval)
    return {"gamma": g, "cases": len(z), "violations": violations, "max_ratio": ratio,
            "max_rel_error": abs(ratio - 1.0), "tolerance": tol, "argmax": float(z[int(np.argmax(np.abs(d)))])}
