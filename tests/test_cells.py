"""What each cell promises beyond the shared checks: its API, its known special cases,
and the ReLU kink."""
import importlib

import numpy as np
import pytest

from derive.models import REGISTRY
from numeric import checks
from numeric.faults import faults, inject

CELLS = sorted(set(REGISTRY) - {"rnn"})


def module(name):
    return importlib.import_module(f"numeric.generated.{name}")


def data(name, dtype=np.float64, tau=3, B=2, n=4, m=3, K=5, seed=0):
    gen = module(name)
    params = gen.init_params(*({"n": n, "m": m, "K": K}[s] for s in gen.SIZES), seed=seed, dtype=dtype)
    rng = np.random.default_rng(seed + 1)
    return gen, params, rng.standard_normal((tau, B, m)).astype(dtype), rng.integers(0, K, (tau, B))


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_api_shapes_and_dtypes(name, dtype):
    gen, params, x, y = data(name, dtype)
    states = list(gen.STATES)                       # h0 (and s0 for the LSTM)
    out = gen.forward(params, x)
    assert len(out) == len(states) + 1              # the states after each step, then the logits
    for value in out[:-1]:
        assert value.shape == (3, 2, 4) and value.dtype == dtype
    assert out[-1].shape == (3, 2, 5)
    loss, grads = gen.loss_and_grads(params, x, y)
    assert np.asarray(loss).dtype == dtype
    assert set(grads) == set(params) | set(states) | {"x"} == set(gen.GRADS)
    for k, v in params.items():
        assert grads[k].shape == v.shape and grads[k].dtype == dtype, k
    for k in states:
        assert grads[k].shape == (2, 4)
    zeros = [np.zeros((2, 4), dtype) for _ in states]
    step = gen.step(params, x[0], *zeros)
    step = step if isinstance(step, tuple) else (step,)
    for got, want in zip(step, out[:-1]):
        np.testing.assert_array_equal(got, want[0])


@pytest.mark.parametrize("name", CELLS)
def test_bad_input_names_the_argument(name):
    gen, params, x, y = data(name)
    with pytest.raises(ValueError, match=r"params\['W'\].*expected shape"):
        gen.loss_and_grads({**params, "W": params["W"][:, :3]}, x, y)
    with pytest.raises(ValueError, match=r"missing \['V'\]"):
        gen.loss_and_grads({k: v for k, v in params.items() if k != "V"}, x, y)
    with pytest.raises(ValueError, match=r"^y: label 7"):
        gen.loss_and_grads(params, x, np.full_like(y, 7))
    for state in gen.STATES:
        with pytest.raises(ValueError, match=rf"^{state}: expected shape"):
            gen.loss_and_grads(params, x, y, **{state: np.zeros((2, 3))})


def test_init_schemes_each_cell_is_known_for():
    assert module("lstm").INIT["b_f"] == "ones"
    _, p, _, _ = data("lstm")
    assert np.all(p["b_f"] == 1) and np.all(p["b_g"] == 0)
    _, p, _, _ = data("rnn_relu")
    assert np.array_equal(p["W"], np.eye(4)) and np.all(p["b"] == 0)
    _, p, _, _ = data("leaky")
    assert p["alpha"][0] == 1.0 and np.all(np.diff(p["alpha"]) > 0) and p["alpha"][-1] == 100.0


def test_leaky_alpha_below_one_is_refused():
    gen, params, x, y = data("leaky")
    params["alpha"][2] = 0.5
    with pytest.raises(ValueError, match=r"params\['alpha'\]: expected values >= 1, got 0.5 at index \(2,\)"):
        gen.loss_and_grads(params, x, y)


def test_leaky_units_with_alpha_one_are_the_vanilla_rnn():
    """h = (1 - 1/1) h(t-1) + (1/1) tanh(a) = tanh(a): the same loss and gradients, bit for bit."""
    leaky, rnn = module("leaky"), module("rnn")
    _, params, x, y = data("rnn", seed=3)
    h0 = np.random.default_rng(4).standard_normal((2, 4))
    loss_r, grads_r = rnn.loss_and_grads(params, x, y, h0=h0)
    loss_l, grads_l = leaky.loss_and_grads({**params, "alpha": np.ones(4)}, x, y, h0=h0)
    assert loss_l == loss_r
    for k in grads_r:
        np.testing.assert_array_equal(grads_l[k], grads_r[k])


