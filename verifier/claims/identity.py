"""Identity claims: ``lhs == rhs`` (or a chain) about one model's unrolled computation.

Decided by an identity test at ``points`` random rational points evaluated with
``digits`` significant digits at small sizes, then in float64 at larger sizes against
a 30-digit reference (tolerance ``50 eps (1 + magnitude)``).  The true values come
from the one evaluator, :mod:`derive.evaluate`: the point (:func:`draw_point`), the
forward pass with the model's aliases (:func:`run_forward`), the BPTT gradients of
the summed loss and of one step's loss (:func:`run`, ``mask``), and the Jacobians
(:class:`~derive.evaluate.PointJacobians`): at the random points the complex step of
the unrolled composite at ``digits + 10`` digits (SymPy's derivative of the composite
for a model that is not analytic, ReLU), independent of the chain rule; at the
float64 point forward mode, SymPy differentiating each equation.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import sympy as sp

from derive import naming
from derive.evaluate import Cut, PointJacobians, Run, draw_point, run, run_forward
from derive.models import derivation

from verifier.claims import draws
from verifier.claims.backends import NumPyValues, SymPyValues
from verifier.claims.claim import Claim, Part
from verifier.claims.grammar import parse
from verifier.claims.nodes import segment
from verifier.claims.source import Where
from verifier.claims.verdicts import Outcome, assignment_text, plural, sizes_text
from verifier.claims.walker import Walker

__all__ = ["Trajectory", "trajectory", "decide", "REFERENCE_DIGITS", "FLOAT_TOLERANCE", "FAIL_GAP"]

REFERENCE_DIGITS = 30       # precision of the reference values for the float64 test
FLOAT_TOLERANCE = 50 * float(np.finfo(np.float64).eps)
FAIL_GAP = 1e-6             # float64 differences above this are counterexamples, not rounding


class Trajectory:
    """True values of one unrolled example at one random point, with ``digits`` digits.

    ``const[name]`` (parameters, initial states, total gradients) and ``steps[t][name]``
    (t = 1..tau: inputs, label, equations, aliases, per-step gradients), plus on demand
    the gradients of one step's loss (:meth:`loss_grads`) and Jacobians (:meth:`jac`,
    :meth:`jac_param`).

    ``kind`` "rational": entries k/97 (:func:`derive.evaluate.draw_point`, seeded by
    ``derive.claims:<seed>:<index>``); "float": uniform float64 entries in [-1, 1), exact
    in SymPy, so float64 claims see the same inputs.  ``given`` fixes quantities:
    ((name, draw text), ...)."""

    def __init__(self, model_name: str, sizes: tuple, tau: int, kind: str, seed: int, index: int,
                 digits: int, given: tuple = ()):
        self.D = D = derivation(model_name)
        model = D.model
        self.model, self.tau, self.kind, self.digits = model, tau, kind, digits
        self.size_map = size_map = dict(zip(model.sizes, sizes))
        self.sizes = {str(k): int(v) for k, v in size_map.items()}
        point_seed = f"derive.claims:{seed}:{index}" if kind == "rational" else [seed, index]
        point = draw_point(model, size_map, tau, seed=point_seed, kind=kind, digits=digits)
        for name, text in given:
            point = point.replace(name, self._given(point, name, text))
        self.point = point
        self.forward = run_forward(D, point, sizes=size_map, digits=digits, aliases=True)
        shown = [x.name for x in model.inputs] + [model.label.name] + \
            [eq.lhs.name for eq in model.equations] + list(model.aliases)
        self.steps = [None] + [{name: env[name] for name in shown} for env in self.forward]
        self.const = {**point.params, **point.initial}
        totals, per_step = self._gradients(run(D, point, sizes=size_map, digits=digits, forward=self.forward))
        self.const.update(totals)
        for t in range(1, tau + 1):
            self.steps[t].update(per_step[t])
        self._loss_grads = {None: (self.const, self.steps)}
        self.jacobians = PointJacobians(model, point, self.forward, sizes=size_map, digits=digits)

    def _given(self, point, name, text):
        """The value of a ``given`` draw (checked when the claim was loaded)."""
        formula = parse(text, Where("given", 0, field=f"given {name!r}"))
        current = point.params.get(name, point.initial.get(name))
        shape = (current if current is not None else point.inputs[0][name]).shape
        return draws.value(formula, shape, sizes=self.sizes, exact=True)

    def _gradients(self, r: Run):
        """(constant gradients, per-step gradients) of a run, named ``grad_<name>``."""
        model = self.model
        totals = {"grad_" + g.wrt.name: r.gradients[g.wrt.name] for g in self.D.gradients if g.kind != "input"}
        per_step = [None] + [{} for _ in range(self.tau)]
        for t in range(self.tau):
            for eq in model.equations:
                adjoint = naming.adjoint(eq.lhs.name)
                if adjoint in r.backward[t]:
                    per_step[t + 1]["grad_" + eq.lhs.name] = r.backward[t][adjoint]
            for x in model.inputs:
                per_step[t + 1]["grad_" + x.name] = r.gradients[x.name][t]
        return totals, per_step

    def loss_grads(self, t):
        """(constant gradients, per-step gradients) of the loss of step ``t`` (None: of the sum)."""
        if t not in self._loss_grads:
            masked = run(self.D, self.point, sizes=self.size_map, digits=self.digits, mask=t - 1,
                         forward=self.forward)
            self._loss_grads[t] = self._gradients(masked)
        return self._loss_grads[t]

    @property
    def method(self) -> str:
        """The Jacobian method (see the module docstring)."""
        return "complex" if self.kind == "rational" else "forward"

    def jac(self, A, i, B, j):
        """dA(i)/dB(j) for a state, an equation or an input B (j = 0: the initial state)."""
        kind = "input" if B in {x.name for x in self.model.inputs} else "node"
        return self.jacobians.jacobian(A, i, Cut(kind, B, j), self.method)

    def jac_param(self, A, i, P, partial):
        """dA(i)/d vec(P): through every step (total), or through step i alone (partial)."""
        return self.jacobians.jacobian(A, i, Cut("param", P, i if partial else None), self.method)


@functools.lru_cache(maxsize=64)
def trajectory(model_name: str, sizes: tuple, tau: int, kind: str, seed: int, index: int,
               digits: int, given: tuple = ()) -> Trajectory:
    """The true values of one random point (cached: claims share their points)."""
    return Trajectory(model_name, sizes, tau, kind, seed, index, digits, given)


# -- the decision -----------------------------------------------------------------------------
def _entries(v):
    """Rows of a value as a list of lists (scalars become 1 x 1)."""
    if isinstance(v, (sp.MatrixBase, np.ndarray)):
        return v.tolist()
    return [[v]]


@dataclass
class _Worst:
    rel: float = 0.0
    cases: int = 0
    where: tuple = None      # (env, side, (i, j), left, right, rel, point)


def _compare(sides, env, point, worst: _Worst, tolerance: float, first_failure: list):
    left = _entries(sides[0])
    for k, side in enumerate(sides[1:], start=1):
        right = _entries(side)
        scale = 1 + max(abs(e) for row in (*left, *right) for e in row)
        worst.cases += 1
        local = None
        for i, (lrow, rrow) in enumerate(zip(left, right)):
            for j, (l_, r_) in enumerate(zip(lrow, rrow)):
                rel = float(abs(l_ - r_) / scale)
                worst.rel = max(worst.rel, rel)
                if local is None or rel > local[5]:
                    local = (env, k, (i, j), l_, r_, rel, point)
        if local is not None and local[5] > tolerance and not first_failure:
            first_failure.append(local)


def side_text(part: Part, k: int) -> str:
    """The text of the statement's ``k``-th side."""
    return segment(part.formula.text, part.tree.operands[k])


