"""Faults made by mutating the derivation, to show that every check can fail.

A fault is a *wrong derivation*: the model's :class:`~derive.adjoint.Derivation`
with one mistake of a known kind, printed by the ordinary code generator
(:func:`derive.codegen.generate`) into a temporary module.  No text is patched,
so a fault cannot go stale when the printer changes, and every registered model
gets its faults with no per-model code.  The patterns (:data:`PATTERNS`):

``factor-dropped``      one factor of a product in an adjoint dropped (where shapes allow);
``transpose-removed``   ``W^T g`` written ``W g`` (square parameters only);
``time-shifted``        ``h(t)`` where ``h(t-1)`` belongs, or the reverse;
``derivative-swapped``  one activation's derivative replaced by another's (the one
                        table :data:`derive.spec.ACTIVATIONS`, :func:`derive.rules.derivative`);
``gate-routed``         the adjoints of two sibling gates exchanged where they are used;
``carry-dropped``       the adjoint carried from step t+1, or one path of it, dropped;
``term-dropped``        one other term of a sum in an adjoint dropped;
``sign-flipped``        an adjoint with its sign flipped;
``wrong-rule``          one VJP rule of :data:`derive.rules.RULES` replaced by a wrong one
                        (:data:`WRONG_RULES`) and the model derived again with it
                        (``derive(model, rules=...)``), as autograd's must-fire tests do;
``variant``             an adjoint taken through another variant's equation, as the
                        model's own spec file declares (``CONFUSIONS``, e.g. the GRU's
                        Cho variant): the only per-model knowledge, and it is data.

The classics are instances: swapped gates are ``gate-routed/g<->f``, the dropped
forget path ``carry-dropped/dL_ds/dL_ds_carry``, the other GRU ``variant/cho/dL_dr``.

Every candidate is screened on small check data (:func:`check_data`): a mutation
that leaves the printed module unchanged is *not applicable*, one whose gradients
agree with the correct module's within the error model (:mod:`numeric.tolerances`)
is *equivalent*, and one that prints the same module as an earlier fault, or other
code with the same gradients, a *duplicate*; the printer's refusals and prints that
fail to run are recorded as such.  None of them is a fault.  :func:`screen` keeps the census, :func:`faults`
the faults, :func:`inject` imports one, and :func:`evaluated` computes what a
printed fault must compute, straight from its wrong derivation
(:func:`derive.evaluate.run`).  With :func:`check_data`, ``inject(f).loss_and_grads``
is what a gradient assertion (``assert_grads``) must reject.
"""
from __future__ import annotations

import functools
import importlib.util
import inspect
import re
import sys
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import sympy as sp
from sympy import HadamardPower, HadamardProduct, MatAdd, MatMul, MatrixSymbol, Transpose
from sympy.matrices import ShapeError
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from derive import models, naming
from derive.adjoint import Derivation, derive
from derive.codegen import generate, pretty
from derive.errors import DeriveError
from derive.evaluate import Point, as_float, run
from derive.rules import RULES, backprop, derivative
from derive.spec import ACTIVATIONS, Elementwise, LogSumExp, Softmax
from numeric import checks, jacobians, tolerances
from numeric.verify import make_data

#: in this order: a candidate that prints the same module as an earlier one is a duplicate,
#: so a wrong rule counts only where it does more than one of the local edits before it
PATTERNS = ("factor-dropped", "transpose-removed", "time-shifted", "derivative-swapped", "gate-routed",
            "carry-dropped", "term-dropped", "sign-flipped", "wrong-rule", "variant")

#: the check data: small sizes, a few steps, so that every fault runs in well under a second
SIZE, SIZES = 3, {"m": 2}             # every size 3, the input's 2 (so U is not square)
TAU, BATCH, SEED = 4, 2, 0
#: a faulty module's gradients differ from the correct one's by more than this many times
#: the float64 error bound of one of them (both are rounded), or the mutant is equivalent
EQUIVALENT_WITHIN = 2.0
#: why a candidate is no fault: it prints the correct module; it prints an earlier candidate's
#: module; its gradients agree with the correct ones; the printer refuses it; its print fails
REASONS = ("not applicable", "duplicate", "equivalent", "unprintable", "does not run")


