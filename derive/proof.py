"""Proof at small sizes: derived BPTT gradients = brute-force differentiation.

For concrete sizes (n, m, K, tau) every entry of every parameter, of the
initial states and of the inputs becomes a SymPy symbol; the forward equations
are unrolled over tau steps into one scalar loss, and SymPy differentiates that
scalar with respect to each symbol.  Independently the *symbolic-size*
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
from sympy import ImmutableMatrix, MatrixSymbol

from derive.adjoint import Derivation

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


def _explicit(expr, env: dict) -> ImmutableMatrix:
    """``expr`` with its matrix symbols replaced by explicit matrices from ``env``."""
    return ImmutableMatrix(expr.xreplace(env).as_explicit())


def _one_hot(k: int, K: int) -> ImmutableMatrix:
    return ImmutableMatrix(K, 1, [1 if i == k else 0 for i in range(K)])


def prove(derivation: Derivation, sizes: tuple, tau: int, *, seed: int = 0,
          digits: int = DIGITS) -> list:
    """Compare every derived gradient with brute force at ``sizes`` and ``tau``."""
    model = derivation.model
    size_map = dict(zip(model.sizes, sizes))
    concrete = lambda e: e.subs(size_map) if size_map else e  # noqa: E731
    rng = random.Random(seed)
    K = int(concrete(model.label).shape[0])
    labels = [rng.randrange(K) for _ in range(tau)]

    # --- brute force: the fully unrolled scalar loss, differentiated by SymPy -----
    params = {p.name: _symbols(p.name, concrete(p).shape) for p in model.params}
    inits = {naming_init: _symbols(naming_init, concrete(prev).shape)
             for prev, _, _, naming_init in derivation.states}
    inputs = [{x.name: _symbols(f"{x.name}{t + 1}", concrete(x).shape) for x in model.inputs}
              for t in range(tau)]
    base = {concrete(p): params[p.name] for p in model.params}
    state = {concrete(prev): inits[init] for prev, _, _, init in derivation.states}
    loss = sp.S.Zero
    for t in range(tau):
        env = {**base, **state, concrete(model.label): _one_hot(labels[t], K)}
        env.update({concrete(x): inputs[t][x.name] for x in model.inputs})
        for eq in model.equations:
            env[concrete(eq.lhs)] = _explicit(concrete(eq.rhs), env)
        loss += _explicit(concrete(model.loss), env)[0, 0]
        state = {concrete(prev): env[concrete(MatrixSymbol(new, *prev.shape))]
                 for prev, new, _, _ in derivation.states}

    # --- a random rational point ---------------------------------------------------
    leaves = [s for M in (*params.values(), *inits.values(), *(v for d in inputs for v in d.values()))
              for s in M]
    point = {s: sp.Rational(rng.randint(-90, 90), 97) for s in leaves}
    numeric = {s: sp.Float(v, digits + 10) for s, v in point.items()}
    value = lambda M: M.xreplace(numeric).evalf(digits + 10)  # noqa: E731

    # --- the derivation, run backwards over time at the same point ----------------
    base_n = {k: value(v) for k, v in base.items()}
    state_n = {concrete(prev): value(inits[init]) for prev, _, _, init in derivation.states}
    steps = []
    for t in range(tau):
        env = {**base_n, **state_n, concrete(model.label): _one_hot(labels[t], K)}
        env.update({concrete(x): value(inputs[t][x.name]) for x in model.inputs})
        for a in derivation.forward:
            env[concrete(a.lhs)] = _explicit(concrete(a.rhs), env).evalf(digits + 10)
        steps.append(env)
        state_n = {concrete(prev): env[concrete(MatrixSymbol(new, *prev.shape))]
                   for prev, new, _, _ in derivation.states}
    carry = {concrete(c): sp.zeros(*concrete(c).shape) for _, _, c, _ in derivation.states}
    derived = {g.wrt.name: [] for g in derivation.gradients}
    for t in reversed(range(tau)):
        env = {**steps[t], **carry}
        for a in derivation.backward:
            env[concrete(a.lhs)] = _explicit(concrete(a.rhs), env).evalf(digits + 10)
        for g in derivation.gradients:
            if g.kind != "initial":
                derived[g.wrt.name].append((t, _explicit(concrete(g.rhs), env).evalf(digits + 10)))
        carry = {concrete(c.lhs): _explicit(concrete(c.rhs), env).evalf(digits + 10)
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
                brute = sp.diff(loss, s).xreplace(numeric).evalf(digits + 10)
                diff = abs(brute - d)
                worst_abs = max(worst_abs, float(diff))
                worst_rel = max(worst_rel, float(diff / max(abs(brute), 1)))
                entries += 1
        results.append(ProofResult(model.name, tuple(sizes) + (tau,), name, entries, worst_abs,
                                   worst_rel, tolerance, time.perf_counter() - start, seed))
    return results
