"""A batched interpreter of the forward spec, over three array backends.

The oracles in :mod:`numeric.oracles` must differentiate a *plain forward
pass*, never a hand-written gradient.  This module is that forward pass: it
walks the SymPy matrix expressions of a :class:`derive.spec.Model` and
evaluates them literally, so the only model knowledge in ``numeric/`` is the
spec itself.

Layout
------
The spec writes every per-example quantity as a column ``r x 1``.  A batch of
``B`` examples is held as one array of shape ``(r, B)`` (one column per
example), so ``W * h_prev`` is literally ``W @ H`` and ``b + ...`` broadcasts
the parameter column ``(r, 1)`` over the batch.  A per-example *row*
(``Transpose`` of a column, ``1 x r``) is held in the same ``(r, B)`` array:
transposing a per-example vector is free, and what changes is how products
treat it.  ``row * column`` of two per-example vectors is a per-example dot
product, giving a per-example ``1 x 1`` held as ``(1, B)``; it is *not* a
matrix product over the batch.  Shared values (parameters, constants) keep
their natural ``(p, q)`` shape; 1-D parameter columns ``(r,)`` become
``(r, 1)`` (a parameter with one column may also be given as ``(r, 1)``:
with concrete sizes ``U`` is ``n x 1`` when ``m = 1``).

Per-example values must be vectors (``p x 1`` or ``1 x q``); an expression
that would build a per-example matrix (an outer product of two per-example
vectors) is rejected with :class:`UnsupportedNode`, as is any SymPy node not
listed below.

Supported nodes
---------------
Matrix: ``MatrixSymbol``, ``MatAdd``, ``MatMul`` (with scalar coefficients),
``Transpose``, ``HadamardProduct``, ``HadamardPower``, ``Identity``,
``ZeroMatrix``, ``OneMatrix``, ``ElementwiseApplyFunction``, and the spec's
``LogSumExp`` and ``Softmax`` (max-shifted: the shift is the max of the *real*
part, so a complex-step perturbation passes through analytically).

Scalar (bodies of elementwise functions, coefficients, exponents): symbols
bound by the ``Lambda``, ``Integer``/``Rational``/``Float``, ``pi``, ``E``,
``Add``, ``Mul``, ``Pow`` and the function classes of :data:`SCALAR_FUNCTIONS`
(sigmoid ``1/(1+exp(-z))`` is just ``Pow``/``Add``/``exp``).  ``Max``,
``Min`` and ``Heaviside`` compare real parts, which is what a complex step of
a piecewise-linear function needs.

Each expression is compiled once into nested closures (the shape and
per-example bookkeeping are resolved at compile time) and the closures are run
once per time step.  Nothing here calls ``sympify``, ``eval``, ``parse_expr``
or ``lambdify``.

Backends
--------
``"numpy"``
    float64, or complex128 when any input is complex (the complex step).
``"autograd"``
    ``autograd.numpy``; traceable by :func:`autograd.grad` (no in-place
    assignment anywhere).
``"mpmath"``
    numpy object arrays of ``mpmath.mpf``/``mpc``, at the caller's
    ``mpmath.mp`` precision (scope it with ``mpmath.workdps``).  Floats are
    converted exactly.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from typing import Any, Callable, Mapping

import autograd.numpy as anp
import mpmath
import numpy as np
import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.hadamard import HadamardPower, HadamardProduct
from sympy.matrices.expressions.special import Identity, OneMatrix, ZeroMatrix

from derive.errors import InputError, UnsupportedNode
from derive.spec import LogSumExp, Model, Softmax

__all__ = [
    "Backend", "BACKENDS", "SCALAR_FUNCTIONS",
    "get_backend", "compile_scalar", "loss", "forward", "forward_names", "input_name", "check_x",
]


# ---------------------------------------------------------------------------
# Backends
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Backend:
    """Everything the interpreter needs from an array library.

    ``xp`` supplies the array algebra (``where``, ``sum``, ``max``, ``stack``,
    ``reshape``); ``functions`` maps a SymPy function class to its elementwise
    implementation; ``real`` takes the real part (used only for comparisons
    and for the softmax shift); ``asarray`` converts user data (float or
    complex numpy arrays) into backend arrays; ``number`` converts a SymPy
    number into a backend scalar at the current precision.
    """

    name: str
    xp: Any
    functions: Mapping[type, Callable]
    real: Callable
    asarray: Callable
    number: Callable


def _piecewise(xp, real) -> dict:
    """``Max``, ``Min`` and ``Heaviside`` from ``where`` on real parts."""

    def maximum(*args):
        return reduce(lambda a, b: xp.where(real(a) >= real(b), a, b), args)

    def minimum(*args):
        return reduce(lambda a, b: xp.where(real(a) <= real(b), a, b), args)

    def heaviside(z, h0=0.5):
        r = real(z)
        return xp.where(r > 0, 1.0, xp.where(r < 0, 0.0, h0))

    return {sp.Max: maximum, sp.Min: minimum, sp.Heaviside: heaviside}


def _float_number(value: sp.Expr):
    """SymPy number -> Python float (or complex)."""
    if value.is_real:
        return float(value)
    return complex(value)


def _array_backend(name: str, xp, asarray) -> Backend:
    functions = {
        sp.exp: xp.exp, sp.log: xp.log, sp.tanh: xp.tanh, sp.sinh: xp.sinh,
        sp.cosh: xp.cosh, sp.sin: xp.sin, sp.cos: xp.cos,
        **_piecewise(xp, xp.real),
    }
    return Backend(name, xp, functions, xp.real, asarray, _float_number)


def _elementwise(f: Callable) -> Callable:
    """An mpmath scalar function applied to every entry of an object array."""
    return np.vectorize(f, otypes=[object])


_mp_real = _elementwise(mpmath.re)
_mp_convert = _elementwise(mpmath.mpmathify)


def _mp_asarray(a):
    a = np.asarray(a)
    return a if a.dtype == object else _mp_convert(a)


def _mp_number(value: sp.Expr):
    """SymPy number -> mpmath number at the *current* mpmath precision."""
    if value is sp.pi:
        return +mpmath.pi
    if value is sp.E:
        return +mpmath.e
    if isinstance(value, sp.Rational):
        return mpmath.mpf(int(value.p)) / int(value.q)
    if isinstance(value, sp.Float):
        return +mpmath.mpf(value._mpf_)
    raise UnsupportedNode(value, "no mpmath conversion for this number")


def _mpmath_backend() -> Backend:
    functions = {
        sp.exp: mpmath.exp, sp.log: mpmath.log, sp.tanh: mpmath.tanh,
        sp.sinh: mpmath.sinh, sp.cosh: mpmath.cosh, sp.sin: mpmath.sin,
        sp.cos: mpmath.cos,
    }
    functions = {k: _elementwise(f) for k, f in functions.items()}
    functions.update(_piecewise(np, _mp_real))
    return Backend("mpmath", np, functions, _mp_real, _mp_asarray, _mp_number)


BACKENDS: dict[str, Backend] = {
    "numpy": _array_backend("numpy", np, np.asarray),
    # autograd: never convert (that would drop the tracer boxes)
    "autograd": _array_backend("autograd", anp, lambda a: a),
    "mpmath": _mpmath_backend(),
}

#: The scalar SymPy functions every backend evaluates elementwise.
SCALAR_FUNCTIONS = frozenset(BACKENDS["numpy"].functions)


def get_backend(backend: str | Backend) -> Backend:
    if isinstance(backend, Backend):
        return backend
    try:
        return BACKENDS[backend]
    except KeyError:
        raise ValueError(f"unknown backend {backend!r}; choose one of {sorted(BACKENDS)}") from None


# ---------------------------------------------------------------------------
# Scalar expressions -> closures (bk, *values) -> value
# ---------------------------------------------------------------------------

def _fold(op, closures):
    """A closure applying the binary ``op`` left to right over the results of
    ``closures``, all called with the same arguments."""
    first, rest = closures[0], closures[1:]
    return lambda *args: reduce(lambda acc, f: op(acc, f(*args)), rest, first(*args))


def compile_scalar(expr: sp.Expr, variables: tuple = ()) -> Callable:
    """Compile a scalar SymPy expression of ``variables`` into a closure
    ``f(bk, *values)`` that works elementwise on backend arrays."""
    if expr in variables:
        index = variables.index(expr)
        return lambda bk, *values: values[index]
    if isinstance(expr, sp.Integer):
        value = int(expr)
        return lambda bk, *values: value
    if isinstance(expr, (sp.Rational, sp.Float)) or expr in (sp.pi, sp.E):
        return lambda bk, *values: bk.number(expr)
    if isinstance(expr, sp.Symbol):
        raise UnsupportedNode(expr, "free symbol (only the Lambda variable is bound)")
    parts = [compile_scalar(a, variables) for a in expr.args]
    if isinstance(expr, sp.Add):
        return _fold(lambda a, b: a + b, parts)
    if isinstance(expr, sp.Mul):
        return _fold(lambda a, b: a * b, parts)
    if isinstance(expr, sp.Pow):
        base, exponent = parts
        return lambda bk, *values: base(bk, *values) ** exponent(bk, *values)
    if type(expr) in SCALAR_FUNCTIONS:
        kind = type(expr)
        return lambda bk, *values: bk.functions[kind](*(p(bk, *values) for p in parts))
    raise UnsupportedNode(expr, "scalar node not in the interpreter's function table "
                                f"({', '.join(sorted(f.__name__ for f in SCALAR_FUNCTIONS))})")


# ---------------------------------------------------------------------------
# Matrix expressions -> compiled nodes
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class _Node:
    """A compiled matrix expression: ``run(bk, env)`` returns its array.

    ``shape`` is the spec shape ``(p, q)`` of one example.  If ``batched``,
    the array is the per-example vector in ``(max(p, q), B)`` layout (a
    ``1 x 1`` is ``(1, B)``); otherwise it is the shared ``(p, q)`` array.
    """

    run: Callable
    shape: tuple
    batched: bool

    @property
    def is_column(self):
        return self.shape[1] == 1

    @property
    def is_row(self):
        return self.shape[0] == 1

    def in_batched_layout(self) -> Callable:
        """This node's array in the per-example vector layout (a shared row
        or column becomes an ``(r, 1)`` column that broadcasts over the batch)."""
        if self.batched or self.is_column:
            return self.run
        if self.is_row:
            run = self.run
            return lambda bk, env: run(bk, env).T
        raise AssertionError("shared matrices never meet per-example values elementwise")


def _int_shape(expr) -> tuple:
    try:
        return tuple(int(d) for d in expr.shape)
    except TypeError:
        raise UnsupportedNode(expr, f"symbolic shape {expr.shape}; build the spec "
                                    "with integer sizes") from None


def _shift(bk, v):
    """Per-column max of the real part: the stabilising shift (a real number,
    so a complex-step perturbation is carried through unchanged)."""
    return bk.xp.max(bk.real(v), axis=0, keepdims=True)


def _logsumexp(bk, v):
    s = _shift(bk, v)
    exp, log = bk.functions[sp.exp], bk.functions[sp.log]
    return s + log(bk.xp.sum(exp(v - s), axis=0, keepdims=True))


def _softmax(bk, v):
    e = bk.functions[sp.exp](v - _shift(bk, v))
    return e / bk.xp.sum(e, axis=0, keepdims=True)


class _Compiler:
    """Compiles matrix expressions, knowing which symbols are per-example."""

    def __init__(self, batched_names):
        self.batched_names = set(batched_names)
        self.rules = (
            (sp.MatrixSymbol, self.symbol),
            (sp.MatAdd, lambda e: self.elementwise(e, lambda a, b: a + b)),
            (HadamardProduct, lambda e: self.elementwise(e, lambda a, b: a * b)),
            (sp.MatMul, self.matmul),
            (sp.Transpose, self.transpose),
            (HadamardPower, self.hadamard_power),
            ((Identity, ZeroMatrix, OneMatrix), self.constant),
            (ElementwiseApplyFunction, self.apply_function),
            (LogSumExp, lambda e: self.column_reduction(e, _logsumexp)),
            (Softmax, lambda e: self.column_reduction(e, _softmax)),
        )

    def __call__(self, expr) -> _Node:
        for kind, rule in self.rules:
            if isinstance(expr, kind):
                return rule(expr)
        raise UnsupportedNode(expr)

    @staticmethod
    def node(expr, run, batched) -> _Node:
        shape = _int_shape(expr)
        if batched and shape[0] != 1 and shape[1] != 1:
            raise UnsupportedNode(expr, f"it would build a per-example {shape[0]} x {shape[1]} "
                                        "matrix; per-example values must be vectors")
        return _Node(run, shape, batched)

    def symbol(self, expr) -> _Node:
        name = expr.name
        return self.node(expr, lambda bk, env: env[name], name in self.batched_names)

    def elementwise(self, expr, op) -> _Node:
        """``MatAdd`` / ``HadamardProduct``: same-shape operands combined by ``op``."""
        nodes = [self(a) for a in expr.args]
        batched = any(n.batched for n in nodes)
        runs = [n.in_batched_layout() if batched else n.run for n in nodes]
        return self.node(expr, _fold(op, runs), batched)

    def matmul(self, expr) -> _Node:
        scalars = [a for a in expr.args if not getattr(a, "is_Matrix", False)]
        factors = [self(a) for a in expr.args if getattr(a, "is_Matrix", False)]
        node = reduce(lambda l, r: self.product(expr, l, r), factors)
        if not scalars:
            return node
        coefficient, run = compile_scalar(sp.Mul(*scalars)), node.run
        return _Node(lambda bk, env: coefficient(bk) * run(bk, env), node.shape, node.batched)

    def product(self, expr, left: _Node, right: _Node) -> _Node:
        """The product of two compiled factors, per example.

        For per-example vectors in ``(r, B)`` layout:

        * shared @ shared, shared @ per-example column: a literal ``@``;
        * per-example row @ shared ``S``: the row ``S.T @ R``;
        * per-example row ``1 x k`` @ per-example column ``k x 1`` (``k > 1``):
          a per-example dot product, ``sum(R * C, axis=0)``;
        * otherwise the inner size is 1 and the product scales a vector by a
          ``1 x 1`` (shared or per-example): a broadcast elementwise product.
        """
        (p, k), (k2, q) = left.shape, right.shape
        if k != k2:
            raise UnsupportedNode(expr, f"factors of shapes {left.shape} and {right.shape} "
                                        "are not aligned")
        L, R = left.run, right.run
        if not left.batched and (not right.batched or right.is_column):
            run = lambda bk, env: L(bk, env) @ R(bk, env)
        elif left.batched and not right.batched and left.is_row:
            run = lambda bk, env: R(bk, env).T @ L(bk, env)
        elif left.batched and right.batched and k > 1:
            run = lambda bk, env: bk.xp.sum(L(bk, env) * R(bk, env), axis=0, keepdims=True)
        else:
            L, R = left.in_batched_layout(), right.in_batched_layout()
            run = lambda bk, env: L(bk, env) * R(bk, env)
        batched = left.batched or right.batched
        if batched and p != 1 and q != 1:
            raise UnsupportedNode(expr, f"a factor would be a per-example {p} x {q} matrix "
                                        "(outer product); per-example values must be vectors")
        return _Node(run, (p, q), batched)

    def transpose(self, expr) -> _Node:
        node = self(expr.arg)
        if node.batched:   # rows and columns share the per-example layout
            return self.node(expr, node.run, True)
        run = node.run
        return self.node(expr, lambda bk, env: run(bk, env).T, False)

    def hadamard_power(self, expr) -> _Node:
        if getattr(expr.exp, "is_Matrix", False):
            raise UnsupportedNode(expr, "matrix exponent")
        node, exponent = self(expr.base), compile_scalar(expr.exp)
        run = node.run
        return self.node(expr, lambda bk, env: run(bk, env) ** exponent(bk), node.batched)

    def constant(self, expr) -> _Node:
        shape = _int_shape(expr)
        if isinstance(expr, Identity):
            value = np.eye(shape[0])
        else:
            value = np.full(shape, 1.0 if isinstance(expr, OneMatrix) else 0.0)
        return self.node(expr, lambda bk, env: bk.asarray(value), False)

    def apply_function(self, expr) -> _Node:
        function = expr.function
        if not isinstance(function, sp.Lambda):   # a bare function class such as sp.tanh
            z = sp.Dummy("z")
            function = sp.Lambda(z, function(z))
        if len(function.variables) != 1:
            raise UnsupportedNode(expr, "elementwise function of more than one variable")
        body = compile_scalar(function.expr, tuple(function.variables))
        node = self(expr.expr)
        run = node.run
        kinks = kink_points(function)
        if kinks:
            def run_recorded(bk, env):
                arg = run(bk, env)
                log = env.get(KINK_LOG)
                if log is not None:
                    log.append(min(float(np.min(np.abs(np.real(np.asarray(arg, dtype=complex)) - k)))
                                         for k in kinks))
                return body(bk, arg)
            return self.node(expr, run_recorded, node.batched)
        return self.node(expr, lambda bk, env: body(bk, run(bk, env)), node.batched)

    def column_reduction(self, expr, f) -> _Node:
        """``LogSumExp`` / ``Softmax`` of a column, stable (max-shifted)."""
        node = self(expr.arg)
        if not node.is_column:
            raise UnsupportedNode(expr, f"argument must be a column, got shape {node.shape}")
        run = node.run
        return self.node(expr, lambda bk, env: f(bk, run(bk, env)), node.batched)


# ---------------------------------------------------------------------------
# The model: one compiled step, run over time
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class _Step:
    equations: tuple     # (name, run), in evaluation order
    loss: Callable


def _compile_model(model: Model) -> _Step:
    compile_ = _Compiler(s.name for s in (*model.inputs, model.label, *model.state))
    equations = []
    for eq in model.equations:
        node = compile_(eq.rhs)
        if not node.batched:
            raise UnsupportedNode(eq.rhs, f"equation {eq.text!r} does not depend on "
                                          "any per-example quantity")
        compile_.batched_names.add(eq.lhs.name)
        equations.append((eq.lhs.name, node.run))
    return _Step(tuple(equations), compile_(model.loss).run)


def _param_arrays(model: Model, params: Mapping, bk: Backend) -> dict:
    expected = {p.name for p in model.params}
    if set(params) != expected:
        raise InputError(f"model {model.name!r}: params must have keys {sorted(expected)}, "
                            f"got {sorted(params)}")
    out = {}
    for p in model.params:
        rows, cols = _int_shape(p)
        # a column is stored 1-D; with concrete sizes a matrix can become a
        # column (U is n x m, m = 1), so its 2-D form is accepted as well
        allowed = [(rows, cols)] if cols != 1 else [(rows,), (rows, 1)]
        value = params[p.name]
        if tuple(np.shape(value)) not in allowed:
            raise InputError(f"model {model.name!r}: param {p.name} must have shape "
                                f"{' or '.join(map(str, allowed))}, got {tuple(np.shape(value))}")
        out[p.name] = bk.xp.reshape(bk.asarray(value), (rows, cols))
    return out


def _initial_states(model: Model, init: Mapping | None, batch: int, bk: Backend) -> dict:
    """prev-symbol name -> initial state in ``(r, B)`` layout."""
    init = dict(init or {})
    names = model.state_names
    unknown = set(init) - {init_name for _, init_name in names.values()}
    if unknown:
        raise InputError(f"model {model.name!r}: unknown initial states {sorted(unknown)}")
    states = {}
    for prev in model.state:
        rows = _int_shape(prev)[0]
        init_name = names[prev.name][1]
        value = init.get(init_name)
        if value is None:
            value = np.zeros((batch, rows))
        if tuple(np.shape(value)) != (batch, rows):
            raise InputError(f"model {model.name!r}: initial state {init_name} must have "
                                f"shape {(batch, rows)}, got {tuple(np.shape(value))}")
        states[prev.name] = bk.asarray(value).T
    return states


def input_name(model: Model) -> str:
    """The name of the model's one per-step input (``"x"``)."""
    if len(model.inputs) != 1:
        raise InputError(f"model {model.name!r} has {len(model.inputs)} per-step inputs; "
                            "this interpreter's API takes exactly one (x)")
    return model.inputs[0].name


