"""The one evaluator: SymPy matrix expressions, and a whole derivation, at a point.

:func:`explicit` turns a matrix expression of the spec or of the derivation into
the explicit matrix it denotes, given explicit matrices for its symbols (by
name).  The numbers are whatever the point holds:

* exact rationals (``digits=None``): every entry an exact SymPy expression
  (``tanh(3/97)`` stays exact);
* multi-precision (``digits=d``): every node rounded to ``d`` significant digits
  by ``evalf`` (mpmath underneath), which keeps nested tanh/softmax cheap;
* complex: entries may be complex (``x + i h``), for a complex step at any
  precision;
* float64: a point of float64 values (exact in SymPy) evaluated at ``digits``
  and read back with :func:`as_float` gives the reference for float64 arithmetic.

:func:`run` evaluates a :class:`~derive.adjoint.Derivation` at a :class:`Point`:
the forward assignments step by step, then the backward assignments from the last
step to the first with the carried adjoints, and the gradients (parameters
summed over steps, per-step inputs, initial states).  ``mask = t`` keeps only the
loss of step t (the output head's adjoints are zero at every other step), which
gives the gradient of one step's loss.  :func:`draw_point` draws the random points
the proofs and the claims use.

:class:`PointJacobians` differentiates the unrolled forward pass at a point by
a :class:`Cut` variable (a parameter, an input of one step, or a state or an
equation's value where it is computed): the model's equations are replayed from
the cut with the variable moved, by the complex step at the point's precision,
by SymPy's derivative of the replayed composite, or in forward mode.

A small walker rather than ``xreplace(...).as_explicit()``: SymPy folds 1 x 1
matrix expressions into scalars in ways that break at size 1, and building a
symbolic sum per entry before multiplying is about 50 times slower.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np
import sympy as sp
from sympy import (HadamardPower, HadamardProduct, Identity, ImmutableMatrix, MatAdd, MatMul,
                   MatrixSymbol, OneMatrix, Transpose, ZeroMatrix)
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from derive import naming
from derive.adjoint import Derivation
from derive.errors import UnsupportedNode
from derive.spec import LogSumExp, Model, Softmax

__all__ = ["explicit", "symbols", "one_hot", "Point", "draw_point", "Run", "run", "run_forward", "as_float",
           "Cut", "PointJacobians", "METHODS"]


def _round(M: ImmutableMatrix, digits):
    return M if digits is None else M.evalf(digits)


def explicit(expr, env: dict, *, sizes: dict = None, digits: int = None) -> ImmutableMatrix:
    """The explicit matrix of ``expr``, its matrix symbols replaced by ``env[name]``.

    ``sizes`` maps size symbols to integers (for ``OneMatrix``/``Identity`` of
    symbolic size); ``digits`` rounds every node (None: exact)."""
    return _evaluate(expr, env, sizes or {}, digits)


def _evaluate(e, env: dict, sizes: dict, digits):
    if isinstance(e, MatrixSymbol):
        try:
            return env[e.name]
        except KeyError:
            raise UnsupportedNode(e, "no value for this symbol at the point") from None
    if isinstance(e, MatAdd):
        parts = [_evaluate(a, env, sizes, digits) for a in e.args]
        return _round(ImmutableMatrix(sum(parts[1:], parts[0])), digits)
    if isinstance(e, MatMul):
        coeff, mats = e.as_coeff_matrices()
        out = _evaluate(mats[0], env, sizes, digits)
        for M in mats[1:]:
            out = out * _evaluate(M, env, sizes, digits)
        return _round(ImmutableMatrix(coeff * out), digits)
    if isinstance(e, Transpose):
        return _evaluate(e.arg, env, sizes, digits).T
    if isinstance(e, HadamardProduct):
        parts = [_evaluate(a, env, sizes, digits) for a in e.args]
        out = parts[0]
        for M in parts[1:]:
            out = out.multiply_elementwise(M)
        return _round(ImmutableMatrix(out), digits)
    if isinstance(e, HadamardPower):
        return _round(_evaluate(e.base, env, sizes, digits).applyfunc(lambda v: v ** e.exp), digits)
    if isinstance(e, ElementwiseApplyFunction):
        return _round(_evaluate(e.expr, env, sizes, digits).applyfunc(e.function), digits)
    if isinstance(e, (OneMatrix, ZeroMatrix, Identity)):
        return ImmutableMatrix(e.subs(sizes).as_explicit())
    if isinstance(e, (LogSumExp, Softmax)):
        v = _evaluate(e.arg, env, sizes, digits)
        return _round(ImmutableMatrix(type(e)(v).as_explicit()), digits)
    raise UnsupportedNode(e, "no explicit form for this node")


def symbols(name: str, shape) -> ImmutableMatrix:
    """A matrix of scalar symbols ``name[i,j]`` (the leaves of a brute-force graph)."""
    r, c = (int(s) for s in shape)
    return ImmutableMatrix(r, c, [sp.Symbol(f"{name}[{i},{j}]") for i in range(r) for j in range(c)])


def one_hot(k: int, K: int) -> ImmutableMatrix:
    """The label ``k`` as a one-hot column of ``K`` classes."""
    return ImmutableMatrix(K, 1, [1 if i == k else 0 for i in range(K)])


def _shape(e, sizes: dict) -> tuple:
    return tuple(int(sp.sympify(d).subs(sizes)) for d in e.shape)


@dataclass
class Point:
    """Values of every leaf of a model's unrolled loss, by name: parameters,
    initial states (``h0``), per-step inputs (``inputs[t]["x"]``, t = 0..tau-1)
    and integer labels."""

    params: dict
    initial: dict
    inputs: list
    labels: list

    @property
    def tau(self) -> int:
        return len(self.inputs)

    def replace(self, name: str, value, step: int = None) -> "Point":
        """A copy with one leaf changed (a parameter, an initial state, or an input at ``step``)."""
        params, initial = dict(self.params), dict(self.initial)
        inputs = [dict(s) for s in self.inputs]
        if name in params:
            params[name] = value
        elif name in initial:
            initial[name] = value
        elif step is not None:
            inputs[step][name] = value
        else:
            for s in inputs:
                s[name] = value
        return Point(params, initial, inputs, list(self.labels))


def draw_point(model: Model, sizes: dict, tau: int, *, seed, kind: str = "rational",
               digits: int = None) -> Point:
    """A random point of ``model`` at concrete ``sizes`` (size symbol -> int).

    ``kind="rational"``: entries k/97, k uniform in -90..90 (exact; ``random.Random(seed)``);
    ``kind="float"``: uniform float64 entries in [-1, 1) (``numpy.random.default_rng(seed)``),
    exact in SymPy, so a float64 computation sees the same numbers.  Parameters
    with a domain (``Model.domains``, e.g. alpha >= 1) are drawn inside it (width 4
    when it is unbounded above).  ``digits`` turns the entries into SymPy Floats."""
    if kind == "rational":
        rng = random.Random(seed)
        labels_draw = rng.randrange
        draw = lambda: sp.Rational(rng.randint(-90, 90), 97)  # noqa: E731
        within = lambda lo, hi: lo + (hi - lo) * sp.Rational(rng.randint(0, 96), 97)  # noqa: E731
    elif kind == "float":
        gen = np.random.default_rng(seed)
        labels_draw = lambda K: int(gen.integers(K))  # noqa: E731
        draw = lambda: sp.Float(float(gen.uniform(-1.0, 1.0)), 17)  # noqa: E731
        within = lambda lo, hi: sp.Float(float(gen.uniform(lo, hi)), 17)  # noqa: E731
    else:
        raise ValueError(f"draw_point: kind must be 'rational' or 'float', got {kind!r}")
    finish = (lambda v: v) if digits is None else (lambda v: sp.Float(v, digits))  # noqa: E731
    K = _shape(model.label, sizes)[0]
    labels = [labels_draw(K) for _ in range(tau)]

    def matrix(symbol, name=None):
        r, c = _shape(symbol, sizes)
        if name in model.domains:
            lo, hi = model.domains[name]
            hi = lo + 4 if hi is None else hi
            return ImmutableMatrix(r, c, [finish(within(lo, hi)) for _ in range(r * c)])
        return ImmutableMatrix(r, c, [finish(draw()) for _ in range(r * c)])

    params = {p.name: matrix(p, p.name) for p in model.params}
    initial = {naming.initial(new): matrix(prev) for prev, new in model.state.items()}
    inputs = [{x.name: matrix(x) for x in model.inputs} for _ in range(tau)]
    return Point(params, initial, inputs, labels)


@dataclass
class Run:
    """A derivation evaluated at a point.

    ``forward[t]`` and ``backward[t]`` (t = 0..tau-1) map names to values: the
    step's inputs, label, previous states (``h_prev``), every forward assignment;
    every backward assignment and carry.  ``gradients`` maps each gradient's
    variable to its value: a parameter's summed over steps, an initial state's
    from the carry out of step 1, a per-step input's as a list over steps."""

    derivation: Derivation
    point: Point
    forward: list
    backward: list = field(default_factory=list)
    gradients: dict = field(default_factory=dict)


