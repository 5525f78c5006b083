"""Faults injected into copies of generated modules, to show the checks can fail.

Each fault is a one-place text edit of ``numeric/generated/<model>.py`` and
the gradients it must be caught on.  ``inject`` refuses an edit that does not
apply exactly once, so the table cannot silently go stale when the printer
changes.
"""
from __future__ import annotations

import importlib.util
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

GENERATED = Path(__file__).resolve().parent / "generated"


@dataclass(frozen=True)
class Fault:
    id: str
    description: str
    old: str
    new: str
    caught_on: tuple          # gradients whose check must fail


_RNN_FAULTS = (
    Fault("sign-flip", "dL/do with its sign flipped (y - yhat)",
          "dL_do = rt.minus_one_hot(softmax_o, y, in_place=True)", "dL_do = -rt.minus_one_hot(softmax_o, y, in_place=True)", ("V", "c")),
    Fault("transposed-weight", "W^T where W belongs in the carried adjoint",
          "dL_dh_carry = dL_da[t] @ W\n", "dL_dh_carry = dL_da[t] @ W.T\n", ("W", "h0")),
    Fault("dropped-recurrent-term", "the adjoint from step t+1 dropped",
          "dL_dh = dL_dh_carry + dL_dh_direct[t]", "dL_dh = dL_dh_direct[t]", ("W", "U")),
    Fault("dropped-output-term", "the adjoint from the step's own output dropped",
          "dL_dh = dL_dh_carry + dL_dh_direct[t]", "dL_dh = dL_dh_carry + 0 * dL_dh_direct[t]", ("U", "b")),
    Fault("shifted-time-index", "h(t) where h(t-1) belongs in dL/dW",
          "rt.sum_outer(dL_da, h_prev)", "rt.sum_outer(dL_da, h)", ("W",)),
    Fault("sigmoid-derivative", "tanh' replaced by sigmoid' written in the output, h (1 - h)",
          "dh_da = 1 - h**2", "dh_da = h * (1 - h)", ("U", "b")),
    Fault("missing-bias-gradient", "dL/db left at zero",
          "grads['b'] = rt.sum_rows(dL_da_in)", "grads['b'] = np.zeros_like(b)", ("b",)),
    Fault("scaled-gradient", "dL/dU scaled by 1.001",
          "grads['U'] = rt.sum_outer(dL_da_in, x)", "grads['U'] = 1.001 * rt.sum_outer(dL_da_in, x)", ("U",)),
    Fault("last-step-only", "dL/dc summed over the last step only",
          "grads['c'] = rt.sum_rows(dL_do)", "grads['c'] = rt.sum_rows(dL_do[-1:])", ("c",)),
    Fault("no-initial-state-gradient", "dL/dh0 not propagated",
          "grads['h0'] = dL_dh_carry", "grads['h0'] = np.zeros_like(h0)", ("h0",)),
    Fault("forward-time-order", "the backward loop run forwards in time",
          "for t in reversed(range(x.shape[0])):", "for t in range(x.shape[0]):", ("W",)),
    Fault("wrong-output-state", "dL/dV paired with h(t-1) instead of h(t)",
          "grads['V'] = rt.sum_outer(dL_do, h)", "grads['V'] = rt.sum_outer(dL_do, h_prev)", ("V",)),
    Fault("input-gradient-weight", "dL/dx through U^T replaced by a scaled copy",
          "grads['x'] = rt.matmul(dL_da_in, U)", "grads['x'] = 0.999 * rt.matmul(dL_da_in, U)", ("x",)),
)
#: the vanilla-RNN faults by id; the ReLU, linear and leaky modules print the same text
#: for these lines, so they reuse them
_RNN = {f.id: f for f in _RNN_FAULTS}