def check_x(model: Model, x) -> None:
    """Raise :class:`InputError` unless ``x`` is ``(tau, B, m)``."""
    m = _int_shape(model.inputs[0])[0]
    if np.ndim(x) != 3 or np.shape(x)[2] != m:
        raise InputError(f"model {model.name!r}: x must have shape (tau, B, {m}), "
                            f"got {tuple(np.shape(x))}")


def _one_hot(model: Model, y, x_shape) -> np.ndarray:
    """Integer labels (tau, B) -> one-hot (tau, K, B), float64."""
    K = _int_shape(model.label)[0]
    y = np.asarray(y)
    if y.shape != tuple(x_shape[:2]):
        raise InputError(f"model {model.name!r}: y must have shape {tuple(x_shape[:2])} "
                            f"(tau, B), got {y.shape}")
    if not np.issubdtype(y.dtype, np.integer) or y.size and (y.min() < 0 or y.max() >= K):
        raise InputError(f"model {model.name!r}: y must be integer labels in [0, {K})")
    return (np.arange(K)[None, :, None] == y[:, None, :]).astype(np.float64)


def _run(model: Model, params, x, y, init, bk: Backend, *, keep: tuple, shift=None, record=None):
    """Run the model over time.  Returns (per-step kept arrays, total loss);
    the loss is None when ``y`` is None."""
    step = _compile_model(model)
    check_x(model, x)
    tau, batch = np.shape(x)[:2]
    env = _param_arrays(model, params, bk)
    states = _initial_states(model, init, batch, bk)
    labels = None if y is None else _one_hot(model, y, np.shape(x))
    x = bk.asarray(x)
    x_name, kept, total = input_name(model), {name: [] for name in keep}, 0
    for t in range(tau):
        env = {**env, **states, x_name: x[t].T}
        if record is not None:              # distances to kinks (kink_distance)
            env[KINK_LOG] = record
        if labels is not None:
            env[model.label.name] = bk.asarray(labels[t])
        for name, run in step.equations:
            env[name] = run(bk, env)
            if shift is not None and name in shift:     # a probe added to a state (adjoints)
                env[name] = env[name] + shift[name][t].T
        if labels is not None:
            total = total + bk.xp.sum(step.loss(bk, env))
        states = {prev.name: env[new] for prev, new in model.state.items()}
        for name in keep:
            kept[name].append(env[name].T)
    return kept, (None if labels is None else total)