def _step_env(model: Model, point: Point, t: int, states: dict, sizes: dict) -> dict:
    env = {**point.params, **states, **point.inputs[t]}
    env[model.label.name] = one_hot(point.labels[t], _shape(model.label, sizes)[0])
    return env


def run_forward(derivation: Derivation, point: Point, *, sizes: dict, digits: int = None,
                aliases: bool = False) -> list:
    """The forward assignments of every step: ``[{name: value}, ...]``; with ``aliases``
    also the model's aliases (``yhat = softmax(o)``, :attr:`Model.aliases`)."""
    model = derivation.model
    states = {prev.name: point.initial[init] for prev, _, _, init in derivation.states}
    steps = []
    for t in range(point.tau):
        env = _step_env(model, point, t, states, sizes)
        for a in derivation.forward:
            env[a.name] = explicit(a.rhs, env, sizes=sizes, digits=digits)
        for name, expr in (model.aliases.items() if aliases else ()):
            env[name] = explicit(expr, env, sizes=sizes, digits=digits)
        steps.append(env)
        states = {prev.name: env[new] for prev, new, _, _ in derivation.states}
    return steps


def run(derivation: Derivation, point: Point, *, sizes: dict, digits: int = None,
        mask: int = None, forward: list = None) -> Run:
    """Evaluate ``derivation`` at ``point`` (see :class:`Run`).  ``mask = t`` (0-based)
    keeps only step t's loss; ``forward`` reuses a :func:`run_forward` of the same point."""
    steps = forward if forward is not None else run_forward(derivation, point, sizes=sizes, digits=digits)
    carry = {c.name: ImmutableMatrix.zeros(*_shape(c, sizes)) for _, _, c, _ in derivation.states}
    gradients = {g.wrt.name: ([None] * point.tau if g.kind == "input" else None)
                 for g in derivation.gradients}
    backward = [None] * point.tau
    for t in reversed(range(point.tau)):
        env = {**steps[t], **carry}
        for a in derivation.backward:
            if mask is not None and a.phase == "post" and t != mask:
                env[a.name] = ImmutableMatrix.zeros(*_shape(a.lhs, sizes))
            else:
                env[a.name] = explicit(a.rhs, env, sizes=sizes, digits=digits)
        for g in derivation.gradients:
            if g.kind == "initial":
                continue
            value = explicit(g.rhs, env, sizes=sizes, digits=digits)
            if g.kind == "input":
                gradients[g.wrt.name][t] = value
            else:
                total = gradients[g.wrt.name]
                gradients[g.wrt.name] = value if total is None else _round(total + value, digits)
        carry = {c.name: explicit(c.rhs, env, sizes=sizes, digits=digits) for c in derivation.carries}
        backward[t] = env
    for g in derivation.gradients:
        if g.kind == "initial":
            gradients[g.wrt.name] = carry[g.rhs.name]
    return Run(derivation, point, steps, backward, gradients)


