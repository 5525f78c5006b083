"""Error models: how far each oracle may be from the exact derivative.

Every check in this project compares two computed numbers, so each needs a
bound on how wrong each number can honestly be.  The bounds here are small
pure functions of a few numbers; each returns an :class:`ErrorBound` that
keeps its terms, so a failing comparison prints *why* the tolerance is what it
is (:func:`compare`, :class:`Comparison`).

The three oracles and their errors
----------------------------------
float64 gradient (generated code, autograd)
    Reverse mode is a sequence of dot products, sums and elementwise
    functions.  Under the standard model ``fl(a op b) = (a op b)(1 + d)``,
    ``|d| <= u``, a sum or dot product of ``k`` terms is wrong by at most
    ``gamma_k = k u / (1 - k u)`` *relative to the sum of the absolute values
    of its terms* (Higham, *Accuracy and Stability of Numerical Algorithms*,
    2nd ed., eq. 3.5).  Composing along the longest chain of dependent
    operations, ``N`` of them, gives ``~ N u`` relative to the absolute
    contributions, i.e. ``N u kappa`` relative to the result, where ``kappa``
    is the condition number of the final sum::

        relative error <= safety * N * u * kappa

    * ``N``: :func:`dependence_path_length`, ``tau * (m + n + K)`` for the
      rnn (each step reduces over the input, the state and the classes);
    * ``u``: unit roundoff, ``2**-53`` for float64, ``2**-24`` for float32;
    * ``kappa``: :func:`sum_condition` of the directional derivative's
      contributions ``g_i d_i``, i.e. ``sum|g_i d_i| / |sum g_i d_i|``: the
      cancellation we can see cheaply.  Cancellation *inside* a component
      ``g_i`` (its sum over time and batch) is not seen by it; the safety
      factor covers that for O(1) data;
    * ``safety`` (default 4): the forward and the reverse sweep are two
      chains, and each transcendental (tanh, exp, log) adds an ulp or two.

    * ``A``: :func:`recurrence_amplification`, the largest norm of a product
      of one-step Jacobians ``d state(t) / d state(k)`` along the actual
      trajectory (at least 1).  A rounding error made in the carried adjoint at
      step t reaches step k multiplied by the transpose of that product; with
      large recurrent weights and unsaturated units it grows with t - k, and the
      bound must grow with it (``safety * N * u * kappa * A``).  The cancellation
      floor's ``G`` (:func:`numeric.checks.term_scale`) covers the typical case, in
      which the adjoint itself grows with the errors; ``A`` is the worst case, an
      error along a direction the adjoint does not take.

    This is a worst-case-style bound: typical errors grow like ``sqrt(N) u``
    (Higham & Mary, SIAM J. Sci. Comput. 41(5), 2019), so it is loose by
    about ``sqrt(N)``, which still leaves it orders of magnitude below a
    real mistake (a relative perturbation of 1e-6 in one gradient).

float64 loss (``verify`` compares a user's loss with the generated code's)
    ``L = sum over t, b of logsumexp(o_tb) - o_tb[y_tb]``: each of the ``tau B``
    terms is the end of the forward chain (``dependence_path_length``, which
    counts the ``K``-term log-sum-exp), and the terms are then summed, so
    ``N = dependence_path_length + tau B``.  Relative to the sum of the absolute
    values of what is added and subtracted, the error is ``~ N u``; relative to
    ``L`` it is ``N u kappa`` with ``kappa`` the :func:`sum_condition` of the
    ``2 tau B`` signed terms ``logsumexp(o_tb)`` and ``-o_tb[y_tb]`` (large when
    the predictions are confident and right: a small ``L`` from large logits).
    Rounding in a state at step k reaches the logits of step t through the
    Jacobian products, so ``A`` applies as for a gradient::

        relative error <= safety * N * u * kappa * A     (float64_loss_tolerance)

complex step
    ``Im L(theta + i h d) / h = D - h^2 D''' / 6 + ...``: no subtraction, so
    no cancellation; the rounding error is that of a forward-mode sweep,
    ``safety * N * u * kappa``, and the truncation term
    ``h^2 |D'''/D| / 6`` is ~1e-60 at ``h = 1e-30``.

mpmath central difference
    :func:`numeric.oracles.fd_plan` chooses the step and working precision
    so the result is good to ``10**-digits`` relative (see there).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Iterable

import mpmath
import numpy as np

__all__ = [
    "UNIT_ROUNDOFF", "ErrorBound", "Comparison", "sum_condition", "dependence_path_length",
    "float64_gradient_tolerance", "float64_loss_tolerance", "complex_step_tolerance", "mpmath_tolerance", "compare",
    "recurrence_amplification",
]

#: Unit roundoff ``u`` (half the machine epsilon) of IEEE binary formats.
UNIT_ROUNDOFF = {"float64": 2.0 ** -53, "float32": 2.0 ** -24}


@dataclass(frozen=True)
class ErrorBound:
    """A bound on a computed value's relative error and the terms behind it."""

    source: str            # which computation, e.g. "float64 gradient"
    relative: float        # the bound itself
    formula: str           # how the terms combine
    terms: tuple           # ((name, value), ...) in the order of the formula

    def __str__(self) -> str:
        terms = ", ".join(f"{name}={fmt(value)}" for name, value in self.terms)
        return f"{self.source}: {self.relative:.3g} = {self.formula} ({terms})"