@dataclass(frozen=True)
class Fault:
    """One wrong derivation of ``model`` and the gradients it changes on the check data."""

    id: str                   # "<pattern>/<where>/<what>", stable across runs
    model: str
    pattern: str              # one of PATTERNS
    description: str          # what changed, with the notes' equation it belongs to
    gradients: tuple          # keys of grads that differ from the correct module's
    source: str = field(repr=False, compare=False)                 # the printed module
    derivation: Derivation = field(repr=False, compare=False)      # the wrong derivation


@dataclass(frozen=True)
class Discarded:
    id: str
    pattern: str
    reason: str               # one of REASONS, then details: "duplicate of <id>", "unprintable: <error>"


@dataclass(frozen=True)
class Screening:
    """Every candidate of one model: the faults, and why the others are not faults."""

    model: str
    faults: tuple
    discarded: tuple

    def census(self) -> dict:
        """pattern -> {"faults": k, and k per reason of :data:`REASONS`}."""
        out = {p: dict.fromkeys(("faults", *REASONS), 0) for p in PATTERNS}
        for f in self.faults:
            out[f.pattern]["faults"] += 1
        for d in self.discarded:
            out[d.pattern][next(r for r in REASONS if d.reason.startswith(r))] += 1
        return out


@dataclass(frozen=True)
class _Mutant:
    id: str
    pattern: str
    description: str
    build: object             # () -> Derivation


# -- wrong rules: each a plausible mistake in one line of derive/rules.py's table -----------------
def _square(M) -> bool:
    return M.shape[0] == M.shape[1]


def _untransposed(factors):
    """The transposes of a product's other factors forgotten wherever the shapes let it run."""
    if not factors:
        return []
    M = MatMul(*factors)
    return [M if _square(M) else M.T]


def _matmul_without_transposes(e, G):
    coeff, mats = e.as_coeff_matrices()
    return [(A, MatMul(coeff, *_untransposed(mats[:i]), G, *_untransposed(mats[i + 1:])).doit())
            for i, A in enumerate(mats)]


def _matmul_transposed_gradient(e, G):
    return [(A, g.T.doit() if _square(A) else g) for A, g in RULES[MatMul](e, G)]


_Z = sp.Symbol("z")

#: node type -> ((name, what the wrong rule does, the wrong rule), ...)
WRONG_RULES = {
    MatMul: (("no-transposes", "d(A B)/dB taken as A G instead of A^T G (square factors)",
              _matmul_without_transposes),
             ("transposed-gradient", "d(A B)/dA taken as (G B^T)^T instead of G B^T (square A)",
              _matmul_transposed_gradient)),
    HadamardProduct: (("own-operand", "d(x ⊙ y)/dx taken as G ⊙ x instead of G ⊙ y",
                       lambda e, G: [(x, HadamardProduct(G, x).doit()) for x in e.args]),),
    ElementwiseApplyFunction: (
        ("derivative-dropped", "d f(x)/dx taken as G, without f'(x)", lambda e, G: [(e.expr, G)]),
        ("derivative-at-output", "d f(x)/dx taken as G ⊙ f'(f(x)) instead of G ⊙ f'(x)",
         lambda e, G: [(e.expr, HadamardProduct(G, Elementwise(derivative(e.function), e)))])),
    LogSumExp: (("unnormalised", "d logsumexp(v)/dv taken as exp(v) G instead of softmax(v) G",
                 lambda e, G: [(e.arg, MatMul(Elementwise(sp.Lambda(_Z, sp.exp(_Z)), e.arg), G).doit())]),),
    Softmax: (("no-outer-term", "d softmax(v)/dv taken as s ⊙ G, without - s s^T G",
               lambda e, G: [(e.arg, HadamardProduct(e, G).doit())]),),
    Transpose: (("not-transposed", "d(A^T)/dA taken as G instead of G^T (square A)",
                 lambda e, G: [(e.arg, G if _square(G) else G.T)]),),
    HadamardPower: (("exponent-dropped", "d(x^p)/dx taken as G ⊙ x^(p-1), without p",
                     lambda e, G: [(e.base, HadamardProduct(G, HadamardPower(e.base, e.exp - 1)).doit())]),),
}


