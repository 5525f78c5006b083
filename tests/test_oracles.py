"""The numeric oracles, checked against each other (no generated code needed).

* autograd, complex step and the mpmath central difference agree within the
  error models of :mod:`numeric.errors`;
* the mpmath oracle is accurate far below float64 (50 vs 70 digits, and vs
  ``mpmath.diff``'s own plan);
* the interpreter's float64 loss matches its mpmath loss, and its forward pass
  matches a plain NumPy RNN written out by hand (a forward pass: no gradient
  formula is typed anywhere);
* the comparisons can fail: a gradient off by a relative 1e-6 is rejected.
"""
from __future__ import annotations

import dataclasses

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st


from derive.models.rnn import spec
from derive.spec import Equation, elementwise, logsumexp, softmax
from derive.errors import InputError, UnsupportedNode
from numeric import interpret, oracles
from numeric import tolerances as errors

# ---------------------------------------------------------------------------
# Problems
# ---------------------------------------------------------------------------


@dataclasses.dataclass
class Problem:
    model: object
    params: dict
    x: np.ndarray
    y: np.ndarray
    init: dict
    tau: int

    @property
    def args(self):
        return self.model, self.params, self.x, self.y, self.init


def make_problem(n=3, m=2, K=4, tau=3, B=2, seed=0, model=None) -> Problem:
    """Small random data for the rnn spec (or ``model`` with the rnn's symbols)."""
    rng = np.random.default_rng(seed)
    model = model if model is not None else spec(n, m, K)
    params = {
        "U": rng.standard_normal((n, m)), "W": rng.standard_normal((n, n)) / np.sqrt(n),
        "b": 0.5 * rng.standard_normal(n), "V": rng.standard_normal((K, n)),
        "c": 0.5 * rng.standard_normal(K),
    }
    x = rng.standard_normal((tau, B, m))
    y = rng.integers(0, K, size=(tau, B))
    init = {"h0": 0.5 * rng.standard_normal((B, n))}
    return Problem(model, params, x, y, init, tau)


def unit_direction(problem: Problem, seed: int) -> dict:
    point = oracles.differentiable_variables(problem.model, problem.params, problem.x,
                                             problem.init)
    return oracles.random_direction({k: v.shape for k, v in point.items()},
                                    np.random.default_rng(seed))


def float64_bound(problem: Problem, grads: dict, direction: dict) -> errors.ErrorBound:
    return errors.float64_gradient_tolerance(
        errors.dependence_path_length(problem.model, problem.tau),
        oracles.directional_condition(grads, direction))


def complex_step_bound(problem: Problem, grads: dict, direction: dict) -> errors.ErrorBound:
    return errors.complex_step_tolerance(
        errors.dependence_path_length(problem.model, problem.tau),
        oracles.directional_condition(grads, direction), 1e-30)


sizes = st.fixed_dictionaries({
    "n": st.integers(1, 4), "m": st.integers(1, 3), "K": st.integers(2, 4),
    "tau": st.integers(1, 4), "B": st.integers(1, 3), "seed": st.integers(0, 2 ** 32 - 1),
})

DIGITS = 30     # enough for a reference to float64 results, and fast

# ---------------------------------------------------------------------------
# (a) the three oracles agree
# ---------------------------------------------------------------------------


@settings(deadline=None)
@given(sizes)
def test_three_oracles_agree(kw):
    problem = make_problem(**kw)
    direction = unit_direction(problem, kw["seed"] + 1)
    grads = oracles.autograd_grads(*problem.args)
    by_autograd = oracles.directional(grads, direction)
    by_complex_step = oracles.complex_step_directional(*problem.args, direction=direction)
    by_mpmath = oracles.mpmath_directional(*problem.args, direction=direction, digits=DIGITS)

    f64, cs, mp = (float64_bound(problem, grads, direction),
                   complex_step_bound(problem, grads, direction),
                   errors.mpmath_tolerance(DIGITS))
    for check in (errors.compare(by_autograd, by_mpmath, f64, mp),
                  errors.compare(by_complex_step, by_mpmath, cs, mp),
                  errors.compare(by_autograd, by_complex_step, f64, cs)):
        assert check.ok, str(check)