def fmt(value) -> str:
    return str(value) if isinstance(value, int) else f"{value:.3g}"


def sum_condition(terms: Iterable[float]) -> float:
    """Condition number of a sum, ``sum|t_i| / |sum t_i|`` (both by ``math.fsum``).

    1 when there is no cancellation, large when the terms nearly cancel,
    ``inf`` when they cancel exactly (and 1.0 for all-zero terms, whose sum
    is computed exactly)."""
    terms = [float(t) for t in terms]
    magnitude, total = math.fsum(map(abs, terms)), abs(math.fsum(terms))
    if magnitude == 0.0:
        return 1.0
    return math.inf if total == 0.0 else magnitude / total


def dependence_path_length(model, tau: int) -> int:
    """``N``: operations along the longest dependence path of the loss.

    Per step, a value passes through a reduction over each per-step input
    (``U x``: ``m`` terms), over each state (``W h``: ``n`` terms) and over
    the label's classes (logsumexp / ``y^T o``: ``K`` terms); the chain
    repeats for every step, so ``N = tau * (m + n + K)`` for the rnn."""
    rows = [int(s.shape[0]) for s in (*model.inputs, *model.state, model.label)]
    return int(tau) * sum(rows)


def recurrence_amplification(jacobians) -> float:
    """``A``: the largest ``||J(t) J(t-1) ... J(k+1)||_2`` over ``k < t`` and
    examples, from one-step Jacobians ``jacobians[t, b] = d state(t) / d state(t-1)``
    (shape ``(tau, B, S, S)``, numerator layout); at least 1."""
    J = np.asarray(jacobians, dtype=float)
    worst = 1.0
    for b in range(J.shape[1]):
        for t in range(J.shape[0]):
            P = np.eye(J.shape[-1])
            for k in range(t, -1, -1):          # P = J(t) ... J(k)
                P = P @ J[k, b]
                worst = max(worst, float(np.linalg.norm(P, 2)))
    return worst


def float64_gradient_tolerance(path_length: int, condition: float, *,
                               unit_roundoff: float = UNIT_ROUNDOFF["float64"],
                               safety: float = 4.0, amplification: float = 1.0) -> ErrorBound:
    """Expected relative discrepancy of a floating-point gradient (contracted
    with a direction) from the exact one: ``safety * N * u * kappa * A``.

    ``path_length`` is ``N`` (:func:`dependence_path_length`), ``condition``
    is ``kappa`` (:func:`sum_condition` of the contributions ``g_i d_i``),
    ``amplification`` is ``A`` (:func:`recurrence_amplification`);
    pass ``unit_roundoff=UNIT_ROUNDOFF["float32"]`` for float32."""
    relative = safety * path_length * unit_roundoff * condition * amplification
    return ErrorBound("floating-point gradient", relative, "safety * N * u * kappa * A",
                      (("safety", safety), ("N", int(path_length)), ("u", unit_roundoff),
                       ("kappa", condition), ("A", amplification)))


def float64_loss_tolerance(path_length: int, condition: float, *,
                           unit_roundoff: float = UNIT_ROUNDOFF["float64"],
                           safety: float = 4.0, amplification: float = 1.0) -> ErrorBound:
    """Relative error of a computed loss, the sum of ``tau B`` per-step log-sum-exp
    terms: ``safety * N * u * kappa * A``, the gradient's formula with ``N`` the
    forward chain plus the final sum (``dependence_path_length + tau B``) and
    ``kappa`` the :func:`sum_condition` of the terms ``logsumexp(o_tb)`` and
    ``-o_tb[y_tb]`` (see the module docstring)."""
    bound = float64_gradient_tolerance(path_length, condition, unit_roundoff=unit_roundoff, safety=safety,
                                       amplification=amplification)
    return replace(bound, source="floating-point loss")