KINK_LOG = "__kink_log__"      # env key of the list kink_distance() collects into


def kink_points(function: sp.Lambda) -> tuple:
    """Where a one-variable function is not differentiable: the points at which
    the arguments of its ``Max``/``Min`` tie, or ``Heaviside``/``Abs``/``sign``
    switch (found by SymPy; ``(0.0,)`` for ReLU, ``()`` for smooth functions)."""
    (z,) = function.variables
    points = set()
    for node in sp.preorder_traversal(function.expr):
        if isinstance(node, (sp.Max, sp.Min)) and len(node.args) == 2:
            points |= set(sp.solve(sp.Eq(node.args[0], node.args[1]), z))
        elif isinstance(node, (sp.Heaviside, sp.Abs, sp.sign)):
            points |= set(sp.solve(sp.Eq(node.args[0], 0), z))
    return tuple(sorted(float(p) for p in points if p.is_real))


def kink_distance(model: Model, params: Mapping, x, init: Mapping | None = None) -> float:
    """The smallest distance, over all steps, examples and units, from the argument of
    a non-differentiable activation to its kink (inf for smooth models).  0.0 means
    the point sits exactly on a kink, where the loss has one-sided derivatives only."""
    log = []
    _run(model, params, x, None, init, get_backend("numpy"), keep=(), record=log)
    return min(log, default=float("inf"))