def test_gradient_keys_and_shapes():
    problem = make_problem(n=3, m=2, K=4, tau=3, B=2)
    grads = oracles.autograd_grads(*problem.args)
    assert {k: v.shape for k, v in grads.items()} == {
        "U": (3, 2), "W": (3, 3), "b": (3,), "V": (4, 3), "c": (4,), "h0": (2, 3),
        "x": (3, 2, 2)}
    assert all(v.dtype == np.float64 for v in grads.values())


def test_initial_state_defaults_to_zero():
    problem = make_problem(seed=3)
    zero = {"h0": np.zeros_like(problem.init["h0"])}
    given_zero = oracles.autograd_grads(problem.model, problem.params, problem.x, problem.y, zero)
    omitted = oracles.autograd_grads(problem.model, problem.params, problem.x, problem.y)
    for k in given_zero:
        np.testing.assert_array_equal(given_zero[k], omitted[k])


# ---------------------------------------------------------------------------
# (b) the mpmath oracle is accurate far below float64
# ---------------------------------------------------------------------------


def test_mpmath_oracle_converges_far_below_float64():
    problem = make_problem(n=4, m=3, K=4, tau=4, B=3, seed=11)
    direction = unit_direction(problem, 12)
    at50 = oracles.mpmath_directional(*problem.args, direction=direction, digits=50)
    at70 = oracles.mpmath_directional(*problem.args, direction=direction, digits=70)
    check = errors.compare(at50, at70, errors.mpmath_tolerance(50), errors.mpmath_tolerance(70))
    assert check.ok and check.discrepancy < 1e-40, str(check)


def test_mpmath_oracle_matches_mpmath_diff():
    """The explicit plan agrees with mpmath.diff's own plan on s -> L(theta + s d)."""
    problem = make_problem(seed=5)
    direction = unit_direction(problem, 6)
    ours = oracles.mpmath_directional(*problem.args, direction=direction, digits=40)
    along = oracles.mpmath_loss_along(*problem.args, direction=direction)
    with mpmath.workdps(40):
        theirs = mpmath.diff(along, 0)
    check = errors.compare(ours, theirs, errors.mpmath_tolerance(40), errors.mpmath_tolerance(40))
    assert check.ok, str(check)


def test_mpmath_oracle_leaves_global_precision_alone():
    problem = make_problem(seed=7)
    direction = unit_direction(problem, 8)
    mpmath.mp.dps = 20
    oracles.mpmath_directional(*problem.args, direction=direction, digits=30)
    assert mpmath.mp.dps == 20


@pytest.mark.parametrize("digits", [15, 30, 50, 100])
def test_fd_plan(digits):
    dps, step = oracles.fd_plan(digits)
    assert dps == 2 * (digits + 10)                  # target + step, as mpmath.diff
    mantissa, exponent = mpmath.frexp(step)
    assert mantissa == 0.5                           # an exact power of two ...
    assert step <= mpmath.mpf(10) ** -(digits + 10)  # ... at least G digits below the target
    assert oracles.fd_plan(digits, 1234.5)[0] == dps + 4   # one digit per factor 10 in |L|


# ---------------------------------------------------------------------------
# (c) the interpreter: float64 vs mpmath, and vs a plain RNN
# ---------------------------------------------------------------------------


@settings(deadline=None)
@given(sizes)
def test_numpy_loss_matches_mpmath_loss(kw):
    problem = make_problem(**kw)
    in_float64 = interpret.loss(*problem.args)
    with mpmath.workdps(40):
        in_mpmath = interpret.loss(*problem.args, backend="mpmath")
    assert isinstance(in_float64, float)
    assert errors.compare(in_float64, in_mpmath).discrepancy <= 1e-13


def plain_rnn(params, x, h0):
    """The rnn forward pass written out in NumPy, batch-row layout."""
    h, hs, os_ = h0, [], []
    for x_t in x:
        h = np.tanh(params["b"] + h @ params["W"].T + x_t @ params["U"].T)
        hs.append(h)
        os_.append(params["c"] + h @ params["V"].T)
    return np.stack(hs), np.stack(os_)


