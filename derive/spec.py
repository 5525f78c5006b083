"""The forward-spec language: what a model author writes, and nothing more.

A model is one function of its sizes that returns a :class:`Model`: the per-step
forward equations of one example, written in column-vector form exactly as the
course notes write them (``a = b + W h(t-1) + U x(t)``), with SymPy matrix
symbols.  The same function serves symbolic sizes (the derivation and the
report) and small concrete sizes (the proof against brute force).

Conventions
-----------
* Every per-example quantity is a column vector (``r x 1``); the batch is an
  implementation detail of the generated code.
* ``state`` maps the previous-step symbol (``h_prev``) to the equation name
  that produces the next state (``h``).  The initial state is ``<name>0``.
* ``loss`` is the per-step, per-example scalar (``1 x 1``); the model's loss is
  its sum over time steps and over the batch.
* Labels are one-hot columns in the spec; the generated API takes integer
  labels.

Besides SymPy's own matrix expressions the spec may use :func:`elementwise`
and the two softmax primitives below.  Every primitive has a one-line VJP rule
in :mod:`derive.rules`, each proven by SymPy in ``tests/test_rules.py``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp
from sympy import MatrixExpr, MatrixSymbol
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from derive.errors import SpecError

__all__ = [
    "ACTIVATIONS", "Attaining", "BoundCases", "BoundFault", "Elementwise", "Equation", "Model", "LogSumExp",
    "Softmax", "activation", "elementwise", "logsumexp", "ones", "sigmoid", "softmax", "softmax_head", "sizes",
    "tanh",
]


def sizes(names: str):
    """Symbolic sizes: positive integers, e.g. ``n, m, K = sizes('n m K')``."""
    return sp.symbols(names, integer=True, positive=True)


class Elementwise(ElementwiseApplyFunction):
    """``ElementwiseApplyFunction`` that stays one at every size.

    SymPy's constructor applies the function to a 1 x 1 argument directly
    (``Max(0, a)`` of a matrix symbol fails; ``1/(1 + exp(-a))`` becomes a matrix
    power), so a spec would stop being the same expression at n = 1.  This
    subclass skips that shortcut; everything else is SymPy's."""

    def __new__(cls, function, expr):
        if not isinstance(expr, MatrixExpr):
            raise SpecError(f"{expr!r} must be a matrix expression")
        if not isinstance(function, sp.Lambda):
            z = sp.Dummy("z")
            function = sp.Lambda(z, function(z))
        return MatrixExpr.__new__(cls, function, expr)


def elementwise(function, arg: MatrixExpr) -> MatrixExpr:
    """``function`` applied to every entry of ``arg`` (a SymPy function class
    such as ``sympy.tanh``, or a one-argument ``Lambda``)."""
    if isinstance(function, sp.Lambda):
        return Elementwise(function, arg)
    z = sp.Dummy("z")
    return Elementwise(sp.Lambda(z, function(z)), arg)


_z = sp.Symbol("z", real=True)

#: Activations as one-variable ``Lambda``s.  Their derivatives are SymPy's, never typed in.
ACTIVATIONS = {
    "tanh": sp.Lambda(_z, sp.tanh(_z)),
    "sigmoid": sp.Lambda(_z, 1 / (1 + sp.exp(-_z))),
    "relu": sp.Lambda(_z, sp.Max(0, _z)),
    "identity": sp.Lambda(_z, _z),
}


def sigmoid(arg: MatrixExpr) -> MatrixExpr:
    """The logistic function ``1 / (1 + exp(-z))`` of every entry."""
    return Elementwise(ACTIVATIONS["sigmoid"], arg)


def tanh(arg: MatrixExpr) -> MatrixExpr:
    return Elementwise(ACTIVATIONS["tanh"], arg)


def activation(name: str, arg: MatrixExpr) -> MatrixExpr:
    """The activation called ``name`` (a key of :data:`ACTIVATIONS`) of every entry;
    the identity returns ``arg`` itself."""
    if name not in ACTIVATIONS:
        raise SpecError(f"activation: expected one of {sorted(ACTIVATIONS)}, got {name!r}")
    if name == "identity":
        return arg
    return Elementwise(ACTIVATIONS[name], arg)


