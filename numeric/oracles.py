"""Independent numeric oracles for the gradient of a spec'd model's loss.

None of these knows a gradient formula: each differentiates the plain forward
pass of :mod:`numeric.interpret`, in its own arithmetic.

* :func:`autograd_grads` -- reverse mode by ``autograd`` (float64): the full
  gradient dict.
* :func:`complex_step_directional` -- ``Im L(theta + i h d) / h`` (float64
  complex, no subtractive cancellation): one directional derivative.
* :func:`mpmath_directional` -- a central difference in mpmath at a working
  precision planned by :func:`fd_plan`: one directional derivative, good to
  ``digits`` digits.

The differentiable variables are the params, the initial states (``"h0"``;
zero when not given) and the per-step input ``"x"``; gradients and directions
are dicts over exactly those keys (:func:`differentiable_variables`).
Directional derivatives are compared with :func:`directional`, which contracts
a gradient with a direction by ``math.fsum``; tolerances come from
:mod:`numeric.tolerances`.
"""
from __future__ import annotations

import math
from typing import Callable, Mapping

import autograd
import mpmath
import numpy as np

from derive.spec import Model
from numeric import interpret, tolerances

__all__ = [
    "differentiable_variables", "autograd_grads", "complex_step_directional",
    "fd_plan", "mpmath_loss_along", "mpmath_directional", "random_direction",
    "directional", "directional_condition",
]


# ---------------------------------------------------------------------------
# The differentiable variables
# ---------------------------------------------------------------------------

def _init_names(model: Model) -> list:
    return [init_name for _, init_name in model.state_names.values()]


def differentiable_variables(model: Model, params: Mapping, x, init: Mapping | None = None
                             ) -> dict:
    """The point the oracles differentiate at: params, initial states (zero
    when not given) and ``"x"``, as one dict of float arrays.  This fixes the
    keys and shapes of gradient and direction dicts."""
    init = dict(init or {})
    x = np.asarray(x)
    interpret.check_x(model, x)
    batch = x.shape[1]
    states = {}
    for prev, (_, init_name) in model.state_names.items():
        rows = int(model.symbol(prev).shape[0])
        states[init_name] = init.get(init_name, np.zeros((batch, rows)))
    point = {**{k: np.asarray(v) for k, v in params.items()},
             **{k: np.asarray(v) for k, v in states.items()}}
    x_name = interpret.input_name(model)
    if x_name in point or len(point) != len(params) + len(states):
        raise ValueError(f"model {model.name!r}: the names of params {sorted(params)}, "
                         f"initial states {sorted(states)} and input {x_name!r} collide")
    point[x_name] = x
    return {k: v if np.iscomplexobj(v) else v.astype(np.float64) for k, v in point.items()}


def _loss_at(model: Model, point: Mapping, y, backend: str):
    """The loss at a point given as one dict of differentiable variables."""
    params = {p.name: point[p.name] for p in model.params}
    init = {name: point[name] for name in _init_names(model)}
    return interpret.loss(model, params, point[interpret.input_name(model)], y, init,
                          backend=backend)


def _check_keys(what: str, got: Mapping, expected: Mapping) -> None:
    if set(got) != set(expected):
        raise ValueError(f"{what} must have keys {sorted(expected)}, got {sorted(got)}")
    for k in expected:
        if np.shape(got[k]) != np.shape(expected[k]):
            raise ValueError(f"{what}[{k!r}] must have shape {np.shape(expected[k])}, "
                             f"got {np.shape(got[k])}")


# ---------------------------------------------------------------------------
# The oracles
# ---------------------------------------------------------------------------

def autograd_grads(model: Model, params: Mapping, x, y, init: Mapping | None = None) -> dict:
    """Gradient of the loss w.r.t. every param, initial state and ``"x"``, by
    ``autograd.grad`` through the interpreter's autograd backend."""
    point = differentiable_variables(model, params, x, init)
    gradient = autograd.grad(lambda p: _loss_at(model, p, y, "autograd"))(point)
    return {k: np.asarray(g, dtype=np.float64) for k, g in gradient.items()}


