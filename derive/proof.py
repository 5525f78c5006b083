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

import time
from dataclasses import dataclass

import sympy as sp

from derive import naming
from derive.adjoint import Derivation
from derive.evaluate import draw_point, explicit, one_hot, run, symbols

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


def unroll(model, size_map: dict, tau: int, labels: list) -> Unrolled:
    """The forward spec, unrolled at concrete sizes (``{size symbol: int}``) into a scalar graph."""
    shape = lambda e: tuple(int(sp.sympify(d).subs(size_map)) for d in e.shape)  # noqa: E731
    K = shape(model.label)[0]
    params = {p.name: symbols(p.name, shape(p)) for p in model.params}
    inits = {naming.initial(new): symbols(naming.initial(new), shape(prev)) for prev, new in model.state.items()}
    inputs = [{x.name: symbols(f"{x.name}{t + 1}", shape(x)) for x in model.inputs} for t in range(tau)]
    state = {prev.name: inits[naming.initial(new)] for prev, new in model.state.items()}
    nodes, losses = [], []
    for t in range(tau):
        env = {**params, **state, **inputs[t], model.label.name: one_hot(labels[t], K)}
        for eq in model.equations:
            names = symbols(f"{eq.lhs.name}{t + 1}", shape(eq.lhs))
            nodes += zip(names, explicit(eq.rhs, env, sizes=size_map))
            env[eq.lhs.name] = names
        loss = sp.Symbol(f"L{t + 1}")
        nodes.append((loss, explicit(model.loss, env, sizes=size_map)[0, 0]))
        losses.append(loss)
        state = {prev.name: env[new] for prev, new in model.state.items()}
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
    work = digits + 10

    # --- a random rational point, and the loss unrolled and differentiated by SymPy ---
    point = draw_point(model, size_map, tau, seed=seed)
    graph = unroll(model, size_map, tau, point.labels)
    at = {}
    for name, M in (*graph.params.items(), *graph.inits.items()):
        at.update(zip(M, point.params.get(name, point.initial.get(name))))
    for t, step in enumerate(graph.inputs):
        for name, M in step.items():
            at.update(zip(M, point.inputs[t][name]))
    brute = brute_force_gradient(graph, {s: sp.Float(v, work) for s, v in at.items()}, work)

    # --- the derivation, run backwards over time at the same point ----------------
    derived = run(derivation, point, sizes=size_map, digits=work).gradients

    # --- compare ----------------------------------------------------------------------
    results = []
    tolerance = 10.0 ** (-(digits - 10))
    for g in derivation.gradients:
        start = time.perf_counter()
        name = g.wrt.name
        if g.kind == "input":
            pairs = [(graph.inputs[t][name], derived[name][t]) for t in range(tau)]
        else:
            pairs = [(graph.params.get(name, graph.inits.get(name)), derived[name])]
        worst_abs = worst_rel = 0.0
        entries = 0
        for S, M in pairs:
            for s, d in zip(S, M):
                want = brute.get(s, sp.Float(0, work))
                diff = abs(want - d)
                worst_abs = max(worst_abs, float(diff))
                worst_rel = max(worst_rel, float(diff / max(abs(want), 1)))
                entries += 1
        results.append(ProofResult(model.name, tuple(sizes) + (tau,), name, entries, worst_abs,
                                   worst_rel, tolerance, time.perf_counter() - start, seed))
    return results