def test_the_gru_variants_are_different_functions():
    """Cho's r ⊙ h before W is not PyTorch's r ⊙ (W h + b_h), even with b_h = 0."""
    _, params, x, y = data("gru", seed=2)
    cho = {k: v for k, v in params.items() if k != "b_h"}
    rng = np.random.default_rng(9)
    params = {k: v + 0.3 * rng.standard_normal(v.shape) for k, v in params.items()}
    params["b_h"] = np.zeros(4)
    cho = {k: params[k] for k in cho}
    h_torch, _ = module("gru").forward(params, x)
    h_cho, _ = module("gru_cho").forward(cho, x)
    assert np.abs(h_torch - h_cho).max() > 1e-3


# -- the ReLU kink --------------------------------------------------------------------------------

def kink_data(seed=0):
    gen, params, x, y = data("rnn_relu", seed=seed, tau=4, B=3, n=4, m=3, K=4)
    rng = np.random.default_rng(seed + 2)          # W = I is symmetric: perturb it, keep b = 0
    params = {k: v + (0.3 * rng.standard_normal(v.shape) if k != "b" else 0) for k, v in params.items()}
    x[0] = 0.0                     # a(1) = b + W h0 + U x(1) = 0: every unit on the kink
    return params, x, y, {"h0": np.zeros((3, 4))}


def test_on_the_kink_the_checks_use_one_sided_derivatives_and_pass():
    params, x, y, init = kink_data()
    results = checks.check(checks.spec_for("rnn_relu", params), module("rnn_relu").loss_and_grads,
                           params, x, y, init)
    assert {r.check for r in results} == {"mpmath-one-sided"}
    assert not checks.failures(results), checks.summary(results)
    # the derived value is Heaviside(0) = 1/2: strictly inside for the gradients that see the kink
    inside = [r for r in results if "within [" in r.error_model]
    lows_highs = [r.error_model.split("within [")[1].split("]")[0].split(", ") for r in inside]
    assert any(float(lo) < float(hi) for lo, hi in lows_highs)


@pytest.mark.parametrize("fault", faults("rnn_relu"), ids=lambda f: f.id)
def test_on_the_kink_wrong_gradients_are_still_caught(fault):
    params, x, y, init = kink_data()
    results = checks.check(checks.spec_for("rnn_relu", params), inject(fault).loss_and_grads,
                           params, x, y, init, explain=False)
    assert checks.failures(results), f"{fault.id} not caught on the kink"


def test_off_the_kink_the_usual_checks_apply():
    params, x, y, init = kink_data()
    x[0] = 0.5
    results = checks.check(checks.spec_for("rnn_relu", params), module("rnn_relu").loss_and_grads,
                           params, x, y, init)
    assert {r.check for r in results} == set(checks.CHECKS)
    assert not checks.failures(results)


def test_near_the_kink_the_mpmath_check_is_one_sided_and_the_others_stay():
    params, x, y, init = kink_data()
    params["b"] = np.full(4, 1e-45)          # a(1) = 1e-45: next to the kink, not on it
    results = checks.check(checks.spec_for("rnn_relu", params), module("rnn_relu").loss_and_grads,
                           params, x, y, init)
    assert {r.check for r in results} == {"autograd", "complex-step", "mpmath-one-sided"}
    assert not checks.failures(results), checks.summary(results)
    fault = next(f for f in faults("rnn_relu") if f.id == "time-shifted/dL_dW/h_prev->h")
    results = checks.check(checks.spec_for("rnn_relu", params), inject(fault).loss_and_grads,
                           params, x, y, init, explain=False)
    assert {r.check for r in checks.failures(results)} == {"autograd", "complex-step", "mpmath-one-sided"}
