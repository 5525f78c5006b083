"""Shared, model-independent helpers of the generated modules (``numeric/generated``).

Nothing here knows a gradient formula: these are input validation, the
numerically stable forms of softmax and log-sum-exp (a named rewrite the
printer applies), labels by index, parameter initialisation and the
batched-over-time matrix products the printer emits.  Generated modules import
this module (``from numeric import runtime as rt``) and nothing else of the project.
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "FLOATS", "logsumexp", "softmax", "logsumexp_softmax", "sigmoid", "pick", "minus_one_hot",
    "one_hot", "matmul", "split", "split_like", "split_rows", "sum_outer", "sum_rows", "previous",
    "init_params", "check_params", "check_array", "check_state", "check_labels",
]

FLOATS = (np.float32, np.float64)


# -- stable forms ---------------------------------------------------------------------
def logsumexp(v):
    """log(sum(exp(v))) over the last axis, keepdims, shifted by the max for stability."""
    top = v.max(axis=-1, keepdims=True)
    return top + np.log(np.exp(v - top).sum(axis=-1, keepdims=True))


def softmax(v):
    """exp(v) / sum(exp(v)) over the last axis, shifted by the max for stability."""
    e = np.exp(v - v.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def logsumexp_softmax(v):
    """(logsumexp(v), softmax(v)) over the last axis from one exp pass, max-shifted."""
    top = v.max(axis=-1, keepdims=True)
    e = np.subtract(v, top)
    np.exp(e, out=e)
    total = e.sum(axis=-1, keepdims=True)
    e /= total
    return top + np.log(total), e


def sigmoid(z, out=None):
    """1 / (1 + exp(-z)), computed as (1 + tanh(z/2)) / 2: the same function, no overflow.
    With ``out``, written there (no temporaries)."""
    out = np.multiply(z, 0.5, out=out)
    np.tanh(out, out=out)
    out += 1.0
    out *= 0.5
    return out


def pick(v, y):
    """y^T v for one-hot y given as integer labels y (tau, B): v[..., y], keepdims."""
    return np.take_along_axis(v, y[..., None], axis=-1)


def minus_one_hot(v, y, *, in_place=False):
    """v - onehot(y) without building the one-hot array: a copy of v, or v itself
    overwritten when ``in_place`` (the printer passes it when v has no other use)."""
    out = v if in_place else v.copy()
    index = y[..., None]
    np.put_along_axis(out, index, np.take_along_axis(out, index, axis=-1) - 1, axis=-1)
    return out


def one_hot(y, K, dtype):
    """Integer labels (tau, B) -> one-hot (tau, B, K)."""
    out = np.zeros(y.shape + (K,), dtype=dtype)
    np.put_along_axis(out, y[..., None], 1, axis=-1)
    return out


def matmul(a, M):
    """a @ M for a stack a (tau, B, r) of row batches: one matrix product over all steps."""
    return (a.reshape(-1, a.shape[-1]) @ M).reshape(a.shape[:-1] + (M.shape[-1],))


def split(a, *sizes, axis=-1):
    """Views of ``a`` split along ``axis`` into consecutive blocks of ``sizes`` entries
    (the inverse of stacking: ``[a_1; a_2; ...]`` back into ``a_1, a_2, ...``)."""
    index = [slice(None)] * a.ndim
    out, start = [], 0
    for k in sizes:
        index[axis] = slice(start, start + k)
        out.append(a[tuple(index)])
        start += k
    return out


def split_like(a, *mats):
    """Views of ``a`` split along its last axis into blocks of ``M.shape[0]`` columns,
    one per matrix in ``mats`` (modules generated before :func:`split` use it)."""
    edges = np.cumsum([M.shape[0] for M in mats])[:-1]
    return np.split(a, edges, axis=-1)


def split_rows(a, *mats):
    """``a`` split into row blocks of ``M.shape[0]`` rows, one per matrix in ``mats``
    (modules generated before :func:`split` use it)."""
    edges = np.cumsum([M.shape[0] for M in mats])[:-1]
    return np.split(a, edges, axis=0)


def sum_outer(g, v):
    """sum over all time steps and examples of the outer product g v^T:
    one matrix product of the (steps*batch, r) and (steps*batch, c) stacks."""
    return g.reshape(-1, g.shape[-1]).T @ v.reshape(-1, v.shape[-1])


def sum_rows(g):
    """sum over all time steps and examples (a bias gradient)."""
    return g.reshape(-1, g.shape[-1]).sum(axis=0)


def previous(h, h0):
    """The states h(t-1) for t = 1..tau: h0 followed by h(1..tau-1)."""
    return np.concatenate([h0[None], h[:-1]])


# -- initialisation ---------------------------------------------------------------------
def init_params(shapes: dict, schemes: dict, sizes: dict, *, seed: int, dtype) -> dict:
    """Parameters drawn from a local Generator(seed), in the order of ``shapes``.

    glorot: uniform(-s, s) with s = sqrt(6 / (fan_in + fan_out)); zeros; ones;
    identity (square recurrent matrices); orthogonal.
    """
    dtype = np.dtype(dtype)
    if dtype.type not in FLOATS:
        raise ValueError(f"dtype: expected float32 or float64, got {dtype}")
    for k, v in sizes.items():
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{k}: expected a positive integer, got {v!r}")
    rng = np.random.default_rng(seed)
    out = {}
    for name, dims in shapes.items():
        shape = tuple(sizes[d] for d in dims)
        scheme = schemes.get(name, "glorot")
        if scheme == "zeros":
            value = np.zeros(shape)
        elif scheme == "ones":
            value = np.ones(shape)
        elif scheme == "identity":
            value = np.eye(*shape)
        elif scheme == "timescales":
            # per-unit time constants spread geometrically over [1, 100]: unit 0 is an
            # ordinary unit (alpha = 1), the last integrates over about 100 steps
            k = shape[0]
            value = np.geomspace(1.0, 100.0, k) if k > 1 else np.ones(1)
            value = value.reshape(shape)
        elif scheme == "orthogonal":
            q, r = np.linalg.qr(rng.standard_normal(shape))
            value = q * np.sign(np.diag(r))
        elif scheme == "glorot":
            fan_out, fan_in = (shape + (1,))[:2] if len(shape) == 2 else (shape[0], 1)
            s = np.sqrt(6.0 / (fan_in + fan_out))
            value = rng.uniform(-s, s, size=shape)
        else:
            raise ValueError(f"unknown initialiser {scheme!r} for {name}")
        out[name] = value.astype(dtype)
    return out


# -- validation -------------------------------------------------------------------------
def _array(name, value):
    if not isinstance(value, np.ndarray):
        raise ValueError(f"{name}: expected a numpy array, got {type(value).__name__}")
    return value


def _shape_text(dims, sizes):
    return "(" + ", ".join(f"{d}={sizes[d]}" if d in sizes else str(d) for d in dims) + \
        ("," if len(dims) == 1 else "") + ")"


def _bind(name, value, dims, sizes):
    """Check ``value.shape`` against symbolic ``dims``, binding unknown sizes."""
    if value.ndim != len(dims):
        raise ValueError(f"{name}: expected shape {_shape_text(dims, sizes)}, got {value.shape}")
    for d, k in zip(dims, value.shape):
        if k == 0:
            raise ValueError(f"{name}: expected shape {_shape_text(dims, sizes)} with every size >= 1, "
                             f"got {value.shape}")
        if isinstance(d, int):
            ok = d == k
        else:
            ok = sizes.setdefault(d, k) == k
        if not ok:
            raise ValueError(f"{name}: expected shape {_shape_text(dims, sizes)}, got {value.shape}")


def _finite(name, value):
    if not np.all(np.isfinite(value)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(value))[0])
        raise ValueError(f"{name}: non-finite value {value[bad]} at index {bad}")


def check_params(params, shapes: dict, domains: dict = None):
    """Validate the params dict; returns (arrays in the order of ``shapes``, sizes, dtype).
    ``domains`` maps a parameter to the (low, high or None) interval the model is defined on."""
    if not isinstance(params, dict):
        raise ValueError(f"params: expected a dict with keys {list(shapes)}, got {type(params).__name__}")
    missing = [k for k in shapes if k not in params]
    unknown = [k for k in params if k not in shapes]
    if missing or unknown:
        raise ValueError(f"params: expected keys {list(shapes)}; missing {missing}, unknown {unknown}")
    sizes, arrays, dtype = {}, [], None
    for name, dims in shapes.items():
        value = _array(f"params[{name!r}]", params[name])
        if value.dtype.type not in FLOATS:
            raise ValueError(f"params[{name!r}]: expected dtype float32 or float64, got {value.dtype}")
        if dtype is None:
            dtype = value.dtype
        elif value.dtype != dtype:
            raise ValueError(f"params[{name!r}]: dtype {value.dtype} does not match params[{next(iter(shapes))!r}] "
                             f"({dtype}); all arrays must share one dtype")
        _bind(f"params[{name!r}]", value, dims, sizes)
        _finite(f"params[{name!r}]", value)
        low, high = (domains or {}).get(name, (None, None))
        outside = ((value < low) if low is not None else False) | ((value > high) if high is not None else False)
        if np.any(outside):
            bad = tuple(int(i) for i in np.argwhere(outside)[0])
            bounds = " and ".join(t for t in (f">= {low}" if low is not None else "",
                                              f"<= {high}" if high is not None else "") if t)
            raise ValueError(f"params[{name!r}]: expected values {bounds}, got {value[bad]} at index {bad}")
        arrays.append(value)
    return arrays, sizes, dtype


def check_array(name, value, dims, sizes, dtype):
    """Validate one data array against ``dims`` (binding 'tau' and 'B'), dtype and finiteness."""
    value = _array(name, value)
    if value.dtype != dtype:
        raise ValueError(f"{name}: dtype {value.dtype} does not match the params' dtype {dtype}")
    _bind(name, value, dims, sizes)
    _finite(name, value)
    return value


def check_state(name, value, dims, sizes, dtype):
    """An optional initial state: zeros (B, ...) when None."""
    if value is None:
        return np.zeros(tuple(sizes[d] for d in dims), dtype=dtype)
    return check_array(name, value, dims, sizes, dtype)


def check_labels(name, y, K, sizes):
    """Integer labels of shape (tau, B) in [0, K)."""
    y = _array(name, y)
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{name}: expected integer labels, got dtype {y.dtype}")
    _bind(name, y, ("tau", "B"), sizes)
    if y.size and (y.min() < 0 or y.max() >= K):
        bad = tuple(int(i) for i in np.argwhere((y < 0) | (y >= K))[0])
        raise ValueError(f"{name}: label {y[bad]} at index {bad} is out of range [0, K={K})")
    return y
