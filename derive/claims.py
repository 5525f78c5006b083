"""Claims: gradient formulas from course notes, checked against the derivation.

A claim is a formula the course notes state, e.g. ``grad_o[t] == yhat[t] - y[t]``,
kept as data in ``derive/claims/*.toml``.  A claim never computes anything: the
checker evaluates both sides with the *true* values of every quantity they name
(forward values from the unrolled forward pass, gradients from the derivation
run backwards over time) and decides whether the two agree.

The claims grammar
------------------
A formula is a Python-like expression, parsed with :func:`ast.parse` and walked
by a whitelist (nothing is ever evaluated by Python or by SymPy's parser):

* names from the model's vocabulary.  For ``rnn``: per-step ``x a h o yhat y``
  (``y`` one-hot, ``yhat = softmax(o)``), parameters ``U W b V c``, the initial
  state ``h0``, and ``grad_<name>``, the TOTAL derivative of the summed loss
  with respect to ``<name>``: per step ``grad_x grad_a grad_h grad_o``,
  constant ``grad_U grad_W grad_b grad_V grad_c grad_h0``;
* time indices on per-step names, ``h[t]``, ``h[t-1]``, ``grad_h[t+1]``,
  ``h[tau]``, ``o[1]`` (integer arithmetic with ``+ -`` on ``t``, ``tau`` and
  integer literals).  Indices run over ``1..tau``; ``h[0]`` is ``h0`` and
  ``grad_h[0]`` is ``grad_h0``.  Any other index is an error;
* integer literals, ``+ - *`` (``*`` and a scalar ``+``/``-`` act elementwise),
  ``@`` (matrix product), ``.T`` (transpose), ``**`` with an integer literal
  exponent (elementwise), calls ``diag(v)``, ``tanh(v)``, ``softmax(v)``,
  ``ones(n)`` (``n`` a size name: ``n m K`` for ``rnn``) and ``sum_t(e)``, the
  sum of ``e`` over ``t = 1..tau`` (``e`` must refer to ``t``; no nesting);
* a statement is ``lhs == rhs`` (or a chain ``a == b == c``: every side is
  compared with the first).  A statement that uses ``t`` outside ``sum_t``
  must hold for every ``t`` in ``1..tau``, narrowed by the claim's ``for``
  field, e.g. ``for = "t < tau"`` or ``for = "2 <= t <= tau"``;
* a claim's ``define`` table names helper quantities so that the statement
  reads like the notes: ``define = { "H[t]" = "diag(1 - h[t]**2)" }`` (per
  step; the key's ``t`` is the parameter) or ``{ S = "sum_t(h[t])" }``
  (constant).  A definition may use the vocabulary and earlier definitions.

Anything else (other names, calls, attributes, operators, literals, shapes
that do not fit, indices outside ``0..tau``) raises
:class:`~derive.errors.ClaimSyntaxError` naming ``file:line`` of the claim's
field in the TOML file, the offending token and its column in the formula.

The check
---------
:func:`check` evaluates the claim (i) as an identity test at ``points`` random
rational points with ``digits`` significant digits, at small sizes, and (ii)
in float64 (NumPy) at larger sizes against a 30-digit reference, with the
tolerance ``50 * eps * (1 + magnitude)`` where ``magnitude`` is the largest
absolute entry of the two values compared.  Differences are reported as
``|left - right| / (1 + magnitude)``.
"""
from __future__ import annotations

import ast
import functools
import random
import re
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sympy as sp
from sympy import ImmutableMatrix

from derive import naming
from derive.errors import ClaimSyntaxError
from derive.models import REGISTRY, derivation
from derive.proof import _one_hot
from derive.spec import Softmax

__all__ = ["Claim", "ClaimResult", "catalogue", "check", "load", "vocabulary", "CLAIMS_DIR"]

CLAIMS_DIR = Path(__file__).resolve().parent / "claims"

REQUIRED = {"id": str, "model": str, "seed": str, "section": str, "line": int,
            "statement": str, "text": str, "expect": str}
OPTIONAL = {"notes": str, "define": dict, "for": str}
VERDICTS = ("holds", "fails")
FUNCTIONS = ("diag", "tanh", "softmax", "ones", "sum_t")
RESERVED = {"t", "tau", *FUNCTIONS}

REFERENCE_DPS = 30          # precision of the reference values for the float64 test
FLOAT_TOLERANCE = 50 * float(np.finfo(np.float64).eps)
FAIL_GAP = 1e-6             # float64 differences above this are counterexamples, not rounding

# Quantities a model's notes use that are not equations of the spec: name -> builder.
_ALIASES = {
    "rnn": {"yhat": lambda model: Softmax(model.symbol("o"))},
}


# -- vocabulary ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Vocabulary:
    """The names a claim about ``model`` may use, with their symbolic shapes."""

    model: str
    step: dict          # per-step name -> shape, indexed 1..tau
    const: dict         # constant name -> shape
    zero: dict          # per-step name -> constant that is its index 0 (h -> h0)
    sizes: dict         # size name -> size symbol

    def names(self) -> list:
        return sorted({*self.step, *self.const})


@functools.lru_cache(maxsize=None)
def vocabulary(model_name: str) -> Vocabulary:
    """The vocabulary of ``model_name``, read off its symbolic-size derivation."""
    D = derivation(model_name)
    m = D.model
    step = {x.name: x.shape for x in m.inputs}
    step[m.label.name] = m.label.shape
    step.update({eq.lhs.name: eq.lhs.shape for eq in m.equations})
    for alias, build in _ALIASES.get(model_name, {}).items():
        step[alias] = build(m).shape
    const = {p.name: p.shape for p in m.params}
    zero = {}
    for prev, new, _, init in D.states:
        const[init] = prev.shape
        zero[new] = init
    adjoints = {a.name for a in D.backward}
    for eq in m.equations:
        if naming.adjoint(eq.lhs.name) in adjoints:
            step["grad_" + eq.lhs.name] = eq.lhs.shape
    for g in D.gradients:
        (step if g.kind == "input" else const)["grad_" + g.wrt.name] = g.wrt.shape
    for new, init in list(zero.items()):
        if "grad_" + new in step and "grad_" + init in const:
            zero["grad_" + new] = "grad_" + init
    return Vocabulary(model_name, step, const, zero, {str(s): s for s in m.sizes})