def as_float(M) -> np.ndarray:
    """An explicit SymPy matrix (real entries) as a float64 array."""
    return np.array(M.tolist(), dtype=np.float64)


# -- Jacobians of the unrolled forward pass at a point -------------------------------------
METHODS = ("complex", "symbolic", "forward")

#: SymPy heads that have no complex extension the complex step could use (a kink).
_NOT_ANALYTIC = (sp.Max, sp.Min, sp.Abs, sp.Heaviside, sp.Piecewise, sp.sign)


@dataclass(frozen=True)
class Cut:
    """The variable a Jacobian differentiates by, with steps numbered as the notes
    number them (1..tau; 0 is the initial state).

    ``kind="param"``: a parameter, at every step (``step=None``: the total derivative)
    or at ``step`` alone (the immediate derivative, the earlier states held fixed);
    ``kind="input"``: a per-step input at ``step``; ``kind="node"``: a state or an
    equation's value at ``step`` (0: the initial state), made a free variable where it
    is computed, everything after it recomputed."""

    kind: str
    name: str
    step: int | None

    @property
    def first(self) -> int:
        """The first step the cut variable enters."""
        if self.kind == "node":
            return max(self.step, 1)
        return 1 if self.step is None else self.step


def _flat(M) -> list:
    """Entries with the columns stacked (vec)."""
    r, c = M.shape
    return [M[p, q] for q in range(c) for p in range(r)]


