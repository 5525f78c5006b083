"""Our LSTM and GRU parameter dicts <-> PyTorch's single-layer nn.LSTM / nn.GRU layout.

Plain NumPy: nothing here imports torch.  A PyTorch layer keeps all its gates in
four arrays (n hidden units, m inputs), the gates stacked block by block, n rows each:

    weight_ih_l0  (G*n, m)   input weights of every gate
    weight_hh_l0  (G*n, n)   recurrent weights of every gate
    bias_ih_l0    (G*n,)     a first bias of every gate
    bias_hh_l0    (G*n,)     a second bias of every gate

Gate order, block by block (block k is rows k*n .. (k+1)*n - 1):

    model  G  block 0           block 1           block 2             block 3
    lstm   4  i  = U_g W_g b_g  f = U_f W_f b_f   g = U   W   b       o = U_o W_o b_o
    gru    3  r  = U_r W_r b_r  z = U_z W_z b_z   n = U   W   b, b_h

Torch's LSTM letters: i input gate (our g), f forget gate (f), g new content (our a,
weights U W b), o output gate (our q, weights U_o W_o b_o); its cell state c is our s.

Biases.  PyTorch adds two biases where our equations have one.  For every LSTM gate
and for the GRU's r and z gates, both biases are added to the same sum, so our bias is
their sum: b_g = bias_ih[i] + bias_hh[i] and so on.  The GRU's candidate keeps them
apart, because PyTorch's hidden bias sits inside the reset gate,
h_tilde = tanh(b + U x + r * (W h_prev + b_h)): b = bias_ih[n], b_h = bias_hh[n].
Going back, *_to_torch puts each merged bias in bias_ih_l0 and zeros in bias_hh_l0
(the GRU's b_h goes to the n block of bias_hh_l0).  So from(to(params)) == params
exactly, and to(from(weights)) equals weights up to that merge.

Input.  *_from_torch takes a dict with the four keys above, or only the two weight
keys (a layer built with bias=False; the biases are then zeros).  Values are NumPy
arrays or anything with ``.detach().cpu().numpy()`` (a torch tensor, e.g. from
``layer.state_dict()``).  *_to_torch takes our params dict; the output head V, c, if
present, is ignored.  The result holds NumPy arrays; load it with
``layer.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})``
(for a layer built with bias=False, leave out the two bias keys).
Outputs never share memory with inputs and keep their dtype (float32 or float64).
Anything else (a missing or unknown key, a wrong shape, an integer or mixed dtype)
raises ValueError naming the key and the expected shape; nothing is coerced or
broadcast.  Only one layer, one direction, no projection (proj_size=0).
The model 'gru_cho' (reset gate applied before W) has no PyTorch layout.
"""
from __future__ import annotations

import numpy as np

__all__ = ["lstm_from_torch", "lstm_to_torch", "gru_from_torch", "gru_to_torch"]

WEIGHTS = ("weight_ih_l0", "weight_hh_l0")
BIASES = ("bias_ih_l0", "bias_hh_l0")
HEAD = ("V", "c")  # our output head: not part of a PyTorch recurrent layer

# (input weights, recurrent weights, bias) of each gate, in PyTorch's block order.
LSTM_GATES = (("U_g", "W_g", "b_g"), ("U_f", "W_f", "b_f"), ("U", "W", "b"), ("U_o", "W_o", "b_o"))
GRU_GATES = (("U_r", "W_r", "b_r"), ("U_z", "W_z", "b_z"), ("U", "W", "b"))


def lstm_from_torch(weights) -> dict:
    """nn.LSTM weights (gate order i, f, g, o) -> our params U_g, W_g, b_g, U_f, ..., b_o.

    Each bias is bias_ih + bias_hh of its gate.  V and c are not produced.
    """
    w_ih, w_hh, b_ih, b_hh, n = _read_torch(weights, 4, "i, f, g, o")
    return _split(w_ih, w_hh, b_ih + b_hh, n, LSTM_GATES)


def lstm_to_torch(params) -> dict:
    """Our LSTM params -> nn.LSTM weights: merged biases in bias_ih_l0, zeros in bias_hh_l0."""
    p = _read_params(params, LSTM_GATES, ())
    b = np.concatenate([p[bias] for _, _, bias in LSTM_GATES])
    return _join(p, LSTM_GATES, b, np.zeros_like(b))


def gru_from_torch(weights) -> dict:
    """nn.GRU weights (gate order r, z, n) -> our params U_r, W_r, b_r, U_z, ..., b, b_h.

    b_r and b_z are bias_ih + bias_hh of their gate; b = bias_ih[n], b_h = bias_hh[n].
    """
    w_ih, w_hh, b_ih, b_hh, n = _read_torch(weights, 3, "r, z, n")
    merged = np.concatenate([b_ih[:2 * n] + b_hh[:2 * n], b_ih[2 * n:]])
    params = _split(w_ih, w_hh, merged, n, GRU_GATES)
    params["b_h"] = b_hh[2 * n:].copy()
    return params


def gru_to_torch(params) -> dict:
    """Our GRU params -> nn.GRU weights: bias_ih_l0 = [b_r; b_z; b], bias_hh_l0 = [0; 0; b_h]."""
    p = _read_params(params, GRU_GATES, ("b_h",))
    b_ih = np.concatenate([p[bias] for _, _, bias in GRU_GATES])
    b_hh = np.concatenate([np.zeros_like(p["b_r"]), np.zeros_like(p["b_z"]), p["b_h"]])
    return _join(p, GRU_GATES, b_ih, b_hh)


