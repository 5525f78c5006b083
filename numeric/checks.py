"""One checker: an implementation's gradients against the three oracles.

``check(model, loss_and_grads, params, x, y, init)`` compares every gradient

* elementwise with reverse-mode autodiff (autograd) on the interpreted forward spec,
* along a random direction with the complex step (NumPy complex128),
* along a random direction with a 50-digit mpmath central difference,

each within the error model of :mod:`numeric.tolerances`.  Results are records
(:class:`CheckResult`) shared by the tests, the CLI and the report; :func:`assert_grads`
raises :class:`~derive.errors.GradientMismatch` instead of returning failures.  A failing
parameter gradient is explained afterwards: the first sequence length at which
it goes wrong names the time step, and the worst few entries are listed.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from derive.errors import GradientMismatch, InputError
from derive.models import get
from numeric import interpret, jacobians, oracles, tolerances

CHECKS = ("autograd", "complex-step", "mpmath")   # "mpmath-one-sided" replaces them on a kink
#: closer than this to a kink (in the activation's argument), the mpmath check is one-sided:
#: a central difference of step 1e-60 along a unit direction moves an argument by at most
#: 1e-60 times its sensitivity, far below this for any sensitivity under 1e20
NEAR_KINK = 1e-40
WORST = 5


@dataclass(frozen=True)
class CheckResult:
    check: str                # one of CHECKS
    model: str
    gradient: str             # the key of grads, e.g. "W"
    ok: bool
    max_rel_error: float      # autograd: normwise over the key; directional: relative
    allowed: float            # from the error model
    error_model: str          # the terms behind ``allowed``
    seed: int
    worst: tuple = ()         # ((index, expected, got), ...), at most WORST
    time_step: int | None = None   # 1-based step at which a wrong gradient first shows

    def message(self, table: bool = True) -> str:
        where = "" if not self.time_step else (f" at time step t={self.time_step} (its worst entry)"
                                                 if self.gradient == "x" else
                                                 f" from time step t={self.time_step}")
        head = (f"{self.model}: gradient {self.gradient!r} {'agrees with' if self.ok else 'DISAGREES with'} "
                f"{self.check}{where}: relative error {self.max_rel_error:.3g}, allowed {self.allowed:.3g} "
                f"[{self.error_model}] (seed {self.seed})")
        if not self.worst or not table:
            return head
        return head + "\n" + self.table()

    def table(self) -> str:
        """The worst entries, one row each: index, expected, got."""
        rows = [f"    {'index':<16} {'expected':>24} {'got':>24}"]
        rows += [f"    {str(i):<16} {e:>24.16g} {g:>24.16g}" for i, e, g in self.worst]
        return "\n".join(rows)


def spec_for(name: str, params) -> object:
    """The model's spec at the concrete sizes read off ``params`` (the oracles need integers)."""
    spec = get(name)
    symbolic = spec()
    sizes = {}
    for p in symbolic.params:
        shape = np.shape(params[p.name])
        for d, k in zip(p.shape, shape if len(shape) == 2 else (*shape, 1)):
            if not d.is_Integer:
                sizes[d] = int(k)
    return spec(*(sizes[s] for s in symbolic.sizes))


def _worst(ref: np.ndarray, got: np.ndarray) -> tuple:
    diff = np.abs(got - ref).ravel()
    order = np.argsort(-diff, kind="stable")[:WORST]
    return tuple((tuple(int(i) for i in np.unravel_index(k, ref.shape)), float(ref.ravel()[k]),
                  float(got.ravel()[k])) for k in order if diff[k] > 0)


def _unit_roundoff(params) -> float:
    dtype = next(iter(params.values())).dtype
    return tolerances.UNIT_ROUNDOFF["float32" if dtype == np.float32 else "float64"]


