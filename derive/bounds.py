"""Vanishing and exploding gradients: Jacobian bounds derived from the forward specs.

Everything here is derived by SymPy from a :class:`~derive.spec.Model`; no
Jacobian and no bound is typed in.

1. ``gamma = sup |phi'|`` of an activation (:func:`sup_abs`, :func:`gamma`):
   critical points of ``phi'`` and its limits at the ends of its domain, piece
   by piece for piecewise functions (ReLU's derivative is Heaviside: the sup is
   over both open half-lines; the point z = 0, where ReLU has no derivative,
   is left out and reported).
2. The one-step Jacobian of the state (:func:`one_step_jacobian`): the forward
   equations of one step are run backwards with the primitive VJP rules of
   :mod:`derive.rules` from a symbolic adjoint ``G`` of each next state; the
   adjoint reaching each previous state is linear in ``G`` and is read as
   ``J^T G``.  Layout: numerator, ``J[i, j] = d h_i(t) / d h_j(t-1)``
   (:data:`LAYOUT`).  With several states (LSTM: h and s) the Jacobian is a
   block matrix, one block per (next state, previous state).
3. A bound on ``||J||_2`` (:func:`norm_bound`), by walking the derived
   expression with the norm rules of :data:`NORM_RULES` (triangle inequality,
   submultiplicativity, ``||diag(v)||_2 = max_i |v_i|``,
   ``max|u ⊙ v| <= max|u| max|v|``, ``|phi'(a_i)| <= gamma``).  Whatever the
   walker cannot bound a priori (a gate value, a time constant, the memory
   state) stays a named per-step quantity ``max|f|``, measured by the numeric
   side.  A block Jacobian is bounded by the 2-norm of its matrix of block
   bounds.  For the vanilla RNN the walker gives ``gamma * sigma_max(W)``;
   with submultiplicativity over t - k steps that is the seeds' product bound.
4. The linear case (seed 004): ``M^k = Q Lambda^k Q^T`` by induction
   (:func:`prove_eigen_power`), and what it means per eigen-component.
5. Leaky units (:func:`leaky_statement`), 6. LSTM memory path
   (:func:`lstm_memory_path`), 7. skip connections of delay d
   (:func:`skip_spec`, :func:`skip_path_bound`), 8. gradient clipping
   (:func:`prove_clipping`).

:func:`prove_jacobian` checks a derived Jacobian against SymPy's own
differentiation of the explicit forward step at small sizes (an identity test
at a random rational point, like :mod:`derive.proof`).
"""
from __future__ import annotations

import dataclasses
import functools
import random
from dataclasses import dataclass

import sympy as sp
from sympy import (DiagMatrix, HadamardPower, HadamardProduct, Identity, ImmutableMatrix,
                   MatAdd, MatMul, MatrixSymbol, OneMatrix, Transpose, ZeroMatrix)
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from derive.errors import DerivationError
from derive.rules import backprop, derivative
from derive.spec import Equation, Model, logsumexp, sizes

__all__ = [
    "LAYOUT", "ACTIVATIONS", "LOGISTIC", "NORM_RULES", "Sup", "sup_abs", "gamma",
    "prove_sigmoid_forms", "StepJacobian", "one_step_jacobian", "prove_jacobian", "show",
    "NormBound", "StepBound", "norm_bound", "step_bound", "with_activation",
    "product_readings", "prove_eigen_power", "leaky_statement", "lstm_memory_path",
    "skip_spec", "skip_path_bound", "prove_clipping", "state_params",
]

#: The layout of every Jacobian derived here.
LAYOUT = ("numerator layout: J[i, j] = d h_i(t) / d h_j(t-1) (row i: a component of the next "
          "state, column j: a component of the previous state)")

_z = sp.Symbol("z", real=True)

#: The four activations of the seeds.  Sigmoid in the tanh form; :data:`LOGISTIC`
#: is the same function as 1/(1 + exp(-z)) (:func:`prove_sigmoid_forms`).
ACTIVATIONS = {
    "tanh": sp.Lambda(_z, sp.tanh(_z)),
    "sigmoid": sp.Lambda(_z, (1 + sp.tanh(_z / 2)) / 2),
    "relu": sp.Lambda(_z, sp.Max(0, _z)),
    "identity": sp.Lambda(_z, _z),
}
LOGISTIC = sp.Lambda(_z, 1 / (1 + sp.exp(-_z)))