# -- helpers ----------------------------------------------------------------------------
def _split(w_ih, w_hh, b, n, gates):
    """Cut the stacked arrays into per-gate blocks of n rows (copies, not views)."""
    params = {}
    for k, (u, w, bias) in enumerate(gates):
        rows = slice(k * n, (k + 1) * n)
        params[u] = w_ih[rows].copy()
        params[w] = w_hh[rows].copy()
        params[bias] = b[rows].copy()
    return params


def _join(p, gates, b_ih, b_hh):
    return {
        "weight_ih_l0": np.concatenate([p[u] for u, _, _ in gates]),
        "weight_hh_l0": np.concatenate([p[w] for _, w, _ in gates]),
        "bias_ih_l0": b_ih,
        "bias_hh_l0": b_hh,
    }


def _as_array(name, value):
    """A NumPy array, or a tensor-like value turned into one with .detach().cpu().numpy()."""
    if not isinstance(value, np.ndarray) and hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    if not isinstance(value, np.ndarray):
        raise ValueError(f"{name}: expected a numpy array (or a torch tensor), got {type(value).__name__}")
    if value.dtype not in (np.float32, np.float64):
        raise ValueError(f"{name}: expected dtype float32 or float64, got {value.dtype}")
    return value


def _same_dtype(arrays):
    first = next(iter(arrays))
    for name, value in arrays.items():
        if value.dtype != arrays[first].dtype:
            raise ValueError(f"{name}: dtype {value.dtype} does not match {first} ({arrays[first].dtype}); "
                             f"all arrays must share one dtype")


def _check_shape(name, value, expected, text):
    if value.shape != expected:
        raise ValueError(f"{name}: expected shape {text}, got {value.shape}")


def _read_torch(weights, G, order):
    """Validate a PyTorch weights dict; returns (w_ih, w_hh, b_ih, b_hh, n)."""
    keys = WEIGHTS + BIASES
    if not isinstance(weights, dict):
        raise ValueError(f"weights: expected a dict with keys {list(keys)}, got {type(weights).__name__}")
    for key in weights:
        if key not in keys:
            raise ValueError(f"weights[{key!r}]: unknown key; expected {list(keys)} "
                             f"(one layer, one direction, no projection)")
    required = WEIGHTS + (BIASES if any(k in weights for k in BIASES) else ())
    for key in required:
        if key not in weights:
            pairs = "; biases come in pairs or not at all" if key in BIASES else ""
            raise ValueError(f"weights[{key!r}]: missing key (expected shape {_torch_shape(key, G)}{pairs})")
    a = {f"weights[{k!r}]": _as_array(f"weights[{k!r}]", weights[k]) for k in required}
    _same_dtype(a)
    w_ih, w_hh = a["weights['weight_ih_l0']"], a["weights['weight_hh_l0']"]

    rows = w_ih.shape[0] if w_ih.ndim == 2 else 0
    if w_ih.ndim != 2 or rows == 0 or rows % G or w_ih.shape[1] == 0:
        raise ValueError(f"weights['weight_ih_l0']: expected shape {_torch_shape('weight_ih_l0', G)} "
                         f"(gates {order}, n >= 1, m >= 1), got {w_ih.shape}")
    n = rows // G
    _check_shape("weights['weight_hh_l0']", w_hh, (G * n, n), f"({G}*n={G * n}, n={n})")
    if len(required) == 2:
        b_ih = b_hh = np.zeros(G * n, dtype=w_ih.dtype)
    else:
        b_ih, b_hh = a["weights['bias_ih_l0']"], a["weights['bias_hh_l0']"]
        for key, value in zip(BIASES, (b_ih, b_hh)):
            _check_shape(f"weights[{key!r}]", value, (G * n,), f"({G}*n={G * n},)")
    return w_ih, w_hh, b_ih, b_hh, n


def _torch_shape(key, G):
    return {"weight_ih_l0": f"({G}*n, m)", "weight_hh_l0": f"({G}*n, n)"}.get(key, f"({G}*n,)")


def _read_params(params, gates, extra):
    """Validate our params dict (V, c allowed and ignored); returns the arrays by name."""
    dims = {}
    for u, w, b in gates:
        dims.update({u: ("n", "m"), w: ("n", "n"), b: ("n",)})
    dims.update({name: ("n",) for name in extra})
    if not isinstance(params, dict):
        raise ValueError(f"params: expected a dict with keys {list(dims)}, got {type(params).__name__}")
    for key in params:
        if key not in dims and key not in HEAD:
            raise ValueError(f"params[{key!r}]: unknown key; expected {list(dims)} (and optionally V, c)")
    for key, d in dims.items():
        if key not in params:
            raise ValueError(f"params[{key!r}]: missing key (expected shape {_dims_text(d)})")
    p = {key: _as_array(f"params[{key!r}]", params[key]) for key in dims}
    _same_dtype({f"params[{k!r}]": v for k, v in p.items()})

    first = gates[0][0]
    if p[first].ndim != 2 or 0 in p[first].shape:
        raise ValueError(f"params[{first!r}]: expected shape (n, m) with n, m >= 1, got {p[first].shape}")
    sizes = dict(zip("nm", p[first].shape))
    for key, d in dims.items():
        _check_shape(f"params[{key!r}]", p[key], tuple(sizes[s] for s in d), _dims_text(d, sizes))
    return p


def _dims_text(dims, sizes=None):
    """('n', 'm') -> '(n, m)', or '(n=3, m=2)' with sizes; a 1-tuple keeps its comma."""
    parts = [f"{d}={sizes[d]}" if sizes else d for d in dims]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"
