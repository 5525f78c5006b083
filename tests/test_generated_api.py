"""The generated API: shapes, dtypes, and clear errors on bad input."""
import importlib

import numpy as np
import pytest

from derive.models import REGISTRY
from numeric.generated import rnn


def setup(dtype=np.float64, tau=3, B=2, n=4, m=3, K=5):
    params = rnn.init_params(n, m, K, seed=0, dtype=dtype)
    rng = np.random.default_rng(1)
    return params, rng.standard_normal((tau, B, m)).astype(dtype), rng.integers(0, K, (tau, B))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_shapes_and_dtypes(dtype):
    params, x, y = setup(dtype)
    h, o = rnn.forward(params, x)
    assert h.shape == (3, 2, 4) and o.shape == (3, 2, 5) and h.dtype == dtype
    loss, grads = rnn.loss_and_grads(params, x, y)
    assert np.asarray(loss).dtype == dtype
    assert set(grads) == {"U", "W", "b", "V", "c", "h0", "x"}
    for k, v in params.items():
        assert grads[k].shape == v.shape and grads[k].dtype == dtype
    assert grads["h0"].shape == (2, 4) and grads["x"].shape == x.shape
    assert rnn.step(params, x[0], np.zeros((2, 4), dtype)).shape == (2, 4)
    np.testing.assert_array_equal(rnn.step(params, x[0], np.zeros((2, 4), dtype)), h[0])


def test_float32_close_to_float64():
    p64, x, y = setup(np.float64)
    p32 = {k: v.astype(np.float32) for k, v in p64.items()}
    _, g64 = rnn.loss_and_grads(p64, x, y)
    _, g32 = rnn.loss_and_grads(p32, x.astype(np.float32), y)
    for k in g64:  # float32 error model: N u32 with N = tau (n + m + K), a few units of slack
        bound = 4 * 3 * (4 + 3 + 5) * 2.0 ** -24 * np.abs(g64[k]).max()
        assert np.abs(g32[k] - g64[k]).max() <= bound, k


def test_init_params_is_seeded_and_deterministic():
    a, b = rnn.init_params(3, 2, 4, seed=7), rnn.init_params(3, 2, 4, seed=7)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert list(a) == ["U", "W", "b", "V", "c"]
    assert not np.array_equal(a["W"], rnn.init_params(3, 2, 4, seed=8)["W"])


def bad(kind):
    params, x, y = setup()
    h0 = None
    if kind == "x-shape":
        x = x[..., :2]
    elif kind == "x-2d":
        x = x[0]
    elif kind == "W-shape":
        params["W"] = params["W"][:, :3]
    elif kind == "dtype-mix":
        params["V"] = params["V"].astype(np.float32)
    elif kind == "x-dtype":
        x = x.astype(np.float32)
    elif kind == "nan":
        x[1, 0, 2] = np.nan
    elif kind == "label-range":
        y[2, 1] = 5
    elif kind == "label-float":
        y = y.astype(float)
    elif kind == "missing-key":
        del params["c"]
    elif kind == "unknown-key":
        params["d"] = params["c"]
    elif kind == "h0-shape":
        h0 = np.zeros((3, 4))
    elif kind == "not-array":
        x = x.tolist()
    elif kind == "empty":
        x = x[:0]
    return params, x, y, h0


MESSAGES = {
    "x-shape": r"x: expected shape \(tau=3, B=2, m=3\), got \(3, 2, 2\)",
    "x-2d": r"x: expected shape \(tau, B, m=3\), got \(2, 3\)",
    "W-shape": r"params\['W'\]: expected shape \(n=4, n=4\), got \(4, 3\)",
    "dtype-mix": r"params\['V'\]: dtype float32 does not match",
    "x-dtype": r"x: dtype float32 does not match the params' dtype float64",
    "nan": r"x: non-finite value nan at index \(1, 0, 2\)",
    "label-range": r"y: label 5 at index \(2, 1\) is out of range \[0, K=5\)",
    "label-float": r"y: expected integer labels",
    "missing-key": r"params: expected keys .*missing \['c'\]",
    "unknown-key": r"params: expected keys .*unknown \['d'\]",
    "h0-shape": r"h0: expected shape \(B=2, n=4\), got \(3, 4\)",
    "not-array": r"x: expected a numpy array, got list",
    "empty": r"x: expected shape .* every size >= 1",
}


@pytest.mark.parametrize("kind", sorted(MESSAGES))
def test_bad_input_raises_value_error_naming_the_argument(kind):
    params, x, y, h0 = bad(kind)
    with pytest.raises(ValueError, match=MESSAGES[kind]):
        rnn.loss_and_grads(params, x, y, h0=h0)


# -- every model ------------------------------------------------------------------------------------
MODELS = sorted(REGISTRY)


def model_data(name, dtype, tau=3, B=2, n=4, m=3, K=5):
    module = importlib.import_module(f"numeric.generated.{name}")
    params = module.init_params(n, m, K, seed=0, dtype=dtype)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((tau, B, m)).astype(dtype)
    states = {k: (0.1 * rng.standard_normal((B, n))).astype(dtype) for k in module.STATES}
    return module, params, x, rng.integers(0, K, (tau, B)), states


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", MODELS)
def test_every_model_keeps_the_dtype_and_the_api(name, dtype):
    module, params, x, y, states = model_data(name, dtype)
    outputs = module.forward(params, x, **states)
    assert len(outputs) == len(module.OUTPUTS)
    for value in outputs:
        assert value.dtype == dtype and value.shape[:2] == x.shape[:2]
    loss, grads = module.loss_and_grads(params, x, y, **states)
    assert np.asarray(loss).dtype == dtype and tuple(grads) == module.GRADS
    for k, g in grads.items():
        like = params.get(k, states.get(k, x))
        assert g.shape == like.shape and g.dtype == dtype, k


@pytest.mark.parametrize("name", MODELS)
def test_step_is_one_step_of_forward(name):
    module, params, x, y, states = model_data(name, np.float64)
    outputs = dict(zip(module.OUTPUTS, module.forward(params, x, **states)))
    prev = list(states.values())
    for t in range(x.shape[0]):
        new = module.step(params, x[t], *prev)
        new = new if isinstance(new, tuple) else (new,)
        for k, value in zip(module.OUTPUTS, new):
            np.testing.assert_allclose(value, outputs[k][t], rtol=1e-12, atol=1e-14)
        prev = list(new)


def test_the_old_runtime_name_still_serves_modules_generated_before_the_rename():
    from numeric import _runtime, runtime
    for name in runtime.__all__:
        assert getattr(_runtime, name) is getattr(runtime, name), name
    a = np.arange(12.0).reshape(2, 6)
    left, right = _runtime.split_like(a, np.zeros((2, 1)), np.zeros((4, 1)))
    assert left.shape == (2, 2) and right.shape == (2, 4)
    assert [b.shape for b in runtime.split(a, 1, 5)] == [(2, 1), (2, 5)]
    assert [b.shape for b in runtime.split(a, 1, 1, axis=0)] == [(1, 6), (1, 6)]
