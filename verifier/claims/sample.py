"""Sample claims: inequalities between scalars about random draws of a model's weights and
inputs (random initialisation, echo-state scaling), decided by measurement.

``norm2(W) < 1``, ``frac(abs(W) < 1) > 1/2``, ``norm2(jac(h[t], h[k])) <= beta ** (t - k)``:
``trials`` seeded draws (NumPy ``default_rng([seed, crc32(id), part, trial])``), the
model's forward pass in float64 (:mod:`numeric.interpret`), Jacobians of states and
outputs with respect to states and inputs by the one complex-step Jacobian
(:func:`numeric.jacobians.jacobians`).  A part holds when no case violates it; the
evidence gives the cases tried, the range of each side and the largest ratio.
Measured in float64, sides within ``1e-12 (|lhs| + |rhs|)`` of each other count as
equal, so ``<`` and ``<=`` differ only beyond rounding.
"""
from __future__ import annotations

import functools
import zlib

import numpy as np

from derive import naming
from derive.models import derivation, get
from numeric.runtime import init_params
from numeric.interpret import forward, forward_names
from numeric.jacobians import jacobians

from verifier.claims import draws
from verifier.claims.backends import COMPARE_FN, Mismatch, NumPyValues
from verifier.claims.claim import Claim, Part
from verifier.claims.grammar import parse
from verifier.claims.source import Where
from verifier.claims.verdicts import Outcome, assignment_text, plural, sizes_text
from verifier.claims.walker import Walker

__all__ = ["Trial", "available", "decide", "SAMPLE_TRIALS", "SAMPLE_TAU", "SAMPLE_SLACK"]

SAMPLE_TRIALS = 20
SAMPLE_TAU = 8
SAMPLE_SLACK = 1e-12        # sides closer than this (relative) are equal


@functools.lru_cache(maxsize=None)
def available(model_name: str) -> frozenset:
    """The names a sample claim about ``model_name`` sees: inputs, the forward pass's
    states and outputs, parameters and initial states."""
    model = derivation(model_name).model
    return frozenset({*(x.name for x in model.inputs), *forward_names(model), *(p.name for p in model.params),
                      *(naming.initial(new) for new in model.state.values())})


@functools.lru_cache(maxsize=None)
def _spec(model_name: str, sizes: tuple):
    """The model's spec at concrete sizes (built once per size)."""
    return get(model_name)(*sizes)


@functools.lru_cache(maxsize=None)
def _draw(text: str):
    """A draw's formula (checked when the claim was loaded)."""
    return parse(text, Where("draw", 0, field="draw"))


class Trial:
    """One draw of a model's weights, inputs and initial states, run forward in float64 by
    the spec interpreter.  ``draws``: ((name, draw text), ...); parameters not drawn are
    drawn by the model's initialiser (as ``init_params`` of the generated module draws
    them), inputs are standard normal, initial states zero."""

    def __init__(self, model_name: str, sizes: dict, tau: int, draws_: tuple, rng):
        symbolic = derivation(model_name).model
        self.spec = spec = _spec(model_name, tuple(sizes[str(s)] for s in symbolic.sizes))
        self.sizes, self.tau = dict(sizes), tau
        drawn = dict(draws_)

        def value(name, shape, default):
            return draws.value(_draw(drawn.get(name, default)), shape, sizes=self.sizes, rng=rng)

        self.params = {}
        for p, sym in zip(spec.params, symbolic.params):
            shape = tuple(int(s) for s in p.shape)
            if p.name in drawn:
                self.params[p.name] = value(p.name, shape, "")
            else:       # the model's own initialiser, as the generated init_params draws it
                dims = tuple(str(d) for d in sym.shape if d != 1)
                scheme = {p.name: spec.init.get(p.name, "glorot")}
                drawn_default = init_params({p.name: dims}, scheme, self.sizes, seed=int(rng.integers(2 ** 31)),
                                            dtype=np.float64)[p.name]
                self.params[p.name] = drawn_default.reshape(shape)
        self.states = tuple(spec.state.values())
        self.prev_shape = {new: tuple(int(s) for s in prev.shape) for prev, new in spec.state.items()}
        self.init_name = {new: naming.initial(new) for new in self.states}
        self.init = {self.init_name[st]: value(self.init_name[st], self.prev_shape[st], "zeros()")
                     for st in self.states}
        (x,) = spec.inputs
        self.x_name, m = x.name, int(x.shape[0])
        self.x = np.stack([value(x.name, (m, 1), "normal(0, 1)")[:, 0] for _ in range(tau)])[:, None, :]
        out = forward(spec, self.params, self.x, {k: v.T for k, v in self.init.items()})
        self.steps = [None] + [{**{k: v[t, 0][:, None] for k, v in out.items()}, x.name: self.x[t, 0][:, None]}
                               for t in range(tau)]
        self.const = {**self.params, **self.init}

    def _state(self, st, j):
        return self.init[self.init_name[st]] if j == 0 else self.steps[j][st]

    def jac(self, A, i, B, j):
        """dA(i)/dB(j) for a state B (j = 0: its initial value) or the input (j >= 1)."""
        if B == self.x_name:
            width, first = self.x.shape[2], j - 1
        else:
            width, first = self.prev_shape[B][0], j
        if i < j:
            return np.zeros((self.steps[1][A].shape[0], width))
        if i == j and B != self.x_name:
            if A != B:
                raise Mismatch(f"jac({A}[t], {B}[t]) within one step is not available in sample claims")
            return np.eye(width)
        init = {self.init_name[st]: self._state(st, first).T for st in self.states}
        wrt = (self.x_name,) if B == self.x_name else (self.init_name[B],)
        J = jacobians(self.spec, self.params, self.x[first:i], init, wrt=wrt, outputs=(A,))
        return J.jacobians[A][i - first - 1, 0]


