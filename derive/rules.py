"""Primitive vector-Jacobian products: the only calculus written by hand.

Each rule maps a node ``y = op(x1, ..., xk)`` and the adjoint ``G = dL/dy``
(same shape as ``y``) to the adjoints ``dL/dxi``.  One line per rule; every
rule is proven elementwise on explicit symbolic matrices by SymPy in
``tests/test_rules.py``.  The derivative of an elementwise function is not a
rule: SymPy differentiates the function's own expression.

A node type with no rule is a loud :class:`~derive.errors.DerivationError`.
"""
from __future__ import annotations

import sympy as sp
from sympy import (HadamardPower, HadamardProduct, Identity, MatAdd, MatMul,
                   MatrixSymbol, OneMatrix, Transpose, ZeroMatrix)
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from derive.errors import DerivationError
from derive.spec import Elementwise, LogSumExp, Softmax


def derivative(function: sp.Lambda) -> sp.Lambda:
    """``f'`` of a one-variable ``Lambda``, by SymPy."""
    (z,) = function.variables
    return sp.Lambda(z, sp.diff(function.expr, z))


def _transposed(factors):
    return [MatMul(*factors).T] if factors else []


def _matmul_vjp(e, G):
    """``c A1..Ak``: dL/dAi = c (A1..Ai-1)^T G (Ai+1..Ak)^T."""
    coeff, mats = e.as_coeff_matrices()
    return [(A, MatMul(coeff, *_transposed(mats[:i]), G, *_transposed(mats[i + 1:])).doit())
            for i, A in enumerate(mats)]


# node type -> (node, G) -> [(child, dL/dchild)]
RULES = {
    MatAdd: lambda e, G: [(x, G) for x in e.args],
    MatMul: _matmul_vjp,                      # d(A1..Ak)/dAi: (A1..Ai-1)^T G (Ai+1..Ak)^T
    Transpose: lambda e, G: [(e.arg, G.T)],
    HadamardProduct: lambda e, G: [(x, HadamardProduct(G, *(y for j, y in enumerate(e.args) if j != i)).doit()) for i, x in enumerate(e.args)],
    HadamardPower: lambda e, G: [(e.base, HadamardProduct(G, e.exp * HadamardPower(e.base, e.exp - 1)).doit())],
    ElementwiseApplyFunction: lambda e, G: [(e.expr, HadamardProduct(G, Elementwise(derivative(e.function), e.expr)))],
    LogSumExp: lambda e, G: [(e.arg, MatMul(Softmax(e.arg), G).doit())],
    Softmax: lambda e, G: [(e.arg, HadamardProduct(e, G).doit() - MatMul(e, e.T, G).doit())],
}

CONSTANTS = (OneMatrix, ZeroMatrix, Identity)


def rule_for(expr, rules=None):
    """The VJP rule of ``expr``'s node type (or of the nearest base class in the
    table: ``spec.Elementwise`` is an ``ElementwiseApplyFunction``), or None."""
    rules = RULES if rules is None else rules
    return next((rules[t] for t in type(expr).__mro__ if t in rules), None)


def backprop(expr, G, accumulate, rules=None) -> None:
    """Push the adjoint ``G`` of ``expr`` down to its leaf symbols.

    ``accumulate(symbol, contribution)`` is called once per path from the root
    to a :class:`MatrixSymbol` leaf; constants receive nothing.  ``rules`` is the
    table to use (default :data:`RULES`; the fault injector passes a wrong one).
    """
    if isinstance(expr, MatrixSymbol):
        accumulate(expr, G)
        return
    if isinstance(expr, CONSTANTS):
        return
    rule = rule_for(expr, rules)
    if rule is None:
        raise DerivationError(
            f"no VJP rule for {type(expr).__name__} in {expr}; "
            f"known node types: {', '.join(sorted(t.__name__ for t in (rules or RULES)))}")
    for child, adjoint in rule(expr, G):
        backprop(child, adjoint, accumulate, rules)
