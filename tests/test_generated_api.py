"""The generated API: shapes, dtypes, and clear errors on bad input."""
import numpy as np
import pytest

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