def complex_step_directional(model: Model, params: Mapping, x, y,
                             init: Mapping | None = None, *, direction: Mapping,
                             step: float = 1e-30) -> float:
    """``d/ds L(theta + s d)`` at 0 as ``Im L(theta + i step d) / step``.

    The loss is analytic in every variable (tanh, exp, log; the softmax shift
    uses real parts only), so the imaginary part carries the first-order term
    with no subtraction: the step can be tiny and the result is accurate to
    rounding (:func:`numeric.tolerances.complex_step_tolerance`)."""
    point = differentiable_variables(model, params, x, init)
    _check_keys("direction", direction, point)
    shifted = {k: point[k] + 1j * step * np.asarray(direction[k], dtype=np.float64)
               for k in point}
    return float(np.imag(_loss_at(model, shifted, y, "numpy")) / step)


def fd_plan(digits: int, loss_magnitude: float = 1.0, *, guard: int = 10):
    """Working precision and step of a central difference good to ``digits``
    significant digits: returns ``(working_dps, step)``.

    Let ``g(s) = L(theta + s d)`` and ``D(h) = (g(h) - g(-h)) / (2h)``.

    * Truncation: ``D(h) - g'(0) = h^2 g'''(0) / 6 + O(h^4)``.
    * Rounding: each ``g(+-h)`` is computed at ``w`` digits with an absolute
      error ``~ |L| 10^-w`` (``|L|``: ``loss_magnitude``; the few ulps per
      operation are covered by the guard digits), and the quotient divides
      the difference of two such errors by ``2h``: ``~ |L| 10^-w / h``.

    With ``G = guard`` digits of margin, take ``h = 10^-(digits + G)``
    rounded down to a power of two, so ``h * d`` is exact and so, in
    practice, is ``theta + h d`` (it needs about
    ``53 + log2(|theta_i| / (h |d_i|))`` bits, far fewer than the working
    precision unless some ``d_i`` is tiny next to ``theta_i``).  Then:

    * truncation ``10^-2(digits+G) |g'''| / 6`` is below ``10^-digits |g'|``
      unless ``|g'''/g'|`` exceeds ``10^(digits + 2G)``;
    * rounding ``|L| 10^(digits + G - w)`` is ``<= 10^-(digits + G)`` when

          w = 2 (digits + G) + ceil(log10 |L|)      (the last term only if |L| > 1),

      i.e. below ``10^-digits |g'|`` whenever ``|g'| >= 10^-G``.

    This is ``mpmath.diff``'s plan (``calculus/differentiation.py``,
    ``hsteps``) in decimal: for a first derivative at target precision ``p``
    bits with ``addprec = a`` (default 10 bits) it takes ``h = 2^-(p + a)``
    and works at ``(p + 2a)(n + 1) = 2p + 4a`` bits, so its rounding error
    is ``2^-(p + 3a)`` and its truncation ``2^-2(p + a)``; here ``G = 10``
    digits (~33 bits) plays the part of ``a``.  mpmath.diff has no magnitude
    term because it assumes ``|f| ~ 1``; a loss summed over time and batch
    can be large, and every factor of 10 in ``|L|`` costs one digit of the
    difference, so the plan adds them back.
    """
    if digits < 1 or guard < 0:
        raise ValueError(f"fd_plan needs digits >= 1 and guard >= 0, got {digits}, {guard}")
    magnitude = math.ceil(math.log10(loss_magnitude)) if loss_magnitude > 1.0 else 0
    working_dps = 2 * (digits + guard) + magnitude
    step = mpmath.ldexp(mpmath.mpf(1), -math.ceil((digits + guard) * math.log2(10)))
    return working_dps, step


def mpmath_loss_along(model: Model, params: Mapping, x, y, init: Mapping | None = None, *,
                      direction: Mapping) -> Callable:
    """``s -> L(theta + s d)`` evaluated in mpmath at the caller's precision
    (scope it with ``mpmath.workdps``).  Float64 data convert exactly."""
    point = differentiable_variables(model, params, x, init)
    _check_keys("direction", direction, point)
    mp = interpret.get_backend("mpmath")

    def along(s):
        shifted = {k: mp.asarray(point[k]) + s * mp.asarray(np.asarray(direction[k],
                                                                        dtype=np.float64))
                   for k in point}
        return _loss_at(model, shifted, y, "mpmath")

    return along


