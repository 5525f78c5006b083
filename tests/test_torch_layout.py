"""numeric.torch_layout: our LSTM / GRU params <-> PyTorch's nn.LSTM / nn.GRU layout.

Pure NumPy tests (round trips, gate placement, dtypes, bad input) always run.  The
comparisons with PyTorch (marker ``torch``) are skipped when torch is not installed;
those against our generated modules are skipped until numeric/generated/lstm.py and
gru.py exist.  Until then a plain NumPy forward pass of the model equations, written
here, is what torch is compared with.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

from numeric.torch_layout import gru_from_torch, gru_to_torch, lstm_from_torch, lstm_to_torch

LSTM_KEYS = ("U_g", "W_g", "b_g", "U_f", "W_f", "b_f", "U", "W", "b", "U_o", "W_o", "b_o")
GRU_KEYS = ("U_r", "W_r", "b_r", "U_z", "W_z", "b_z", "U", "W", "b", "b_h")
MODELS = {  # model -> (from_torch, to_torch, our keys, number of gates G)
    "lstm": (lstm_from_torch, lstm_to_torch, LSTM_KEYS, 4),
    "gru": (gru_from_torch, gru_to_torch, GRU_KEYS, 3),
}
EPS = np.finfo(np.float64).eps  # 2.2e-16, twice the unit roundoff


def random_params(model, n, m, rng, dtype=np.float64, K=None):
    """Our params for ``model``: weights uniform(+-1/sqrt(n)) as PyTorch draws them, biases
    uniform(+-1) so they are clearly nonzero; with K, also the output head V (K, n), c (K,)."""
    shapes = {k: (n, m) if k[0] == "U" else (n, n) if k[0] == "W" else (n,) for k in MODELS[model][2]}
    if K is not None:
        shapes.update(V=(K, n), c=(K,))
    return {k: (rng.uniform(-1, 1, s) / (np.sqrt(n) if len(s) == 2 else 1)).astype(dtype)
            for k, s in shapes.items()}


def random_weights(G, n, m, rng, dtype=np.float64):
    return {
        "weight_ih_l0": rng.standard_normal((G * n, m)).astype(dtype),
        "weight_hh_l0": rng.standard_normal((G * n, n)).astype(dtype),
        "bias_ih_l0": rng.standard_normal(G * n).astype(dtype),
        "bias_hh_l0": rng.standard_normal(G * n).astype(dtype),
    }


def assert_same(a, b):
    """Same keys, dtypes, shapes and values, bit for bit."""
    assert list(a) == list(b)
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, k
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


# -- round trips ------------------------------------------------------------------------
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_from_to_params_is_exact(model, dtype):
    from_torch, to_torch, _, _ = MODELS[model]
    params = random_params(model, 5, 3, np.random.default_rng(1), dtype)
    back = from_torch(to_torch(params))
    assert_same(back, params)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_to_from_weights_merges_biases(model, dtype):
    from_torch, to_torch, _, G = MODELS[model]
    n = 4
    w = random_weights(G, n, 3, np.random.default_rng(2), dtype)
    back = to_torch(from_torch(w))
    assert list(back) == list(w)
    for k in ("weight_ih_l0", "weight_hh_l0"):
        assert back[k].dtype == w[k].dtype
        np.testing.assert_array_equal(back[k], w[k])
    merged = w["bias_ih_l0"] + w["bias_hh_l0"]  # the same float addition from_torch does
    hidden = np.zeros_like(merged)
    if model == "gru":  # the candidate's biases stay apart: b = b_in, b_h = b_hn
        merged[2 * n:] = w["bias_ih_l0"][2 * n:]
        hidden[2 * n:] = w["bias_hh_l0"][2 * n:]
    np.testing.assert_array_equal(back["bias_ih_l0"], merged)
    np.testing.assert_array_equal(back["bias_hh_l0"], hidden)
    assert back["bias_ih_l0"].dtype == back["bias_hh_l0"].dtype == w["bias_ih_l0"].dtype


# -- gate placement ---------------------------------------------------------------------
@pytest.mark.parametrize("model", MODELS)
def test_gate_placement(model):
    """Block k of each PyTorch array holds the constant of our gate k, both ways."""
    from_torch, to_torch, _, G = MODELS[model]
    n, m = 3, 2
    order = {  # (U, W, b) of each gate in PyTorch's block order: i, f, g, o and r, z, n
        "lstm": [("U_g", "W_g", "b_g"), ("U_f", "W_f", "b_f"), ("U", "W", "b"), ("U_o", "W_o", "b_o")],
        "gru": [("U_r", "W_r", "b_r"), ("U_z", "W_z", "b_z"), ("U", "W", "b")],
    }[model]
    shapes = {"U": (n, m), "W": (n, n), "b": (n,)}
    params = {}
    for k, gate in enumerate(order):
        for j, name in enumerate(gate):  # U of gate k is 10k+1, W is 10k+2, b is 10k+3
            params[name] = np.full(shapes[name[0]], 10.0 * k + j + 1)
    if model == "gru":
        params["b_h"] = np.full(n, 99.0)
    w = to_torch(params)
    for k in range(G):
        rows = slice(k * n, (k + 1) * n)
        assert np.all(w["weight_ih_l0"][rows] == 10 * k + 1)
        assert np.all(w["weight_hh_l0"][rows] == 10 * k + 2)
        assert np.all(w["bias_ih_l0"][rows] == 10 * k + 3)
    assert np.all(w["bias_hh_l0"] == ([0.0] * (2 * n) + [99.0] * n if model == "gru" else 0.0))

    # and back from PyTorch arrays whose blocks hold distinct constants
    ramp = np.repeat(np.arange(1.0, G + 1), n)  # block k holds k + 1
    w = {"weight_ih_l0": np.tile(ramp[:, None], m), "weight_hh_l0": np.tile(10 * ramp[:, None], n),
         "bias_ih_l0": 100 * ramp, "bias_hh_l0": 1000 * ramp}
    params = from_torch(w)
    for k, (u, wname, b) in enumerate(order):
        assert np.all(params[u] == k + 1) and np.all(params[wname] == 10 * (k + 1))
        merged = 100 * (k + 1) if (model, k) == ("gru", 2) else 1100 * (k + 1)
        assert np.all(params[b] == merged), b
    if model == "gru":
        assert np.all(params["b_h"] == 3000)


# -- dtypes, copies, optional parts -------------------------------------------------------
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_kept_and_no_shared_memory(model, dtype):
    from_torch, to_torch, _, G = MODELS[model]
    w = random_weights(G, 3, 2, np.random.default_rng(3), dtype)
    params = from_torch(w)
    out = to_torch(params)
    for value in list(params.values()) + list(out.values()):
        assert value.dtype == dtype
    for a in params.values():
        for b in list(w.values()) + list(out.values()):
            assert not np.shares_memory(a, b)


@pytest.mark.parametrize("model", MODELS)
def test_without_biases_gives_zero_biases(model):
    """A layer built with bias=False has only the two weight keys."""
    from_torch, to_torch, keys, G = MODELS[model]
    w = random_weights(G, 3, 2, np.random.default_rng(4), np.float32)
    params = from_torch({k: w[k] for k in ("weight_ih_l0", "weight_hh_l0")})
    assert list(params) == list(keys)
    for k in keys:
        if k[0] == "b":
            assert params[k].dtype == np.float32 and params[k].shape == (3,)
            assert not params[k].any()


@pytest.mark.parametrize("model", MODELS)
def test_to_torch_ignores_the_output_head(model):
    from_torch, to_torch, _, _ = MODELS[model]
    params = random_params(model, 3, 2, np.random.default_rng(5), K=4)
    w = to_torch(params)
    assert list(w) == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    assert "V" not in from_torch(w) and "c" not in from_torch(w)
    assert_same(to_torch({k: v for k, v in params.items() if k not in ("V", "c")}), w)


def test_tensor_like_values_are_read_with_detach_cpu_numpy():
    """Duck typing: anything with .detach().cpu().numpy() is accepted, no torch needed."""
    class FakeTensor:
        def __init__(self, a):
            self.a = a

        def detach(self):
            return self

        def cpu(self):
            return self

        def numpy(self):
            return self.a

    w = random_weights(4, 3, 2, np.random.default_rng(6))
    assert_same(lstm_from_torch({k: FakeTensor(v) for k, v in w.items()}), lstm_from_torch(w))


# -- bad input --------------------------------------------------------------------------
def _drop(key):
    """A change to a dict: remove ``key``."""
    return lambda d, G: d.pop(key)


def _set(key, value):
    """A change to a dict: put ``value(d, G)`` under ``key`` (G, the number of gates: 4 or 3)."""
    return lambda d, G: d.__setitem__(key, value(d, G))


# (id, how to break a valid weights dict with n=3, m=2, the message; {G} is G and {Gn} is G*3)
BAD_WEIGHTS = [
    ("missing-weight_ih", _drop("weight_ih_l0"), "weights['weight_ih_l0']: missing key (expected shape ({G}*n, m))"),
    ("missing-weight_hh", _drop("weight_hh_l0"), "weights['weight_hh_l0']: missing key (expected shape ({G}*n, n))"),
    ("missing-bias_hh", _drop("bias_hh_l0"), "weights['bias_hh_l0']: missing key (expected shape ({G}*n,);"),
    ("missing-bias_ih", _drop("bias_ih_l0"), "weights['bias_ih_l0']: missing key (expected shape ({G}*n,);"),
    ("unknown-key", _set("weight_ih_l1", lambda w, G: w["weight_ih_l0"]), "weights['weight_ih_l1']: unknown key"),
    ("unknown-proj", _set("weight_hr_l0", lambda w, G: np.ones((3, 3))), "weights['weight_hr_l0']: unknown key"),
    ("rows-not-divisible", _set("weight_ih_l0", lambda w, G: np.ones((G * 3 + 1, 2))),
     "weights['weight_ih_l0']: expected shape ({G}*n, m)"),
    ("weight_ih-1d", _set("weight_ih_l0", lambda w, G: np.ones(G * 3)),
     "weights['weight_ih_l0']: expected shape ({G}*n, m)"),
    ("weight_ih-3d", _set("weight_ih_l0", lambda w, G: np.ones((G * 3, 2, 1))),
     "weights['weight_ih_l0']: expected shape ({G}*n, m)"),
    ("weight_ih-empty", _set("weight_ih_l0", lambda w, G: np.ones((0, 2))),
     "weights['weight_ih_l0']: expected shape ({G}*n, m)"),
    ("weight_hh-other-n", _set("weight_hh_l0", lambda w, G: np.ones((G * 3, 4))),
     "weights['weight_hh_l0']: expected shape ({G}*n={Gn}, n=3), got ({Gn}, 4)"),
    ("weight_hh-rows", _set("weight_hh_l0", lambda w, G: np.ones((G * 4, 4))),
     "weights['weight_hh_l0']: expected shape ({G}*n={Gn}, n=3)"),
    ("weight_hh-1d", _set("weight_hh_l0", lambda w, G: np.ones(G * 3)),
     "weights['weight_hh_l0']: expected shape ({G}*n={Gn}, n=3)"),
    ("bias_ih-length", _set("bias_ih_l0", lambda w, G: np.ones(G * 3 + 1)),
     "weights['bias_ih_l0']: expected shape ({G}*n={Gn},)"),
    ("bias_hh-column", _set("bias_hh_l0", lambda w, G: np.ones((G * 3, 1))),
     "weights['bias_hh_l0']: expected shape ({G}*n={Gn},)"),
    ("bias-0d", _set("bias_hh_l0", lambda w, G: np.ones(())),
     "weights['bias_hh_l0']: expected shape ({G}*n={Gn},)"),
    ("integer-dtype", _set("weight_hh_l0", lambda w, G: np.ones((G * 3, 3), dtype=np.int64)),
     "weights['weight_hh_l0']: expected dtype float32 or float64, got int64"),
    ("mixed-dtype", _set("bias_ih_l0", lambda w, G: w["bias_ih_l0"].astype(np.float32)),
     "weights['bias_ih_l0']: dtype float32 does not match weights['weight_ih_l0'] (float64)"),
    ("a-list", _set("weight_ih_l0", lambda w, G: w["weight_ih_l0"].tolist()),
     "weights['weight_ih_l0']: expected a numpy array"),
]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("change, message", [c[1:] for c in BAD_WEIGHTS], ids=[c[0] for c in BAD_WEIGHTS])
def test_bad_weights_raise_a_named_error(model, change, message):
    from_torch, _, _, G = MODELS[model]
    w = random_weights(G, 3, 2, np.random.default_rng(7))
    change(w, G)
    with pytest.raises(ValueError, match=re.escape(message.format(G=G, Gn=G * 3))):
        from_torch(w)


@pytest.mark.parametrize("model", MODELS)
def test_weights_not_a_dict(model):
    with pytest.raises(ValueError, match=r"weights: expected a dict"):
        MODELS[model][0]([np.ones((3, 3))])


# (id, model or None for both, how to break valid params with n=3, m=2, the message)
BAD_PARAMS = [
    ("missing-W", None, _drop("W"), "params['W']: missing key (expected shape (n, n))"),
    ("missing-b_o", "lstm", _drop("b_o"), "params['b_o']: missing key (expected shape (n,))"),
    ("missing-b_h", "gru", _drop("b_h"), "params['b_h']: missing key (expected shape (n,))"),
    ("unknown-h0", None, _set("h0", lambda p, G: np.zeros(3)), "params['h0']: unknown key"),
    ("lstm-key-in-gru", "gru", _set("U_g", lambda p, G: p["U"]), "params['U_g']: unknown key"),
    ("U-other-m", None, _set("U", lambda p, G: np.ones((3, 4))), "params['U']: expected shape (n=3, m=2), got (3, 4)"),
    ("W-other-n", None, _set("W", lambda p, G: np.ones((3, 4))), "params['W']: expected shape (n=3, n=3), got (3, 4)"),
    ("W-1d", None, _set("W", lambda p, G: np.ones(9)), "params['W']: expected shape (n=3, n=3), got (9,)"),
    ("b-column", None, _set("b", lambda p, G: np.ones((3, 1))), "params['b']: expected shape (n=3,), got (3, 1)"),
    ("b-length", None, _set("b", lambda p, G: np.ones(4)), "params['b']: expected shape (n=3,), got (4,)"),
    ("first-U-1d", "lstm", _set("U_g", lambda p, G: np.ones(3)), "params['U_g']: expected shape (n, m)"),
    ("first-U-empty", "gru", _set("U_r", lambda p, G: np.ones((3, 0))), "params['U_r']: expected shape (n, m)"),
    ("integer-dtype", None, _set("b", lambda p, G: np.ones(3, dtype=np.int32)),
     "params['b']: expected dtype float32 or float64, got int32"),
    ("mixed-dtype", None, _set("W", lambda p, G: p["W"].astype(np.float32)),
     "params['W']: dtype float32 does not match"),
    ("a-list", None, _set("b", lambda p, G: [0.0, 0.0, 0.0]), "params['b']: expected a numpy array"),
]


@pytest.mark.parametrize("model, change, message", [
    pytest.param(model, change, message, id=f"{name}-{model}")
    for name, only, change, message in BAD_PARAMS for model in MODELS if only in (None, model)])
def test_bad_params_raise_a_named_error(model, change, message):
    _, to_torch, _, G = MODELS[model]
    params = random_params(model, 3, 2, np.random.default_rng(8), K=4)
    change(params, G)
    with pytest.raises(ValueError, match=re.escape(message)):
        to_torch(params)


@pytest.mark.parametrize("model", MODELS)
def test_params_not_a_dict(model):
    with pytest.raises(ValueError, match=r"params: expected a dict"):
        MODELS[model][1]([np.ones((3, 3))])


# -- PyTorch ----------------------------------------------------------------------------
def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def reference_lstm(p, x, h0, s0):
    """The LSTM equations, step by step, for row batches: h, s (tau, B, n)."""
    h, s, hs, ss = h0, s0, [], []
    for x_t in x:
        def pre(U, W, b):
            return p[b] + x_t @ p[U].T + h @ p[W].T
        g, f, q = (_sigmoid(pre("U_" + k, "W_" + k, "b_" + k)) for k in "gfo")
        s = f * s + g * np.tanh(pre("U", "W", "b"))
        h = q * np.tanh(s)
        hs.append(h)
        ss.append(s)
    return np.array(hs), np.array(ss)


def reference_gru(p, x, h0):
    """The GRU equations (PyTorch variant), step by step, for row batches: h (tau, B, n)."""
    h, hs = h0, []
    for x_t in x:
        r, z = (_sigmoid(p["b_" + k] + x_t @ p["U_" + k].T + h @ p["W_" + k].T) for k in "rz")
        h_tilde = np.tanh(p["b"] + x_t @ p["U"].T + r * (h @ p["W"].T + p["b_h"]))
        h = (1 - z) * h_tilde + z * h
        hs.append(h)
    return np.array(hs)


TAU, B, N, M, K = 6, 3, 5, 4, 3


def forward_tolerance():
    # Tolerance from float64 rounding.  Every pre-activation is a dot product of n + m
    # terms plus a bias, wrong by at most gamma_{n+m+1} ~ (n+m+1) u relative to the sum of
    # the terms' magnitudes (Higham, eq. 3.5; u = eps/2).  sigmoid and tanh have slopes
    # <= 1, so they pass an error on without growing it and add an ulp or two of their own;
    # with weights of PyTorch's scale (+-1/sqrt(n)) the recurrence does not expand, so the
    # errors of tau steps add up: tau (n+m+1) u per implementation.  torch and the
    # reference each carry that (a factor 2) and the transcendentals a few ulps more (another
    # 2 for safety): 4 tau (n+m+1) u = 2 tau (n+m+1) eps, relative to the largest |value|
    # (states, all of size O(1)).  Here that is 2 * 6 * 10 * 2.2e-16 = 2.7e-14.
    return 2 * TAU * (N + M + 1) * EPS


def grad_tolerance():
    # The same argument for the gradients, with the chain the project's error model uses
    # (README, "Checks and the error model"): the forward and the reverse sweep each reduce
    # over the input, the state and the classes at every step, and the parameter gradients
    # sum over all tau*B examples: N = 2 tau (n+m+K) + tau B, and 2 N eps relative to the
    # largest |gradient entry| of each array (4 N u, both implementations).
    return 2 * (2 * TAU * (N + M + K) + TAU * B) * EPS


def assert_close(name, ours, theirs, tol):
    theirs = np.asarray(theirs)
    assert ours.shape == theirs.shape, name
    scale = np.abs(theirs).max()
    err = np.abs(ours - theirs).max() / scale
    assert err <= tol, f"{name}: max |diff| / max |value| = {err:.3g} > {tol:.3g}"
    return err


def _torch_setup(torch, model, seed):
    """A float64 nn.LSTM / nn.GRU (M inputs, N hidden) with seeded random weights (biases
    nonzero), and seeded x (TAU, B, M) time-major, h0, c0 (B, N), labels y (TAU, B), V, c."""
    gen = torch.Generator().manual_seed(seed)
    layer = (torch.nn.LSTM if model == "lstm" else torch.nn.GRU)(M, N, dtype=torch.float64)
    with torch.no_grad():
        for name, value in layer.named_parameters():
            scale = 1.0 if name.startswith("bias") else N ** -0.5
            value.copy_(scale * (2 * torch.rand(value.shape, generator=gen, dtype=torch.float64) - 1))
    data = {
        "x": torch.randn(TAU, B, M, generator=gen, dtype=torch.float64),
        "h0": 0.5 * torch.randn(B, N, generator=gen, dtype=torch.float64),
        "c0": 0.5 * torch.randn(B, N, generator=gen, dtype=torch.float64),
        "V": torch.randn(K, N, generator=gen, dtype=torch.float64),
        "c": torch.randn(K, generator=gen, dtype=torch.float64),
        "y": torch.randint(0, K, (TAU, B), generator=gen),
    }
    return layer, data


def _run_torch(layer, data, model):
    if model == "lstm":
        out, (h_n, c_n) = layer(data["x"], (data["h0"][None], data["c0"][None]))
        return out, h_n[0], c_n[0]
    out, h_n = layer(data["x"], data["h0"][None])
    return out, h_n[0], None


@pytest.mark.torch
@pytest.mark.parametrize("model", MODELS)
def test_torch_forward_matches_the_equations(model):
    """PyTorch's layer and our equations (a plain NumPy reference) agree, through
    *_from_torch (a torch state_dict, read by duck typing) and through *_to_torch."""
    torch = pytest.importorskip("torch")
    from_torch, to_torch, _, _ = MODELS[model]
    layer, data = _torch_setup(torch, model, seed=11)
    x, h0, c0 = (data[k].numpy() for k in ("x", "h0", "c0"))
    tol = forward_tolerance()

    # torch -> ours
    params = from_torch(layer.state_dict())
    with torch.no_grad():
        out, h_n, c_n = _run_torch(layer, data, model)
    if model == "lstm":
        h, s = reference_lstm(params, x, h0, c0)
        assert_close("c_n vs s[-1]", s[-1], c_n.numpy(), tol)
    else:
        h = reference_gru(params, x, h0)
    assert_close("output vs h", h, out.numpy(), tol)
    assert_close("h_n vs h[-1]", h[-1], h_n.numpy(), tol)

    # ours -> torch: fresh random params loaded into the layer
    params = random_params(model, N, M, np.random.default_rng(12))
    layer.load_state_dict({k: torch.from_numpy(v) for k, v in to_torch(params).items()})
    with torch.no_grad():
        out, h_n, c_n = _run_torch(layer, data, model)
    if model == "lstm":
        h, s = reference_lstm(params, x, h0, c0)
        assert_close("c_n vs s[-1]", s[-1], c_n.numpy(), tol)
    else:
        h = reference_gru(params, x, h0)
    assert_close("output vs h", h, out.numpy(), tol)


@pytest.mark.torch
@pytest.mark.parametrize("model", MODELS)
def test_torch_matches_the_generated_module(model):
    """Outputs, loss and every gradient of our generated module against PyTorch with the
    same output head (logits = h V^T + c, cross-entropy summed over time and batch)."""
    torch = pytest.importorskip("torch")
    generated = pytest.importorskip(f"numeric.generated.{model}")
    from_torch, _, _, G = MODELS[model]
    layer, data = _torch_setup(torch, model, seed=13)
    leaves = {k: v.requires_grad_() for k, v in data.items() if k != "y"}

    out, h_n, c_n = _run_torch(layer, data, model)
    logits = out @ leaves["V"].T + leaves["c"]
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, K), data["y"].reshape(-1), reduction="sum")
    loss.backward()

    params = from_torch(layer.state_dict()) | {"V": data["V"].detach().numpy(), "c": data["c"].detach().numpy()}
    x, h0, c0, y = (data[k].detach().numpy() for k in ("x", "h0", "c0", "y"))
    states = {"h0": h0, "s0": c0} if model == "lstm" else {"h0": h0}
    ftol, gtol = forward_tolerance(), grad_tolerance()

    result = generated.forward(params, x, **states)
    assert_close("h", result[0], out.detach().numpy(), ftol)
    assert_close("o", result[-1], logits.detach().numpy(), ftol)
    if model == "lstm":
        assert_close("s[-1]", result[1][-1], c_n.detach().numpy(), ftol)

    our_loss, grads = generated.loss_and_grads(params, x, y, **states)
    assert_close("loss", np.array(our_loss), loss.detach().numpy(), gtol)

    # torch's gradients in our layout, with the same conversion.  A merged bias b = b_ih + b_hh
    # has the gradient of either part (they are equal), so bias_hh's gradient is passed as zeros;
    # the GRU's b_h (inside the reset gate) is the n block of bias_hh's gradient.
    g = {name: p.grad.numpy() for name, p in layer.named_parameters()}
    n_block = slice(2 * N, 3 * N)
    shared = slice(0, 4 * N) if model == "lstm" else slice(0, 2 * N)
    assert_close("grad bias_ih vs bias_hh", g["bias_ih_l0"][shared], g["bias_hh_l0"][shared], gtol)
    hidden = np.zeros_like(g["bias_hh_l0"])
    if model == "gru":
        hidden[n_block] = g["bias_hh_l0"][n_block]
    expected = from_torch({"weight_ih_l0": g["weight_ih_l0"], "weight_hh_l0": g["weight_hh_l0"],
                           "bias_ih_l0": g["bias_ih_l0"], "bias_hh_l0": hidden})
    expected |= {"V": leaves["V"].grad, "c": leaves["c"].grad, "h0": leaves["h0"].grad, "x": leaves["x"].grad}
    if model == "lstm":
        expected["s0"] = leaves["c0"].grad
    assert sorted(grads) == sorted(expected)
    for name, value in expected.items():
        assert_close(f"grad {name}", grads[name], np.asarray(value), gtol)