def _counterexample(part: Part, where, test: str) -> str:
    env, k, (i, j), l_, r_, rel, point = where
    return (f"{test}, {point}: {assignment_text(env)}entry [{i},{j}]: claim {side_text(part, k)} = "
            f"{float(r_):.10g} vs derived {side_text(part, 0)} = {float(l_):.10g} (rel diff {rel:.2g})")


def decide(claim: Claim, part: Part, *, sizes, tau, seed, digits, points, float_sizes, float_tau) -> Outcome:
    """The identity test of one part (see the module docstring)."""
    dps = digits + 10
    exact_tol = 10.0 ** (-(digits - 10))
    exact, failure = _Worst(), []
    for p in range(points):
        traj = trajectory(part.model, tuple(sizes), tau, "rational", seed, p, dps, part.given)
        walker = Walker(part.model, part.formula, claim.defines, SymPyValues(traj, dps), tau)
        point = f"point {p + 1} of {points}"
        for env in part.assignments(tau):
            _compare(walker.statement(env), env, point, exact, exact_tol, failure)
        if failure:
            break
    small = f"{sizes_text(part.model, sizes)} tau {tau}"
    if failure:
        text = _counterexample(part, failure[0], f"identity test at {small}, {digits} digits")
        return Outcome("fails", "counterexample: " + text, failure[0][5], exact.cases)

    fl, f_failure = _Worst(), []
    traj = trajectory(part.model, tuple(float_sizes), float_tau, "float", seed, 0, REFERENCE_DIGITS, part.given)
    walker = Walker(part.model, part.formula, claim.defines, NumPyValues(traj), float_tau)
    for env in part.assignments(float_tau):
        _compare(walker.statement(env), env, "float64 point", fl, FLOAT_TOLERANCE, f_failure)
    large = f"{sizes_text(part.model, float_sizes)} tau {float_tau}"
    cases = exact.cases + fl.cases
    rel = max(exact.rel, fl.rel)
    if exact.cases == 0 or fl.cases == 0:
        return Outcome("undecided", f"no comparison: the statement's range of t is empty at tau "
                                    f"{tau} or {float_tau}", rel, cases)
    if f_failure:
        text = _counterexample(part, f_failure[0], f"float64 at {large}")
        if f_failure[0][5] > FAIL_GAP:
            return Outcome("fails", "counterexample: " + text + f"; the identity test at {small} did not see it",
                           rel, cases)
        return Outcome("undecided", f"identity at {points} random points holds ({digits} digits) "
                                    f"but float64 differs beyond 50 eps (1 + |value|): {text}", rel, cases)
    evidence = (f"identity at {points} random points, {small}, {digits} digits: max rel diff "
                f"{exact.rel:.1e} ({plural(exact.cases, 'comparison')}); float64 at {large}: "
                f"max rel diff {fl.rel:.1e} ({plural(fl.cases, 'comparison')}, tolerance "
                f"50 eps (1 + |value|))")
    return Outcome("holds", evidence, rel, cases)