def check(model, loss_and_grads, params, x, y, init=None, *, seed: int = 0,
          which=CHECKS, explain: bool = True) -> list:
    """Compare ``loss_and_grads(params, x, y, **init)`` with the oracles.

    ``model`` is a spec at concrete sizes (:func:`spec_for`); ``init`` a dict
    of initial states such as ``{"h0": ...}`` or None.  Returns one
    :class:`CheckResult` per (check, gradient)."""
    init = dict(init or {})
    _, got = loss_and_grads(params, x, y, **init)
    point = oracles.differentiable_variables(model, params, x, init)
    distance = interpret.kink_distance(model, params, x, init)
    if distance == 0.0:
        # ReLU exactly at 0: the loss has only one-sided derivatives there.  The
        # autograd convention (max'(0) = 0) and the complex step do not apply;
        # the derived value (Heaviside(0) = 1/2) must lie between the one-sided
        # directional derivatives instead.
        which = tuple(c for c in which if c not in ("autograd", "complex-step"))
    if distance < NEAR_KINK:
        # near a kink the central difference's step (1e-60) could straddle it:
        # one-sided differences (step 1e-55, taken away from 0 on each side) are used
        which = tuple("mpmath-one-sided" if c == "mpmath" else c for c in which)
    got = {k: np.asarray(got[k], dtype=np.float64) for k in point}
    for k, v in got.items():
        if v.shape != point[k].shape:
            raise InputError(f"loss_and_grads returned grads[{k!r}] of shape {v.shape}; "
                             f"expected {point[k].shape}, the shape of {k}")
    tau, batch = x.shape[0], x.shape[1]
    N = path_length(model, tau, batch)
    G = term_scale(got, oracles.state_adjoints(model, {k: v.astype(np.float64) for k, v in params.items()},
                                               x.astype(np.float64), y,
                                               {k: v.astype(np.float64) for k, v in init.items()}), params)
    u = max(_unit_roundoff(params), tolerances.UNIT_ROUNDOFF["float64"])
    f64 = {k: v.astype(np.float64) for k, v in params.items()}
    init64 = {k: v.astype(np.float64) for k, v in init.items()}
    x64 = x.astype(np.float64)
    rng = np.random.default_rng(seed)
    results = []
    # A: growth of a rounding error along the recurrence (tolerances.recurrence_amplification)
    A = tolerances.recurrence_amplification(jacobians.step_jacobians(model, f64, x64, init64))

    if "autograd" in which:
        ref = oracles.autograd_grads(model, f64, x64, y, init64)
        scale = max(G, term_scale(ref))
        for k in point:
            # normwise against the largest entry of any gradient: see tolerances.absolute_floor
            err = float(np.max(np.abs(got[k] - ref[k]))) / scale
            bound = tolerances.float64_gradient_tolerance(N, 1.0, unit_roundoff=u, amplification=A)
            ok = err <= bound.relative
            results.append(CheckResult("autograd", model.name, k, ok, err, bound.relative,
                                       bound.formula + " " + _terms(bound), seed,
                                       () if ok else _worst(ref[k], got[k])))

    def along(k):
        """A random direction in gradient ``k`` alone, the code's value along it, its
        condition and the code's own error bound."""
        direction = {j: np.zeros_like(v) for j, v in point.items()}
        direction[k] = oracles.random_direction({k: point[k].shape}, rng)[k]
        kappa = oracles.directional_condition(got, direction)
        return (direction, oracles.directional(got, direction), kappa,
                tolerances.float64_gradient_tolerance(N, kappa, unit_roundoff=u, amplification=A))

    for name in ("complex-step", "mpmath"):
        if name not in which:
            continue
        for k in point:
            direction, value, kappa, own = along(k)
            if name == "complex-step":
                reference = oracles.complex_step_directional(model, f64, x64, y, init64, direction=direction)
                other = tolerances.complex_step_tolerance(N, kappa, 1e-30)
            else:
                reference = oracles.mpmath_directional(model, f64, x64, y, init64, direction=direction)
                other = tolerances.mpmath_tolerance(50)
            size = max(abs(value), abs(float(reference)))   # compare() is relative to the larger
            floor = tolerances.absolute_floor(N, G, float(np.abs(direction[k]).sum()), size, unit_roundoff=u,
                                          amplification=A)
            cmp = tolerances.compare(value, reference, own, floor, other)
            results.append(CheckResult(name, model.name, k, cmp.ok, cmp.discrepancy, cmp.allowed,
                                       f"{own.formula} {_terms(own)} + {floor.formula} {_terms(floor)} "
                                       f"+ {other.source}", seed))

    if "mpmath-one-sided" in which:
        for k in point:
            direction, value, kappa, own = along(k)
            sides = [float(oracles.mpmath_one_sided(model, f64, x64, y, init64, direction=direction, side=s))
                     for s in (-1, 1)]
            low, high = min(sides), max(sides)
            size = max(abs(value), abs(low), abs(high))
            outside = max(low - value, value - high, 0.0)
            if size == 0.0:     # every value exactly zero: nothing to round
                results.append(CheckResult("mpmath-one-sided", model.name, k, True, 0.0, 0.0,
                                           "on a kink: derived value and both one-sided derivatives are 0",
                                           seed))
                continue
            floor = tolerances.absolute_floor(N, G, float(np.abs(direction[k]).sum()), size, unit_roundoff=u,
                                          amplification=A)
            slack = (own.relative + floor.relative) * size
            results.append(CheckResult("mpmath-one-sided", model.name, k, outside <= slack,
                                       outside / size if size else outside, slack / size if size else slack,
                                       f"on a kink: derived value within [{low:.17g}, {high:.17g}] "
                                       f"(one-sided derivatives) up to {own.formula} + {floor.formula}",
                                       seed))

    if explain:
        results = [_explain(r, model, loss_and_grads, params, x, y, init) if not r.ok else r
                   for r in results]
    return results