# -- where a derivation can go wrong ---------------------------------------------------------------
def _targets(d: Derivation):
    """(name, right side, the forward equation it comes from) of every adjoint, carry and
    parameter or input gradient: the places a mutation may edit."""
    for a in (*d.backward, *d.carries):
        yield a.name, a.rhs, a.source
    for g in d.gradients:
        if g.kind != "initial":
            yield g.lhs.name, g.rhs, "; ".join(g.sources)


def _with(d: Derivation, changes: dict) -> Derivation:
    """``d`` with the right sides of the targets named in ``changes`` replaced."""
    def edit(a):
        return replace(a, rhs=changes[a.lhs.name]) if a.lhs.name in changes else a
    return replace(d, backward=_in_order(list(map(edit, d.backward))), carries=tuple(map(edit, d.carries)),
                   gradients=tuple(map(edit, d.gradients)))


def _in_order(backward: list) -> tuple:
    """The assignments in their order, except that one reading another comes after it
    (an exchanged adjoint may be read before its own equation): a stable topological order."""
    names = {a.name for a in backward}
    done, out = set(), []
    while backward:
        a = next((a for a in backward if not ({s.name for s in a.rhs.atoms(MatrixSymbol)} & names) - done),
                 backward[0])
        backward.remove(a)
        done.add(a.name)
        out.append(a)
    return tuple(out)


def _token(e) -> str:
    """A short, space-free spelling of ``e`` for fault ids: ``W^T*dL_da``, ``1-h**2``."""
    if isinstance(e, MatrixSymbol):
        return e.name
    if isinstance(e, Transpose):
        return _token(e.arg) + "^T"
    if isinstance(e, MatMul):
        coeff, mats = e.as_coeff_matrices()
        return ("-" if coeff == -1 else "" if coeff == 1 else f"{coeff}*") + "*".join(map(_token, mats))
    if isinstance(e, HadamardProduct):
        return ".*".join(f"({_token(a)})" if isinstance(a, MatAdd) else _token(a) for a in e.args)
    if isinstance(e, MatAdd):
        return "+".join(map(_token, e.args)).replace("+-", "-")
    return pretty(e).replace(" ", "")


def _in(name: str, rhs, source: str) -> str:
    return f"{name} = {pretty(rhs)} (from {source})"


def _product(node, args):
    if isinstance(node, HadamardProduct):
        return args[0] if len(args) == 1 else HadamardProduct(*args)
    coeff, _ = node.as_coeff_matrices()
    return MatMul(coeff, *args) if coeff != 1 or len(args) > 1 else args[0]


def _factor_dropped(d):
    for name, rhs, source in _targets(d):
        for node in sp.preorder_traversal(rhs):
            if isinstance(node, HadamardProduct):
                factors = list(node.args)
            elif isinstance(node, MatMul):
                factors = list(node.as_coeff_matrices()[1])
            else:
                continue
            if len(factors) < 2:
                continue
            for i, f in enumerate(factors):
                try:
                    new = _product(node, factors[:i] + factors[i + 1:])
                except ShapeError:
                    continue
                if new.shape != node.shape:
                    continue
                yield (f"{name}/{_token(f)}", f"the factor {pretty(f)} dropped from {pretty(node)} in "
                       f"{_in(name, rhs, source)}", {name: rhs.xreplace({node: new})})


def _transpose_removed(d):
    params = {p.name for p in d.model.params}
    for name, rhs, source in _targets(d):
        for node in sp.preorder_traversal(rhs):
            if isinstance(node, Transpose) and isinstance(node.arg, MatrixSymbol) \
                    and node.arg.name in params and _square(node.arg):
                W = node.arg
                yield (f"{name}/{W.name}", f"{W.name} where {W.name}^T belongs in {_in(name, rhs, source)}",
                       {name: rhs.xreplace({node: W})})