#: The norm facts the bound walker uses, in the order it may apply them
#: (each is a textbook property of the spectral norm; tests/test_bounds.py
#: checks each on random matrices and proves the diagonal ones by SymPy).
NORM_RULES = (
    "||A + B|| <= ||A|| + ||B|| (triangle inequality)",
    "||A B|| <= ||A|| ||B|| (submultiplicativity)",
    "||c A|| = |c| ||A||, ||A^T|| = ||A||, ||I|| = 1",
    "||diag(v)||_2 = max_i |v_i|",
    "max_i |(u ⊙ v)_i| <= max_i |u_i| max_i |v_i|",
    "max_i |phi(a_i)| <= sup_z |phi(z)| (gamma for phi = an activation's derivative)",
    "||[[A, B], [C, D]]||_2 <= ||[[||A||, ||B||], [||C||, ||D||]]||_2 (block matrices)",
)


# ---------------------------------------------------------------------------------------
# 1. sup |f| by critical points and limits
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Sup:
    """``sup |f(z)|`` over the domain of ``f``'s variable, and how it was found."""

    function: sp.Lambda
    value: sp.Expr                 # exact (sp.oo when unbounded)
    where: str                     # where it is attained or approached
    candidates: tuple              # ((where, |f| there), ...): critical points and limits
    excluded: tuple                # isolated points left out (f has no derivative there)

    @property
    def finite(self) -> bool:
        return bool(self.value.is_finite)

    def __str__(self) -> str:
        cands = "; ".join(f"{w}: {v}" for w, v in self.candidates)
        skip = f"; left out {', '.join(map(str, self.excluded))}" if self.excluded else ""
        return f"sup |{self.function.expr}| = {self.value} at {self.where} (candidates {cands}{skip})"


def _domain(v: sp.Symbol) -> sp.Set:
    if v.is_positive:
        return sp.Interval.open(0, sp.oo)
    if v.is_nonnegative:
        return sp.Interval(0, sp.oo)
    return sp.S.Reals


def _region_text(part: sp.Set, v: sp.Symbol) -> str:
    if part == sp.S.Reals:
        return f"all real {v}"
    return str(part.as_relational(v))


def _interval_candidates(expr, x, part: sp.Interval, v: sp.Symbol) -> list:
    """|expr| at the critical points inside ``part`` and its limits at both ends
    (``x`` is the working variable, ``v`` the one shown)."""
    out = []
    d = sp.diff(expr, x)
    if sp.simplify(d) == 0:
        return [(_region_text(part, v), sp.Abs(sp.simplify(expr)))]
    crit = sp.solveset(d, x, part)
    if crit != sp.S.EmptySet and not isinstance(crit, sp.FiniteSet):
        raise DerivationError(f"sup |{expr}|: cannot list the critical points on {part} ({crit})")
    for c in sorted(crit, key=sp.default_sort_key) if crit != sp.S.EmptySet else ():
        out.append((f"{v} = {c}", sp.Abs(sp.simplify(expr.subs(x, c)))))
    for end, side in ((part.left, "+"), (part.right, "-")):
        lim = sp.limit(expr, x, end, side)
        out.append((f"{v} -> {end}{side if end.is_finite else ''}", sp.Abs(lim)))
    return out


@functools.lru_cache(maxsize=None)
def sup_abs(f: sp.Lambda) -> Sup:
    """``sup |f|`` over its variable's domain (the reals, or (0, oo) for a
    positive variable), by SymPy: per piece of ``f`` rewritten as a
    ``Piecewise``, the critical points inside each interval and the limits at
    its ends.  Isolated points (ReLU's derivative at 0) are left out."""
    (v,) = f.variables
    x = sp.Dummy("x", real=True)
    expr = f.expr.xreplace({v: x})
    domain = _domain(v)
    shown = sp.Symbol("z")
    pw = sp.piecewise_fold(expr.rewrite(sp.Piecewise))
    pieces = pw.args if isinstance(pw, sp.Piecewise) else ((expr, sp.true),)
    remaining, candidates, excluded = domain, [], []
    for piece, cond in pieces:
        region = (domain if cond == sp.true else cond.as_set()).intersect(remaining)
        remaining = sp.Complement(remaining, region).simplify() if region != sp.S.EmptySet else remaining
        parts = region.args if isinstance(region, sp.Union) else (region,)
        for part in parts:
            if part == sp.S.EmptySet:
                continue
            if isinstance(part, sp.FiniteSet):
                if len(pieces) == 1:
                    raise DerivationError(f"sup |{f.expr}|: unexpected isolated domain {part}")
                excluded += [f"z = {p} (value {piece})" for p in part]
                continue
            if not isinstance(part, sp.Interval):
                raise DerivationError(f"sup |{f.expr}|: cannot handle the region {part}")
            candidates += _interval_candidates(piece, x, part, shown)
    values = [c for _, c in candidates]
    value = sp.Max(*values) if values else sp.S.Zero
    if not value.is_number:
        raise DerivationError(f"sup |{f.expr}|: not a number: {value}")
    where = ", ".join(w for w, c in candidates if sp.simplify(c - value) == 0) if value.is_finite else \
        ", ".join(w for w, c in candidates if c == sp.oo)
    return Sup(f, value, where, tuple(candidates), tuple(excluded))