def _stats(text, values) -> str:
    a = np.asarray(values, dtype=np.float64)
    if a.size and np.ptp(a) == 0:
        return text if text == f"{a[0]:g}" else f"{text} = {a[0]:.6g}"
    return f"{text} from {a.min():.4g} to {a.max():.4g} (mean {a.mean():.4g})"


def decide(claim: Claim, part: Part, *, seed, trials) -> Outcome:
    """Measure one sample part over ``trials`` seeded draws (see the module docstring)."""
    trials = trials or claim.trials
    sizes = dict(claim.sizes)
    tau = claim.tau
    op = part.tree.ops[0]
    lhs_text, rhs_text = (part.formula.text[n.span[0]:n.span[1]] for n in part.tree.operands)
    lefts, rights, ratios, cases, violations, first = [], [], [], 0, 0, None
    for trial in range(trials):
        rng = np.random.default_rng([seed, zlib.crc32(claim.id.encode()), part.index, trial])
        walker = Walker(part.model, part.formula, claim.defines, NumPyValues(Trial(part.model, sizes, tau,
                                                                                   part.draw, rng)), tau)
        for env in part.assignments(tau):
            left, right = (float(v) for v in walker.statement(env))
            cases += 1
            lefts.append(left)
            rights.append(right)
            if op in ("<", "<=") and right > 0:
                ratios.append(left / right)
            if op in (">", ">=") and left > 0:
                ratios.append(right / left)
            slack = SAMPLE_SLACK * (abs(left) + abs(right))
            if not (COMPARE_FN[op](left, right) or abs(left - right) <= slack):
                violations += 1
                if first is None:
                    first = (trial, env, left, right)
    drawn = "; ".join(f"{k} = {v}" for k, v in part.draw) or "the model's initialisation"
    setting = (f"{trials} draws ({drawn}), {part.model} {sizes_text(part.model, [sizes[n] for n in sizes])} "
               f"tau {tau}")
    text = f"{plural(cases, 'case')} from {setting}: {_stats(lhs_text, lefts)} against {_stats(rhs_text, rights)}"
    if ratios and any(rights) and any(lefts):
        text += f"; largest ratio {'lhs/rhs' if op in ('<', '<=') else 'rhs/lhs'} {max(ratios):.4g}"
    if violations:
        trial, env, left, right = first
        right_text = rhs_text if rhs_text == f"{right:g}" else f"{rhs_text} = {right:.6g}"
        text += (f"; violated in {violations} of {cases} cases (first: draw {trial + 1}, {assignment_text(env)}"
                 f"{lhs_text} = {left:.6g}, not {op} {right_text})")
        return Outcome("fails", "measured: " + text, 0.0, cases)
    return Outcome("holds", "measured: " + text + "; no violation", 0.0, cases)
