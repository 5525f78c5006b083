"""The names a claim may use: a model's quantities, and the functions of the grammar.

A model's vocabulary is read off its symbolic-size derivation: per-step inputs, label,
equations and aliases (``yhat``, :attr:`derive.spec.Model.aliases`), parameters,
initial states and the ``grad_<name>`` of everything the derivation differentiates.
The activations (``tanh``, ``dtanh``, ...) are those of the one table
:data:`derive.spec.ACTIVATIONS`, their derivatives SymPy's
(:func:`derive.rules.derivative`), evaluated in float64 by the spec interpreter's
scalar compiler.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import sympy as sp

from derive import naming
from derive.models import derivation
from derive.rules import derivative
from derive.spec import ACTIVATIONS
from numeric.interpret import BACKENDS, compile_scalar

from verifier.claims.nodes import INDEX_VARS

__all__ = ["Vocabulary", "vocabulary", "ACTIVATION_FUNCTIONS", "DERIVATIVES", "ELEMENTWISE", "ARITY",
           "FUNCTIONS", "RESERVED", "function", "numeric_function"]

ACTIVATION_FUNCTIONS = tuple(a for a in ACTIVATIONS if a != "identity")       # tanh sigmoid relu
DERIVATIVES = tuple("d" + a for a in ACTIVATION_FUNCTIONS)
ELEMENTWISE = (*ACTIVATION_FUNCTIONS, *DERIVATIVES, "abs")
#: The functions of identity and sample statements and their numbers of arguments (the
#: binders and the calculus are nodes of their own, see :mod:`verifier.claims.grammar`).
ARITY = {"diag": 1, **{f: 1 for f in ELEMENTWISE}, "softmax": 1, "ones": 1, "eye": 1, "vec": 1,
         "norm2": 1, "rho": 1, "dominance": 1, "frac": 1, "mpow": 2, "jac": 2, "pjac": 2, "grad": 2,
         "sum_t": 1, "max_t": 1, "sum": 4, "prod": 4}
FUNCTIONS = tuple(ARITY)
RESERVED = {*INDEX_VARS, "tau", "L", *FUNCTIONS}

_Z = sp.Symbol("z", real=True)


@functools.lru_cache(maxsize=None)
def function(name: str) -> sp.Lambda:
    """``tanh``, ``dtanh``, ..., ``abs`` as a one-variable ``Lambda``: an activation of
    :data:`~derive.spec.ACTIVATIONS`, or SymPy's derivative of one."""
    if name == "abs":
        return sp.Lambda(_Z, sp.Abs(_Z))
    if name in ACTIVATIONS:
        return ACTIVATIONS[name]
    return derivative(ACTIVATIONS[name[1:]])


@functools.lru_cache(maxsize=None)
def numeric_function(name: str):
    """The same function on float64 arrays, compiled from its SymPy expression."""
    if name == "abs":
        return np.abs
    f = function(name)
    body = compile_scalar(f.expr, tuple(f.variables))
    bk = BACKENDS["numpy"]
    return lambda a: np.asarray(body(bk, np.asarray(a, dtype=np.float64)), dtype=np.float64) * np.ones_like(a)


@dataclass(frozen=True)
class Vocabulary:
    """The names a claim about ``model`` may use, with their symbolic shapes."""

    model: str
    step: dict          # per-step name -> shape, indexed 1..tau
    const: dict         # constant name -> shape
    zero: dict          # per-step name -> constant that is its index 0 (h -> h0)
    sizes: dict         # size name -> size symbol
    states: tuple = ()  # state names (h; h and s for the LSTM)
    inputs: tuple = ()  # per-step inputs (x)
    forward: tuple = ()  # per-step forward quantities: equations, then aliases
    params: tuple = ()
    equations: tuple = ()  # the model's equations (per-step nodes a Jacobian may cut at)

    def names(self) -> list:
        return sorted({*self.step, *self.const})


@functools.lru_cache(maxsize=None)
def vocabulary(model_name: str) -> Vocabulary:
    """The vocabulary of ``model_name`` (an unknown name is :class:`~derive.errors.UnknownModel`)."""
    D = derivation(model_name)
    m = D.model
    step = {x.name: x.shape for x in m.inputs}
    step[m.label.name] = m.label.shape
    step.update({eq.lhs.name: eq.lhs.shape for eq in m.equations})
    step.update({alias: expr.shape for alias, expr in m.aliases.items()})
    const = {p.name: p.shape for p in m.params}
    zero = {}
    for prev, new, _, init in D.states:
        const[init] = prev.shape
        zero[new] = init
    adjoints = {a.name for a in D.backward}
    for eq in m.equations:
        if naming.adjoint(eq.lhs.name) in adjoints:
            step["grad_" + eq.lhs.name] = eq.lhs.shape
    for g in D.gradients:
        (step if g.kind == "input" else const)["grad_" + g.wrt.name] = g.wrt.shape
    for new, init in list(zero.items()):
        if "grad_" + new in step and "grad_" + init in const:
            zero["grad_" + new] = "grad_" + init
    return Vocabulary(model_name, step, const, zero, {str(s): s for s in m.sizes},
                      states=tuple(new for _, new, _, _ in D.states),
                      inputs=tuple(x.name for x in m.inputs),
                      forward=tuple([eq.lhs.name for eq in m.equations] + list(m.aliases)),
                      params=tuple(p.name for p in m.params),
                      equations=tuple(eq.lhs.name for eq in m.equations))