def gamma(activation) -> Sup:
    """``gamma = sup |phi'|`` for an activation name (a key of :data:`ACTIVATIONS`)
    or a one-variable ``Lambda``; ``phi'`` is SymPy's derivative."""
    f = ACTIVATIONS[activation] if isinstance(activation, str) else activation
    return sup_abs(derivative(f))


def prove_sigmoid_forms() -> bool:
    """(1 + tanh(z/2)) / 2 = 1 / (1 + exp(-z)), by SymPy."""
    return sp.simplify((ACTIVATIONS["sigmoid"].expr - LOGISTIC.expr).rewrite(sp.exp)) == 0


def _same_function(f: sp.Lambda, g: sp.Lambda) -> bool:
    x = sp.Dummy("x", real=True)
    a, b = f.expr.xreplace({f.variables[0]: x}), g.expr.xreplace({g.variables[0]: x})
    return a == b or sp.simplify((a - b).rewrite(sp.exp)) == 0


@functools.lru_cache(maxsize=None)
def function_name(f: sp.Lambda) -> str | None:
    """``tanh``, ``sigmoid'``, ... when ``f`` is a known activation or its derivative."""
    if len(f.variables) != 1:
        return None
    for name, g in (*ACTIVATIONS.items(), ("sigmoid", LOGISTIC)):
        if _same_function(f, g):
            return name
        if _same_function(f, derivative(g)):
            return name + "'"
    return None


# ---------------------------------------------------------------------------------------
# Printing
# ---------------------------------------------------------------------------------------

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
# 2. The one-step Jacobian
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


def _explicit(expr, env: dict) -> ImmutableMatrix:
    return ImmutableMatrix(expr.xreplace(env).as_explicit())


def prove_jacobian(model: Model, *, seed: int = 0, digits: int = 40, jacobian: StepJacobian = None) -> dict:
    """Derived one-step Jacobian = SymPy's ``jacobian`` of the explicit step.

    ``model`` must have concrete sizes.  Parameters, input and previous states
    are random rationals; the brute-force side differentiates the explicit
    next states with respect to symbolic previous-state entries.  Returns
    ``{"entries", "max_abs_diff", "tolerance", "ok"}``.  ``jacobian`` replaces
    the derived one (to show that a wrong Jacobian fails)."""
    sj = jacobian or one_step_jacobian(model)
    rng = random.Random(seed)

    def rational(shape):
        r, c = (int(d) for d in shape)
        return ImmutableMatrix(r, c, [sp.Rational(rng.randint(-90, 90), 97) for _ in range(r * c)])

    env = {}
    for p in model.params:
        value = rational(p.shape)
        if p.name == "alpha" or model.init.get(p.name) == "timescales":     # time constants are >= 1
            value = value.applyfunc(lambda v: 1 + abs(v))
        env[p] = value
    for x in model.inputs:
        env[x] = rational(x.shape)
    env[model.label] = ImmutableMatrix.zeros(*(int(d) for d in model.label.shape))
    point = {prev: rational(prev.shape) for prev in model.state}
    symbols = {prev: ImmutableMatrix(int(prev.shape[0]), 1,
                                     [sp.Symbol(f"{prev.name}[{i}]") for i in range(int(prev.shape[0]))])
               for prev in model.state}
    brute_env = {**env, **symbols}
    num_env = {**env, **point}
    for eq in model.equations:
        brute_env[eq.lhs] = _explicit(eq.rhs, brute_env)
        num_env[eq.lhs] = _explicit(eq.rhs, num_env)
    subs = {s: v for prev in model.state for s, v in zip(symbols[prev], point[prev])}
    worst, entries = 0.0, 0
    for new, prev_i in sj.states:
        out = brute_env[MatrixSymbol(new, *prev_i.shape)]
        for _, prev in sj.states:
            brute = out.jacobian(list(symbols[prev])).xreplace(subs).evalf(digits)
            derived = _explicit(sj.blocks[(new, prev.name)], num_env).evalf(digits)
            for a, b in zip(brute, derived):
                worst = max(worst, float(abs(a - b)))
                entries += 1
    tolerance = 10.0 ** (-(digits - 10))
    return {"entries": entries, "max_abs_diff": worst, "tolerance": tolerance, "ok": worst <= tolerance}