# -- claims ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Formula:
    """One formula of a claim, with where it sits (for messages)."""

    field: str              # "statement", 'define "H[t]"', "for"
    text: str
    tree: ast.Expression
    line: int               # line of the field in the TOML file
    claim_line: int         # line of the claim's ``id = ...``


@dataclass(frozen=True)
class _Define:
    name: str
    per_step: bool
    formula: _Formula
    order: int


@dataclass(frozen=True)
class Claim:
    id: str
    model: str
    seed: str
    section: str
    line: int                   # line of the formula in the seed file
    statement: str
    text: str                   # the formula as the seed writes it
    expect: str                 # "holds" | "fails"
    notes: str
    define: dict                # name -> expression text, as written
    for_t: str | None           # the TOML ``for`` field
    path: str                   # the TOML file
    toml_line: int              # line of ``id = ...`` in the TOML file
    tree: ast.Expression = field(repr=False, compare=False)
    defines: dict = field(default_factory=dict, repr=False, compare=False)    # name -> _Define
    bounds: tuple = field(default=(), repr=False, compare=False)              # (op, bound node)
    free_t: bool = field(default=False, repr=False, compare=False)
    formula: _Formula = field(default=None, repr=False, compare=False)
    for_formula: _Formula = field(default=None, repr=False, compare=False)

    @property
    def location(self) -> str:
        return f"{self.path}:{self.toml_line}"

    @property
    def source(self) -> str:
        return f'{self.seed}, "{self.section}", line {self.line}'

    def t_range(self, tau: int) -> range:
        """The values of ``t`` the statement is claimed for (one pass, ``t`` unbound, if none)."""
        lo, hi = 1, tau
        for op, bound in self.bounds:
            k = _Walker.index_value(bound, None, tau)
            if op == "<":
                hi = min(hi, k - 1)
            elif op == "<=":
                hi = min(hi, k)
            elif op == ">":
                lo = max(lo, k + 1)
            elif op == ">=":
                lo = max(lo, k)
            else:
                lo, hi = max(lo, k), min(hi, k)
        return range(lo, hi + 1)


@dataclass(frozen=True)
class ClaimResult:
    id: str
    model: str
    source: str
    statement: str
    verdict: str                # "holds" | "fails" | "undecided"
    evidence: str
    expected: str
    status: str                 # "pass" | "fail" | "error"
    max_rel_error: float
    cases: int
    seconds: float = 0.0


# -- locations --------------------------------------------------------------------------------
_CLAIM_HEADER = re.compile(r"^\s*\[\[\s*claim\s*\]\]\s*(#.*)?$")
_ID_LINE = re.compile(r"""^\s*id\s*=\s*(["'])(.*?)\1""")


@dataclass
class _Block:
    start: int              # line of [[claim]]
    lines: list             # (line number, text)
    id: str | None = None
    id_line: int | None = None

    def field_line(self, key: str) -> int | None:
        pattern = re.compile(rf"""^\s*(["']?){re.escape(key)}\1\s*=""")
        for no, text in self.lines:
            if pattern.match(text):
                return no
        return None

    def define_line(self, key: str) -> int | None:
        quoted = re.compile(rf"""(["']){re.escape(key)}\1\s*=""")
        bare = re.compile(rf"""(^|[{{,\s]){re.escape(key)}\s*=""")
        for no, text in self.lines:
            if quoted.search(text) or (re.fullmatch(r"[A-Za-z_][A-Za-z_0-9]*", key) and bare.search(text)
                                       and not text.lstrip().startswith(("statement", "text", "notes"))):
                return no
        return None


def _blocks(raw: str) -> list:
    """The ``[[claim]]`` blocks of a TOML file, with line numbers (a tiny locator:
    tomllib gives none)."""
    blocks = []
    for no, text in enumerate(raw.splitlines(), start=1):
        if _CLAIM_HEADER.match(text):
            blocks.append(_Block(no, []))
        elif blocks:
            blocks[-1].lines.append((no, text))
            m = _ID_LINE.match(text)
            if m and blocks[-1].id is None:
                blocks[-1].id, blocks[-1].id_line = m.group(2), no
    return blocks


# -- errors ----------------------------------------------------------------------------------------
def _fail(claim_id, path, line, message, *, formula: _Formula = None, node=None, column=None,
          token=None, claim_line=None) -> ClaimSyntaxError:
    if formula is not None and node is not None and column is None:
        column = node.col_offset + 1
        if token is None:
            token = ast.get_source_segment(formula.text, node)
    if claim_line is None and formula is not None:
        claim_line = formula.claim_line
    where = f"{path}:{line}: claim {claim_id!r}"
    if claim_line is not None and claim_line != line:
        where += f" (line {claim_line})"
    if formula is not None:
        where += f", {formula.field}"
        if column is not None:
            where += f" column {column}"
    text = f"{where}: {message}"
    if token is not None and repr(token) not in message:
        text += f" (token {token!r})"
    if formula is not None:
        text += f"\n    {formula.text}"
        if column is not None and "\n" not in formula.text:
            text += "\n    " + " " * (column - 1) + "^"
    err = ClaimSyntaxError(text)
    err.path, err.line, err.column, err.token, err.claim_id = path, line, column, token, claim_id
    err.claim_line = claim_line if claim_line is not None else line
    return err


class _Mismatch(Exception):
    """A backend's complaint (shapes); the walker adds the location."""


# -- the whitelist walker --------------------------------------------------------------------------
_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.MatMult: "@", ast.Pow: "**",
        ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%", ast.BitAnd: "&", ast.BitOr: "|",
        ast.BitXor: "^", ast.LShift: "<<", ast.RShift: ">>"}
