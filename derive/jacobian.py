"""The one-step Jacobian of a model's state, derived from its forward spec.

The forward equations of one step are run backwards with the primitive VJP
rules of :mod:`derive.rules` from a symbolic adjoint ``G`` of each next state;
the adjoint reaching each previous state is linear in ``G`` and is read as
``J^T G`` (:func:`one_step_jacobian`).  Layout: numerator,
``J[i, j] = d h_i(t) / d h_j(t-1)`` (:data:`LAYOUT`).  With several states
(LSTM: h and s; a skip connection's delay line) the Jacobian is a block matrix,
one block per (next state, previous state).

:func:`prove_jacobian` checks a derived Jacobian against SymPy's own
differentiation of the explicit forward step at small sizes, at a random
rational point of :func:`derive.evaluate.draw_point`, with the one evaluator
:func:`derive.evaluate.explicit` (an identity test, like :mod:`derive.proof`).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import sympy as sp
from sympy import (DiagMatrix, HadamardPower, HadamardProduct, Identity, MatAdd, MatMul,
                   MatrixSymbol, OneMatrix, Transpose, ZeroMatrix)
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from derive import naming
from derive.errors import DerivationError
from derive.evaluate import draw_point, explicit, symbols
from derive.rules import backprop, derivative
from derive.spec import ACTIVATIONS, Model

__all__ = ["LAYOUT", "StepJacobian", "one_step_jacobian", "prove_jacobian", "show", "function_name",
           "state_params", "model_key"]

#: The layout of every Jacobian derived here.
LAYOUT = ("numerator layout: J[i, j] = d h_i(t) / d h_j(t-1) (row i: a component of the next "
          "state, column j: a component of the previous state)")


# ---------------------------------------------------------------------------------------
# Printing
# ---------------------------------------------------------------------------------------

def _same_function(f: sp.Lambda, g: sp.Lambda) -> bool:
    x = sp.Dummy("x", real=True)
    a, b = f.expr.xreplace({f.variables[0]: x}), g.expr.xreplace({g.variables[0]: x})
    return a == b or sp.simplify((a - b).rewrite(sp.exp)) == 0


@functools.lru_cache(maxsize=None)
def function_name(f: sp.Lambda) -> str | None:
    """``tanh``, ``sigmoid'``, ... when ``f`` is an activation of
    :data:`derive.spec.ACTIVATIONS` or its derivative."""
    if len(f.variables) != 1:
        return None
    for name, g in ACTIVATIONS.items():
        if _same_function(f, g):
            return name
        if _same_function(f, derivative(g)):
            return name + "'"
    return None


def show(e) -> str:
    """A short readable form of a derived matrix or scalar expression."""
    if isinstance(e, ElementwiseApplyFunction):
        name = function_name(e.function)
        if name is not None:
            return f"{name}({show(e.expr)})"
        (var,) = e.function.variables
        return str(e.function.expr.xreplace({var: sp.Symbol(show(e.expr))}))
    if isinstance(e, DiagMatrix):
        return f"diag({show(e.args[0])})"
    if isinstance(e, Identity):
        return "I"
    if isinstance(e, ZeroMatrix):
        return "0"
    if isinstance(e, OneMatrix):
        return "1"
    if isinstance(e, MatAdd):
        return " + ".join(show(a) for a in e.args).replace("+ -", "- ")
    if isinstance(e, HadamardProduct):
        return " ⊙ ".join(f"({show(a)})" if isinstance(a, MatAdd) else show(a) for a in e.args)
    if isinstance(e, HadamardPower):
        return f"{show(e.base)}^{e.exp}"
    if isinstance(e, MatMul):
        coeff, mats = e.as_coeff_matrices()
        body = " ".join(f"({show(m)})" if isinstance(m, MatAdd) else show(m) for m in mats)
        return ("-" if coeff == -1 else "" if coeff == 1 else f"{coeff} ") + body
    if isinstance(e, Transpose):
        return f"{show(e.arg)}^T"
    return str(e)


# ---------------------------------------------------------------------------------------
# The one-step Jacobian
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StepJacobian:
    """``d state(t) / d state(t-1)``, one block per (next state, previous state).

    ``blocks[(new, prev)]`` is the block ``d new(t) / d prev`` in numerator
    layout; ``vjps[(new, prev)]`` is the adjoint ``J^T G_new`` it was read from.
    """

    model: Model
    states: tuple            # ((new name, prev symbol), ...) in the model's order
    blocks: dict
    vjps: dict
    layout: str = LAYOUT

    def block(self, new: str, prev: str):
        return self.blocks[(new, prev)]

    def lines(self) -> list:
        return [f"d {new}(t) / d {prev.name} = {show(self.blocks[(new, prev.name)])}"
                for new, _ in self.states for _, prev in self.states]


def _has(e, G) -> bool:
    return G in e.atoms(MatrixSymbol)


def _diagonal(o):
    """v when ``o`` is ``diag(v)`` or ``c diag(v)``, else None."""
    if isinstance(o, DiagMatrix):
        return o.args[0]
    if isinstance(o, MatMul):
        coeff, mats = o.as_coeff_matrices()
        if len(mats) == 1 and isinstance(mats[0], DiagMatrix):
            return MatMul(coeff, mats[0].args[0])
    return None


def _operator(e, G):
    """The matrix ``M`` with ``e = M G``, for an adjoint ``e`` linear in ``G``."""
    if e == G:
        return Identity(G.shape[0])
    if isinstance(e, MatAdd):
        parts = [a for a in e.args if _has(a, G)]
        if len(parts) != len(e.args):
            raise DerivationError(f"adjoint {e} has a term without the seed adjoint {G}")
        ops = [_operator(a, G) for a in parts]
        diags = [_diagonal(o) for o in ops if _diagonal(o) is not None]
        rest = [o for o in ops if _diagonal(o) is None]
        if len(diags) > 1:      # diag(u) + diag(v) = diag(u + v): one max-norm, not two
            diags = [DiagMatrix(MatAdd(*diags))]
        else:
            diags = [o for o in ops if _diagonal(o) is not None]
        return MatAdd(*diags, *rest) if len(diags) + len(rest) > 1 else (diags + rest)[0]
    if isinstance(e, MatMul):
        coeff, mats = e.as_coeff_matrices()
        where = [i for i, a in enumerate(mats) if _has(a, G)]
        if where != [len(mats) - 1]:
            raise DerivationError(f"adjoint {e}: the seed adjoint {G} must sit in the last factor")
        return MatMul(coeff, *mats[:-1], _operator(mats[-1], G))
    if isinstance(e, HadamardProduct):
        with_g = [a for a in e.args if _has(a, G)]
        others = [a for a in e.args if not _has(a, G)]
        if len(with_g) != 1:
            raise DerivationError(f"adjoint {e} is not linear in {G}")
        scale = others[0] if len(others) == 1 else HadamardProduct(*others)
        inner = _operator(with_g[0], G)
        if isinstance(inner, Identity):
            return DiagMatrix(scale)
        return MatMul(DiagMatrix(scale), inner)
    raise DerivationError(f"cannot read {type(e).__name__} {e} as a linear map of {G}")


def _sweep(model: Model, seeds: dict) -> dict:
    """Run the step's equations backwards from ``seeds`` (name -> adjoint);
    returns name -> list of adjoint contributions reaching each symbol."""
    contributions = {k: [v] for k, v in seeds.items()}
    for eq in reversed(model.equations):
        terms = contributions.pop(eq.lhs.name, [])
        if not terms:
            continue
        adjoint = terms[0] if len(terms) == 1 else MatAdd(*terms).doit()
        backprop(eq.rhs, adjoint, lambda s, g: contributions.setdefault(s.name, []).append(g))
    return contributions


def one_step_jacobian(model: Model) -> StepJacobian:
    """The derived ``d state(t) / d state(t-1)`` of ``model`` (any sizes)."""
    states = tuple((new, prev) for prev, new in model.state.items())
    blocks, vjps = {}, {}
    for new, prev_i in states:
        G = MatrixSymbol(f"G_{new}", *prev_i.shape)
        reached = _sweep(model, {new: G})
        for _, prev in states:
            terms = reached.get(prev.name, [])
            key = (new, prev.name)
            if not terms:
                blocks[key] = ZeroMatrix(prev_i.shape[0], prev.shape[0])
                vjps[key] = ZeroMatrix(*prev.shape)
                continue
            vjp = terms[0] if len(terms) == 1 else MatAdd(*terms).doit()
            vjps[key] = vjp
            blocks[key] = Transpose(_operator(vjp, G)).doit()
    return StepJacobian(model, states, blocks, vjps)


def state_params(model: Model) -> tuple:
    """Names of the parameters the next states depend on (the rest, e.g. the
    output head, does not enter the state Jacobian)."""
    needed = set(model.state.values())
    for eq in reversed(model.equations):
        if eq.lhs.name in needed:
            needed |= {s.name for s in eq.rhs.atoms(MatrixSymbol)}
    return tuple(p.name for p in model.params if p.name in needed)


_KEYS: dict = {}          # id(model) -> (model, key): the model is kept alive so its id stays its own


def model_key(model: Model) -> tuple:
    """A hashable key for a model (a cache key): name, sizes, equations and states."""
    hit = _KEYS.get(id(model))
    if hit is not None and hit[0] is model:
        return hit[1]
    key = (model.name, str(model.sizes), tuple(sp.srepr(eq.rhs) for eq in model.equations),
           tuple(f"{p.name}->{n}" for p, n in model.state.items()))
    _KEYS[id(model)] = (model, key)
    return key


# ---------------------------------------------------------------------------------------
# Proof against SymPy's jacobian of the explicit step
# ---------------------------------------------------------------------------------------

def _explicit_block(block, env: dict, digits: int):
    """:func:`explicit` of a derived block; each ``diag(v)`` is evaluated as the
    diagonal matrix of the explicit ``v`` (the evaluator has no diagonal node)."""
    diagonals = {}
    for k, D in enumerate(sorted(block.atoms(DiagMatrix), key=sp.default_sort_key)):
        symbol = MatrixSymbol(f"_diag{k}", *D.shape)
        diagonals[D] = symbol
        env = {**env, symbol.name: sp.diag(*explicit(D.args[0], env, digits=digits))}
    return explicit(block.xreplace(diagonals), env, digits=digits)


def prove_jacobian(model: Model, *, seed: int = 0, digits: int = 40, jacobian: StepJacobian = None) -> dict:
    """Derived one-step Jacobian = SymPy's ``jacobian`` of the explicit step.

    ``model`` must have concrete sizes.  Parameters (inside their
    :attr:`~derive.spec.Model.domains`), input and previous states are random
    rationals (:func:`derive.evaluate.draw_point`); the brute-force side
    differentiates the explicit next states with respect to symbolic
    previous-state entries.  Returns ``{"entries", "max_abs_diff", "tolerance",
    "ok"}``.  ``jacobian`` replaces the derived one (to show that a wrong
    Jacobian fails)."""
    sj = jacobian or one_step_jacobian(model)
    point = draw_point(model, {}, 1, seed=seed)
    env = {**point.params, **point.inputs[0]}
    env[model.label.name] = sp.ImmutableMatrix.zeros(*(int(d) for d in model.label.shape))
    values = {prev.name: point.initial[naming.initial(new)] for prev, new in model.state.items()}
    entries = {prev.name: symbols(prev.name, prev.shape) for prev in model.state}
    brute_env, num_env = {**env, **entries}, {**env, **values}
    for eq in model.equations:
        brute_env[eq.lhs.name] = explicit(eq.rhs, brute_env)
        num_env[eq.lhs.name] = explicit(eq.rhs, num_env, digits=digits + 10)
    at_point = {s: v for name in entries for s, v in zip(entries[name], values[name])}
    worst, count = 0.0, 0
    for new, _ in sj.states:
        for _, prev in sj.states:
            brute = brute_env[new].jacobian(list(entries[prev.name])).xreplace(at_point).evalf(digits)
            derived = _explicit_block(sj.blocks[(new, prev.name)], num_env, digits + 10)
            for a, b in zip(brute, derived):
                worst = max(worst, float(abs(a - b)))
                count += 1
    tolerance = 10.0 ** (-(digits - 10))
    return {"entries": count, "max_abs_diff": worst, "tolerance": tolerance, "ok": worst <= tolerance}