def complex_step_tolerance(path_length: int, condition: float, step: float, *,
                           third_over_first: float = 1.0,
                           unit_roundoff: float = UNIT_ROUNDOFF["float64"],
                           safety: float = 4.0) -> ErrorBound:
    """Relative error of ``Im L(theta + i h d) / h``:
    ``safety * N * u * kappa + h^2 * |D'''/D'| / 6``.

    The first term is rounding in a forward-mode-like sweep (no subtractive
    cancellation); the second is the truncation error of the complex step,
    with ``third_over_first`` an estimate of ``|D'''/D'|`` along the
    direction (O(1) for O(1) data; the term is ~1e-60 at ``h = 1e-30``)."""
    rounding = safety * path_length * unit_roundoff * condition
    truncation = step ** 2 * third_over_first / 6.0
    return ErrorBound("complex step", rounding + truncation,
                      "safety * N * u * kappa + h^2 * |D'''/D'| / 6",
                      (("safety", safety), ("N", int(path_length)), ("u", unit_roundoff),
                       ("kappa", condition), ("h", step), ("|D'''/D'|", third_over_first)))


def absolute_floor(path_length: int, scale: float, direction_l1: float, value: float, *,
                   unit_roundoff: float = UNIT_ROUNDOFF["float64"], safety: float = 4.0,
                   amplification: float = 1.0) -> ErrorBound:
    """Rounding that does not shrink with a small gradient entry.

    Every gradient entry is a sum of terms built from the same adjoints, so its
    absolute error is about ``safety * N * u * G`` with ``G`` the largest gradient
    entry of any key (the scale of the adjoints), however much the terms of that
    entry cancel.  Contracted with a direction ``d`` this is at most
    ``safety * N * u * G * ||d||_1``; relative to the contracted value (the
    larger of the two compared): ``safety * N * u * G * ||d||_1 / |value|``."""
    relative = (safety * path_length * unit_roundoff * scale * amplification * direction_l1 / abs(value)
                if value else math.inf)
    return ErrorBound("cancellation floor", relative, "safety * N * u * G * A * ||d||_1 / |value|",
                      (("safety", safety), ("N", int(path_length)), ("u", unit_roundoff),
                       ("G", scale), ("A", amplification), ("||d||_1", direction_l1), ("|value|", abs(value))))


def mpmath_tolerance(digits: int) -> ErrorBound:
    """Relative error of the mpmath central difference: ``10**-digits``
    (guaranteed by the guard digits of :func:`numeric.oracles.fd_plan`)."""
    return ErrorBound("mpmath central difference", 10.0 ** -digits, "10^-digits",
                      (("digits", int(digits)),))


@dataclass(frozen=True)
class Comparison:
    """The verdict of comparing a computed value with a reference."""

    value: object
    reference: object
    discrepancy: float          # |value - reference| / max(|value|, |reference|)
    allowed: float              # sum of the bounds' relative errors
    bounds: tuple               # the ErrorBounds that make up ``allowed``

    @property
    def ok(self) -> bool:
        return self.discrepancy <= self.allowed

    def __str__(self) -> str:
        verdict = "agree" if self.ok else "DISAGREE"
        lines = [f"{verdict}: value {_show(self.value)} vs reference {_show(self.reference)}: "
                 f"relative discrepancy {self.discrepancy:.3g}, allowed {self.allowed:.3g}"]
        lines += [f"  {bound}" for bound in self.bounds]
        return "\n".join(lines)


def _show(x) -> str:
    return mpmath.nstr(x, 20) if isinstance(x, (mpmath.mpf, mpmath.mpc)) else repr(float(x))


def compare(value, reference, *bounds: ErrorBound) -> Comparison:
    """Compare ``value`` with ``reference`` (floats or mpmath numbers); they
    agree when the relative discrepancy is within the sum of the error
    bounds of the two computations.  The discrepancy is computed in mpmath
    from the exact values (floats convert exactly), so it is meaningful far
    below float64 resolution."""
    with mpmath.workdps(30):
        a, b = mpmath.mpmathify(value), mpmath.mpmathify(reference)
        scale = max(abs(a), abs(b))
        discrepancy = float(abs(a - b) / scale) if scale else 0.0
    allowed = math.fsum(bound.relative for bound in bounds)
    return Comparison(value, reference, discrepancy, allowed, tuple(bounds))