_ALLOWED_OPS = (ast.Add, ast.Sub, ast.Mult, ast.MatMult, ast.Pow)


def _op_column(formula: _Formula, node: ast.BinOp) -> int:
    """1-based column of a binary operator (ast gives none)."""
    lines = formula.text.split("\n")
    if node.left.end_lineno == node.right.lineno:
        segment = lines[node.left.end_lineno - 1][node.left.end_col_offset:node.right.col_offset]
        for i, ch in enumerate(segment):
            if not ch.isspace() and ch not in ")":
                return node.left.end_col_offset + i + 1
    return node.col_offset + 1


def _mentions_t(node) -> bool:
    return any(isinstance(n, ast.Name) and n.id == "t" for n in ast.walk(node))


def _mentions_free_t(node) -> bool:
    """Whether ``t`` occurs outside every ``sum_t(...)``."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "sum_t":
        return False
    if isinstance(node, ast.Name):
        return node.id == "t"
    return any(_mentions_free_t(c) for c in ast.iter_child_nodes(node))


class _Walker:
    """Walks a claim's formulas over a whitelist of AST nodes with a backend that
    gives values (shapes, SymPy matrices or NumPy arrays) to names and operations."""

    def __init__(self, claim: Claim, backend, tau: int):
        self.claim, self.backend, self.tau = claim, backend, tau
        self.vocab = vocabulary(claim.model)
        self.memo = {}
        self.point = ""           # which random point, for counterexamples

    # errors
    def fail(self, formula, node, message, *, column=None, token=None):
        return _fail(self.claim.id, self.claim.path, formula.line, message, formula=formula,
                     node=node, column=column, token=token)

    # time indices: integer arithmetic on t, tau and integer literals
    @staticmethod
    def index_value(node, t, tau, fail=None):
        def bad(n, message):
            if fail is None:
                raise ValueError(message)
            raise fail(n, message)

        if isinstance(node, ast.Constant) and type(node.value) is int:
            return node.value
        if isinstance(node, ast.Name) and node.id == "tau":
            return tau
        if isinstance(node, ast.Name) and node.id == "t":
            if t is None:
                bad(node, "'t' is not bound here: use it inside sum_t(...), in a statement about "
                          "every t, or as the parameter of a per-step definition")
            return t
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
            a = _Walker.index_value(node.left, t, tau, fail)
            b = _Walker.index_value(node.right, t, tau, fail)
            return a + b if isinstance(node.op, ast.Add) else a - b
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -_Walker.index_value(node.operand, t, tau, fail)
        bad(node, "a time index is built from t, tau, integer literals, + and -")

    def statement(self, t):
        """The values of the statement's sides at time ``t`` (None: no free t)."""
        f = self.claim.formula
        cmp = f.tree.body
        return [self.evaluate(side, f, t, None) for side in (cmp.left, *cmp.comparators)]

    def _op(self, formula, node, fn, *args):
        try:
            return fn(*args)
        except _Mismatch as e:
            column = _op_column(formula, node) if isinstance(node, ast.BinOp) else None
            raise self.fail(formula, node, str(e), column=column) from None

    def evaluate(self, node, formula: _Formula, t, scope):
        """Value of ``node``; ``scope`` is the definition being evaluated (None: statement)."""
        b = self.backend
        if isinstance(node, ast.BinOp):
            op = type(node.op)
            if op not in _ALLOWED_OPS:
                sym = _OPS.get(op, op.__name__)
                raise self.fail(formula, node, f"operator {sym!r} is not in the claims grammar "
                                               "(+ - * @ ** only)",
                                column=_op_column(formula, node), token=sym)
            if op is ast.Pow:
                k = node.right
                if isinstance(k, ast.UnaryOp) and isinstance(k.op, ast.USub):
                    k, sign = k.operand, -1
                else:
                    sign = 1
                if not (isinstance(k, ast.Constant) and type(k.value) is int):
                    raise self.fail(formula, node.right, "the exponent of ** must be an integer literal")
                return self._op(formula, node, b.pow, self.evaluate(node.left, formula, t, scope),
                                sign * k.value)
            left = self.evaluate(node.left, formula, t, scope)
            right = self.evaluate(node.right, formula, t, scope)
            fn = {ast.Add: b.add, ast.Sub: b.sub, ast.Mult: b.mul, ast.MatMult: b.matmul}[op]
            return self._op(formula, node, fn, left, right)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return self._op(formula, node, b.neg, self.evaluate(node.operand, formula, t, scope))
            if isinstance(node.op, ast.UAdd):
                return self.evaluate(node.operand, formula, t, scope)
            sym = {ast.Not: "not", ast.Invert: "~"}.get(type(node.op), type(node.op).__name__)
            raise self.fail(formula, node, f"operator {sym!r} is not in the claims grammar", token=sym)
        if isinstance(node, ast.Constant):
            v = node.value
            if type(v) is int:
                return b.scalar(v)
            kind = {str: "a string literal", bytes: "a bytes literal", float: "a float literal",
                    complex: "a complex literal", bool: "a boolean literal"}.get(type(v), "a literal")
            raise self.fail(formula, node, f"{kind} is not in the claims grammar (integer literals only)")
        if isinstance(node, ast.Name):
            return self.name(node, formula, t, scope)
        if isinstance(node, ast.Subscript):
            return self.subscript(node, formula, t, scope)
        if isinstance(node, ast.Attribute):
            if node.attr != "T":
                col = node.end_col_offset - len(node.attr)
                raise self.fail(formula, node, f"attribute '.{node.attr}' is not in the claims grammar "
                                               "(only .T)", column=col, token="." + node.attr)
            return self._op(formula, node, b.transpose, self.evaluate(node.value, formula, t, scope))
        if isinstance(node, ast.Call):
            return self.call(node, formula, t, scope)
        if isinstance(node, ast.Compare):
            raise self.fail(formula, node, "a comparison may only be the whole statement (lhs == rhs)")
        what = type(node).__name__
        raise self.fail(formula, node, f"{what} is not in the claims grammar")

    def name(self, node, formula, t, scope):
        n = node.id
        if n in self.vocab.const:
            return self.backend.leaf(n, None)
        if n in self.vocab.step:
            raise self.fail(formula, node, f"{n!r} is per step: write it with a time index, e.g. {n}[t]")
        d = self.definition(node, formula, scope)
        if d is not None:
            if d.per_step:
                raise self.fail(formula, node, f"{n!r} is a per-step definition: write {n}[t]")
            return self.defined(d, None)
        if n in ("t", "tau"):
            raise self.fail(formula, node, f"{n!r} may only appear inside a time index [...]")
        if n in self.vocab.sizes:
            raise self.fail(formula, node, f"the size {n!r} may only appear as ones({n})")
        if n in FUNCTIONS:
            raise self.fail(formula, node, f"{n!r} is a function: call it")
        raise self.fail(formula, node, f"unknown name {n!r}; the {self.claim.model} vocabulary is "
                                       f"{' '.join(self.vocab.names())}")

    def definition(self, node, formula, scope):
        d = self.claim.defines.get(node.id)
        if d is None:
            return None
        if scope is not None and d.order >= scope.order:
            raise self.fail(formula, node, f"definition {scope.name!r} may only use earlier "
                                           f"definitions, not {node.id!r}")
        return d

    def defined(self, d: _Define, t):
        key = (d.name, t)
        if key not in self.memo:
            self.memo[key] = self.evaluate(d.formula.tree.body, d.formula, t, d)
        return self.memo[key]

    def subscript(self, node, formula, t, scope):
        target = node.value
        if not isinstance(target, ast.Name):
            raise self.fail(formula, node, "only a per-step name may be indexed, e.g. h[t]")
        n = target.id
        d = self.definition(target, formula, scope) if n in self.claim.defines else None
        if n not in self.vocab.step and (d is None or not d.per_step):
            if n in self.vocab.const or d is not None:
                raise self.fail(formula, target, f"{n!r} does not depend on time: write it without [...]")
            return self.name(target, formula, t, scope)      # unknown name: the same message
        if isinstance(node.slice, ast.Slice):
            raise self.fail(formula, node.slice, "a slice is not in the claims grammar")
        k = self.index_value(node.slice, t, self.tau,
                             lambda n_, m: self.fail(formula, n_, m))
        lo = 0 if (n in self.vocab.zero or d is not None) else 1
        if not lo <= k <= self.tau:
            text = ast.get_source_segment(formula.text, node)
            at = f"t = {t}, " if t is not None else ""
            raise self.fail(formula, node, f"time index of {text} is {k} at {at}tau = {self.tau}: "
                                           f"outside {lo}..tau")
        if d is not None:
            return self.defined(d, k)
        if k == 0:
            return self.backend.leaf(self.vocab.zero[n], None)
        return self.backend.leaf(n, k)

    def call(self, node, formula, t, scope):
        f = node.func
        if not isinstance(f, ast.Name) or f.id not in FUNCTIONS:
            token = ast.get_source_segment(formula.text, f)
            raise self.fail(formula, f, f"call of {token!r}: the claims grammar calls only "
                                        f"{', '.join(FUNCTIONS)}", token=token)
        if node.keywords or len(node.args) != 1 or isinstance(node.args[0], ast.Starred):
            raise self.fail(formula, node, f"{f.id}(...) takes exactly one positional argument")
        arg = node.args[0]
        b = self.backend
        if f.id == "ones":
            if not (isinstance(arg, ast.Name) and arg.id in self.vocab.sizes):
                raise self.fail(formula, arg, f"ones(...) takes a size name: one of "
                                              f"{' '.join(self.vocab.sizes)}")
            return b.ones(arg.id)
        if f.id == "sum_t":
            if any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "sum_t"
                   for n in ast.walk(arg)):
                raise self.fail(formula, node, "nested sum_t(...) is not in the claims grammar")
            if not _mentions_t(arg):
                raise self.fail(formula, node, "the terms of sum_t(...) must refer to t")
            total = None
            for s in range(1, self.tau + 1):
                term = self.evaluate(arg, formula, s, scope)
                total = term if total is None else self._op(formula, node, b.add, total, term)
            return total
        value = self.evaluate(arg, formula, t, scope)
        return self._op(formula, node, getattr(b, f.id), value)