# ---------------------------------------------------------------------------------------
# 3. Norm bounds of the derived Jacobian
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class NormBound:
    """A scalar upper bound ``expr`` of ``||J||_2``.

    Its symbols are ``sigma_max(P)`` for a parameter matrix P (``sigmas``),
    ``gamma_<phi>`` / ``sup|phi|`` with exact values found by SymPy (``sups``),
    and ``max|v|`` for a vector v the walker cannot bound a priori, measured
    per step (``leaves``: symbol -> vector expression)."""

    expr: sp.Expr
    sigmas: tuple          # ((Symbol, parameter name), ...)
    sups: tuple            # ((Symbol, Sup), ...)
    leaves: tuple          # ((Symbol, vector MatrixExpr), ...)

    def static(self) -> sp.Expr:
        """The bound with every sup replaced by its exact value."""
        return self.expr.xreplace({s: sup.value for s, sup in self.sups})

    def __str__(self) -> str:
        return str(self.expr)


class _Walker:
    def __init__(self, model: Model):
        self.params = {p.name for p in model.params}
        self.per_step = {s.name for s in (*model.inputs, *model.state)} | {eq.lhs.name for eq in model.equations}
        self.sigmas, self.sups, self.leaves = {}, {}, {}

    def per_step_quantity(self, e) -> bool:
        return any(s.name in self.per_step for s in e.atoms(MatrixSymbol))

    def matrix(self, e) -> sp.Expr:
        if isinstance(e, ZeroMatrix):
            return sp.S.Zero
        if isinstance(e, Identity):
            return sp.S.One
        if isinstance(e, MatAdd):
            return sp.Add(*(self.matrix(a) for a in e.args))
        if isinstance(e, MatMul):
            coeff, mats = e.as_coeff_matrices()
            return sp.Abs(coeff) * sp.Mul(*(self.matrix(a) for a in mats))
        if isinstance(e, DiagMatrix):
            return self.vector(e.args[0])
        if isinstance(e, Transpose):
            return self.matrix(e.arg)
        if isinstance(e, MatrixSymbol) and e.name in self.params:
            s = sp.Symbol(f"sigma_max({e.name})", positive=True)
            self.sigmas[s] = e.name
            return s
        raise DerivationError(f"no norm rule for {type(e).__name__} {show(e)}")

    def vector(self, v) -> sp.Expr:
        """An upper bound of max_i |v_i|."""
        if isinstance(v, HadamardProduct):
            return sp.Mul(*(self.vector(a) for a in v.args))
        if isinstance(v, OneMatrix):
            return sp.S.One
        if isinstance(v, ZeroMatrix):
            return sp.S.Zero
        if isinstance(v, MatMul):
            coeff, mats = v.as_coeff_matrices()
            if len(mats) == 1:
                return sp.Abs(coeff) * self.vector(mats[0])
        if isinstance(v, ElementwiseApplyFunction) and self.per_step_quantity(v.expr):
            sup = sup_abs(v.function if isinstance(v.function, sp.Lambda) else
                          sp.Lambda(_z, v.function(_z)))
            if sup.finite:
                name = function_name(sup.function)
                label = (f"gamma_{name[:-1]}" if name and name.endswith("'") else
                         f"sup|{name}|" if name else f"sup|{sup.function.expr}|")
                s = sp.Symbol(label, positive=True)
                self.sups[s] = sup
                return s
        s = sp.Symbol(f"max|{show(v)}|", nonnegative=True)
        self.leaves[s] = v
        return s


def norm_bound(J, model: Model) -> NormBound:
    """Walk a derived Jacobian (block) with :data:`NORM_RULES`."""
    w = _Walker(model)
    expr = w.matrix(J)
    order = lambda d: tuple(sorted(d.items(), key=lambda kv: kv[0].name))  # noqa: E731
    return NormBound(expr, order(w.sigmas), order(w.sups), order(w.leaves))


@dataclass(frozen=True)
class StepBound:
    """Per block of the one-step Jacobian, a :class:`NormBound`; the one-step
    bound is the 2-norm of the matrix of block bounds (one state: the bound)."""

    jacobian: StepJacobian
    blocks: dict             # (new, prev name) -> NormBound

    @property
    def names(self):
        return [(new, prev.name) for new, prev in self.jacobian.states]

    def matrix(self) -> sp.Matrix:
        names = self.names
        return sp.Matrix(len(names), len(names),
                         lambda i, j: self.blocks[(names[i][0], names[j][1])].expr)

    def scalar(self) -> sp.Expr:
        """The one-step bound as one expression (one state only)."""
        if len(self.names) != 1:
            raise ValueError("several states: the bound is the 2-norm of matrix()")
        return next(iter(self.blocks.values())).expr

    def symbols(self):
        sigmas, sups, leaves = {}, {}, {}
        for nb in self.blocks.values():
            sigmas.update(nb.sigmas)
            sups.update(nb.sups)
            leaves.update(nb.leaves)
        return sigmas, sups, leaves