def _time_shifted(d):
    for prev, new, _, _ in d.states:
        now = MatrixSymbol(new, *prev.shape)
        spelled = {prev: f"{new}(t-1)", now: f"{new}(t)"}          # as the notes write them
        for name, rhs, source in _targets(d):
            atoms = rhs.atoms(MatrixSymbol)
            for a, b in ((prev, now), (now, prev)):
                if a in atoms:
                    yield (f"{name}/{a.name}->{b.name}", f"{spelled[b]} where {spelled[a]} belongs in "
                           f"{_in(name, rhs, source)}", {name: rhs.xreplace({a: b})})


def _carry_dropped(d):
    carries = {c.name for c in d.carries}
    for a in d.backward:
        if isinstance(a.rhs, MatAdd):
            for t in a.rhs.args:
                if isinstance(t, MatrixSymbol) and t.name in carries:
                    rest = _sum([x for x in a.rhs.args if x != t])
                    yield (f"{a.name}/{t.name}", f"the adjoint carried from step t+1 ({t.name}) dropped from "
                           f"{_in(a.name, a.rhs, a.source)}", {a.name: rest})
    for c in d.carries:
        if isinstance(c.rhs, MatAdd):
            for t in c.rhs.args:
                rest = [x for x in c.rhs.args if x != t]
                yield (f"{c.name}/{_token(t)}", f"the path {pretty(t)} dropped from the carried adjoint "
                       f"{_in(c.name, c.rhs, c.source)}",
                       {c.name: _sum(rest)})


def _term_dropped(d):
    carries = {c.name for c in d.carries}
    for name, rhs, source in _targets(d):
        if name in carries:
            continue                                   # carry-dropped edits those
        for node in sp.preorder_traversal(rhs):
            if not isinstance(node, MatAdd):
                continue
            for t in node.args:
                if isinstance(t, MatrixSymbol) and t.name in carries:
                    continue
                rest = [x for x in node.args if x != t]
                yield (f"{name}/{_token(t)}", f"the term {pretty(t)} dropped from {pretty(node)} in "
                       f"{_in(name, rhs, source)}",
                       {name: rhs.xreplace({node: _sum(rest)})})


def _sign_flipped(d):
    for a in (*d.backward, *d.carries):
        yield a.name, f"{a.name} with its sign flipped: {_in(a.name, a.rhs, a.source)}", {a.name: -a.rhs}


def _kind(d: Derivation, rhs):
    """What an equation computes: its node type, its activation, and the vectors its
    parameters multiply (``{h_prev}`` for every gate's pre-activation ``W_k h(t-1) + ...``)."""
    params = {p.name for p in d.model.params}
    vectors = frozenset(n.args[1].name for n in sp.preorder_traversal(rhs)
                        if isinstance(n, MatMul) and len(n.args) == 2 and isinstance(n.args[0], MatrixSymbol)
                        and n.args[0].name in params and isinstance(n.args[1], MatrixSymbol))
    return type(rhs), getattr(rhs, "function", None), vectors


def _gate_routed(d):
    """Sibling gates: loop equations of the same shape and kind (the same activation, or
    both pre-activations) of which neither depends on the other.  Their adjoints are
    exchanged wherever they are read (gradients, carry, the adjoints below them)."""
    depends: dict = {}
    for a in d.forward:
        names = {s.name for s in a.rhs.atoms(MatrixSymbol)}
        depends[a.name] = names | set().union(*(depends.get(n, set()) for n in names))
    adjoints = {a.name for a in d.backward}
    loop = [a for a in d.forward if a.phase == "loop" and naming.adjoint(a.name) in adjoints]
    for i, x in enumerate(loop):
        for y in loop[i + 1:]:
            if x.lhs.shape != y.lhs.shape or _kind(d, x.rhs) != _kind(d, y.rhs) \
                    or x.name in depends[y.name] or y.name in depends[x.name]:
                continue
            gx, gy = (MatrixSymbol(naming.adjoint(a.name), *a.lhs.shape) for a in (x, y))
            swap = {gx: gy, gy: gx}
            changes = {name: rhs.xreplace(swap) for name, rhs, _ in _targets(d)
                       if name not in (gx.name, gy.name) and rhs.atoms(MatrixSymbol) & {gx, gy}}
            yield (f"{x.name}<->{y.name}", f"the adjoints of {x.name} ({x.source}) and {y.name} "
                   f"({y.source}) exchanged where they are used: in " +
                   ", ".join(sorted(changes)), changes)