# -- backends --------------------------------------------------------------------------------------
def _shape_text(s) -> str:
    return "scalar" if s is None else f"({s[0]}, {s[1]})"


class _Shapes:
    """Values are symbolic shapes ((rows, cols), or None for a scalar): the static check."""

    def __init__(self, vocab: Vocabulary):
        self.vocab = vocab

    def leaf(self, name, t):
        return tuple((self.vocab.step if t is not None else self.vocab.const)[name])

    def scalar(self, v):
        return None

    def ones(self, size):
        return (self.vocab.sizes[size], sp.S.One)

    def _same(self, a, b, what):
        if a is None or b is None:
            return b if a is None else a
        if a != b:
            raise _Mismatch(f"{what} of shapes {_shape_text(a)} and {_shape_text(b)}")
        return a

    def add(self, a, b):
        return self._same(a, b, "sum")

    def sub(self, a, b):
        return self._same(a, b, "difference")

    def mul(self, a, b):
        return self._same(a, b, "elementwise product")

    def matmul(self, a, b):
        if a is None or b is None:
            raise _Mismatch("@ needs two matrices; use * for a scalar factor")
        if a[1] != b[0]:
            raise _Mismatch(f"matrix product of shapes {_shape_text(a)} and {_shape_text(b)}")
        return (a[0], b[1])

    def pow(self, a, k):
        return a

    def neg(self, a):
        return a

    def transpose(self, a):
        if a is None:
            raise _Mismatch(".T of a scalar")
        return (a[1], a[0])

    def _column(self, a, fn):
        if a is None or a[1] != 1:
            raise _Mismatch(f"{fn}(...) takes a column vector, got {_shape_text(a)}")
        return a

    def diag(self, a):
        a = self._column(a, "diag")
        return (a[0], a[0])

    def tanh(self, a):
        if a is None:
            raise _Mismatch("tanh(...) takes a matrix, got a scalar")
        return a

    def softmax(self, a):
        return self._column(a, "softmax")


