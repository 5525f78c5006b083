"""The printer: one matrix expression of a derivation -> NumPy code for a batch.

The derivation is per example, in column vectors (``a = b + W h + U x``); the
generated code works on batches of row vectors (``a = h @ W.T + x @ U.T + b``),
time-major ``(tau, B, r)``.  The printer writes, for each matrix expression
``E``, the code of ``E^T`` stacked over the batch:

    P v          ->  v @ P.T            (v per example, P a parameter)
    P^T v        ->  v @ P
    u^T v        ->  (u * v).sum(axis=-1, keepdims=True)   (per-example dot product)
    f.(v)        ->  f(v)               (the scalar body printed by SymPy's NumPyPrinter)

and a few nodes the passes (:mod:`derive.codegen.passes`) put into the
derivation: :class:`RowStack` (matrices stacked by rows), :class:`Pick` and
:class:`MinusOneHot` (labels by index, never one-hot), :class:`Summed` (a
parameter gradient: summed over steps and examples).

Modelled on SymPy's code printers: one ``_print_<Node>`` method per node type,
function names in tables (:data:`ALIASES`, :data:`NAMED`, :data:`INTO`), the
modules a printed expression needs recorded while printing
(``module_imports``), and strict: a node without a method here is a loud
:class:`~derive.errors.CodegenError`, never a guess.  (NumPyPrinter's own matrix
methods print column-vector code and are never used for matrix nodes.)
"""
from __future__ import annotations

import copy

import sympy as sp
from sympy import HadamardProduct, MatAdd, MatMul, MatrixExpr, MatrixSymbol, Transpose
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.precedence import PRECEDENCE, precedence

from derive.errors import CodegenError
from derive.spec import ACTIVATIONS

ATOM = PRECEDENCE["Atom"]

#: module -> how the generated code spells it (the only modules it may import)
ALIASES = {"numpy": "np", "numeric.runtime": "rt"}

#: activations printed as a named stable form (a rewrite, like SymPy's codegen.rewriting):
#: ``1/(1 + exp(-z))`` overflows exp for z < -709; rt.sigmoid does not
NAMED = {"sigmoid": "numeric.runtime.sigmoid"}

#: activations that can write into a preallocated slot: the ufunc and its arguments before ours
INTO = {"tanh": ("numpy.tanh", ()), "sigmoid": ("numeric.runtime.sigmoid", ()),
        "relu": ("numpy.maximum", ("0",))}


# -- nodes the passes add ---------------------------------------------------------------------
class _Node(MatrixExpr):
    """A node the passes add; its shape is its first argument's unless it says otherwise."""

    def __new__(cls, *args):
        return super().__new__(cls, *args)

    @property
    def shape(self):
        return self.args[0].shape


class _Scalar(_Node):
    @property
    def shape(self):
        return (sp.S.One, sp.S.One)


class RowStack(_Node):
    """``[P1; P2; ...]``: matrices (or columns) with the same number of columns, stacked by rows."""

    @property
    def shape(self):
        return (sp.Add(*(m.shape[0] for m in self.args)), self.args[0].shape[1])


class Pick(_Scalar):
    """``y^T v`` for a one-hot label ``y``: the entry of ``v`` at the label (1 x 1)."""


class MinusOneHot(_Node):
    """``v - y`` for a one-hot label ``y``: one subtracted at the label.  ``in_place``
    (a SymPy boolean) when ``v`` has no other use and may be overwritten."""

    def __new__(cls, v, label, in_place=sp.false):
        return super().__new__(cls, v, label, sp.sympify(in_place))


class OneHot(_Node):
    """The label as a one-hot column (for a use of the label that is not printed by index)."""


class Summed(_Node):
    """The sum of a per-example expression over every time step and example."""


class Total(_Scalar):
    """The sum of a per-example scalar over every time step and example: the loss."""


class LogSumExpSoftmax(_Node):
    """The pair ``(logsumexp(v), softmax(v))`` from one exp pass (a statement with two targets)."""


class ZerosLike(_Node):
    """Zeros with the shape of a parameter (the gradient of one that the loss does not read)."""


def activation_name(function: sp.Lambda):
    """The key of :data:`derive.spec.ACTIVATIONS` that ``function`` is, or None."""
    return next((k for k, f in ACTIVATIONS.items() if f == function), None)