def mpmath_directional(model: Model, params: Mapping, x, y, init: Mapping | None = None, *,
                       direction: Mapping, digits: int = 50) -> mpmath.mpf:
    """``d/ds L(theta + s d)`` at 0 by a central difference in mpmath, good to
    ``digits`` significant digits (:func:`fd_plan`); returned rounded to
    ``digits``.  The global mpmath precision is left untouched."""
    magnitude = abs(float(_loss_at(model, differentiable_variables(model, params, x, init),
                                   y, "numpy")))
    working_dps, h = fd_plan(digits, magnitude)
    along = mpmath_loss_along(model, params, x, y, init, direction=direction)
    with mpmath.workdps(working_dps):
        derivative = (along(h) - along(-h)) / (2 * h)
    with mpmath.workdps(digits):
        return +derivative


def mpmath_one_sided(model: Model, params: Mapping, x, y, init: Mapping | None = None, *,
                     direction: Mapping, side: int, digits: int = 50) -> mpmath.mpf:
    """The one-sided directional derivative ``lim_{s -> 0, side * s > 0} (L(theta + s d) - L(theta)) / s``
    by a forward (``side=+1``) or backward (``side=-1``) difference in mpmath.

    For points on a kink (ReLU at 0), where only one-sided derivatives exist.  The
    step is 10^-(digits+5) at 2 digits + 10 working digits: the O(step) truncation
    and the rounding 10^-(2 digits + 10) / step both stay below 10^-digits."""
    if side not in (1, -1):
        raise ValueError(f"side: expected +1 or -1, got {side!r}")
    along = mpmath_loss_along(model, params, x, y, init, direction=direction)
    with mpmath.workdps(2 * digits + 10):
        h = mpmath.mpf(10) ** (-(digits + 5))
        derivative = (along(side * h) - along(0)) / (side * h)
    with mpmath.workdps(digits):
        return +derivative


def state_adjoints(model: Model, params: Mapping, x, y, init: Mapping | None = None) -> dict:
    """The total adjoints ``dL/dstate(t)`` for every step, ``name -> (tau, B, r)``, by
    ``autograd.grad`` with respect to zero probes added to the states."""
    x = np.asarray(x, dtype=np.float64)
    tau, batch = x.shape[:2]
    zeros = {new: np.zeros((tau, batch, int(p.shape[0]))) for p, new in model.state.items()}
    grad = autograd.grad(lambda probe: interpret.loss(model, params, x, y, init, backend="autograd",
                                                      shift=probe))
    return {k: np.asarray(v, dtype=np.float64) for k, v in grad(zeros).items()}


# ---------------------------------------------------------------------------
# Directions and contractions
# ---------------------------------------------------------------------------

def random_direction(shapes: Mapping, rng: np.random.Generator) -> dict:
    """A random direction with the given ``name -> shape``, unit norm overall
    (float64, Gaussian entries)."""
    draws = {k: rng.standard_normal(shape) for k, shape in shapes.items()}
    norm = math.sqrt(math.fsum(float(v) ** 2 for d in draws.values() for v in d.ravel()))
    return {k: d / norm for k, d in draws.items()}


def _contributions(grads: Mapping, direction: Mapping) -> np.ndarray:
    """The products ``g_i d_i`` over every entry of every key."""
    _check_keys("direction", direction, grads)
    return np.concatenate([(np.asarray(grads[k], dtype=np.float64)
                            * np.asarray(direction[k], dtype=np.float64)).ravel()
                           for k in sorted(grads)])


def directional(grads: Mapping, direction: Mapping) -> float:
    """``sum_i g_i d_i`` over all keys, summed by ``math.fsum``."""
    return math.fsum(_contributions(grads, direction))


def directional_condition(grads: Mapping, direction: Mapping) -> float:
    """Condition number of :func:`directional`'s sum,
    ``sum|g_i d_i| / |sum g_i d_i|`` (:func:`numeric.tolerances.sum_condition`)."""
    return tolerances.sum_condition(_contributions(grads, direction))