class _SymPy:
    """Values are explicit SymPy matrices of Floats (or integer scalars)."""

    def __init__(self, values: dict, steps: list, sizes: dict, dps: int):
        self.values, self.steps, self.sizes, self.dps = values, steps, sizes, dps

    def leaf(self, name, t):
        return self.values[name] if t is None else self.steps[t][name]

    def scalar(self, v):
        return sp.Integer(v)

    def ones(self, size):
        return ImmutableMatrix(sp.ones(self.sizes[size], 1))

    @staticmethod
    def _is_matrix(a):
        return isinstance(a, sp.MatrixBase)

    def add(self, a, b):
        if self._is_matrix(a) and self._is_matrix(b):
            return a + b
        if self._is_matrix(a):
            return a.applyfunc(lambda e: e + b)
        if self._is_matrix(b):
            return b.applyfunc(lambda e: a + e)
        return a + b

    def sub(self, a, b):
        return self.add(a, self.neg(b))

    def mul(self, a, b):
        if self._is_matrix(a) and self._is_matrix(b):
            return ImmutableMatrix(a.multiply_elementwise(b))
        return a * b

    def matmul(self, a, b):
        return ImmutableMatrix(a * b)

    def pow(self, a, k):
        return a.applyfunc(lambda e: e ** k) if self._is_matrix(a) else a ** k

    def neg(self, a):
        return -a

    def transpose(self, a):
        return a.T

    def diag(self, a):
        return ImmutableMatrix(sp.diag(*list(a)))

    def tanh(self, a):
        return a.applyfunc(lambda e: sp.tanh(e).evalf(self.dps))

    def softmax(self, a):
        e = a.applyfunc(lambda v: sp.exp(v).evalf(self.dps))
        total = sum(e)
        return e.applyfunc(lambda v: v / total)


class _NumPy:
    """Values are float64 arrays (columns are (r, 1)) or Python integers."""

    def __init__(self, values: dict, steps: list, sizes: dict):
        self.values, self.steps, self.sizes = values, steps, sizes

    def leaf(self, name, t):
        return self.values[name] if t is None else self.steps[t][name]

    def scalar(self, v):
        return v

    def ones(self, size):
        return np.ones((self.sizes[size], 1))

    def add(self, a, b):
        return a + b

    def sub(self, a, b):
        return a - b

    def mul(self, a, b):
        return a * b

    def matmul(self, a, b):
        return a @ b

    def pow(self, a, k):
        return np.power(np.asarray(a, dtype=np.float64), k) if isinstance(a, np.ndarray) else a ** k

    def neg(self, a):
        return -a

    def transpose(self, a):
        return a.T

    def diag(self, a):
        return np.diag(a[:, 0])

    def tanh(self, a):
        return np.tanh(a)

    def softmax(self, a):
        e = np.exp(a - a.max())
        return e / e.sum()


# -- loading ---------------------------------------------------------------------------------------
def _formula(claim_id, path, line, field_name, text, claim_line) -> _Formula:
    stripped = text.strip()
    if not stripped:
        raise _fail(claim_id, path, line, f"{field_name}: empty formula", claim_line=claim_line)
    try:
        tree = ast.parse(stripped, mode="eval")
    except (SyntaxError, ValueError) as e:        # ValueError: e.g. a NUL character
        if not isinstance(e, SyntaxError):
            raise _fail(claim_id, path, line, f"{field_name}: not a formula ({e})",
                        claim_line=claim_line) from None
        f = _Formula(field_name, stripped, None, line, claim_line)
        column = e.offset if e.offset else None
        token = None
        if column is not None and e.lineno == 1 and column <= len(stripped):
            token = stripped[column - 1]
        raise _fail(claim_id, path, line, f"not a formula of the claims grammar ({e.msg})",
                    formula=f, column=column, token=token) from None
    return _Formula(field_name, stripped, tree, line, claim_line)


