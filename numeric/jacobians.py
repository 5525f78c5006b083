"""The one complex-step Jacobian of a model's per-step quantities.

``jacobians(model, params, x, init, wrt=..., outputs=...)`` returns, for every
step ``t`` of ``x``, the Jacobian of each requested per-step quantity (states,
equations, outputs) with respect to either the initial states or the input at
the first step, by the complex step through the spec interpreter
(:mod:`numeric.interpret`): every component of the variable is perturbed by
``i h`` in its own copy of the batch, one forward pass computes them all, and
``Im(out) / h`` is the column (no subtraction, so no cancellation; the
truncation error is ``h^2 |f'''| / 6``, about 1e-60 at ``h = 1e-30``).

Layout: numerator, ``J[t, b, i, j] = d out_i(t) / d v_j`` (rows follow the
quantity, columns the variable; several variables are stacked in the order
given).  Everything that needs a Jacobian of the unrolled forward pass uses
this function: the error model's recurrence amplification (one-step Jacobians,
:func:`step_jacobians`), the decay bounds' products ``d state(t) / d state(0)``
and the sample claims' ``jac(A[i], B[j])``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from derive.spec import Model
from numeric import interpret

__all__ = ["STEP", "Jacobians", "jacobians", "step_jacobians"]

#: The complex step: small enough that h^2 |f'''| / 6 is far below float64 rounding.
STEP = 1e-30


@dataclass(frozen=True)
class Jacobians:
    """The result of :func:`jacobians`: real per-step values and Jacobians."""

    values: dict          # name -> (tau, B, r): the unperturbed per-step values
    jacobians: dict       # name -> (tau, B, r, c): d name(t) / d (stacked variables)
    columns: tuple        # ((variable name, width), ...): how the c columns split


def _states(model: Model) -> dict:
    """initial-state name -> state size."""
    return {init: int(model.symbol(prev).shape[0]) for prev, (_, init) in model.state_names.items()}


def jacobians(model: Model, params: Mapping, x, init: Mapping | None = None, *, wrt=None,
              outputs=None, step: float = STEP) -> Jacobians:
    """Complex-step Jacobians of per-step quantities with respect to initial states or x(1).

    ``x``: ``(tau, B, m)`` real; ``init``: initial states by name (zero when missing).
    ``wrt``: a tuple of initial-state names (``("h0",)``, ``("h0", "s0")``) and/or the
    input's name for its first step (``("x",)``); default every initial state.
    ``outputs``: the per-step quantities to differentiate (default the states and
    outputs, :func:`numeric.interpret.forward_names`); an equation's name works when
    the model lists it in ``outputs``."""
    x = np.asarray(x, dtype=np.float64)
    tau, batch = x.shape[:2]
    sizes = _states(model)
    x_name = interpret.input_name(model)
    wrt = tuple(wrt) if wrt is not None else tuple(sizes)
    widths = []
    for name in wrt:
        if name in sizes:
            widths.append((name, sizes[name]))
        elif name == x_name:
            widths.append((name, x.shape[2]))
        else:
            raise ValueError(f"jacobians: wrt must name initial states {sorted(sizes)} or {x_name!r}, "
                             f"got {name!r}")
    width = sum(w for _, w in widths)
    copies = width + 1                       # copy 0 unperturbed, copy 1 + j perturbs column j
    start = {k: np.asarray((init or {}).get(k, np.zeros((batch, r))), dtype=np.float64)
             for k, r in sizes.items()}
    probes = {k: np.repeat(v[:, None, :], copies, axis=1).astype(complex) for k, v in start.items()}
    xs = np.repeat(x[:, :, None, :], copies, axis=2).astype(complex)
    offset = 0
    for name, w in widths:
        target = xs[0] if name == x_name else probes[name]
        for j in range(w):
            target[:, 1 + offset + j, j] += 1j * step
        offset += w
    out = interpret.forward(model, params, xs.reshape(tau, batch * copies, -1),
                            {k: v.reshape(batch * copies, -1) for k, v in probes.items()})
    names = tuple(outputs) if outputs is not None else tuple(out)
    values, jac = {}, {}
    for name in names:
        v = out[name].reshape(tau, batch, copies, -1)
        values[name] = np.real(v[:, :, 0, :])
        jac[name] = np.imag(v[:, :, 1:, :]).transpose(0, 1, 3, 2) / step
    return Jacobians(values, jac, tuple(widths))


def step_jacobians(model: Model, params: Mapping, x, init: Mapping | None = None, *,
                   step: float = STEP) -> np.ndarray:
    """One-step Jacobians ``d state(t) / d state(t-1)`` along the trajectory, shape
    ``(tau, B, S, S)`` (all states stacked in the spec's order, numerator layout)."""
    x = np.asarray(x, dtype=np.float64)
    states = tuple(_states(model))
    order = tuple(new for new in model.state.values())
    current = dict(init or {})
    out = []
    for t in range(x.shape[0]):
        J = jacobians(model, params, x[t:t + 1], current, wrt=states, outputs=order, step=step)
        out.append(np.concatenate([J.jacobians[name][0] for name in order], axis=1))
        current = {init_name: J.values[new][0] for init_name, new in zip(states, order)}
    return np.stack(out)