def term_scale(grads, adjoints=None, params=None) -> float:
    """G of the error model: the scale of the terms every gradient entry is summed from.

    The loss is a sum of softmax cross-entropies, whose adjoint dL/do = softmax - y
    has entries of size up to 1; every gradient is summed from such terms (times
    states |h| <= 1 and weights), so G >= max(1, largest gradient entry of any key),
    even where one gradient is small because its terms cancel.  Inside the
    recurrence a term is (an adjoint dL/dstate(t)) x (an activation derivative or
    a state, O(1), computed with an absolute error of a few u: 1 - h^2 of a
    saturated tanh loses all its relative accuracy) x (a parameter); with the
    state adjoints and the parameters given, G also covers
    max|dL/dstate| * max(1, max|param|)."""
    G = max(1.0, *(float(np.max(np.abs(v))) for v in grads.values()))
    if adjoints:
        P = max([1.0] + [float(np.max(np.abs(v))) for v in (params or {}).values()])
        G = max(G, P * max(float(np.max(np.abs(v))) for v in adjoints.values()))
    return G


def path_length(model, tau: int, batch: int) -> int:
    """N of the error model: the longest chain of dependent operations of the
    forward pass, the same chain again for the reverse pass (the adjoints pass
    through the same reductions backwards), plus the tau * B terms every
    parameter gradient is summed over."""
    return 2 * tolerances.dependence_path_length(model, tau) + tau * batch


def _terms(bound) -> str:
    return "(" + ", ".join(f"{n}={tolerances.fmt(v)}" for n, v in bound.terms) + ")"