def _edits(pattern, generator):
    """Mutants of a pattern that edits right sides of the derivation."""
    def mutants(name, d):
        for where, description, changes in generator(d):
            yield _Mutant(f"{pattern}/{where}", pattern, description,
                          functools.partial(_with, d, changes))
    return mutants


def _derived_with(spec, rules):
    return derive(spec, rules=rules)


def _wrong_rules(name, d):
    for node, wrongs in WRONG_RULES.items():
        for label, description, rule in wrongs:
            yield _Mutant(f"wrong-rule/{node.__name__}/{label}", "wrong-rule",
                          f"the VJP rule of {node.__name__} replaced by a wrong one: {description}",
                          functools.partial(_derived_with, d.model, {**RULES, node: rule}))


def _swapped_derivative(site, true, wrong):
    """The Elementwise rule with ``wrong``'s derivative at ``site`` only."""
    def rule(e, G):
        if e.expr == site and e.function == ACTIVATIONS[true]:
            return [(e.expr, HadamardProduct(G, Elementwise(derivative(ACTIVATIONS[wrong]), e.expr)))]
        return RULES[ElementwiseApplyFunction](e, G)
    return rule


def _derivative_swapped(name, d):
    activations = {f: k for k, f in ACTIVATIONS.items() if k != "identity"}
    for a in d.forward:
        if isinstance(a.rhs, ElementwiseApplyFunction) and a.rhs.function in activations:
            true = activations[a.rhs.function]
            for wrong in activations.values():
                if wrong == true:
                    continue
                rules = {**RULES, ElementwiseApplyFunction: _swapped_derivative(a.rhs.expr, true, wrong)}
                yield _Mutant(f"derivative-swapped/{a.name}/{true}->{wrong}", "derivative-swapped",
                              f"{true}'({a.rhs.expr.name}) replaced by {wrong}'({a.rhs.expr.name}) in the adjoint "
                              f"of {a.name} = {true}({a.rhs.expr.name}) (from {a.source})",
                              functools.partial(_derived_with, d.model, rules))


def confusions(name: str) -> tuple:
    """The mistakes ``derive/models/<name>.py`` declares as data (``CONFUSIONS``): each a dict
    with ``id``, ``description``, ``equation`` (a forward equation's name), ``of`` (the
    symbol whose adjoint is taken through the other ``variant``'s equation) and ``variant``
    (a spec function of the same sizes)."""
    return tuple(getattr(inspect.getmodule(models.get(name)), "CONFUSIONS", ()))


def _variant(name, d):
    for c in confusions(name):
        yield _Mutant(f"variant/{c['id']}/{naming.adjoint(c['of'])}", "variant", c["description"],
                      functools.partial(_through_variant, d, c))


def _through_variant(d: Derivation, c: dict) -> Derivation:
    """``dL/d<of>`` taken through the variant's ``equation`` with this model's adjoint of
    that equation's left side; symbols the variant has and this model lacks are zero."""
    eq = c["variant"](*d.model.sizes).equation(c["equation"])
    own = {s.name for s in (*d.model.params, *d.model.inputs, *d.model.state, *(a.lhs for a in d.forward))}
    zero = [s for s in eq.rhs.atoms(MatrixSymbol) if s.name not in own]
    rhs = eq.rhs.replace(lambda e: isinstance(e, MatAdd) and set(e.args) & set(zero),
                         lambda e: _sum([a for a in e.args if a not in zero]))
    terms = []
    backprop(rhs, MatrixSymbol(naming.adjoint(eq.lhs.name), *eq.lhs.shape),
             lambda s, g: terms.append(g) if s.name == c["of"] else None)
    if not terms:
        raise DeriveError(f"variant {c['id']!r}: {c['of']} does not occur in {eq.text}")
    return _with(d, {naming.adjoint(c["of"]): _sum(terms)})


def _sum(terms):
    return MatAdd(*terms) if len(terms) > 1 else terms[0]