def _analytic(model: Model) -> bool:
    """True when every function of the equations has a complex extension (no kink)."""
    exprs = [eq.rhs for eq in model.equations] + list(model.aliases.values())
    return not any(f.function.expr.has(*_NOT_ANALYTIC)
                   for e in exprs for f in e.atoms(ElementwiseApplyFunction))


class PointJacobians:
    """Jacobians of a model's unrolled forward pass at one point, numerator layout:
    rows follow the differentiated quantity, columns the cut variable (``vec`` of a
    matrix, columns stacked).

    ``forward`` is :func:`run_forward` of ``point`` with the aliases, at ``digits``
    (the true values).  :meth:`jacobian` offers three methods:

    * ``"complex"``: the complex step of the replayed composite, one column per entry
      of the cut variable, ``Im(A(v + i h e_l)) / h`` with ``h = 10^-(digits/2)``:
      no subtraction, so exact to about ``digits/2`` significant digits beyond the
      truncation ``h^2``; for a model with a kink (ReLU) it is ``"symbolic"``;
    * ``"symbolic"``: SymPy's derivative of the replayed composite (exact; slow for deep
      compositions);
    * ``"forward"``: forward mode, SymPy differentiating each equation at the point
      and the tangents carried step by step (the chain rule).

    The first two are independent of the chain rule; the replays and results are cached."""

    def __init__(self, model: Model, point: Point, forward: list, *, sizes: dict, digits: int):
        self.model, self.point, self.forward, self.sizes, self.digits = model, point, forward, sizes, digits
        self.equations = [(eq.lhs.name, eq.rhs) for eq in model.equations] + list(model.aliases.items())
        self.index = {name: k for k, (name, _) in enumerate(self.equations)}
        self.rows = {name: _shape(rhs, sizes)[0] for name, rhs in self.equations}
        self.prev = {new: prev.name for prev, new in model.state.items()}
        self.analytic = _analytic(model)
        self._cache, self._runs, self._partials = {}, {}, {}

    def true_value(self, cut: Cut) -> ImmutableMatrix:
        """The value of the cut variable at the point."""
        if cut.kind == "param":
            return self.point.params[cut.name]
        if cut.kind == "input":
            return self.point.inputs[cut.step - 1][cut.name]
        if cut.step == 0:
            return self.point.initial[naming.initial(cut.name)]
        return self.forward[cut.step - 1][cut.name]

    def jacobian(self, name: str, step: int, cut: Cut, method: str = "complex") -> ImmutableMatrix:
        """d name(step) / d cut (``step`` 0: ``name`` is a state and this is its initial value)."""
        if method not in METHODS:
            raise ValueError(f"PointJacobians.jacobian: method must be one of {METHODS}, got {method!r}")
        key = (name, step, cut, method)
        if key not in self._cache:
            self._cache[key] = self._jacobian(name, step, cut, method)
        return self._cache[key]

    def _jacobian(self, name, step, cut, method):
        true = self.true_value(cut)
        cols = true.shape[0] * true.shape[1]
        rows = self.rows[name] if step else self.point.initial[naming.initial(name)].shape[0]
        zero = ImmutableMatrix.zeros(rows, cols)
        if step == 0:           # an initial state depends on nothing but itself
            return ImmutableMatrix.eye(rows) if (cut.kind, cut.name, cut.step) == ("node", name, 0) else zero
        same_step = cut.kind == "node" and cut.step == step
        if step < cut.first or (same_step and self.index[name] < self.index[cut.name]):
            return zero
        if same_step and name == cut.name:
            return ImmutableMatrix.eye(rows)
        if method == "forward":
            return self._forward_mode(name, step, cut, cols)
        if method == "complex" and self.analytic:
            return self._complex_step(name, step, cut, true)
        return self._symbolic(name, step, cut, true)

    def replay(self, key, cut: Cut, value, upto: int, evaluate) -> list:
        """The equations (and aliases) of steps ``cut.first..upto`` recomputed with the cut
        variable set to ``value`` (everything before the cut at its true value); ``evaluate(expr,
        env)`` evaluates one right side.  The steps are cached under ``key`` and extended on demand."""
        done = self._runs.setdefault(key, [])
        for s in range(cut.first + len(done), upto + 1):
            env = dict(self.forward[s - 1])
            if done:
                env.update({self.prev[st]: done[-1][st] for st in self.prev})
            elif cut.kind == "node" and cut.step == 0:
                env[self.prev[cut.name]] = value
            if (cut.kind == "param" and cut.step in (None, s)) or (cut.kind == "input" and cut.step == s):
                env[cut.name] = value
            at = self.index[cut.name] if (cut.kind == "node" and cut.step == s) else None
            values = {}
            for k, (name, rhs) in enumerate(self.equations):
                if at is not None and k < at:
                    result = self.forward[s - 1][name]
                elif k == at:
                    result = value
                else:
                    result = evaluate(rhs, env)
                env[name] = values[name] = result
            done.append(values)
        return done

    def _complex_step(self, name, step, cut, true):
        digits = self.digits
        h = sp.Float(10, digits) ** (-(digits // 2))
        flat = _flat(true)
        r, c = true.shape
        evaluate = lambda e, env: explicit(e, env, sizes=self.sizes, digits=digits)  # noqa: E731
        columns = []
        for l in range(len(flat)):
            moved = [e + (sp.I * h if q == l else 0) for q, e in enumerate(flat)]
            value = ImmutableMatrix(r, c, lambda p, q, m=moved: m[q * r + p])
            steps = self.replay(("complex", cut, l), cut, value, step, evaluate)
            columns.append([(sp.im(v) / h).evalf(digits) for v in steps[step - cut.first][name]])
        return ImmutableMatrix(columns).T

    def _symbolic(self, name, step, cut, true):
        syms = symbols(f"_d{cut.name}", true.shape)
        evaluate = lambda e, env: explicit(e, env, sizes=self.sizes)  # noqa: E731
        expr = self.replay(("symbolic", cut), cut, syms, step, evaluate)[step - cut.first][name]
        J = ImmutableMatrix(expr).jacobian(_flat(syms))
        return ImmutableMatrix(J.xreplace(dict(zip(_flat(syms), _flat(true))))).evalf(self.digits)

    def _partial(self, s, k, dep, env):
        """d rhs_k / d vec(dep) at the true values of step ``s``."""
        key = (s, k, dep)
        if key not in self._partials:
            value = env[dep]
            syms = symbols("_p", value.shape)
            e = explicit(self.equations[k][1], {**env, dep: syms}, sizes=self.sizes, digits=self.digits)
            J = ImmutableMatrix(e).jacobian(_flat(syms))
            self._partials[key] = ImmutableMatrix(J.xreplace(dict(zip(_flat(syms), _flat(value))))).evalf(self.digits)
        return self._partials[key]

    def _forward_mode(self, name, step, cut, cols):
        eye = ImmutableMatrix.eye(cols)
        carried = {cut.name: eye} if cut.kind == "node" and cut.step == 0 else {}
        for s in range(cut.first, step + 1):
            env = self.forward[s - 1]
            tangents = {self.prev[st]: T for st, T in carried.items()}
            if (cut.kind == "param" and cut.step in (None, s)) or (cut.kind == "input" and cut.step == s):
                tangents[cut.name] = eye
            at = self.index[cut.name] if (cut.kind == "node" and cut.step == s) else None
            for k, (nm, rhs) in enumerate(self.equations):
                if at is not None and k <= at:
                    if k == at:
                        tangents[nm] = eye
                    continue
                total = None
                for dep in sorted({d.name for d in rhs.atoms(MatrixSymbol)}):
                    if dep in tangents:
                        term = self._partial(s, k, dep, env) * tangents[dep]
                        total = term if total is None else total + term
                if total is not None:
                    tangents[nm] = ImmutableMatrix(total).evalf(self.digits)
            carried = {st: tangents[st] for st in self.prev if st in tangents}
        if name in tangents:
            return tangents[name]
        return ImmutableMatrix.zeros(self.rows[name], cols)