def _explain(result, model, loss_and_grads, params, x, y, init):
    """Recompute a failed gradient on prefixes of the sequence to find the first
    time step at which it goes wrong, and list the worst entries there."""
    key = result.gradient
    tau = x.shape[0]
    f64 = {k: v.astype(np.float64) for k, v in params.items()}
    init64 = {k: v.astype(np.float64) for k, v in init.items()}
    N = path_length(model, tau, x.shape[1])
    A = tolerances.recurrence_amplification(jacobians.step_jacobians(model, f64, x.astype(np.float64), init64))
    bound = tolerances.float64_gradient_tolerance(N, 1.0, unit_roundoff=_unit_roundoff(params), amplification=A)
    if key == "x" or x.ndim != 3:
        # input gradients are per step already: the worst entry's first index is the step
        ref = oracles.autograd_grads(model, f64, x.astype(np.float64), y, init64)[key]
        _, got = loss_and_grads(params, x, y, **init)
        worst = _worst(ref, np.asarray(got[key], dtype=np.float64))
        step = worst[0][0][0] + 1 if worst and key == "x" else None
        return replace(result, worst=result.worst or worst, time_step=step)
    for t in range(1, tau + 1):
        try:
            _, got = loss_and_grads(params, x[:t], y[:t], **init)
        except Exception:  # noqa: BLE001 - an implementation that fails on a prefix explains nothing
            return result
        ref_all = oracles.autograd_grads(model, f64, x[:t].astype(np.float64), y[:t], init64)
        ref = ref_all[key]
        g = np.asarray(got[key], dtype=np.float64)
        scale = term_scale(ref_all, oracles.state_adjoints(model, f64, x[:t].astype(np.float64), y[:t], init64),
                           f64)
        if float(np.max(np.abs(g - ref))) / scale > bound.relative:
            return replace(result, worst=_worst(ref, g), time_step=t)
    return result


def failures(results) -> list:
    return [r for r in results if not r.ok]


def summary(results) -> str:
    bad = failures(results)
    if not bad:
        worst = max(results, key=lambda r: r.max_rel_error / r.allowed if r.allowed else 0)
        return (f"all {len(results)} comparisons agree; closest to its bound: {worst.check} on "
                f"{worst.gradient!r}, {worst.max_rel_error:.3g} of {worst.allowed:.3g}")
    return report(bad)


#: gradients shown with their worst-entries table; the rest are listed by name
SHOWN_GRADIENTS = 3


def report(bad) -> str:
    """Failure messages, grouped by gradient: the gradient that goes wrong at the
    earliest time step first (where a fault usually sits), one line per check
    that disagrees, the worst-entries table once; after SHOWN_GRADIENTS
    gradients the others are named in one line."""
    by_gradient: dict = {}
    for r in bad:
        by_gradient.setdefault(r.gradient, []).append(r)
    order = sorted(by_gradient, key=lambda k: (min((r.time_step or 10**9) for r in by_gradient[k]),
                                               k == "x", k))
    lines = []
    for k in order[:SHOWN_GRADIENTS]:
        rs = by_gradient[k]
        with_table = next((r for r in rs if r.worst), None)
        for r in rs:
            lines.append(r.message(table=r is with_table))
    rest = order[SHOWN_GRADIENTS:]
    if rest:
        def first(k):
            step = min((r.time_step or 10**9) for r in by_gradient[k])
            return repr(k) if step == 10**9 else f"{k!r} ({'at' if k == 'x' else 'from'} t={step})"
        lines.append(f"... and {len(rest)} more gradient(s) disagree: {', '.join(first(k) for k in rest)} "
                     "(a fault upstream of the gradients above usually explains them)")
    return "\n".join(lines)


def assert_grads(model, loss_and_grads, params, x, y, init=None, *, seed: int = 0, which=CHECKS) -> list:
    """:func:`check`, raising :class:`~derive.errors.GradientMismatch` when any comparison
    fails (as ``jax.test_util.check_grads`` does); returns the records when all agree.

    ``model`` is a registered name or a spec at concrete sizes."""
    spec = spec_for(model, params) if isinstance(model, str) else model
    results = check(spec, loss_and_grads, params, x, y, init, seed=seed, which=which)
    bad = failures(results)
    if bad:
        raise GradientMismatch(report(bad), bad)
    return results