def ones(rows) -> MatrixExpr:
    """The column of ones (for ``1 - z`` with ``z`` a gate)."""
    return sp.OneMatrix(rows, 1)


class LogSumExp(MatrixExpr):
    """``log(sum_i exp(v_i))`` of a column ``v``: a ``1 x 1`` matrix."""

    def __new__(cls, arg):
        return super().__new__(cls, arg)

    @property
    def arg(self):
        return self.args[0]

    @property
    def shape(self):
        return (sp.S.One, sp.S.One)

    def _entry(self, i, j, **kwargs):
        v = self.arg
        return sp.log(sp.Add(*[sp.exp(v[k, 0]) for k in range(v.shape[0])]))


class Softmax(MatrixExpr):
    """``exp(v) / sum(exp(v))`` of a column ``v``: same shape as ``v``."""

    def __new__(cls, arg):
        return super().__new__(cls, arg)

    @property
    def arg(self):
        return self.args[0]

    @property
    def shape(self):
        return self.arg.shape

    def _entry(self, i, j, **kwargs):
        v = self.arg
        total = sp.Add(*[sp.exp(v[k, 0]) for k in range(v.shape[0])])
        return sp.exp(v[i, 0]) / total


def logsumexp(v: MatrixExpr) -> MatrixExpr:
    return LogSumExp(v)


def softmax(v: MatrixExpr) -> MatrixExpr:
    return Softmax(v)


def softmax_head(o: MatrixSymbol, y: MatrixSymbol) -> dict:
    """The output head the course notes give every model: ``yhat(t) = softmax(o(t))`` and the
    cross-entropy of the one-hot label ``y(t)``.  Returns the :class:`Model` fields ``loss``,
    ``loss_text`` and ``aliases`` (``yhat``, the name the notes use), so that a spec states
    its head once: ``Model(..., **softmax_head(o, y))``."""
    return dict(loss=logsumexp(o) - y.T * o,
                loss_text="L(t) = -log softmax(o(t))[y(t)] = logsumexp(o(t)) - y(t)^T o(t)",
                aliases={"yhat": softmax(o)})


@dataclass(frozen=True)
class Equation:
    """``lhs = rhs``, one forward equation of one time step.

    ``text`` is the equation as the course notes write it; generated code and
    reports quote it next to everything derived from it.
    """

    lhs: MatrixSymbol
    rhs: MatrixExpr
    text: str


@dataclass(frozen=True)
class Attaining:
    """Where a model's decay bound is attained: inputs, biases and states zero,
    every recurrent matrix symmetric with top eigenvalue ``sigma``, then ``values``
    (name of a parameter or initial state -> a number for every entry, or a matrix
    expression of the parameters and initial states set so far), in order."""

    label: str
    sigma: float
    values: tuple = ()               # ((name, number or matrix expression), ...)


@dataclass(frozen=True)
class BoundFault:
    """A wrong decay bound the bound checks must catch.

    ``replace``: ((name of a symbol of the derived bound, replacement), ...); a
    replacement is a number, a scalar expression of the bound's symbols (by name),
    or a vector expression (a parameter expression or a per-step quantity) whose
    ``max|.|`` is measured (``min|.|`` with ``least``).  ``step``: the one-step bound
    itself replaced by ``max|.|`` of a vector expression.  ``shift``: the exponent
    ``t - k + shift``.  ``held``: parameters held in the adversarial search.
    ``expected``: how it is caught ("violations" or "tightness")."""

    id: str
    description: str
    replace: tuple = ()
    least: bool = False
    step: object = None
    shift: int = 0
    held: tuple = ()                 # ((parameter name, value of every entry), ...)
    expected: str = "violations"


