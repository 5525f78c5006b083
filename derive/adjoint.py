"""From a forward spec to the backpropagation-through-time equations.

The derivation is reverse-mode differentiation of one time step, done by SymPy
on matrix expressions with symbolic sizes, with the primitive rules of
:mod:`derive.rules`.  BPTT is the same step run backwards over time: the adjoint
of the previous state (``dL_dh_carry``) is handed from step t+1 to step t, and
parameter gradients are summed over time steps and examples.

Each quantity also gets a *phase*, which the code printer turns into speed:

* ``pre``   does not depend on the state: all time steps in one array operation
            before the loop (the input projection ``U x(t) + b``);
* ``loop``  lies on the recurrence: computed step by step;
* ``post``  depends on the state but does not feed the next one: all time steps
            at once after the loop (the output head, the loss).

Adjoints inherit the phase of the forward equation they differentiate, so the
only Python loop is the one over time, and parameter gradients are single
matrix products over all steps.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import sympy as sp
from sympy import HadamardProduct, Identity, MatAdd, MatMul, MatrixSymbol, OneMatrix
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from derive import naming
from derive.errors import DerivationError
from derive.rules import RULES, backprop, derivative
from derive.spec import ACTIVATIONS, Elementwise, Model



@dataclass(frozen=True)
class Assign:
    """``lhs = rhs`` at one time step, with the forward equation it comes from."""

    lhs: MatrixSymbol
    rhs: sp.MatrixExpr
    source: str
    phase: str
    stored: bool = False      # kept for every time step as a (tau, B, r) array

    @property
    def name(self) -> str:
        return self.lhs.name


@dataclass(frozen=True)
class Gradient:
    """``dL_d<wrt> = sum over steps (and examples) of rhs``."""

    wrt: MatrixSymbol
    lhs: MatrixSymbol
    rhs: sp.MatrixExpr
    sources: tuple            # forward equations the terms come from
    kind: str                 # "param" (summed over t and batch), "input" (per step), "initial"


@dataclass(frozen=True)
class Derivation:
    model: Model
    forward: tuple            # Assign, forward order, after hoisting
    backward: tuple           # Assign, evaluation order
    carries: tuple            # Assign per state: the carry handed to the previous step
    gradients: tuple          # Gradient: params, inputs, initial states

    def gradient(self, name: str) -> Gradient:
        for g in self.gradients:
            if g.wrt.name == name:
                return g
        raise KeyError(name)

    @property
    def states(self):
        """(previous-step symbol, next-state name, carry symbol, initial-state name) per state."""
        return tuple((prev, new, MatrixSymbol(naming.carry(new), *prev.shape), naming.initial(new))
                     for prev, new in self.model.state.items())

    def assign(self, name: str) -> Assign:
        for a in (*self.forward, *self.backward, *self.carries):
            if a.name == name:
                return a
        raise KeyError(name)


def _names(expr) -> set:
    return {s.name for s in expr.atoms(MatrixSymbol)}


def _phases(model: Model, equations) -> dict:
    """name -> phase, from the dependency structure of the equations."""
    on_state = {p.name for p in model.state}
    for eq in equations:
        if _names(eq.rhs) & on_state:
            on_state.add(eq.lhs.name)
    feeds = set(model.state.values())
    for eq in reversed(equations):
        if eq.lhs.name in feeds:
            feeds |= _names(eq.rhs)
    return {eq.lhs.name: ("pre" if eq.lhs.name not in on_state
                          else "loop" if eq.lhs.name in feeds else "post")
            for eq in equations}


def _function_name(f: sp.Lambda) -> str:
    for key, g in ACTIVATIONS.items():
        if g == f:
            return key
    (z,) = f.variables
    head = f.expr.func.__name__.lower() if f.expr.args == (z,) else "f"
    return head


def _normalise(model: Model):
    """Give a name to every per-example value the backward pass reuses.

    * the argument of an activation: ``g = sigmoid(b_g + U_g x + W_g h)`` becomes
      ``a_g = b_g + U_g x + W_g h``, ``g = sigmoid(a_g)``;
    * an activation inside a larger right side: ``h = q ⊙ tanh(s)`` becomes
      ``tanh_s = tanh(s)``, ``h = q ⊙ tanh_s``;
    * a compound operand of an elementwise product: ``r ⊙ (W h + b_h)``.

    The equations keep their text; only the bookkeeping changes, so f'(a) can be
    written in terms of stored outputs (sigmoid' = g (1 - g)) and nothing is
    computed twice.
    """
    params = {p.name for p in model.params}
    out = []

    def per_example(e):
        return bool(_names(e) - params)

    for eq in model.equations:
        extra = []

        def name(e, proposal):
            symbol = MatrixSymbol(proposal, *e.shape)
            extra.append(type(eq)(symbol, e, eq.text))
            return symbol

        def visit(e, top):
            if isinstance(e, MatrixSymbol) or not per_example(e):
                return e
            if isinstance(e, ElementwiseApplyFunction):
                arg = e.expr if isinstance(e.expr, MatrixSymbol) else \
                    name(visit(e.expr, False), naming.preactivation(eq.lhs.name))
                e = Elementwise(e.function, arg)
                return e if top else name(e, naming.applied(_function_name(e.function), arg.name))
            if isinstance(e, (HadamardProduct, MatMul)):
                compound = (MatAdd, MatMul) if isinstance(e, HadamardProduct) else (HadamardProduct,)
                args = []
                for a in e.args:
                    if isinstance(a, sp.MatrixExpr):
                        a = visit(a, False)
                        if isinstance(a, compound) and per_example(a) and not _is_scaled_symbol(a):
                            a = name(a, naming.operand(eq.lhs.name, len(extra) + 1))
                    args.append(a)
                return e.func(*args)
            if e.args and isinstance(e, sp.MatrixExpr):
                return e.func(*(visit(a, False) if isinstance(a, sp.MatrixExpr) else a for a in e.args))
            return e

        rhs = visit(eq.rhs, True)
        out += extra
        out.append(type(eq)(eq.lhs, rhs, eq.text))
    return tuple(out)


def named_parts(model: Model) -> tuple:
    """The equations :func:`_normalise` adds (``a_g = b_g + U_g x + W_g h_prev``,
    ``tanh_s = tanh(s)``), for documentation."""
    spec = {eq.lhs.name for eq in model.equations}
    return tuple(eq for eq in _normalise(model) if eq.lhs.name not in spec)


def _is_scaled_symbol(e) -> bool:
    """``-z`` or ``1 - z``: cheap enough to recompute, not worth a name."""
    if isinstance(e, MatMul):
        return len(e.args) == 2 and e.args[0].is_number and isinstance(e.args[1], MatrixSymbol)
    if isinstance(e, MatAdd):
        return all(isinstance(a, (MatrixSymbol, OneMatrix)) or _is_scaled_symbol(a) for a in e.args)
    return False


def _hoist(model: Model, equations):
    """Split ``a = (terms without the state) + (terms with it)`` into two equations,
    so that the state-free part of every recurrent equation is computed for all
    time steps at once.  Only terms that involve a per-step input are hoisted."""
    inputs = {x.name for x in model.inputs}
    phases = _phases(model, equations)
    on_state = {p.name for p in model.state} | {k for k, v in phases.items() if v != "pre"}
    out = []
    for eq in equations:
        if phases[eq.lhs.name] == "loop" and isinstance(eq.rhs, MatAdd):
            free = [t for t in eq.rhs.args if not _names(t) & on_state]
            bound = [t for t in eq.rhs.args if _names(t) & on_state]
            if bound and any(_names(t) & inputs for t in free):
                part = MatrixSymbol(naming.hoisted(eq.lhs.name), *eq.lhs.shape)
                out.append(type(eq)(part, MatAdd(*free), eq.text))
                out.append(type(eq)(eq.lhs, MatAdd(part, *bound), eq.text))
                continue
        out.append(eq)
    return tuple(out)


def _in_terms_of_outputs(expr, forward):
    """Rewrite ``f'(a)`` as ``g(h)`` where the forward pass has ``h = f(a)`` and
    SymPy finds ``f'(z) = g(f(z))`` (tanh' = 1 - tanh^2): the backward pass then
    reuses the stored forward value instead of recomputing ``f``."""
    producers = {(a.rhs.function, a.rhs.expr): a.lhs for a in forward
                 if isinstance(a.rhs, ElementwiseApplyFunction)}

    def rewrite(node):
        for (f, arg), out in producers.items():
            if node.expr == arg and node.function == derivative(f):
                g = _as_function_of_output(f)
                if g is not None:
                    return Elementwise(g, out)
        return node

    return expr.replace(lambda e: isinstance(e, ElementwiseApplyFunction), rewrite)


@functools.lru_cache(maxsize=None)
def _as_function_of_output(f: sp.Lambda):
    """``g`` with ``f'(z) = g(f(z))`` when SymPy can find one, else None."""
    (z,) = f.variables
    w = sp.Dummy("w")
    fp = sp.diff(f.expr, z)
    g = fp.subs(f.expr, w)
    if z not in g.free_symbols:
        return sp.Lambda(w, g)
    try:
        inverse = sp.solve(sp.Eq(f.expr, w), z)
    except NotImplementedError:
        return None
    if len(inverse) == 1:
        g = sp.simplify(fp.subs(z, inverse[0]))
        # solve() inverts non-injective functions too (max(0, z) "= w" gives z = w):
        # keep g only when SymPy proves g(f(z)) = f'(z) for every z
        if z not in g.free_symbols and sp.simplify(g.subs(w, f.expr) - fp) == 0:
            return sp.Lambda(w, g)
    return None