def forward_names(model: Model) -> tuple:
    """Names of the quantities forward() returns: the states, then the outputs."""
    names = [new for new in model.state.values()]
    return tuple(names + [o for o in model.outputs if o not in names])


def loss(model: Model, params: Mapping, x, y, init: Mapping | None = None, *,
         backend: str | Backend = "numpy", shift: Mapping | None = None):
    """The model's loss: the spec's per-step scalar summed over time and batch.

    ``params``: name -> array (column parameters 1-D); ``x``: ``(tau, B, m)``;
    ``y``: integer labels ``(tau, B)``; ``init``: initial states by name
    (``{"h0": (B, n)}``), zero when missing; ``shift``: optional arrays ``(tau, B, r)``
    by state name added to that state after each step (zero probes whose gradient is
    the total adjoint dL/dstate(t)).  Returns a backend scalar
    (numpy float64/complex128, an autograd box, or an mpmath number).
    """
    _, total = _run(model, params, x, y, init, get_backend(backend), keep=(), shift=shift)
    return total


def forward(model: Model, params: Mapping, x, init: Mapping | None = None, *,
            backend: str | Backend = "numpy") -> dict:
    """Per-step states and outputs, ``name -> (tau, B, r)`` (see :func:`forward_names`
    for the names; for the rnn ``{"h": ..., "o": ...}``)."""
    bk = get_backend(backend)
    names = forward_names(model)
    kept, _ = _run(model, params, x, None, init, bk, keep=names)
    return {name: bk.xp.stack(kept[name]) for name in names}
