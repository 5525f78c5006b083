"""Proof at small sizes: derived BPTT gradients = brute-force differentiation.

For concrete sizes (n, m, K, tau) every entry of every parameter, of the
initial states and of the inputs becomes a SymPy symbol; the forward equations
are unrolled over tau steps into a graph of scalar expressions (one symbol per
entry per step), SymPy differentiates each scalar expression with respect to
its arguments, and the chain rule over the unrolled graph gives the derivative
of the summed loss with respect to every leaf.  No matrix calculus and no rule
of derive/rules.py is involved.  Independently the *symbolic-size*
derivation, with the sizes substituted, is run backwards over time.  The two
are compared as an identity test at random rational points evaluated with
``digits`` significant digits (exact simplification of nested tanh/softmax
expressions is far too slow): a wrong derivation differs by O(1) at a random
point, a right one by rounding at ``digits`` digits.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass

import sympy as sp
from sympy import (HadamardPower, HadamardProduct, Identity, ImmutableMatrix, MatAdd, MatMul,
                   MatrixSymbol, OneMatrix, Transpose, ZeroMatrix)
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from derive.adjoint import Derivation
from derive.spec import LogSumExp, Softmax

DIGITS = 110


@dataclass(frozen=True)
class ProofResult:
    model: str
    sizes: tuple              # (n, m, K, tau) or the model's own size order + tau
    wrt: str                  # gradient name, e.g. "W"
    entries: int
    max_abs_diff: float
    max_rel_error: float
    tolerance: float
    seconds: float
    seed: int

    @property
    def ok(self) -> bool:
        return self.max_rel_error <= self.tolerance


def _symbols(name: str, shape) -> ImmutableMatrix:
    r, c = (int(s) for s in shape)
    return ImmutableMatrix(r, c, [sp.Symbol(f"{name}[{i},{j}]") for i in range(r) for j in range(c)])


def _explicit(expr, env: dict, sizes: dict = None) -> ImmutableMatrix:
    """The explicit matrix of ``expr`` with its matrix symbols replaced by the
    explicit matrices ``env`` holds for them (keyed by symbol).

    A small evaluator rather than ``xreplace(...).as_explicit()``: SymPy folds
    1 x 1 matrix expressions into scalars in ways that break at size 1, and
    the explicit form of each node here is plain entrywise arithmetic."""
    names = {k.name: v for k, v in env.items()}
    return _evaluate(expr, names, sizes or {})


def _evaluate(e, env: dict, sizes: dict) -> ImmutableMatrix:
    if isinstance(e, MatrixSymbol):
        return env[e.name]
    if isinstance(e, MatAdd):
        parts = [_evaluate(a, env, sizes) for a in e.args]
        return ImmutableMatrix(sum(parts[1:], parts[0]))
    if isinstance(e, MatMul):
        coeff, mats = e.as_coeff_matrices()
        out = _evaluate(mats[0], env, sizes)
        for M in mats[1:]:
            out = out * _evaluate(M, env, sizes)
        return ImmutableMatrix(coeff * out)
    if isinstance(e, Transpose):
        return _evaluate(e.arg, env, sizes).T
    if isinstance(e, HadamardProduct):
        parts = [_evaluate(a, env, sizes) for a in e.args]
        out = parts[0]
        for M in parts[1:]:
            out = out.multiply_elementwise(M)
        return ImmutableMatrix(out)
    if isinstance(e, HadamardPower):
        return _evaluate(e.base, env, sizes).applyfunc(lambda v: v ** e.exp)
    if isinstance(e, ElementwiseApplyFunction):
        return _evaluate(e.expr, env, sizes).applyfunc(e.function)
    if isinstance(e, (OneMatrix, ZeroMatrix, Identity)):
        return ImmutableMatrix(e.subs(sizes).as_explicit())
    if isinstance(e, (LogSumExp, Softmax)):
        v = _evaluate(e.arg, env, sizes)
        return ImmutableMatrix(type(e)(v).as_explicit())
    raise TypeError(f"no explicit form for {type(e).__name__}: {e}")


def _one_hot(k: int, K: int) -> ImmutableMatrix:
    return ImmutableMatrix(K, 1, [1 if i == k else 0 for i in range(K)])


@dataclass
class Unrolled:
    """The loss unrolled over ``tau`` steps as a graph of scalar SymPy expressions.

    Every entry of every forward quantity at every step is a symbol
    (``h2[1,0]``) defined by one scalar expression of the entries it is
    computed from: ``nodes`` lists (symbol, expression) in evaluation order, the
    step losses last of each step.  ``params``, ``inits`` and ``inputs`` hold the
    leaf symbols.
    """

    params: dict
    inits: dict
    inputs: list              # per step: {input name: matrix of symbols}
    labels: list
    nodes: list
    losses: list              # the step-loss symbols

    def leaves(self) -> list:
        return [s for M in (*self.params.values(), *self.inits.values(),
                            *(v for d in self.inputs for v in d.values())) for s in M]


def unroll(model, derivation: Derivation, size_map: dict, tau: int, labels: list) -> Unrolled:
    """The forward spec, unrolled at concrete sizes (``{size symbol: int}``) into a scalar graph."""
    concrete = lambda e: e.subs(size_map) if size_map else e  # noqa: E731
    K = int(concrete(model.label).shape[0])
    params = {p.name: _symbols(p.name, concrete(p).shape) for p in model.params}
    inits = {init: _symbols(init, concrete(prev).shape) for prev, _, _, init in derivation.states}
    inputs = [{x.name: _symbols(f"{x.name}{t + 1}", concrete(x).shape) for x in model.inputs}
              for t in range(tau)]
    base = {concrete(p): params[p.name] for p in model.params}
    state = {concrete(prev): inits[init] for prev, _, _, init in derivation.states}
    nodes, losses = [], []
    for t in range(tau):
        env = {**base, **state, concrete(model.label): _one_hot(labels[t], K)}
        env.update({concrete(x): inputs[t][x.name] for x in model.inputs})
        for eq in model.equations:
            lhs = concrete(eq.lhs)
            names = _symbols(f"{eq.lhs.name}{t + 1}", lhs.shape)
            nodes += zip(names, _explicit(eq.rhs, env, size_map))
            env[lhs] = names
        loss = sp.Symbol(f"L{t + 1}")
        nodes.append((loss, _explicit(model.loss, env, size_map)[0, 0]))
        losses.append(loss)
        state = {concrete(prev): env[concrete(MatrixSymbol(new, *prev.shape))]
                 for prev, new, _, _ in derivation.states}
    return Unrolled(params, inits, inputs, labels, nodes, losses)


def brute_force_gradient(graph: Unrolled, point: dict, digits: int) -> dict:
    """d(sum of step losses)/d(leaf) for every leaf, at ``point``.

    Each node's partial derivatives are SymPy's ``diff`` of its scalar expression;
    the total derivative is the chain rule summed over the unrolled graph (one
    reverse sweep), so the cost is linear in tau where differentiating the
    nested closed form would be exponential."""
    values = dict(point)
    for symbol, e in graph.nodes:
        values[symbol] = e.xreplace(values).evalf(digits)
    adjoint = {loss: sp.Float(1, digits) for loss in graph.losses}
    for symbol, e in reversed(graph.nodes):
        a = adjoint.get(symbol)
        if a is None:
            continue
        for parent in sorted(e.free_symbols, key=str):
            partial = sp.diff(e, parent).xreplace(values).evalf(digits)
            adjoint[parent] = adjoint.get(parent, 0) + a * partial
    return adjoint


def prove(derivation: Derivation, sizes: tuple, tau: int, *, seed: int = 0,
          digits: int = DIGITS) -> list:
    """Compare every derived gradient with brute force at ``sizes`` and ``tau``."""
    model = derivation.model
    size_map = dict(zip(model.sizes, sizes))
    concrete = lambda e: e.subs(size_map) if size_map else e  # noqa: E731
    rng = random.Random(seed)
    K = int(concrete(model.label).shape[0])
    labels = [rng.randrange(K) for _ in range(tau)]

    # --- brute force: the unrolled scalar loss, differentiated by SymPy ---------------
    graph = unroll(model, derivation, size_map, tau, labels)
    params, inits, inputs = graph.params, graph.inits, graph.inputs

    # --- a random rational point ---------------------------------------------------
    point = {s: sp.Rational(rng.randint(-90, 90), 97) for s in graph.leaves()}
    for name, (low, high) in model.domains.items():   # e.g. alpha >= 1
        width = (high - low) if high is not None else 4
        for s in params[name]:
            point[s] = low + width * sp.Rational(rng.randint(0, 96), 97)
    numeric = {s: sp.Float(v, digits + 10) for s, v in point.items()}
    value = lambda M: M.xreplace(numeric).evalf(digits + 10)  # noqa: E731
    brute = brute_force_gradient(graph, numeric, digits + 10)
    base = {concrete(p): params[p.name] for p in model.params}

    # --- the derivation, run backwards over time at the same point ----------------
    base_n = {k: value(v) for k, v in base.items()}
    state_n = {concrete(prev): value(inits[init]) for prev, _, _, init in derivation.states}
    steps = []
    for t in range(tau):
        env = {**base_n, **state_n, concrete(model.label): _one_hot(labels[t], K)}
        env.update({concrete(x): value(inputs[t][x.name]) for x in model.inputs})
        for a in derivation.forward:
            env[concrete(a.lhs)] = _explicit(a.rhs, env, size_map).evalf(digits + 10)
        steps.append(env)
        state_n = {concrete(prev): env[concrete(MatrixSymbol(new, *prev.shape))]
                   for prev, new, _, _ in derivation.states}
    carry = {concrete(c): sp.zeros(*concrete(c).shape) for _, _, c, _ in derivation.states}
    derived = {g.wrt.name: [] for g in derivation.gradients}
    for t in reversed(range(tau)):
        env = {**steps[t], **carry}
        for a in derivation.backward:
            env[concrete(a.lhs)] = _explicit(a.rhs, env, size_map).evalf(digits + 10)
        for g in derivation.gradients:
            if g.kind != "initial":
                derived[g.wrt.name].append((t, _explicit(g.rhs, env, size_map).evalf(digits + 10)))
        carry = {concrete(c.lhs): _explicit(c.rhs, env, size_map).evalf(digits + 10)
                 for c in derivation.carries}
    for g in derivation.gradients:
        if g.kind == "initial":
            derived[g.wrt.name] = [(0, carry[concrete(g.rhs)])]

    # --- compare ----------------------------------------------------------------------
    results = []
    tolerance = 10.0 ** (-(digits - 10))
    for g in derivation.gradients:
        start = time.perf_counter()
        name = g.wrt.name
        if g.kind == "param":
            want_syms = [params[name]]
            got = [sum((M for _, M in derived[name][1:]), derived[name][0][1])]
        elif g.kind == "initial":
            want_syms = [inits[name]]
            got = [derived[name][0][1]]
        else:
            want_syms = [inputs[t][name] for t in range(tau)]
            by_t = dict(derived[name])
            got = [by_t[t] for t in range(tau)]
        worst_abs = worst_rel = 0.0
        entries = 0
        for S, M in zip(want_syms, got):
            for s, d in zip(S, M):
                want = brute.get(s, sp.Float(0, digits + 10))
                diff = abs(want - d)
                worst_abs = max(worst_abs, float(diff))
                worst_rel = max(worst_rel, float(diff / max(abs(want), 1)))
                entries += 1
        results.append(ProofResult(model.name, tuple(sizes) + (tau,), name, entries, worst_abs,
                                   worst_rel, tolerance, time.perf_counter() - start, seed))
    return results