def _parse(table: dict, path: str, block: _Block | None) -> Claim:
    id_line = (block.id_line or block.start) if block else 1
    claim_id = table.get("id", "?")

    def fail(message, line=id_line):
        return _fail(claim_id, path, line, message)

    unknown = sorted(set(table) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise fail(f"unknown field(s) {', '.join(unknown)}; fields are "
                   f"{', '.join([*REQUIRED, *OPTIONAL])}")
    for key, kind in (*REQUIRED.items(), *OPTIONAL.items()):
        if key not in table:
            if key in REQUIRED:
                raise fail(f"missing field {key!r}")
            continue
        value = table[key]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise fail(f"field {key!r} must be a {kind.__name__}, got {value!r}")
    if not claim_id:
        raise fail("empty id")
    if table["model"] not in REGISTRY:
        raise fail(f"unknown model {table['model']!r}; known models: {', '.join(sorted(REGISTRY))}")
    if table["expect"] not in VERDICTS:
        raise fail(f"field 'expect' must be \"holds\" or \"fails\", got {table['expect']!r}")
    if table["line"] < 1:
        raise fail(f"field 'line' must be a line number of the seed file, got {table['line']}")

    def line_of(key):
        return (block.field_line(key) if block else None) or id_line

    vocab = vocabulary(table["model"])
    defines = {}
    for order, (key, body) in enumerate(table.get("define", {}).items()):
        dline = (block.define_line(key) if block else None) or line_of("define")
        if not isinstance(body, str):
            raise _fail(claim_id, path, dline, f"define {key!r}: the definition must be a string",
                        claim_line=id_line)
        head = _formula(claim_id, path, dline, f"define key {key!r}", key, id_line)
        h = head.tree.body
        if isinstance(h, ast.Name):
            name, per_step = h.id, False
        elif (isinstance(h, ast.Subscript) and isinstance(h.value, ast.Name)
              and isinstance(h.slice, ast.Name) and h.slice.id == "t"):
            name, per_step = h.value.id, True
        else:
            raise _fail(claim_id, path, dline, "a definition's name is NAME or NAME[t]", formula=head,
                        node=h)
        if name in vocab.step or name in vocab.const or name in vocab.sizes or name in RESERVED:
            raise _fail(claim_id, path, dline, f"{name!r} is already a name of the grammar",
                        formula=head, node=h)
        if name in defines:
            raise _fail(claim_id, path, dline, f"{name!r} is defined twice", formula=head, node=h)
        formula = _formula(claim_id, path, dline, f"define {key!r}", body, id_line)
        if not per_step and _mentions_free_t(formula.tree.body):
            raise _fail(claim_id, path, dline, f"{name!r} uses t outside sum_t(...): define it as {name}[t]",
                        formula=formula)
        defines[name] = _Define(name, per_step, formula, order)

    statement = _formula(claim_id, path, line_of("statement"), "statement", table["statement"], id_line)
    body = statement.tree.body
    if not (isinstance(body, ast.Compare) and all(isinstance(op, ast.Eq) for op in body.ops)):
        raise _fail(claim_id, path, statement.line, "a statement is `lhs == rhs`",
                    formula=statement, node=body)
    free_t = _mentions_free_t(body)

    bounds, for_formula = (), None
    if "for" in table:
        for_formula = _formula(claim_id, path, line_of("for"), "for", table["for"], id_line)
        bounds = _bounds(claim_id, path, for_formula)
        if not free_t:
            raise _fail(claim_id, path, for_formula.line,
                        "'for' is given but the statement does not use t outside sum_t(...)",
                        claim_line=id_line)

    claim = Claim(
        id=claim_id, model=table["model"], seed=table["seed"], section=table["section"],
        line=table["line"], statement=table["statement"], text=table["text"],
        expect=table["expect"], notes=table.get("notes", ""), define=dict(table.get("define", {})),
        for_t=table.get("for"), path=path, toml_line=id_line, tree=statement.tree,
        defines=defines, bounds=bounds, free_t=free_t, formula=statement, for_formula=for_formula)
    _static_check(claim)
    return claim


def _bounds(claim_id, path, formula: _Formula) -> tuple:
    """``for = "1 <= t < tau"`` as ((op, bound node), ...) with t on the left."""
    node = formula.tree.body
    if not isinstance(node, ast.Compare):
        raise _fail(claim_id, path, formula.line, "'for' is a comparison of t, e.g. \"t < tau\"",
                    formula=formula, node=node)
    ops = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "=="}
    flip = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "=="}
    items = [node.left, *node.comparators]
    out = []
    for op, a, b in zip(node.ops, items, items[1:]):
        if type(op) not in ops:
            raise _fail(claim_id, path, formula.line, "'for' compares with < <= > >= ==",
                        formula=formula, node=b)
        sym = ops[type(op)]
        a_t = isinstance(a, ast.Name) and a.id == "t"
        b_t = isinstance(b, ast.Name) and b.id == "t"
        if a_t == b_t:
            raise _fail(claim_id, path, formula.line, "each comparison in 'for' has t on exactly one side",
                        formula=formula, node=a)
        bound = b if a_t else a
        if _mentions_t(bound):
            raise _fail(claim_id, path, formula.line, "a bound of t may not use t", formula=formula,
                        node=bound)
        try:
            _Walker.index_value(bound, None, 1)
        except ValueError as e:
            raise _fail(claim_id, path, formula.line, str(e), formula=formula, node=bound) from None
        out.append((sym if a_t else flip[sym], bound))
    return tuple(out)


def _literal_times(claim: Claim) -> int:
    """The largest integer literal used in a time position (indices and bounds)."""
    trees = [claim.tree, *(d.formula.tree for d in claim.defines.values())]
    biggest = 0
    for tree in trees:
        for n in ast.walk(tree):
            if isinstance(n, ast.Subscript):
                biggest = max([biggest, *(c.value for c in ast.walk(n.slice)
                                          if isinstance(c, ast.Constant) and type(c.value) is int)])
    for _, bound in claim.bounds:
        biggest = max([biggest, *(c.value for c in ast.walk(bound)
                                  if isinstance(c, ast.Constant) and type(c.value) is int)])
    return biggest


def _static_check(claim: Claim) -> None:
    """Whitelist, shapes and time indices, at a few values of tau (symbolic sizes)."""
    start = max(2, _literal_times(claim))
    shapes = _Shapes(vocabulary(claim.model))
    for d in claim.defines.values():        # definitions are checked even when unused
        walker = _Walker(claim, shapes, start)
        walker.defined(d, 1 if d.per_step else None)
    for tau in range(start, start + 3):
        walker = _Walker(claim, shapes, tau)
        for t in (claim.t_range(tau) if claim.free_t else [None]):
            sides = walker.statement(t)
            cmp = claim.tree.body
            for node, s in zip(cmp.comparators, sides[1:]):
                if s != sides[0]:
                    raise walker.fail(claim.formula, node,
                                      f"the sides have shapes {_shape_text(sides[0])} and {_shape_text(s)}")