FAULTS = {
    "rnn": _RNN_FAULTS,
    "rnn_relu": (
        _RNN["sign-flip"],
        Fault("tanh-derivative", "ReLU' replaced by tanh' written in the output, 1 - h^2",
              "dh_da = np.heaviside(a, 1/2)", "dh_da = 1 - h**2", ("W", "b")),
        Fault("leaky-relu-derivative", "ReLU' with slope 0.01 for negative inputs",
              "dh_da = np.heaviside(a, 1/2)", "dh_da = np.where(a > 0, 1.0, 0.01)", ("W", "b")),
        _RNN["transposed-weight"],
        _RNN["shifted-time-index"],
        _RNN["scaled-gradient"],
    ),
    "rnn_linear": (
        _RNN["sign-flip"],
        _RNN["transposed-weight"],
        _RNN["dropped-recurrent-term"],
        Fault("tanh-derivative", "a tanh' factor where the identity has derivative 1",
              "dL_da[t] = dL_dh\n", "dL_da[t] = dL_dh * (1 - h[t]**2)\n", ("W", "b")),
        _RNN["shifted-time-index"],
        _RNN["missing-bias-gradient"],
    ),
    "rnn_sigmoid": (
        _RNN["sign-flip"],
        Fault("tanh-derivative", "sigmoid' replaced by tanh' written in the output, 1 - h^2",
              "dh_da = h*(1 - h)", "dh_da = 1 - h**2", ("W", "b")),
        _RNN["transposed-weight"],
        _RNN["dropped-recurrent-term"],
        _RNN["shifted-time-index"],
        _RNN["missing-bias-gradient"],
    ),
    "skip": (
        _RNN["sign-flip"],
        _RNN["dropped-recurrent-term"],
        _RNN["shifted-time-index"],
        _RNN["sigmoid-derivative"],
        Fault("dropped-skip-path", "the adjoint through the delay line h(t-1) -> lag2(t) dropped",
              "dL_dh_carry = dL_da[t] @ W + dL_dlag2", "dL_dh_carry = dL_da[t] @ W", ("W_skip", "h0")),
        Fault("transposed-skip-weight", "W_skip^T where W_skip belongs in the carried adjoint",
              "dL_dlag2_carry = dL_da[t] @ W_skip\n", "dL_dlag2_carry = dL_da[t] @ W_skip.T\n", ("W_skip", "lag20")),
    ),
    "leaky": (
        _RNN["sign-flip"],
        Fault("missing-inverse-alpha", "the 1/alpha factor on the tanh path dropped",
              "dh_da = (alpha**(-1.0)) * (1 - tanh_a**2)", "dh_da = (1 - tanh_a**2)", ("W", "U")),
        Fault("wrong-leak-term", "the leak path carried with 1/alpha instead of 1 - 1/alpha",
              "(1 - 1/alpha) * dL_dh[t]", "(1/alpha) * dL_dh[t]", ("W", "h0")),
        Fault("alpha-gradient-sign", "dL/dalpha with the h(t-1) term's sign flipped",
              "+ (alpha**(-2.0)) * dL_dh * h_prev)", "- (alpha**(-2.0)) * dL_dh * h_prev)", ("alpha",)),
        Fault("alpha-gradient-power", "1/alpha where 1/alpha^2 belongs in dL/dalpha",
              "(-1/alpha**2) * dL_dh * tanh_a", "(-1/alpha) * dL_dh * tanh_a", ("alpha",)),
        Fault("transposed-weight", "W^T where W belongs in the carried adjoint",
              "dL_dh_carry = dL_da[t] @ W + ", "dL_dh_carry = dL_da[t] @ W.T + ", ("W", "h0")),
        _RNN["shifted-time-index"],
    ),
    "lstm": (
        Fault("swapped-gates", "the input and forget gates' adjoints swapped in the stacked array",
              "dL_da_g, dL_da_f, dL_da, dL_da_q = rt.split_like(", "dL_da_f, dL_da_g, dL_da, dL_da_q = rt.split_like(",
              ("W_g", "W_f", "U_g", "U_f")),
        Fault("dropped-forget-path", "the memory path s(t-1) -> s(t) through f dropped from the carry",
              "dL_ds_carry = dL_ds * f[t]", "dL_ds_carry = 0 * dL_ds", ("s0", "W_f")),
        Fault("tanh-derivative-of-memory", "tanh'(s) written as 1 - tanh(s)",
              "dh_ds = (1 - tanh_s**2) * q", "dh_ds = (1 - tanh_s) * q", ("W_f", "U")),
        Fault("input-gate-uses-forget-gate", "sigmoid'(a_g) computed from f instead of g",
              "ds_da_g = tanh_a * (g*(1 - g))", "ds_da_g = tanh_a * (f*(1 - f))", ("W_g", "b_g")),
        Fault("shifted-time-index", "s(t) where s(t-1) belongs in dL/df",
              "ds_da_f = s_prev * (f*(1 - f))", "ds_da_f = s * (f*(1 - f))", ("W_f", "b_f")),
        Fault("output-gate-sign", "dL/dq with its sign flipped",
              "np.multiply(dL_dh, dh_da_q[t], out=dL_da_q[t])", "np.multiply(-dL_dh, dh_da_q[t], out=dL_da_q[t])", ("W_o", "b_o")),
        Fault("scaled-input-gradient", "dL/dx scaled by 0.999",
              "grads['x'] = rt.matmul(", "grads['x'] = 0.999 * rt.matmul(", ("x",)),
    ),
    "gru": (
        Fault("cho-variant", "the reset gate's adjoint of Cho's GRU, W^T dL/da_hc ⊙ h(t-1), in the PyTorch GRU",
              "np.multiply(dL_da_hc[t], da_hc_da_r[t], out=dL_da_r[t])",
              "np.multiply((dL_da_hc[t] @ W) * h_prev[t], r[t] * (1 - r[t]), out=dL_da_r[t])", ("W_r", "b_r")),
        Fault("swapped-gates", "the reset and update gates' adjoints swapped in the stacked array",
              "dL_da_r, dL_da_z, dL_dhc_1 = rt.split_like(", "dL_da_z, dL_da_r, dL_dhc_1 = rt.split_like(",
              ("W_r", "W_z")),
        Fault("update-gate-sign", "dL/dz = (hc - h(t-1)) dL/dh instead of (h(t-1) - hc) dL/dh",
              "dL_dz = dL_dh * h_prev[t] + -(dL_dh * hc[t])", "dL_dz = dL_dh * hc[t] - dL_dh * h_prev[t]",
              ("W_z", "b_z")),
        Fault("dropped-direct-path", "the z ⊙ h(t-1) path dropped from the carried adjoint",
              "@ W_h_prev_stack + dL_dh * z[t]", "@ W_h_prev_stack", ("h0", "W")),
        Fault("reset-bias-gradient", "dL/db_h taken outside the reset gate (without r)",
              "np.multiply(dL_da_hc[t], r[t], out=dL_dhc_1[t])", "np.multiply(dL_da_hc[t], 1.0, out=dL_dhc_1[t])", ("b_h", "W")),
        Fault("shifted-time-index", "h(t) where h(t-1) belongs in dL/dW",
              "rt.sum_outer(dL_dh_prev_stack, h_prev)", "rt.sum_outer(dL_dh_prev_stack, h)", ("W_r", "W")),
    ),
    "gru_cho": (
        Fault("pytorch-variant", "the reset gate's adjoint of the PyTorch GRU, dL/da_hc ⊙ (W h(t-1)), in Cho's GRU",
              "np.multiply(dL_dhc_1, dhc_1_da_r[t], out=dL_da_r[t])",
              "np.multiply(dL_da_hc[t] * (h_prev[t] @ W.T), r[t] * (1 - r[t]), out=dL_da_r[t])", ("W_r", "b_r")),
        Fault("swapped-gates", "the reset and update gates' adjoints swapped in the stacked array",
              "dL_da_r, dL_da_z = rt.split_like(", "dL_da_z, dL_da_r = rt.split_like(", ("W_r", "W_z")),
        Fault("update-gate-sign", "dL/dz with its sign flipped",
              "dL_dz = dL_dh * h_prev[t] + -(dL_dh * hc[t])", "dL_dz = dL_dh * hc[t] - dL_dh * h_prev[t]",
              ("W_z", "b_z")),
        Fault("dropped-reset-path", "the r ⊙ W^T dL/da_hc path dropped from the carried adjoint",
              " + dL_dhc_1 * r[t]", "", ("h0",)),
        Fault("candidate-weight-pairing", "dL/dW paired with h(t-1) instead of r ⊙ h(t-1)",
              "grads['W'] = rt.sum_outer(dL_da_hc, hc_1)", "grads['W'] = rt.sum_outer(dL_da_hc, h_prev)", ("W",)),
        Fault("tanh-derivative", "tanh' of the candidate replaced by the sigmoid form hc (1 - hc)",
              "dh_da_hc = (-z + 1) * (1 - hc**2)", "dh_da_hc = (-z + 1) * (hc*(1 - hc))", ("U", "b")),
    ),
}

#: at least this many distinct faults per model (the spine's rnn has more)
MIN_FAULTS = {"rnn": 10}
DEFAULT_MIN_FAULTS = 6


def inject(model: str, fault: Fault):
    """A fresh module object: the generated ``model`` with ``fault`` applied."""
    text = (GENERATED / f"{model}.py").read_text()
    count = text.count(fault.old)
    if count != 1:
        raise ValueError(f"fault {fault.id!r}: {fault.old!r} occurs {count} times in "
                         f"numeric/generated/{model}.py (expected once); update numeric/faults.py")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{model}_{fault.id.replace('-', '_')}.py"
        path.write_text(text.replace(fault.old, fault.new))
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    sys.modules.pop(path.stem, None)
    return module