_STEP_BOUNDS: dict = {}
_KEYS: dict = {}          # id(model) -> (model, key): the model is kept alive so its id stays its own


def _model_key(model: Model) -> tuple:
    """A hashable key for a model: name, sizes, equations and states."""
    hit = _KEYS.get(id(model))
    if hit is not None and hit[0] is model:
        return hit[1]
    key = (model.name, str(model.sizes), tuple(sp.srepr(eq.rhs) for eq in model.equations),
           tuple(f"{p.name}->{n}" for p, n in model.state.items()))
    _KEYS[id(model)] = (model, key)
    return key


def step_bound(model: Model) -> StepBound:
    """The derived Jacobian of ``model`` and a bound on each block (derived once
    per model and sizes in a process)."""
    key = _model_key(model)
    if key not in _STEP_BOUNDS:
        sj = one_step_jacobian(model)
        _STEP_BOUNDS[key] = StepBound(sj, {k: norm_bound(J, model) for k, J in sj.blocks.items()})
    return _STEP_BOUNDS[key]


def state_params(model: Model) -> tuple:
    """Names of the parameters the next states depend on (the rest, e.g. the
    output head, does not enter the state Jacobian)."""
    needed = set(model.state.values())
    for eq in reversed(model.equations):
        if eq.lhs.name in needed:
            needed |= {s.name for s in eq.rhs.atoms(MatrixSymbol)}
    return tuple(p.name for p in model.params if p.name in needed)


def with_activation(model: Model, activation, *, name: str) -> Model:
    """``model`` with the activation of its (single) state equation replaced,
    e.g. the vanilla RNN with sigmoid units.  ``activation`` is a key of
    :data:`ACTIVATIONS` or a ``Lambda``."""
    phi = ACTIVATIONS[activation] if isinstance(activation, str) else activation
    (new,) = model.state.values()
    eqs = []
    for eq in model.equations:
        if eq.lhs.name == new:
            arg = eq.rhs.expr if isinstance(eq.rhs, ElementwiseApplyFunction) else eq.rhs
            label = activation if isinstance(activation, str) else "phi"
            eq = Equation(eq.lhs, ElementwiseApplyFunction(phi, arg), f"{new}(t) = {label}({show(arg)})")
        eqs.append(eq)
    return dataclasses.replace(model, name=name, equations=tuple(eqs),
                               title=f"{model.title} [{name}: activation {activation}]")


# ---------------------------------------------------------------------------------------
# 3b. The product bound and its two readings
# ---------------------------------------------------------------------------------------

def product_readings() -> dict:
    """For a one-step bound beta >= 0 and t - k = k steps, ``||prod J|| <= beta^k``
    (submultiplicativity).  SymPy shows: beta < 1 => beta^k -> 0 (vanishing is
    guaranteed: sufficient); beta <= 1 => beta^k <= 1 for all k (so gradients
    that grow without bound need beta > 1: a necessary condition only)."""
    k = sp.Symbol("k", nonnegative=True, integer=True)
    e = sp.Symbol("epsilon", positive=True)
    e0 = sp.Symbol("epsilon", nonnegative=True)
    below = (1 / (1 + e)) ** k                     # beta = 1/(1+eps) < 1
    vanishing = sp.limit(below, k, sp.oo) == 0
    log_at_most_one = -k * sp.log(1 + e0)           # log(beta^k) for beta = 1/(1+eps), eps >= 0
    bounded = bool(log_at_most_one.is_nonpositive)
    above = (1 + e) ** k
    grows = sp.limit(above, k, sp.oo) == sp.oo
    return {
        "vanishing_sufficient": bool(vanishing),
        "bounded_when_beta_le_1": bounded,
        "bound_grows_when_beta_gt_1": bool(grows),
        "text": ("||d h(t)/d h(k)||_2 <= beta^(t-k) with beta = the one-step bound. "
                 "If beta < 1, beta^(t-k) -> 0: vanishing is certain (a sufficient condition). "
                 "If beta <= 1, beta^(t-k) <= 1 for every t - k: so exploding gradients need beta > 1 "
                 "(a necessary condition); beta > 1 lets the bound grow but does not make the "
                 "gradient grow."),
    }


# ---------------------------------------------------------------------------------------
# 4. The linear case: M^k = Q Lambda^k Q^T
# ---------------------------------------------------------------------------------------

