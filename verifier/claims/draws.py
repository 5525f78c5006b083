"""The ``given`` (identity claims) and ``draw`` (sample claims) fields: values of parameters,
initial states and inputs.

A draw is a call: the deterministic ``zeros() ones() identity() full(c)`` (exact SymPy
matrices in identity claims) and the random ``normal(mu, sigma) uniform(lo, hi) glorot()
orthogonal()``, ``radius(D, r)`` and ``norm(D, s)`` (the draw ``D`` rescaled to spectral
radius ``r`` or spectral norm ``s``).  A distribution parameter is a number, a size name,
``+ - * /`` or ``sqrt(...)``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import sympy as sp
from sympy import ImmutableMatrix

from verifier.claims.nodes import Binary, Call, Name, Neg, Number, integer, ratio
from verifier.claims.source import Formula
from verifier.claims.vocabulary import vocabulary

__all__ = ["DRAW_FUNCTIONS", "DETERMINISTIC_DRAWS", "Target", "targets", "check", "value"]

DRAW_FUNCTIONS = {"zeros": 0, "ones": 0, "identity": 0, "full": 1, "normal": 2, "uniform": 2,
                  "glorot": 0, "orthogonal": 0, "radius": 2, "norm": 2}
DETERMINISTIC_DRAWS = ("zeros", "ones", "identity", "full")


@dataclass(frozen=True)
class Target:
    kind: str               # "param" | "init" | "input"
    shape: tuple            # symbolic shape


def targets(model_name: str) -> dict:
    """What a model's ``given``/``draw`` may set: name -> :class:`Target`."""
    v = vocabulary(model_name)
    out = {p: Target("param", tuple(v.const[p])) for p in v.params}
    for s in v.states:
        out[v.zero[s]] = Target("init", tuple(v.const[v.zero[s]]))
    for x in v.inputs:
        out[x] = Target("input", tuple(v.step[x]))
    return out


def _scalar(node, sizes: dict, formula: Formula) -> float:
    """A distribution parameter: numbers, + - * /, sqrt(...), size names."""
    if isinstance(node, Number):
        return float(node.value)
    if isinstance(node, Name) and node.id in sizes:
        return float(sizes[node.id]) if sizes[node.id] is not None else 1.0
    if isinstance(node, Neg):
        return -_scalar(node.operand, sizes, formula)
    if isinstance(node, Binary) and node.op in "+-*/":
        a, b = _scalar(node.left, sizes, formula), _scalar(node.right, sizes, formula)
        if node.op == "/" and b == 0:
            raise formula.error(node, "division by zero")
        return {"+": a + b, "-": a - b, "*": a * b}.get(node.op, a / b if b else 0.0)
    if isinstance(node, Call) and node.func == "sqrt" and len(node.args) == 1:
        return math.sqrt(max(_scalar(node.args[0], sizes, formula), 0.0))
    raise formula.error(node, "a distribution parameter is a number, a size name, + - * /, or sqrt(...)")


def _exact(node: Call, shape: tuple, formula: Formula) -> ImmutableMatrix:
    r, c = shape
    if node.func == "zeros":
        return ImmutableMatrix(sp.zeros(r, c))
    if node.func == "ones":
        return ImmutableMatrix(sp.ones(r, c))
    if node.func == "identity":
        return ImmutableMatrix(sp.eye(r))
    arg = node.args[0]
    if ratio(arg) is not None:
        q = sp.Rational(*ratio(arg))
    elif integer(arg) is not None:
        q = sp.Integer(integer(arg))
    else:
        raise formula.error(arg, "full(c) takes an integer or a ratio of integer literals here")
    return ImmutableMatrix(r, c, [q] * (r * c))


def _checked(node, shape: tuple, formula: Formula, exact: bool) -> Call:
    if not (isinstance(node, Call) and node.func in DRAW_FUNCTIONS and len(node.args) == DRAW_FUNCTIONS[node.func]):
        allowed = DETERMINISTIC_DRAWS if exact else tuple(DRAW_FUNCTIONS)
        raise formula.error(node, "a draw is one of " + ", ".join(
            f"{f}({', '.join('x' * DRAW_FUNCTIONS[f])})" for f in allowed))
    if exact and node.func not in DETERMINISTIC_DRAWS:
        raise formula.error(node, f"{node.func}(...) is random: identity claims fix values with "
                                  f"{', '.join(d + '()' for d in DETERMINISTIC_DRAWS)} (use draw in sample claims)")
    r, c = shape
    if node.func in ("identity", "radius", "norm") and r != c:
        what = "identity()" if node.func == "identity" else f"{node.func}(...)"
        raise formula.error(node, f"{what} needs a square matrix, got shape ({r}, {c})")
    return node


def value(formula: Formula, shape: tuple, *, sizes: dict, rng=None, exact: bool = False,
          node=None):
    """The value the draw ``formula`` gives at the concrete ``shape``: an exact SymPy matrix
    (``exact``: deterministic draws only), or a float64 array drawn from ``rng``."""
    node = _checked(formula.tree if node is None else node, shape, formula, exact)
    if exact:
        return _exact(node, shape, formula)
    r, c = shape
    name, args = node.func, node.args
    if name == "zeros":
        return np.zeros((r, c))
    if name == "ones":
        return np.ones((r, c))
    if name == "identity":
        return np.eye(r)
    if name == "full":
        return np.full((r, c), _scalar(args[0], sizes, formula))
    if name == "normal":
        mu, sigma = (_scalar(a, sizes, formula) for a in args)
        return rng.normal(mu, sigma, size=(r, c))
    if name == "uniform":
        lo, hi = (_scalar(a, sizes, formula) for a in args)
        return rng.uniform(lo, hi, size=(r, c))
    if name == "glorot":
        s = math.sqrt(6.0 / (r + c))
        return rng.uniform(-s, s, size=(r, c))
    if name == "orthogonal":
        q, rr = np.linalg.qr(rng.standard_normal((r, c)))
        return q * np.sign(np.diag(rr))
    base = value(formula, shape, sizes=sizes, rng=rng, node=args[0])
    target = _scalar(args[1], sizes, formula)
    scale = np.max(np.abs(np.linalg.eigvals(base))) if name == "radius" else np.linalg.norm(base, 2)
    return base * (target / scale)


def check(formula: Formula, shape: tuple, *, size_names, exact: bool) -> None:
    """The static check of a draw: its function, its arguments, the target's shape."""
    node = _checked(formula.tree, shape, formula, exact)
    if exact:
        _exact(node, shape, formula)
        return
    sizes = {n: None for n in size_names}
    for a in node.args:
        if isinstance(a, Call) and a.func in DRAW_FUNCTIONS:
            check(Formula(formula.text, a, formula.where), shape, size_names=size_names, exact=False)
        else:
            _scalar(a, sizes, formula)