GENERATORS = {
    "wrong-rule": _wrong_rules,
    "factor-dropped": _edits("factor-dropped", _factor_dropped),
    "transpose-removed": _edits("transpose-removed", _transpose_removed),
    "time-shifted": _edits("time-shifted", _time_shifted),
    "derivative-swapped": _derivative_swapped,
    "gate-routed": _edits("gate-routed", _gate_routed),
    "carry-dropped": _edits("carry-dropped", _carry_dropped),
    "term-dropped": _edits("term-dropped", _term_dropped),
    "sign-flipped": _edits("sign-flipped", _sign_flipped),
    "variant": _variant,
}


def mutants(name: str, d: Derivation = None):
    """Every candidate mutation of model ``name``'s derivation, pattern by pattern (unscreened)."""
    d = d or models.derivation(name)
    seen: dict = {}
    for pattern in PATTERNS:
        for m in GENERATORS[pattern](name, d):
            seen[m.id] = seen.get(m.id, 0) + 1
            yield m if seen[m.id] == 1 else replace(m, id=f"{m.id}#{seen[m.id]}")


# -- screening --------------------------------------------------------------------------------------
def _size_values(name: str) -> tuple:
    return tuple(SIZES.get(str(s), SIZE) for s in models.get(name)().sizes)


def check_data(name: str, seed: int = SEED):
    """``(params, x, y, init)``: the small data every fault is screened and checked on."""
    sizes = dict(zip(map(str, models.get(name)().sizes), _size_values(name)))
    _, params, x, y, init = make_data(name, seed=seed, sizes=sizes, B=BATCH, tau=TAU)
    return params, x, y, init