def _cancel_orthogonal(factors: list, Q) -> list:
    """Apply Q^T Q = I to adjacent factors of a product (one rewrite pass)."""
    out = []
    for f in factors:
        if out and out[-1] == Q.T and f == Q:
            out.pop()
            continue
        out.append(f)
    return out


def prove_eigen_power() -> dict:
    """``M = Q Lambda Q^T`` with ``Q^T Q = I`` implies ``M^k = Q Lambda^k Q^T``
    for every integer k >= 1, by induction with SymPy's matrix algebra
    (symbolic sizes and symbolic k), checked at 2 x 2 with a rotation Q,
    symbolic eigenvalues and symbolic k.  Also: the component of M^k v along
    eigenvector q_i is lambda_i^k (q_i^T v), so it decays for |lambda_i| < 1
    and grows for |lambda_i| > 1."""
    n = sp.Symbol("n", integer=True, positive=True)
    k = sp.Symbol("k", integer=True, positive=True)
    Q, L = MatrixSymbol("Q", n, n), MatrixSymbol("Lambda", n, n)
    M = Q * L * Q.T
    claim = lambda j: Q * L ** j * Q.T  # noqa: E731
    base = sp.simplify(claim(1) - M) == ZeroMatrix(n, n) or claim(1) == M
    # step: M^(k+1) = M^k M = (Q L^k Q^T)(Q L Q^T), then Q^T Q = I and L^k L = L^(k+1)
    factors = _cancel_orthogonal([*claim(k).args, *M.args], Q)
    stepped = MatMul(*factors).doit()
    step = stepped == claim(k + 1)
    # explicit 2 x 2: rotation Q, diagonal Lambda, symbolic k
    th = sp.Symbol("theta", real=True)
    l1, l2 = sp.symbols("lambda1 lambda2", positive=True)
    Qe = sp.Matrix([[sp.cos(th), -sp.sin(th)], [sp.sin(th), sp.cos(th)]])
    Le = lambda j: sp.diag(l1 ** j, l2 ** j)  # noqa: E731
    lhs = (Qe * Le(k) * Qe.T) * (Qe * Le(1) * Qe.T)
    explicit = sp.simplify(lhs - Qe * Le(k + 1) * Qe.T) == sp.zeros(2, 2)
    orth = sp.simplify(Qe.T * Qe - sp.eye(2)) == sp.eye(2) * 0
    # components: q_i^T M^k v = lambda_i^k q_i^T v
    v = sp.Matrix(sp.symbols("v1 v2", real=True))
    comp = [sp.simplify((Qe[:, i].T * (Qe * Le(k) * Qe.T) * v)[0] - [l1, l2][i] ** k * (Qe[:, i].T * v)[0])
            for i in range(2)]
    e = sp.Symbol("epsilon", positive=True)
    decays = sp.limit((1 / (1 + e)) ** k, k, sp.oo) == 0
    grows = sp.limit((1 + e) ** k, k, sp.oo) == sp.oo
    return {
        "base": bool(base), "step": bool(step), "explicit_2x2": bool(explicit), "orthogonal": bool(orth),
        "components": all(c == 0 for c in comp), "decays_below_1": bool(decays), "grows_above_1": bool(grows),
        "step_text": f"M^(k+1) = {MatMul(claim(k), M)} = {MatMul(*factors)} = {stepped} (Q^T Q = I)",
        "text": ("M = Q Lambda Q^T, Q^T Q = I  =>  M^k = Q Lambda^k Q^T (induction on k); "
                 "q_i^T M^k v = lambda_i^k q_i^T v: the component along an eigenvector with "
                 "|lambda_i| < 1 decays like |lambda_i|^k -> 0, with |lambda_i| > 1 it grows like "
                 "|lambda_i|^k -> oo (when q_i^T v != 0); the largest |lambda| dominates."),
    }


# ---------------------------------------------------------------------------------------
# 5. Leaky units
# ---------------------------------------------------------------------------------------

