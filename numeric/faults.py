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


FAULTS = {
    "rnn": (
        Fault("sign-flip", "dL/do with its sign flipped (y - yhat)",
              "dL_do = rt.minus_one_hot(softmax_o, y)", "dL_do = -rt.minus_one_hot(softmax_o, y)", ("V", "c")),
        Fault("transposed-weight", "W^T where W belongs in the carried adjoint",
              "dL_dh_carry = dL_da[t] @ W\n", "dL_dh_carry = dL_da[t] @ W.T\n", ("W", "h0")),
        Fault("dropped-recurrent-term", "the adjoint from step t+1 dropped",
              "dL_dh = dL_dh_carry + dL_dh_direct[t]", "dL_dh = dL_dh_direct[t]", ("W", "U")),
        Fault("dropped-output-term", "the adjoint from the step's own output dropped",
              "dL_dh = dL_dh_carry + dL_dh_direct[t]", "dL_dh = dL_dh_carry + 0 * dL_dh_direct[t]", ("U", "b")),
        Fault("shifted-time-index", "h(t) where h(t-1) belongs in dL/dW",
              "rt.sum_outer(dL_da, h_prev)", "rt.sum_outer(dL_da, h)", ("W",)),
        Fault("sigmoid-derivative", "tanh' replaced by sigmoid' written in the output, h (1 - h)",
              "(1 - h[t]**2)", "(h[t] * (1 - h[t]))", ("U", "b")),
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
    ),
}


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