def load(path) -> list:
    """The claims of one TOML file (``[[claim]]`` tables), in file order."""
    path = Path(path)
    shown = str(path)
    raw = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as e:
        raise ClaimSyntaxError(f"{shown}: not valid TOML: {e}") from None
    extra = sorted(set(data) - {"claim"})
    if extra:
        raise ClaimSyntaxError(f"{shown}:1: unknown top-level key(s) {', '.join(extra)}; "
                               "claims are [[claim]] tables")
    tables = data.get("claim", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ClaimSyntaxError(f"{shown}:1: claims are [[claim]] tables")
    blocks = _blocks(raw)
    if len(blocks) != len(tables):      # not written as [[claim]] blocks: locate by id
        by_id = {b.id: b for b in blocks if b.id is not None}
        blocks = [by_id.get(t.get("id")) for t in tables]
    claims, seen = [], {}
    for table, block in zip(tables, blocks):
        claim = _parse(table, shown, block)
        if claim.id in seen:
            raise _fail(claim.id, shown, claim.toml_line, f"duplicate id (first at line {seen[claim.id]})")
        seen[claim.id] = claim.toml_line
        claims.append(claim)
    return claims


def catalogue(directory=None) -> list:
    """Every claim of every ``*.toml`` file in ``derive/claims/``, sorted by id."""
    directory = Path(directory) if directory is not None else CLAIMS_DIR
    claims, seen = [], {}
    for path in sorted(directory.glob("*.toml")):
        for claim in load(path):
            if claim.id in seen:
                raise ClaimSyntaxError(f"{claim.location}: claim {claim.id!r}: duplicate id "
                                       f"(also at {seen[claim.id]})")
            seen[claim.id] = claim.location
            claims.append(claim)
    return sorted(claims, key=lambda c: c.id)


# -- true values -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Trajectory:
    """True values of one unrolled example: ``steps[t][name]`` (t = 1..tau) and ``const[name]``."""

    const: dict
    steps: list
    sizes: dict             # size name -> int

    @functools.cached_property
    def arrays(self):
        conv = lambda M: np.array(M.tolist(), dtype=np.float64)  # noqa: E731
        return ({k: conv(v) for k, v in self.const.items()},
                [None] + [{k: conv(v) for k, v in s.items()} for s in self.steps[1:]])


def _value(expr, env: dict, dps: int) -> ImmutableMatrix:
    """``expr`` at the explicit matrices of ``env``, to ``dps`` digits.  Like
    :func:`derive.proof._explicit`, but ``doit()`` multiplies explicit matrices
    directly where ``as_explicit()`` builds a symbolic sum per entry (~50x slower)."""
    e = expr.xreplace(env).doit()
    if not isinstance(e, sp.MatrixBase):
        e = e.as_explicit()
    return ImmutableMatrix(e).evalf(dps)


@functools.lru_cache(maxsize=64)
def _trajectory(model_name: str, sizes: tuple, tau: int, kind: str, seed: int, index: int,
                dps: int) -> _Trajectory:
    """Forward values and derived gradients at one random point, with ``dps`` digits.

    ``kind`` "rational": entries k/97 (as :mod:`derive.proof` draws them); "float": uniform
    float64 entries in [-1, 1), exact in SymPy, so float64 claims see the same inputs."""
    D = derivation(model_name)
    model = D.model
    size_map = dict(zip(model.sizes, sizes))
    concrete = lambda e: e.subs(size_map) if size_map else e  # noqa: E731
    K = int(concrete(model.label).shape[0])
    if kind == "rational":
        rng = random.Random(f"derive.claims:{seed}:{index}")
        labels = [rng.randrange(K) for _ in range(tau)]
        draw = lambda: sp.Float(sp.Rational(rng.randint(-90, 90), 97), dps)  # noqa: E731
    else:
        gen = np.random.default_rng([seed, index])
        labels = [int(gen.integers(K)) for _ in range(tau)]
        draw = lambda: sp.Float(float(gen.uniform(-1.0, 1.0)), dps)  # noqa: E731

    def matrix(sym):
        r, c = (int(s) for s in concrete(sym).shape)
        return ImmutableMatrix(r, c, [draw() for _ in range(r * c)])

    const = {p.name: matrix(p) for p in model.params}
    for prev, _, _, init in D.states:
        const[init] = matrix(prev)
    xs = [{x.name: matrix(x) for x in model.inputs} for _ in range(tau)]
    ev = lambda e, env: _value(e, env, dps)  # noqa: E731

    forward = [(concrete(a.lhs), concrete(a.rhs)) for a in D.forward]
    backward = [(concrete(a.lhs), concrete(a.rhs)) for a in D.backward]
    carries = [(concrete(c.lhs), concrete(c.rhs)) for c in D.carries]
    aliases = {k: concrete(build(model)) for k, build in _ALIASES.get(model_name, {}).items()}
    grads = [(g, concrete(g.rhs)) for g in D.gradients if g.kind != "initial"]
    base = {concrete(p): const[p.name] for p in model.params}
    state = {concrete(prev): const[init] for prev, _, _, init in D.states}

    envs = []
    steps = [None]
    for t in range(tau):
        env = {**base, **state, concrete(model.label): _one_hot(labels[t], K)}
        env.update({concrete(x): xs[t][x.name] for x in model.inputs})
        for lhs, rhs in forward:
            env[lhs] = ev(rhs, env)
        envs.append(env)
        state = {concrete(prev): env[concrete(sp.MatrixSymbol(new, *prev.shape))]
                 for prev, new, _, _ in D.states}
        values = {x.name: xs[t][x.name] for x in model.inputs}
        values[model.label.name] = env[concrete(model.label)]
        values.update({eq.lhs.name: env[concrete(eq.lhs)] for eq in model.equations})
        values.update({k: ev(e, env) for k, e in aliases.items()})
        steps.append(values)

    carry = {concrete(c): sp.zeros(*concrete(c).shape) for _, _, c, _ in D.states}
    totals = {}
    adjoint_of = {naming.adjoint(eq.lhs.name): eq.lhs.name for eq in model.equations}
    for t in reversed(range(tau)):
        env = {**envs[t], **carry}
        for lhs, rhs in backward:
            env[lhs] = ev(rhs, env)
            if lhs.name in adjoint_of:
                steps[t + 1]["grad_" + adjoint_of[lhs.name]] = env[lhs]
        for g, rhs in grads:
            value = ev(rhs, env)
            if g.kind == "input":
                steps[t + 1]["grad_" + g.wrt.name] = value
            else:
                name = "grad_" + g.wrt.name
                totals[name] = value if name not in totals else (totals[name] + value).evalf(dps)
        carry = {lhs: ev(rhs, env) for lhs, rhs in carries}
    for g in D.gradients:
        if g.kind == "initial":
            totals["grad_" + g.wrt.name] = carry[concrete(g.rhs)]
    const.update(totals)
    return _Trajectory(const, steps, {str(k): int(v) for k, v in size_map.items()})


# -- checking --------------------------------------------------------------------------------------
def _entries(v):
    """Rows of a value as a list of lists (scalars become 1 x 1)."""
    if isinstance(v, sp.MatrixBase):
        return v.tolist()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return [[v]]


@dataclass
class _Worst:
    rel: float = 0.0
    cases: int = 0
    entries: int = 0
    where: tuple = None      # (t, side, (i, j), left, right, rel, point)


def _compare(sides, t, point, worst: _Worst, tolerance: float, first_failure: list):
    left = _entries(sides[0])
    for k, side in enumerate(sides[1:], start=1):
        right = _entries(side)
        magnitude = max(abs(e) for row in (*left, *right) for e in row)
        scale = 1 + magnitude
        worst.cases += 1
        local = None
        for i, (lrow, rrow) in enumerate(zip(left, right)):
            for j, (l_, r_) in enumerate(zip(lrow, rrow)):
                rel = float(abs(l_ - r_) / scale)
                worst.entries += 1
                if rel > worst.rel:
                    worst.rel = rel
                if local is None or rel > local[5]:
                    local = (t, k, (i, j), l_, r_, rel, point)
        if local is not None and local[5] > tolerance and not first_failure:
            first_failure.append(local)


def _side_text(claim: Claim, k: int) -> str:
    cmp = claim.tree.body
    node = (cmp.left, *cmp.comparators)[k]
    return ast.get_source_segment(claim.formula.text, node)


def _sizes_text(model_name: str, sizes: tuple) -> str:
    names = list(vocabulary(model_name).sizes)
    return "(" + ", ".join(f"{n}={s}" for n, s in zip(names, sizes)) + ")"


def _plural(k: int, word: str) -> str:
    return f"{k} {word}" + ("" if k == 1 else "s")


def _counterexample(claim: Claim, where, test: str) -> str:
    t, k, (i, j), l_, r_, rel, point = where
    at = f"t={t}, " if t is not None else ""
    return (f"{test}, {point}: {at}entry [{i},{j}]: claim {_side_text(claim, k)} = {float(r_):.10g} "
            f"vs derived {_side_text(claim, 0)} = {float(l_):.10g} (rel diff {rel:.2g})")


def check(claim: Claim, *, sizes=(2, 3, 2), tau=3, seed=0, digits=60, points=3,
          float_sizes=(5, 4, 3), float_tau=6) -> ClaimResult:
    """Decide ``claim``: evaluate both sides with the true values and compare."""
    start = time.perf_counter()

    def result(verdict, evidence, rel, cases, status=None):
        if status is None:
            status = "pass" if verdict == claim.expect else "fail"
        return ClaimResult(claim.id, claim.model, claim.source, claim.statement, verdict, evidence,
                           claim.expect, status, rel, cases, time.perf_counter() - start)

    try:
        dps = digits + 10
        exact_tol = 10.0 ** (-(digits - 10))
        exact, failure = _Worst(), []
        for p in range(points):
            traj = _trajectory(claim.model, tuple(sizes), tau, "rational", seed, p, dps)
            walker = _Walker(claim, _SymPy(traj.const, traj.steps, traj.sizes, dps), tau)
            walker.point = f"point {p + 1} of {points}"
            for t in (claim.t_range(tau) if claim.free_t else [None]):
                _compare(walker.statement(t), t, walker.point, exact, exact_tol, failure)
            if failure:
                break
        small = f"{_sizes_text(claim.model, sizes)} tau {tau}"
        if failure:
            text = _counterexample(claim, failure[0], f"identity test at {small}, {digits} digits")
            return result("fails", "counterexample: " + text, failure[0][5], exact.cases)

        fl, f_failure = _Worst(), []
        traj = _trajectory(claim.model, tuple(float_sizes), float_tau, "float", seed, 0, REFERENCE_DPS)
        const, steps = traj.arrays
        walker = _Walker(claim, _NumPy(const, steps, traj.sizes), float_tau)
        walker.point = "float64 point"
        for t in (claim.t_range(float_tau) if claim.free_t else [None]):
            _compare(walker.statement(t), t, walker.point, fl, FLOAT_TOLERANCE, f_failure)
        large = f"{_sizes_text(claim.model, float_sizes)} tau {float_tau}"
        cases = exact.cases + fl.cases
        rel = max(exact.rel, fl.rel)
        if exact.cases == 0 or fl.cases == 0:
            return result("undecided", f"no comparison: the statement's range of t is empty at tau "
                                       f"{tau} or {float_tau}", rel, cases)
        if f_failure:
            text = _counterexample(claim, f_failure[0], f"float64 at {large}")
            if f_failure[0][5] > FAIL_GAP:
                return result("fails", "counterexample: " + text
                              + f"; the identity test at {small} did not see it", rel, cases)
            return result("undecided", f"identity at {points} random points holds ({digits} digits) "
                                       f"but float64 differs beyond 50 eps (1 + |value|): {text}",
                          rel, cases)
        evidence = (f"identity at {points} random points, {small}, {digits} digits: max rel diff "
                    f"{exact.rel:.1e} ({_plural(exact.cases, 'comparison')}); float64 at {large}: "
                    f"max rel diff {fl.rel:.1e} ({_plural(fl.cases, 'comparison')}, tolerance "
                    f"50 eps (1 + |value|))")
        return result("holds", evidence, rel, cases)
    except Exception as e:  # a claim that cannot be checked is reported, not raised
        return result("undecided", f"{type(e).__name__}: {e}", float("nan"), 0, status="error")