def leaky_statement(model: Model) -> dict:
    """The derived one-step bound of a leaky-unit model, for per-unit alpha and
    for a common alpha, and the time scale it implies.

    Per unit: the walker gives ``max|1 - 1/alpha| + gamma max|1/alpha| sigma_max(W)``;
    with every alpha_i >= 1 that is ``(1 - 1/alpha_max) + gamma sigma_max(W) / alpha_min``
    (the leak of the slowest unit plus the recurrent term of the fastest; the
    per-unit maximum of (1 - 1/alpha_i) + gamma sigma / alpha_i is NOT a bound:
    units mix through W).  For a common alpha: ``(1 - 1/alpha) + gamma sigma / alpha``."""
    sb = step_bound(model)
    nb = next(iter(sb.blocks.values()))
    alpha = sp.Symbol("alpha", positive=True)
    eps = sp.Symbol("epsilon", nonnegative=True)           # alpha = 1 + eps >= 1
    uniform = {}
    for s, leaf in nb.leaves:
        if isinstance(leaf, ElementwiseApplyFunction) and not any(
                x.name != "alpha" for x in leaf.expr.atoms(MatrixSymbol)):
            (v,) = leaf.function.variables
            value = sp.Abs(leaf.function.expr.xreplace({v: 1 + eps}))
            uniform[s] = sp.simplify(value).xreplace({eps: alpha - 1})
        else:
            raise DerivationError(f"leaky bound: unexpected per-step quantity {s}")
    beta = sp.simplify(nb.expr.xreplace(uniform))
    g = [s for s, _ in nb.sups]
    sigma = [s for s, _ in nb.sigmas]
    rho = sp.Symbol("rho", positive=True)                 # gamma * sigma_max(W)
    beta_rho = sp.simplify(beta.xreplace({g[0]: rho / sigma[0]}))
    at_one = sp.simplify(beta.subs(alpha, 1))
    timescale = -1 / sp.log(beta_rho)
    u = sp.Symbol("u", positive=True)
    series = sp.series(timescale.subs(alpha, 1 / u), u, 0, 1).removeO()
    series = sp.Add(*(sp.simplify(series.coeff(u, p)) * u ** p for p in (-1, 0)))
    return {
        "per_unit": nb.expr,
        "per_unit_text": (f"{nb.expr}, and with every alpha_i >= 1: (1 - 1/alpha_max) + "
                          f"{g[0]} * {sigma[0]} / alpha_min"),
        "uniform": beta, "uniform_rho": beta_rho, "at_alpha_1": at_one,
        "timescale": timescale, "timescale_large_alpha": sp.simplify(series.subs(u, 1 / alpha)),
        "gamma": g[0], "sigma": sigma[0], "alpha": alpha, "rho": rho,
    }


# ---------------------------------------------------------------------------------------
# 6. LSTM: the memory path
# ---------------------------------------------------------------------------------------

def lstm_memory_path(model: Model, memory: str = "s", forget: str = "f") -> dict:
    """The derived ``d s(t)/d s(t-1)`` of an LSTM and whether it is exactly
    ``diag(f(t))`` (the constant error carousel)."""
    sb = step_bound(model)
    prev = next(p for p, new in model.state.items() if new == memory)
    J = sb.jacobian.blocks[(memory, prev.name)]
    f = model.symbol(forget)
    is_diag_f = J == DiagMatrix(f) or J == Transpose(DiagMatrix(f)).doit()
    return {"block": J, "text": show(J), "is_diag_forget": bool(is_diag_f),
            "bound": sb.blocks[(memory, prev.name)].expr, "matrix": sb.matrix()}


# ---------------------------------------------------------------------------------------
# 7. Skip connections of delay d
# ---------------------------------------------------------------------------------------

def skip_spec(n=None, m=None, K=None, *, d: int = 2) -> Model:
    """A tanh RNN with skip connections of delay d (004, "Skip connections"):

        a(t) = b + W h(t-1) + W_skip h(t-d) + U x(t),  h(t) = tanh(a(t)),  o(t) = c + V h(t)

    h(t-d) is carried by a delay line of states lag2 .. lag<d> (lag_j(t) = h(t-j+1)),
    so the model is an ordinary spec with d states."""
    if d < 2:
        raise ValueError(f"skip_spec: d must be >= 2, got {d}")
    if n is None:
        n, m, K = sizes("n m K")
    U, W, Ws, b = (MatrixSymbol("U", n, m), MatrixSymbol("W", n, n), MatrixSymbol("W_skip", n, n),
                   MatrixSymbol("b", n, 1))
    V, c = MatrixSymbol("V", K, n), MatrixSymbol("c", K, 1)
    x, y = MatrixSymbol("x", m, 1), MatrixSymbol("y", K, 1)
    h_prev = MatrixSymbol("h_prev", n, 1)
    lags = [MatrixSymbol(f"lag{j}_prev", n, 1) for j in range(2, d + 1)]   # lag_j_prev = h(t-j)
    a, h, o = MatrixSymbol("a", n, 1), MatrixSymbol("h", n, 1), MatrixSymbol("o", K, 1)
    eqs = [Equation(a, b + W * h_prev + Ws * lags[-1] + U * x, f"a(t) = b + W h(t-1) + W_skip h(t-{d}) + U x(t)"),
           Equation(h, ElementwiseApplyFunction(ACTIVATIONS["tanh"], a), "h(t) = tanh(a(t))")]
    carried = [h_prev] + lags[:-1]
    for j, src in zip(range(2, d + 1), carried):
        eqs.append(Equation(MatrixSymbol(f"lag{j}", n, 1), src, f"lag{j}(t) = h(t-{j - 1})"))
    eqs.append(Equation(o, c + V * h, "o(t) = c + V h(t)"))
    state = {h_prev: "h", **{lag: f"lag{j}" for j, lag in zip(range(2, d + 1), lags)}}
    return Model(name=f"skip{d}", title=f"tanh RNN with skip connections of delay {d}",
                 source="004_2bd5bd3ef5bc2048.txt, Skip connections", sizes=(n, m, K),
                 params=(U, W, Ws, b, V, c), inputs=(x,), label=y, state=state, equations=tuple(eqs),
                 loss=logsumexp(o) - y.T * o, loss_text="L(t) = logsumexp(o(t)) - y(t)^T o(t)",
                 outputs=("o",))