def _sum(terms):
    return terms[0] if len(terms) == 1 else MatAdd(*terms).doit()


def derive(model: Model, rules=RULES) -> Derivation:
    """The BPTT equations of ``model``.  :func:`derive.models.derivation` caches them.

    ``rules`` replaces the VJP table of :mod:`derive.rules` (default: the real one);
    :mod:`numeric.faults` derives with a wrong rule to show the checks catch it.

    A hoisted part (``a_in``, see :func:`_hoist`) gets no adjoint of its own: its one
    use is ``a = a_in + ...``, so its adjoint would only repeat ``dL_da``; the
    gradients read ``dL_da`` directly."""
    normalised = _normalise(model)
    equations = _hoist(model, normalised)
    hoisted = {eq.lhs.name for eq in equations} - {eq.lhs.name for eq in normalised}
    phases = _phases(model, equations)
    forward = [Assign(eq.lhs, eq.rhs, eq.text, phases[eq.lhs.name]) for eq in equations]
    constants = {model.label.name}

    contributions: dict = {}      # name -> [(expr, phase, source)]

    def collect(phase, source):
        def accumulate(symbol, g):
            if symbol.name not in constants:
                contributions.setdefault(symbol.name, []).append((g, phase, source))
        return accumulate

    backprop(model.loss, Identity(1), collect("post", model.loss_text), rules)
    for prev, new in model.state.items():
        carry = MatrixSymbol(naming.carry(new), *prev.shape)
        contributions.setdefault(new, []).append((carry, "loop", "BPTT: through step t+1"))

    backward = []
    for a in reversed(forward):
        terms = contributions.pop(a.name, [])
        if not terms:
            continue
        adj = MatrixSymbol(naming.adjoint(a.name), *a.lhs.shape)
        direct = [g for g, ph, _ in terms if ph == "post"]
        if a.phase == "loop" and direct:
            d = MatrixSymbol(naming.direct(a.name), *a.lhs.shape)
            sources = "; ".join(sorted({s for _, ph, s in terms if ph == "post"}))
            backward.append(Assign(d, _sum(direct), sources, "post"))
            rest = [d] + [g for g, ph, _ in terms if ph != "post"]
        else:
            rest = [g for g, _, _ in terms]
        if a.name in hoisted and len(rest) == 1 and isinstance(rest[0], MatrixSymbol):
            backprop(a.rhs, rest[0], collect(a.phase, a.source), rules)
            continue
        uses = "; ".join(dict.fromkeys(s for _, _, s in terms))
        backward.append(Assign(adj, _in_terms_of_outputs(_sum(rest), forward), uses, a.phase))
        backprop(a.rhs, adj, collect(a.phase, a.source), rules)

    carries, gradients = [], []
    for prev, new in model.state.items():
        terms = contributions.pop(prev.name, [])
        carry = MatrixSymbol(naming.carry(new), *prev.shape)
        rhs = _sum([g for g, _, _ in terms]) if terms else sp.ZeroMatrix(*prev.shape)
        carries.append(Assign(carry, rhs, "; ".join(sorted({s for *_, s in terms})), "loop"))
        init = naming.initial(new)
        gradients.append(Gradient(MatrixSymbol(init, *prev.shape),
                                  MatrixSymbol(naming.adjoint(init), *prev.shape),
                                  carry, ("BPTT: carry out of step 1",), "initial"))
    for kind, symbols in (("param", model.params), ("input", model.inputs)):
        for s in symbols:
            terms = contributions.pop(s.name, [])
            rhs = _sum([g for g, _, _ in terms]) if terms else sp.ZeroMatrix(*s.shape)
            gradients.append(Gradient(s, MatrixSymbol(naming.adjoint(s.name), *s.shape), rhs,
                                      tuple(dict.fromkeys(src for *_, src in terms)), kind))
    if contributions:
        raise DerivationError(f"model {model.name!r}: adjoints reached unknown symbols {sorted(contributions)}")

    # Values read outside the loop that computes them are kept for every step.
    outside = set()
    for a in backward:
        if a.phase != "loop":
            outside |= _names(a.rhs)
    for a in forward:
        if a.phase != "loop":
            outside |= _names(a.rhs)
    for g in gradients:
        outside |= _names(g.rhs)
    loop_backward = set()
    for a in backward + carries:
        if a.phase == "loop":
            loop_backward |= _names(a.rhs)
    keep_forward = outside | loop_backward | set(model.state.values()) | set(model.outputs)
    forward = [Assign(a.lhs, a.rhs, a.source, a.phase, a.phase == "loop" and a.name in keep_forward)
               for a in forward]
    backward = [Assign(a.lhs, a.rhs, a.source, a.phase, a.phase == "loop" and a.name in outside)
                for a in backward]
    return Derivation(model, tuple(forward), tuple(backward), tuple(carries), tuple(gradients))