def test_forward_matches_plain_rnn():
    problem = make_problem(n=4, m=3, K=2, tau=5, B=3, seed=2)
    out = interpret.forward(problem.model, problem.params, problem.x, problem.init)
    h, o = plain_rnn(problem.params, problem.x, problem.init["h0"])
    assert set(out) == {"h", "o"}
    np.testing.assert_allclose(out["h"], h, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(out["o"], o, rtol=1e-14, atol=1e-14)
    o_ = o - o.max(axis=2, keepdims=True)
    log_softmax = o_ - np.log(np.exp(o_).sum(axis=2, keepdims=True))
    cross_entropy = -np.take_along_axis(log_softmax, problem.y[..., None], axis=2).sum()
    np.testing.assert_allclose(interpret.loss(*problem.args), cross_entropy, rtol=1e-14)


def test_backends_agree_on_forward():
    problem = make_problem(seed=9)
    args = problem.model, problem.params, problem.x, problem.init
    ref = interpret.forward(*args)
    via_autograd = interpret.forward(*args, backend="autograd")
    with mpmath.workdps(30):
        via_mpmath = interpret.forward(*args, backend="mpmath")
    for name in ref:
        np.testing.assert_array_equal(ref[name], via_autograd[name])
        np.testing.assert_allclose(via_mpmath[name].astype(float), ref[name], rtol=1e-14,
                                   atol=1e-15)


# ---------------------------------------------------------------------------
# Other node types: the same checks on variants of the rnn spec
# ---------------------------------------------------------------------------


def variant(name: str):
    """The rnn spec (3, 2, 4) with one equation or the loss rewritten."""
    model = spec(3, 2, 4)
    W, h_prev, b, U, x = (model.symbol(s) for s in ("W", "h_prev", "b", "U", "x"))
    a, o, y = model.symbol("a"), model.symbol("o"), model.label
    z = sp.Dummy("z")
    equations = list(model.equations)
    loss = model.loss
    if name == "sigmoid":
        equations[1] = Equation(model.symbol("h"),
                                elementwise(sp.Lambda(z, 1 / (1 + sp.exp(-z))), a), "sigmoid")
    elif name == "relu, W^T":
        equations[0] = Equation(a, b + W.T * h_prev + U * x, "a = b + W^T h + U x")
        equations[1] = Equation(model.symbol("h"), elementwise(sp.Lambda(z, sp.Max(0, z)), a),
                                "relu")
    elif name == "softmax cross-entropy":
        loss = -y.T * elementwise(sp.log, softmax(o))
    elif name == "hadamard penalty":
        ones = sp.OneMatrix(1, 4)
        loss = (logsumexp(o) - y.T * o + sp.Rational(1, 8) * ones * sp.HadamardPower(o, 2)
                + sp.Rational(1, 8) * ones * sp.hadamard_product(o, o, sp.OneMatrix(4, 1)))
    else:
        raise ValueError(name)
    return dataclasses.replace(model, equations=tuple(equations), loss=loss)


VARIANTS = ["sigmoid", "relu, W^T", "softmax cross-entropy", "hadamard penalty"]


@pytest.mark.parametrize("name", VARIANTS)
def test_oracles_agree_on_variants(name):
    problem = make_problem(seed=21, model=variant(name))
    direction = unit_direction(problem, 22)
    grads = oracles.autograd_grads(*problem.args)
    by_autograd = oracles.directional(grads, direction)
    by_complex_step = oracles.complex_step_directional(*problem.args, direction=direction)
    by_mpmath = oracles.mpmath_directional(*problem.args, direction=direction, digits=DIGITS)
    mp = errors.mpmath_tolerance(DIGITS)
    for check in (errors.compare(by_autograd, by_mpmath, float64_bound(problem, grads, direction),
                                 mp),
                  errors.compare(by_complex_step, by_mpmath,
                                 complex_step_bound(problem, grads, direction), mp)):
        assert check.ok, str(check)


def test_softmax_loss_equals_logsumexp_loss():
    problem = make_problem(seed=4)
    rewritten = dataclasses.replace(problem, model=variant("softmax cross-entropy"))
    np.testing.assert_allclose(interpret.loss(*rewritten.args), interpret.loss(*problem.args),
                               rtol=1e-14)


def test_unsupported_nodes_are_named():
    model = spec(3, 2, 4)
    a, h = model.symbol("a"), model.symbol("h")
    W, h_prev = model.symbol("W"), model.symbol("h_prev")
    problem = make_problem(seed=1)

    def with_equation(index, eq):
        equations = list(model.equations)
        equations[index] = eq
        return dataclasses.replace(model, equations=tuple(equations))

    cases = {
        "erf": with_equation(1, Equation(h, elementwise(sp.erf, a), "h = erf(a)")),
        "MatPow": with_equation(0, Equation(a, W ** 2 * h_prev, "a = W^2 h")),
        "per-example 3 x 3 matrix": with_equation(
            0, Equation(a, h_prev * h_prev.T * h_prev, "a = h h^T h")),
    }
    for needle, bad in cases.items():
        with pytest.raises(UnsupportedNode, match=needle):
            interpret.loss(bad, problem.params, problem.x, problem.y, problem.init)
    with pytest.raises(UnsupportedNode, match="symbolic shape"):
        interpret.loss(spec(), problem.params, problem.x, problem.y)


def test_bad_data_is_rejected():
    problem = make_problem()
    bad_params = {**problem.params, "b": problem.params["b"][:2]}
    with pytest.raises(InputError, match="param b must have shape"):
        interpret.loss(problem.model, bad_params, problem.x, problem.y)
    with pytest.raises(InputError, match="integer labels"):
        interpret.loss(problem.model, problem.params, problem.x, problem.y + 4)
    with pytest.raises(InputError, match="unknown initial states"):
        interpret.loss(problem.model, problem.params, problem.x, problem.y, {"g0": 0})
    with pytest.raises(ValueError, match="direction must have keys"):
        oracles.complex_step_directional(*problem.args, direction={"W": problem.params["W"]})


# ---------------------------------------------------------------------------
# (d) the comparisons can fail
# ---------------------------------------------------------------------------


def test_perturbed_gradient_is_rejected():
    problem = make_problem(n=4, m=3, K=3, tau=4, B=2, seed=31)
    direction = unit_direction(problem, 32)
    grads = oracles.autograd_grads(*problem.args)
    by_complex_step = oracles.complex_step_directional(*problem.args, direction=direction)
    by_mpmath = oracles.mpmath_directional(*problem.args, direction=direction, digits=DIGITS)
    f64, cs = float64_bound(problem, grads, direction), complex_step_bound(problem, grads, direction)
    mp = errors.mpmath_tolerance(DIGITS)

    # the parameter whose gradient contributes most to the directional derivative
    name = max(problem.params, key=lambda k: abs(oracles.directional({k: grads[k]},
                                                                     {k: direction[k]})))
    wrong = {**grads, name: grads[name] * (1 + 1e-6)}
    for reference, bound in ((by_mpmath, mp), (by_complex_step, cs)):
        assert errors.compare(oracles.directional(grads, direction), reference, f64, bound).ok
        check = errors.compare(oracles.directional(wrong, direction), reference, f64, bound)
        assert not check.ok, str(check)
        assert "DISAGREE" in str(check) and "kappa" in str(check)


def test_oracle_at_a_perturbed_point_is_rejected():
    """The other way round: a directional derivative taken at a point with one
    parameter off by a relative 1e-6 disagrees with the correct gradient."""
    problem = make_problem(n=4, m=3, K=3, tau=4, B=2, seed=33)
    direction = unit_direction(problem, 34)
    grads = oracles.autograd_grads(*problem.args)
    moved = dataclasses.replace(problem, params={**problem.params,
                                                 "W": problem.params["W"] * (1 + 1e-6)})
    f64 = float64_bound(problem, grads, direction)
    by_autograd = oracles.directional(grads, direction)
    check = errors.compare(by_autograd,
                           oracles.mpmath_directional(*moved.args, direction=direction,
                                                      digits=DIGITS),
                           f64, errors.mpmath_tolerance(DIGITS))
    assert not check.ok, str(check)
    check = errors.compare(by_autograd,
                           oracles.complex_step_directional(*moved.args, direction=direction),
                           f64, complex_step_bound(problem, grads, direction))
    assert not check.ok, str(check)


def test_sum_condition():
    assert errors.sum_condition([1.0, 2.0]) == 1.0
    assert errors.sum_condition([1.0, -1.0 + 1e-10]) == pytest.approx(2e10, rel=1e-5)
    assert errors.sum_condition([1.0, -1.0]) == float("inf")
    assert errors.sum_condition([0.0, 0.0]) == 1.0
