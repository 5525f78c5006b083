"""What ``loss_and_grads`` may return: the one definition of an acceptable answer.

``verify`` sends a user's function float64 data and accepts only ``(loss, grads)``
with the loss a real scalar of that precision and ``grads`` a dict of NumPy arrays
with exactly the expected keys, dtype and shapes, all finite
(:func:`check_output`).  Anything else is refused with a
:class:`~derive.errors.UserCodeError` naming the key, what was expected and what
came.  :mod:`numeric.sandbox` applies it in the child that runs the user's code
and again in the verifier's process, to what the child sent.
"""
from __future__ import annotations

import math

import numpy as np

from derive.errors import UserCodeError


def _describe(value) -> str:
    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        kind = f"{type(value).__module__}.{type(value).__qualname__}"
        return f"a {kind} of dtype {value.dtype} and shape {value.shape}"
    if isinstance(value, str):
        return f"the str {value[:40]!r}"
    kind = type(value).__qualname__ if type(value).__module__ == "builtins" else \
        f"{type(value).__module__}.{type(value).__qualname__}"
    if isinstance(value, (int, float, complex, np.generic)):
        return f"the {kind} {value!r:.60}"
    return f"a {kind}"


def _check_loss(loss, dtype: np.dtype) -> float:
    if isinstance(loss, np.ndarray):
        if loss.shape == (1,):
            raise UserCodeError(f"loss: expected a scalar, got a 1-element array of shape (1,); return a float "
                                f"or a 0-d array, e.g. float(loss[0]) or loss.sum()")
        if loss.ndim != 0 or type(loss) is not np.ndarray:
            raise UserCodeError(f"loss: expected a scalar (a float or a 0-d {dtype} array), "
                                f"got {_describe(loss)}")
        value = loss[()]
    elif type(loss) is float or isinstance(loss, np.generic):
        value = loss
    else:
        hint = "; did loss_and_grads forget to return it?" if loss is None else ""
        raise UserCodeError(f"loss: expected a float (a Python float or a 0-d {dtype} array), "
                            f"got {_describe(loss)}{hint}")
    if type(value) is not float and np.asarray(value).dtype != dtype:
        why = (" (a loss is real)" if np.iscomplexobj(value) else
               f" (the data given is {dtype})" if np.issubdtype(np.asarray(value).dtype, np.floating) else "")
        raise UserCodeError(f"loss: expected a {dtype} value, got {_describe(value)}{why}")
    value = float(value)
    if not math.isfinite(value):
        raise UserCodeError(f"loss is not finite: {value}")
    return value


def _check_gradient(key, value, shape: tuple, dtype: np.dtype) -> np.ndarray:
    if type(value) is not np.ndarray:
        hint = " (convert it with np.asarray)" if isinstance(value, (list, tuple)) else ""
        raise UserCodeError(f"grads[{key!r}]: expected a numpy.ndarray of dtype {dtype} and shape {shape}, "
                            f"got {_describe(value)}{hint}")
    if value.dtype != dtype:
        why = (" (the loss is real, so is its gradient)" if np.iscomplexobj(value) else
               f" (the data given is {dtype}: compute in {dtype})" if np.issubdtype(value.dtype, np.floating)
               else "")
        raise UserCodeError(f"grads[{key!r}]: expected dtype {dtype}, got {value.dtype}{why}")
    if value.shape != shape:
        raise UserCodeError(f"grads[{key!r}]: expected shape {shape}, got {value.shape}")
    finite = np.isfinite(value)
    if not finite.all():
        bad = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise UserCodeError(f"grads[{key!r}]: non-finite value {value[bad]} at index {bad}")
    return value


def check_output(out, expected: dict, dtype) -> tuple:
    """``(loss, grads)`` as a float and a dict of arrays, or :class:`UserCodeError`.

    Accepted: a tuple of two; the loss a Python float, a NumPy scalar or 0-d array
    of ``dtype`` (never complex, a string, None or a 1-element array), finite;
    grads a dict with exactly the keys of ``expected`` (``key -> shape``), each
    value a ``numpy.ndarray`` of ``dtype`` and exactly that shape, finite."""
    dtype = np.dtype(dtype)
    if type(out) is not tuple or len(out) != 2:
        size = f" of length {len(out)}" if isinstance(out, (tuple, list)) else ""
        raise UserCodeError(f"loss_and_grads must return a tuple (loss, grads); got {_describe(out)}{size}")
    loss, grads = out
    if not isinstance(grads, dict):
        hint = " (did it return (grads, loss)?)" if isinstance(loss, dict) else ""
        raise UserCodeError(f"loss_and_grads must return (loss, grads) with grads a dict; its second item is "
                            f"{_describe(grads)}{hint}")
    value = _check_loss(loss, dtype)
    missing = [k for k in expected if k not in grads]
    extra = [k for k in grads if k not in expected]
    if missing or extra:
        parts = ([f"missing key(s) {missing}"] if missing else []) + \
                ([f"extra key(s) {sorted(extra, key=repr)}"] if extra else [])
        raise UserCodeError(f"grads: {'; '.join(parts)}; expected exactly the keys {list(expected)}")
    return value, {k: _check_gradient(k, grads[k], tuple(shape), dtype) for k, shape in expected.items()}