def load(source: str, name: str):
    """Import the module text ``source`` under the module name ``name`` (not kept in sys.modules)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{name}.py"
        path.write_text(source)
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    sys.modules.pop(name, None)
    return module


@dataclass(frozen=True)
class _Reference:
    source: str               # the correct module, printed
    data: tuple               # check_data(name)
    grads: dict               # its gradients on the data
    bound: float              # a difference beyond this (relative to scale) is not rounding
    scale: float              # G of the error model: numeric.checks.term_scale


@functools.lru_cache(maxsize=None)
def _reference(name: str) -> _Reference:
    source = generate(models.derivation(name))
    params, x, y, init = data = check_data(name)
    _, grads = load(source, _module_name(name, "correct")).loss_and_grads(params, x, y, **init)
    model = checks.spec_for(name, params)
    N = checks.path_length(model, x.shape[0], x.shape[1])
    A = tolerances.recurrence_amplification(jacobians.step_jacobians(model, params, x, init))
    bound = EQUIVALENT_WITHIN * tolerances.float64_gradient_tolerance(N, 1.0, amplification=A).relative
    return _Reference(source, data, grads, bound, checks.term_scale(grads))


def changed(name: str, grads: dict, reference: dict = None) -> tuple:
    """The keys of ``grads`` (computed on :func:`check_data`) that differ from ``reference``
    (default: the correct module's) by more than rounding: more than EQUIVALENT_WITHIN times
    the float64 error bound of the autograd check, normwise against the largest entry of any
    correct gradient (:func:`numeric.checks.term_scale`)."""
    ref = _reference(name)
    reference = ref.grads if reference is None else reference
    return tuple(k for k, want in reference.items()
                 if not np.all(np.isfinite(grads[k]))
                 or float(np.max(np.abs(np.asarray(grads[k]) - want))) / ref.scale > ref.bound)


def evaluated(fault: Fault, digits: int = 30) -> dict:
    """The gradients of ``fault.derivation`` itself on :func:`check_data`, by the one
    evaluator of a derivation (:func:`derive.evaluate.run`, ``digits`` digits, one example
    at a time), with the keys and shapes of the printed module's: what the printed fault
    must compute."""
    params, x, y, init = check_data(fault.model)
    d = fault.derivation
    model = d.model
    sizes = {s: int(n) for s, n in zip(model.sizes, _size_values(fault.model))}
    (xname,) = (s.name for s in model.inputs)

    def matrix(v):
        v = np.asarray(v, dtype=np.float64)
        v = v[:, None] if v.ndim == 1 else v
        return sp.ImmutableMatrix(*v.shape, [sp.Float(float(e), digits) for e in v.ravel()])

    total: dict = {}
    for b in range(x.shape[1]):
        point = Point({k: matrix(v) for k, v in params.items()},
                      {k: matrix(v[b]) for k, v in init.items()},
                      [{xname: matrix(x[t, b])} for t in range(x.shape[0])],
                      [int(y[t, b]) for t in range(x.shape[0])])
        for k, v in run(d, point, sizes=sizes, digits=digits).gradients.items():
            per = np.stack([as_float(s)[:, 0] for s in v]) if isinstance(v, list) else as_float(v)
            if k in params:
                total[k] = total.get(k, 0) + per.reshape(np.shape(params[k]))
            else:
                total.setdefault(k, []).append(per.reshape(-1) if k in init else per)
    return {k: np.stack(v, axis=1) if k == xname else np.stack(v) if isinstance(v, list) else v
            for k, v in total.items()}


def _module_name(name: str, fault_id: str) -> str:
    return f"_fault_{name}_" + re.sub(r"\W+", "_", fault_id)


def examine(name: str, wrong: Derivation, *, id: str = "custom", pattern: str = "custom",
            description: str = "", source: str = None, earlier: dict = None):
    """A :class:`Fault` when the printed ``wrong`` derivation of model ``name`` changes a
    gradient on :func:`check_data` in a way no fault in ``earlier`` (id -> its gradients,
    extended with this one) does; else the :class:`Discarded` record saying why not."""
    ref = _reference(name)
    try:
        source = source if source is not None else generate(wrong)
    except Exception as e:  # noqa: BLE001 - the printer's limits are reported, not raised
        return Discarded(id, pattern, f"unprintable: {type(e).__name__}: {e}")
    if source == ref.source:
        return Discarded(id, pattern, "not applicable")
    params, x, y, init = ref.data
    try:
        _, grads = load(source, _module_name(name, id)).loss_and_grads(params, x, y, **init)
    except Exception as e:  # noqa: BLE001 - a printed mutant that cannot run is reported
        return Discarded(id, pattern, f"does not run: {type(e).__name__}: {e}")
    keys = changed(name, grads)
    if not keys:
        return Discarded(id, pattern, "equivalent")
    earlier = {} if earlier is None else earlier
    same = next((other for other, theirs in earlier.items() if not changed(name, grads, theirs)), None)
    if same is not None:
        return Discarded(id, pattern, f"duplicate of {same} (other code, the same gradients)")
    earlier[id] = grads
    return Fault(id, name, pattern, description, keys, source, wrong)


@functools.lru_cache(maxsize=None)
def screen(name: str) -> Screening:
    """Every mutant of model ``name``, printed, run on :func:`check_data` and sorted into
    faults and discarded candidates (with the reason)."""
    printed: dict = {_reference(name).source: None}     # module text -> the first candidate printing it
    found: dict = {}                                     # fault id -> its gradients
    kept, discarded = [], []
    for m in mutants(name):
        try:
            wrong = m.build()
            source = generate(wrong)
        except Exception as e:  # noqa: BLE001 - the printer's limits are reported, not raised
            discarded.append(Discarded(m.id, m.pattern, f"unprintable: {type(e).__name__}: {e}"))
            continue
        if source in printed:
            first = printed[source]
            discarded.append(Discarded(m.id, m.pattern, "not applicable" if first is None else f"duplicate of {first}"))
            continue
        printed[source] = m.id
        verdict = examine(name, wrong, id=m.id, pattern=m.pattern, description=m.description, source=source,
                          earlier=found)
        (kept if isinstance(verdict, Fault) else discarded).append(verdict)
    return Screening(name, tuple(kept), tuple(discarded))


def faults(name: str) -> list:
    """The faults of model ``name``: every mutant that changes a gradient, in pattern order."""
    return list(screen(name).faults)


def inject(fault: Fault):
    """A fresh module object: the code generator's print of ``fault``'s wrong derivation.
    Its ``loss_and_grads`` has the API of ``numeric.generated.<model>``."""
    return load(fault.source, _module_name(fault.model, fault.id))