# -- the printer --------------------------------------------------------------------------------
class Printer(NumPyPrinter):
    """Prints the row-batch code of per-example matrix expressions.

    ``constants``: names of per-model arrays without a batch axis (parameters,
    stacked parameters); every other matrix symbol is per example.  ``spelled``:
    name -> code at this place (``h`` -> ``h[t]`` inside a loop).  ``stacked``:
    arrays carry a leading time axis (before and after the loops), so products
    go through ``rt.matmul``.  :meth:`at` gives a printer for another place that
    records into the same ``module_imports`` and ``used``."""

    printmethod = "_rnn_derive_code"

    #: matrix node types this printer prints; any other matrix node is refused
    MATRIX_NODES = ("MatrixSymbol", "MatAdd", "MatMul", "HadamardProduct", "HadamardPower",
                    "ElementwiseApplyFunction", "OneMatrix", "LogSumExp", "Softmax", "RowStack",
                    "Pick", "MinusOneHot", "OneHot", "Summed", "Total", "LogSumExpSoftmax",
                    "ZerosLike")

    def __init__(self, constants=(), *, labels=(), dtype="x.dtype", spelled=None, stacked=False):
        super().__init__({"fully_qualified_modules": True, "strict": True})
        self.constants = frozenset(constants)
        self.labels = frozenset(labels)
        self.dtype = dtype           # code of the data's dtype (for a one-hot label)
        self.spelled = dict(spelled or {})
        self.stacked = stacked
        self.used = set()            # names of symbols printed (matrix symbols and sizes)
        self._scalar = {}            # variable of an elementwise body -> code of its argument

    def at(self, *, spelled=None, stacked=False) -> "Printer":
        """The same printer at another place of the same function (records shared)."""
        other = copy.copy(self)
        other.spelled, other.stacked, other._scalar = dict(spelled or {}), stacked, {}
        return other

    def function(self) -> "Printer":
        """A printer for another function: its own record of the names it reads
        (``used``), the module's record of imports."""
        other = self.at()
        other.used = set()
        return other

    # -- public ---------------------------------------------------------------------------
    def code(self, e) -> str:
        """The code of ``e``; :class:`CodegenError` for anything it cannot print."""
        return self._print(e)

    def fn(self, fqn: str) -> str:
        """``numpy.empty`` -> ``np.empty``, recorded in ``module_imports``."""
        return self._module_format(fqn)

    def into(self, e, out: str):
        """Code that computes ``e`` straight into the slot ``out`` (no temporary), or None."""
        if isinstance(e, HadamardProduct) and len(e.args) == 2:
            left, right = (self._paren(a, PRECEDENCE["Mul"]) for a in e.args)
            return f"{self.fn('numpy.multiply')}({left}, {right}, out={out})"
        if isinstance(e, MatAdd) and len(e.args) == 2 and not any(map(self._negated, e.args)):
            left, right = (self._print(a) for a in self._ordered(e.args))
            return f"{self.fn('numpy.add')}({left}, {right}, out={out})"
        if isinstance(e, ElementwiseApplyFunction) and activation_name(e.function) in INTO:
            fn, before = INTO[activation_name(e.function)]
            return f"{self.fn(fn)}({', '.join((*before, self._print(e.expr)))}, out={out})"
        return None

    def is_example(self, e) -> bool:
        """Whether ``e`` has a batch axis (reads a per-example symbol)."""
        return any(s.name not in self.constants for s in e.atoms(MatrixSymbol))

    # -- dispatch: strict ------------------------------------------------------------------
    def _print(self, expr, **kwargs):
        if isinstance(expr, MatrixExpr):
            for cls in type(expr).__mro__:
                if cls.__name__ in self.MATRIX_NODES:
                    return getattr(self, f"_print_{cls.__name__}")(expr)
            raise CodegenError(f"no NumPy form for the matrix node {type(expr).__name__}: {expr}")
        try:
            return super()._print(expr, **kwargs)
        except CodegenError:
            raise
        except Exception as e:  # noqa: BLE001 - SymPy's refusals, reworded
            raise CodegenError(f"no NumPy form for {expr}: {e}") from None

    def _print_not_supported(self, expr):
        raise CodegenError(f"no NumPy form for {type(expr).__name__}: {expr}")

    def emptyPrinter(self, expr):
        raise CodegenError(f"no NumPy form for {type(expr).__name__}: {expr!r}")

    def _module_format(self, fqn, register=True):
        module, _, name = fqn.rpartition(".")
        if module not in ALIASES:
            raise CodegenError(f"generated code may not use {fqn} (only {', '.join(ALIASES)})")
        if register:
            self.module_imports[module].add(name)
        return f"{ALIASES[module]}.{name}"

    # -- precedence ------------------------------------------------------------------------
    def _precedence(self, e) -> int:
        if isinstance(e, MatAdd):
            return PRECEDENCE["Add"]
        if isinstance(e, HadamardProduct):
            return PRECEDENCE["Mul"]
        if isinstance(e, sp.HadamardPower):
            return PRECEDENCE["Pow"]
        if isinstance(e, MatMul):
            coeff, mats = e.as_coeff_matrices()
            if coeff.is_negative:
                return PRECEDENCE["Add"]
            if coeff != 1:
                return PRECEDENCE["Mul"]
            if len(mats) == 1:
                return self._precedence(mats[0])
            if self._is_dot(mats) or self.stacked and not all(self.is_example(m) for m in mats):
                return ATOM                 # (u * v).sum(...), rt.matmul(v, P.T)
            return PRECEDENCE["Mul"]        # v @ P.T, u * s
        if isinstance(e, ElementwiseApplyFunction):
            body = e.function.expr
            if activation_name(e.function) in NAMED or body.args == e.function.variables:
                return ATOM
            return precedence(body)
        return ATOM

    def _paren(self, e, level: int) -> str:
        """The code of ``e``, in parentheses unless it binds tighter than ``level``."""
        code = self._print(e)
        return code if self._precedence(e) > level else f"({code})"

    # -- leaves ----------------------------------------------------------------------------
    def _print_MatrixSymbol(self, e):
        if e.name in self.labels:
            raise CodegenError(f"the label {e.name} is printed by index only (y^T v, v - y), "
                               f"not as a matrix: {e}")
        self.used.add(e.name)
        return self.spelled.get(e.name, e.name)

    def _print_Symbol(self, e):
        if e in self._scalar:
            return self._scalar[e]
        self.used.add(e.name)
        return super()._print_Symbol(e)

    _print_Dummy = _print_Symbol

    def _print_OneMatrix(self, e):
        return "1"

    def _print_ZerosLike(self, e):
        return f"{self.fn('numpy.zeros_like')}({self._print(e.args[0])})"

    # -- sums and elementwise products ----------------------------------------------------------
    @staticmethod
    def _negated(a) -> bool:
        return isinstance(a, MatMul) and a.as_coeff_matrices()[0].is_negative

    def _ordered(self, terms) -> list:
        """Negated terms last (``1 - z``), per-example terms first otherwise, in a stable order."""
        return sorted(terms, key=lambda a: (self._negated(a), not self.is_example(a), sp.default_sort_key(a)))

    def _print_MatAdd(self, e):
        out = ""
        for a in self._ordered(e.args):
            if self._negated(a):
                coeff, mats = a.as_coeff_matrices()
                rest = MatMul(-coeff, *mats) if coeff != -1 else (mats[0] if len(mats) == 1 else MatMul(*mats))
                code = self._paren(rest, PRECEDENCE["Add"])
                out = f"{out} - {code}" if out else f"-{code}"
            else:
                code = self._paren(a, PRECEDENCE["Add"] - 1)
                out = f"{out} + {code}" if out else code
        return out

    def _print_HadamardProduct(self, e):
        return " * ".join(self._paren(a, PRECEDENCE["Mul"]) for a in e.args)

    def _print_HadamardPower(self, e):
        return f"{self._paren(e.base, PRECEDENCE['Pow'])}**{self._print(e.exp)}"

    def _print_ElementwiseApplyFunction(self, e):
        name = activation_name(e.function)
        if name in NAMED:
            return f"{self.fn(NAMED[name])}({self._print(e.expr)})"
        (var,) = e.function.variables
        body = e.function.expr
        inside_call = body.args == (var,)
        self._scalar[var] = self._print(e.expr) if inside_call else self._paren(e.expr, ATOM - 1)
        try:
            return self._print(body)
        finally:
            del self._scalar[var]

    def _print_Max(self, e):
        if len(e.args) != 2:
            raise CodegenError(f"no NumPy form for {e}")
        return f"{self.fn('numpy.maximum')}({self._print(e.args[0])}, {self._print(e.args[1])})"

    def _print_Heaviside(self, e):
        return f"{self.fn('numpy.heaviside')}({self._print(e.args[0])}, {self._print(sp.Heaviside(0))})"

    # -- products ---------------------------------------------------------------------------
    @staticmethod
    def _is_dot(mats) -> bool:
        u = mats[0]
        return len(mats) == 2 and isinstance(u, Transpose) and u.shape[0] == 1

    def _param_T(self, P) -> str:
        """Code of ``P^T`` for a factor without a batch axis."""
        if isinstance(P, Transpose):
            return self._paren(P.arg, ATOM - 1)
        return f"{self._paren(P, ATOM - 1)}.T"

    def _print_MatMul(self, e):
        coeff, mats = e.as_coeff_matrices()
        body = self._product(mats, e)
        if coeff == 1:
            return body
        inner = MatMul(*mats) if len(mats) > 1 else mats[0]
        if coeff == -1:
            return f"-{self._paren(inner, PRECEDENCE['Add'])}"
        return f"{self._print(coeff)} * {self._paren(inner, PRECEDENCE['Mul'])}"

    def _product(self, mats, e) -> str:
        if len(mats) == 1:
            return self._print(mats[0])
        example = [self.is_example(m) for m in mats]
        v = mats[-1]
        if example[-1] and not any(example[:-1]) and v.shape[1] == 1:
            # P1 ... Pk v  ->  v @ Pk.T @ ... @ P1.T
            code = self._print(v) if self.stacked else self._paren(v, ATOM - 1)
            for P in reversed(mats[:-1]):
                if self.stacked:
                    code = f"{self.fn('numeric.runtime.matmul')}({code}, {self._param_T(P)})"
                else:
                    code = f"{code} @ {self._param_T(P)}"
            return code
        if len(mats) == 2 and all(example):
            u, v = mats
            if self._is_dot(mats):                      # u^T v, a dot product per example
                return (f"({self._paren(u.arg, PRECEDENCE['Mul'])} * {self._paren(v, PRECEDENCE['Mul'])})"
                        ".sum(axis=-1, keepdims=True)")
            if v.shape == (1, 1):                        # a column times a per-example scalar
                return f"{self._paren(u, PRECEDENCE['Mul'])} * {self._paren(v, PRECEDENCE['Mul'])}"
        raise CodegenError(f"no NumPy form for the product {e} (only parameter products of a "
                           "per-example column, per-example dot products, and outer products "
                           "summed over steps and examples)")

    # -- softmax, labels, stacks, sums ---------------------------------------------------------
    def _print_LogSumExp(self, e):
        return f"{self.fn('numeric.runtime.logsumexp')}({self._print(e.arg)})"

    def _print_Softmax(self, e):
        return f"{self.fn('numeric.runtime.softmax')}({self._print(e.arg)})"

    def _print_LogSumExpSoftmax(self, e):
        return f"{self.fn('numeric.runtime.logsumexp_softmax')}({self._print(e.args[0])})"

    def _print_Total(self, e):
        return f"({self._print(e.args[0])}).sum()"

    def _label(self, y) -> str:
        if y.name not in self.labels:
            raise CodegenError(f"{y} is not a label")
        self.used.add(y.name)
        return self.spelled.get(y.name, y.name)

    def _print_Pick(self, e):
        v, y = e.args
        return f"{self.fn('numeric.runtime.pick')}({self._print(v)}, {self._label(y)})"

    def _print_MinusOneHot(self, e):
        v, y, in_place = e.args
        flag = ", in_place=True" if in_place else ""
        return f"{self.fn('numeric.runtime.minus_one_hot')}({self._print(v)}, {self._label(y)}{flag})"

    def _print_OneHot(self, e):
        (y,) = e.args
        K = self._print(y.shape[0])
        return f"{self.fn('numeric.runtime.one_hot')}({self._label(y)}, {K}, {self.dtype})"

    def _print_RowStack(self, e):
        return f"{self.fn('numpy.concatenate')}([{', '.join(self._print(m) for m in e.args)}])"

    def _print_Summed(self, e):
        (arg,) = e.args
        if isinstance(arg, MatMul) and len(arg.args) == 2 and isinstance(arg.args[1], Transpose) \
                and all(self.is_example(a) for a in arg.args):
            g, v = arg.args[0], arg.args[1].arg                 # g v^T summed: one product
            return f"{self.fn('numeric.runtime.sum_outer')}({self._print(g)}, {self._print(v)})"
        if arg.shape[1] == 1 and self.is_example(arg):
            return f"{self.fn('numeric.runtime.sum_rows')}({self._print(arg)})"
        raise CodegenError(f"no NumPy form for the sum over steps and examples of {arg}")