def skip_path_bound(d: int) -> dict:
    """From the derived block bounds of :func:`skip_spec`: the matrix B of block
    bounds (beta_1 = gamma sigma(W) on the one-step edge, beta_d = gamma
    sigma(W_skip) on the skip edge, 1 on each copy), B^d with beta_1 = 0 equals
    beta_d I (SymPy), so the shortest path from h(t-tau) to h(t) (tau/d skip
    edges) is bounded by beta_d^(tau/d); the general growth rate is the largest
    root of the characteristic polynomial of B."""
    sb = step_bound(skip_spec(d=d))
    B = sb.matrix()
    sig = dict((v, k) for k, v in sb.symbols()[0].items())
    g = next(iter(sb.symbols()[1]))
    b1 = g * sig["W"]
    bd = g * sig["W_skip"]
    only_skip = B.xreplace({sig["W"]: 0})
    Bd = sp.simplify(only_skip ** d)
    power_is_scaled_identity = sp.simplify(Bd - bd * sp.eye(d)) == sp.zeros(d, d)
    lam = sp.Symbol("lambda")
    charpoly = sp.factor(B.charpoly(lam).as_expr())
    return {"B": B, "B_d_only_skip": Bd, "power_is_scaled_identity": bool(power_is_scaled_identity),
            "beta_1": b1, "beta_d": bd, "charpoly": charpoly,
            "text": (f"shortest path (tau/d skip edges): ||d h(t)/d h(t-tau)||_2 <= ({bd})^(tau/{d}) "
                     f"for d | tau; per-step rate ({bd})^(1/{d}). All paths: ||.|| <= (B^tau)[h, h] "
                     f"with B = {B.tolist()}, growth rate the largest root of {charpoly} = 0.")}


# ---------------------------------------------------------------------------------------
# 8. Gradient clipping
# ---------------------------------------------------------------------------------------

def prove_clipping(max_size: int = 4) -> dict:
    """``g <- g v / ||g||`` when ``||g|| > v``: the new norm is ``min(||g||, v)``
    and the direction is kept, by SymPy for explicit sizes 1..max_size and for
    symbolic size (with ``N = ||g||`` and homogeneity ``||c g|| = |c| ||g||``)."""
    v = sp.Symbol("v", positive=True)
    ok_norm, ok_dir = [], []
    for n in range(1, max_size + 1):
        g = sp.Matrix(sp.symbols(f"g1:{n + 1}", real=True))
        norm = sp.sqrt(sum(x ** 2 for x in g))
        clipped = g * v / norm
        new = sp.sqrt(sp.simplify(sum(x ** 2 for x in clipped)))
        ok_norm.append(sp.simplify(new - v) == 0)
        cosine = sp.simplify((clipped.T * g)[0] / (new * norm))
        ok_dir.append(cosine == 1)
    N = sp.Symbol("N", positive=True)                    # ||g|| > v > 0
    scale = v / N
    homogeneous = sp.Abs(scale) * N
    symbolic = sp.simplify(homogeneous - v) == 0
    # min(||g||, v) = v exactly when ||g|| > v: N = v + e with e > 0
    e = sp.Symbol("e", positive=True)
    is_min = sp.Min(v + e, v) == v
    return {"norm_is_v": all(ok_norm), "direction_kept": all(ok_dir), "symbolic_size": bool(symbolic),
            "min": bool(is_min), "sizes": max_size, "scale_positive": bool(scale.is_positive),
            "text": ("if ||g|| > v: g' = (v/||g||) g has ||g'|| = (v/||g||) ||g|| = v = min(||g||, v) and "
                     "the same direction (a positive multiple of g, cosine 1); if ||g|| <= v, g is unchanged "
                     "and ||g|| = min(||g||, v).")}