@dataclass(frozen=True)
class BoundCases:
    """What the decay-bound checks know of a model beyond its equations.

    ``attaining``: where the product bound is attained (None: not claimed tight);
    ``held``: parameters held in the adversarial search (the bound is attained only
    there; the search also runs once free); ``faults``: wrong bounds to catch;
    ``statements``: the named bound statements and figures that apply
    ("readings", "eigen", "timescale", "memory-path", "shortest-path", "decay-figure");
    ``variants``: further spec arguments the bounds are checked at (e.g. ``{"d": 3}``)."""

    attaining: Attaining = None
    held: tuple = ()
    faults: tuple = ()
    statements: tuple = ()
    variants: tuple = ()


@dataclass(frozen=True)
class Model:
    """A recurrent model: its per-step forward equations and nothing else."""

    name: str
    title: str
    source: str                      # seed file and section the equations come from
    sizes: tuple                     # size symbols (or integers), in signature order
    params: tuple                    # MatrixSymbols, in the order of the params dict
    inputs: tuple                    # per-step inputs (MatrixSymbols), e.g. (x,)
    label: MatrixSymbol              # per-step one-hot target column
    state: dict                      # previous-step symbol -> equation name of the next state
    equations: tuple                 # Equation, in evaluation order
    loss: MatrixExpr                 # per-step scalar loss (1 x 1)
    loss_text: str = "L(t)"          # the loss as the course notes write it
    outputs: tuple = ()              # names returned by forward() besides the states
    init: dict = field(default_factory=dict)   # param name -> initialiser name
    domains: dict = field(default_factory=dict)  # param name -> (low, high or None): where it is defined
    bounds: BoundCases = BoundCases()            # what the decay-bound checks need (derive/bounds.py)
    notes: str = ""
    aliases: dict = field(default_factory=dict)  # name -> matrix expression of the step the notes name
                                                 # (yhat = softmax(o)); not an equation: nothing derives it

    def __post_init__(self):
        defined = {p.name for p in self.params} | {x.name for x in self.inputs}
        defined |= {s.name for s in self.state} | {self.label.name}
        for eq in self.equations:
            unknown = {s.name for s in eq.rhs.atoms(MatrixSymbol)} - defined
            if unknown:
                raise SpecError(
                    f"model {self.name!r}: equation {eq.text!r} uses {sorted(unknown)} "
                    "before they are defined")
            if eq.lhs.shape != eq.rhs.shape:
                raise SpecError(
                    f"model {self.name!r}: equation {eq.text!r}: left side has shape "
                    f"{eq.lhs.shape}, right side {eq.rhs.shape}")
            defined.add(eq.lhs.name)
        names = {eq.lhs.name for eq in self.equations}
        for prev, new in self.state.items():
            if new not in names:
                raise SpecError(f"model {self.name!r}: state {prev.name} -> {new}: "
                                 f"no equation defines {new!r}")
        if self.loss.shape != (1, 1):
            raise SpecError(f"model {self.name!r}: loss must be 1 x 1, got {self.loss.shape}")
        for alias, expr in self.aliases.items():
            if alias in defined:
                raise SpecError(f"model {self.name!r}: alias {alias!r} is already a name of the model")
            if not isinstance(expr, MatrixExpr):
                raise SpecError(f"model {self.name!r}: alias {alias!r} must be a matrix expression, got {expr!r}")
            unknown = {s.name for s in expr.atoms(MatrixSymbol)} - defined
            if unknown:
                raise SpecError(f"model {self.name!r}: alias {alias!r} uses {sorted(unknown)}, "
                                "which the model does not define")

    # -- lookups used by the derivation and the printers ---------------------------
    def equation(self, name: str) -> Equation:
        for eq in self.equations:
            if eq.lhs.name == name:
                return eq
        raise KeyError(name)

    def symbol(self, name: str) -> MatrixSymbol:
        for s in (*self.params, *self.inputs, self.label, *self.state,
                  *(eq.lhs for eq in self.equations)):
            if s.name == name:
                return s
        raise KeyError(name)

    @property
    def state_names(self) -> dict:
        """previous-step symbol name -> (next-state name, initial-state name)."""
        return {p.name: (new, new + "0") for p, new in self.state.items()}
