"""Claims: what the course notes say about gradients, decay and initialisation, decided.

A claim is a statement the course notes make, e.g. ``grad_o[t] == yhat[t] - y[t]``
or "f = tanh or sigmoid so f' < 1", kept as data in ``derive/claims/*.toml``
(one file per seed file).  A claim never computes anything: the checker
evaluates it with the *true* values of every quantity it names and decides it.

Kinds
-----
Each claim has a ``kind`` (default ``"identity"``); each kind is one decision
procedure, and each can fail (``tests/test_claims.py`` and
``tests/test_seed_claims.py`` flip a verdict for each by mutating a claim):

``identity``
    ``lhs == rhs`` (or a chain) about one model's unrolled computation:
    forward values, BPTT gradients from the derivation, Jacobians.  Decided by
    an identity test at ``points`` random rational points with ``digits``
    significant digits at small sizes, then in float64 at larger sizes against
    a 30-digit reference (tolerance ``50 eps (1 + magnitude)``).  At the
    random points a Jacobian is the derivative of the unrolled composite,
    independent of the chain rule: the complex step at ``digits + 10`` digits
    (step ``10^-(digits/2)``, no subtraction, so exact to the working
    precision), or SymPy's derivative of the composite for a model that is
    not analytic (ReLU); at the float64 point it is carried forward step by
    step, SymPy differentiating each equation (forward mode).
``scalar``
    a statement about functions of one real variable ``z`` (activations and
    their derivatives): ``dtanh(z) < 1`` (for every real ``z``, or those the
    ``for`` field allows, e.g. ``for = "z > 0"``), ``sup(dsigmoid(z)) <
    sup(dtanh(z))``.  Decided exactly by SymPy: suprema and infima from the
    critical points (``solveset``, or the real roots of a polynomial in
    ``u = exp(z)``), the values at the ends of each piece of a piecewise
    function and the limits at its open ends; a strict inequality whose
    supremum is attained fails at the point where it is attained.
``sample``
    an inequality between scalars about random draws of a model's weights and
    inputs (random initialisation, echo-state scaling): ``norm2(W) < 1``,
    ``frac(abs(W) < 1) > 1/2``.  Decided by measurement: ``trials`` seeded
    draws (NumPy ``default_rng([seed, crc32(id), part, trial])``), the
    model's forward pass in float64 (:mod:`numeric.interpret`), Jacobians by
    the complex step (of states and outputs with respect to states and
    inputs); it holds when no case violates it, and the evidence gives
    the cases tried, the range of each side and the largest ratio.  Measured
    in float64, sides within ``1e-12 (|lhs| + |rhs|)`` of each other count as
    equal, so ``<`` and ``<=`` differ only beyond rounding.

Parts and verdicts
------------------
A claim is one ``statement`` or several ``[[claim.part]]`` tables, each with a
``reading`` (which case or which reading of the notes it is: "f = tanh",
"numerator layout") and its own ``statement``; a part may override ``model``,
``for``, ``given`` and ``draw``.  Each part is decided on its own.  The claim's
verdict is ``holds`` when every part holds, ``fails`` when every part fails, and
``partial`` (holds only in part) when some hold and some fail; ``undecided``
when a part cannot be decided.  A part with ``aside = true`` is decided and
reported in the evidence but does not count: it says how a formula fares under
another layout convention or another naming of the matrices, or with a typo
corrected.  A claim's ``expect`` is the verdict the catalogue expects (holds,
fails or partial); the result's status is ``pass`` when the verdict is the
expected one, so a seed's own error is reported without failing the run.

The expression grammar (identity and sample claims)
---------------------------------------------------
A formula is a Python-like expression, parsed with :func:`ast.parse` and walked
by a whitelist; nothing is ever evaluated by Python or by SymPy's parser:

* names from the model's vocabulary.  For ``rnn``: per-step ``x a h o yhat y``
  (``y`` one-hot, ``yhat = softmax(o)``), parameters ``U W b V c``, the initial
  state ``h0``, and ``grad_<name>``, the TOTAL derivative of the summed loss
  with respect to ``<name>``: per step ``grad_x grad_a grad_h grad_o``,
  constant ``grad_U grad_W grad_b grad_V grad_c grad_h0``;
* time indices on per-step names, ``h[t]``, ``h[t-1]``, ``grad_h[t+1]``,
  ``h[tau]``, ``o[1]``: integer arithmetic with ``+ -`` on the index variables
  ``t k i j``, ``tau`` and integer literals.  Indices run over ``1..tau``;
  ``h[0]`` is ``h0`` and ``grad_h[0]`` is ``grad_h0``;
* integer literals and rational constants ``1/4``; ``+ - *`` (``*`` and a
  scalar ``+``/``-`` act elementwise), ``@``, ``.T``, ``**`` with an integer
  literal or an index expression as exponent (elementwise);
* functions: ``diag(v)``; elementwise ``tanh sigmoid relu abs`` and the
  derivatives ``dtanh dsigmoid drelu`` (SymPy's derivatives of the activations
  of :data:`derive.spec.ACTIVATIONS`, never typed in); ``softmax(v)``;
  ``ones(n)`` and ``eye(n)`` (``n`` a size name); ``vec(M)`` (columns stacked);
  ``norm2(M)`` (largest singular value) and ``rho(M)`` (spectral radius), both
  scalars; ``dominance(M)`` (``min_i |M_ii| - sum_{j != i} |M_ij|``: >= 0 when
  ``M`` is diagonally dominant by rows); ``mpow(M, e)`` (matrix power,
  ``e`` an index expression >= 0); ``frac(A < B)`` (the fraction of entries
  where an elementwise comparison holds; sample claims);
* calculus, in numerator layout (rows follow the numerator):
  ``jac(A[i], B[j])`` is the Jacobian of the per-step quantity ``A`` at step
  ``i`` with respect to the state or input ``B`` at step ``j`` (``B[0]`` is the
  initial state), through every path of the unrolled forward pass (``B`` is
  made a free variable where it is computed and everything after it is
  recomputed); ``jac(A[i], P)`` is the total Jacobian with respect to the
  parameter ``P`` (``vec(P)``, columns stacked) and ``pjac(A[i], P)`` the
  immediate one (the previous states held fixed); ``grad(L[t], X)`` is the
  gradient (shaped like ``X``) of the loss of step ``t`` alone with respect to
  a parameter, an initial state or a per-step quantity ``X[k]``, from the
  derivation run backwards with the other steps' losses masked
  (``grad(L, X)`` is the total ``grad_X``);
* binders: ``sum_t(e)`` (t = 1..tau), ``max_t(e)`` (of a scalar),
  ``sum(k, lo, hi, e)`` (k = lo..hi) and ``prod(j, first, last, e)``, the matrix
  product with its factors in the order written: ``j = first`` leftmost,
  stepping by +1 or -1 to ``j = last``;
* a statement is ``lhs == rhs`` (identity; a chain compares every side with
  the first) or one comparison ``< <= >= >`` of two scalars (sample).  Free
  index variables must hold for every value (t in 1..tau, the others in
  0..tau), narrowed by ``for``, e.g. ``for = "0 <= k < t"``;
* ``define`` names helper quantities so that the statement reads like the
  notes: ``define = { "H[t]" = "diag(1 - h[t]**2)" }`` (per step, the key's
  index is the parameter) or ``{ S = "sum_t(h[t])" }`` (constant);
* ``given`` (identity) fixes quantities before the run: ``given = { b =
  "zeros()", W = "identity()" }`` (``zeros() ones() identity() full(c)``);
  ``draw`` (sample) says how to draw them: ``normal(mu, sigma)``,
  ``uniform(lo, hi)``, ``glorot()``, ``orthogonal()``, ``radius(D, r)`` and
  ``norm(D, s)`` (a draw rescaled to spectral radius ``r`` or spectral norm
  ``s``) and the deterministic ones.  Parameters not given keep their random
  values (identity) or are drawn by the model's initialiser (sample, as
  ``init_params`` of the generated module draws them); inputs are standard
  normal and initial states zero in sample claims.

The scalar grammar
------------------
Expressions in the real variable ``z``: integer literals, ``+ - * / **``,
``tanh sigmoid relu exp log abs`` and ``dtanh dsigmoid drelu``, and
``sup(e) inf(e)`` (over z in the domain) and ``max(e) min(e)`` (the same, but
only when attained).  ``relu`` is SymPy's ``Max(0, z)``; its derivative is
``Heaviside(z)`` with SymPy's value 1/2 at the kink.

Anything outside the grammars raises :class:`~derive.errors.ClaimSyntaxError`
naming ``file:line`` of the field in the TOML file, the offending token and its
column in the formula.
"""
from __future__ import annotations

import ast
import functools
import math
import operator
import random
import re
import time
import tomllib
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import mpmath
import numpy as np
import sympy as sp
from sympy import ImmutableMatrix, MatrixSymbol

from derive import naming
from derive.errors import ClaimSyntaxError
from derive.models import REGISTRY, derivation
from derive.evaluate import one_hot as _one_hot
from derive.spec import ACTIVATIONS, Softmax
from numeric.runtime import init_params
from numeric.interpret import BACKENDS, _compile_scalar, forward, forward_names

__all__ = ["Claim", "ClaimResult", "Part", "catalogue", "check", "load", "vocabulary", "CLAIMS_DIR",
           "KINDS", "VERDICTS"]

CLAIMS_DIR = Path(__file__).resolve().parent / "catalogue"

KINDS = ("identity", "scalar", "sample")
VERDICTS = ("holds", "fails", "partial")

REQUIRED = {"id": str, "seed": str, "section": str, "line": int, "text": str, "expect": str}
OPTIONAL = {"kind": str, "model": str, "statement": str, "notes": str, "define": dict, "for": str,
            "given": dict, "draw": dict, "sizes": dict, "tau": int, "trials": int, "part": list}
PART_FIELDS = {"reading": str, "statement": str, "for": str, "aside": bool, "model": str,
               "given": dict, "draw": dict}

ACTIVATION_FUNCTIONS = ("tanh", "sigmoid", "relu")
DERIVATIVES = tuple("d" + a for a in ACTIVATION_FUNCTIONS)
ELEMENTWISE = (*ACTIVATION_FUNCTIONS, *DERIVATIVES, "abs")
ARITY = {"diag": 1, **{f: 1 for f in ELEMENTWISE}, "softmax": 1, "ones": 1, "eye": 1, "vec": 1,
         "norm2": 1, "rho": 1, "dominance": 1, "frac": 1, "mpow": 2, "jac": 2, "pjac": 2, "grad": 2,
         "sum_t": 1, "max_t": 1, "sum": 4, "prod": 4}
FUNCTIONS = tuple(ARITY)
INDEX_VARS = ("t", "k", "i", "j")
RESERVED = {*INDEX_VARS, "tau", "L", *FUNCTIONS}

SCALAR_FUNCTIONS = (*ACTIVATION_FUNCTIONS, *DERIVATIVES, "exp", "log", "abs", "sup", "inf", "max", "min")
DRAW_FUNCTIONS = {"zeros": 0, "ones": 0, "identity": 0, "full": 1, "normal": 2, "uniform": 2,
                  "glorot": 0, "orthogonal": 0, "radius": 2, "norm": 2}
DETERMINISTIC_DRAWS = ("zeros", "ones", "identity", "full")

REFERENCE_DPS = 30          # precision of the reference values for the float64 test
FLOAT_TOLERANCE = 50 * float(np.finfo(np.float64).eps)
FAIL_GAP = 1e-6             # float64 differences above this are counterexamples, not rounding
COMPLEX_STEP = 1e-30        # the complex step of sample claims' Jacobians
SAMPLE_TRIALS = 20
SAMPLE_SLACK = 1e-12        # sample comparisons: sides closer than this (relative) are equal
SAMPLE_TAU = 8

# Quantities a model's notes use that are not equations of the spec: name -> builder.
_ALIASES = {
    "rnn": {"yhat": lambda model: Softmax(model.symbol("o"))},
}
for _name in ("rnn_relu", "rnn_linear", "leaky", "lstm", "gru", "gru_cho"):
    _ALIASES[_name] = _ALIASES["rnn"]


# -- vocabulary ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Vocabulary:
    """The names a claim about ``model`` may use, with their symbolic shapes."""

    model: str
    step: dict          # per-step name -> shape, indexed 1..tau
    const: dict         # constant name -> shape
    zero: dict          # per-step name -> constant that is its index 0 (h -> h0)
    sizes: dict         # size name -> size symbol
    states: tuple = ()  # state names (h; h and s for the LSTM)
    inputs: tuple = ()  # per-step inputs (x)
    forward: tuple = ()  # per-step forward quantities: equations, then aliases
    params: tuple = ()
    equations: tuple = ()  # the model's equations (per-step nodes a Jacobian may cut at)

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
    aliases = _ALIASES.get(model_name, {})
    for alias, build in aliases.items():
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
    return Vocabulary(model_name, step, const, zero, {str(s): s for s in m.sizes},
                      states=tuple(new for _, new, _, _ in D.states),
                      inputs=tuple(x.name for x in m.inputs),
                      forward=tuple([eq.lhs.name for eq in m.equations] + list(aliases)),
                      params=tuple(p.name for p in m.params),
                      equations=tuple(eq.lhs.name for eq in m.equations))


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
    param: str = "t"        # the index variable of a per-step definition


@dataclass(frozen=True)
class Part:
    """One statement of a claim: a case, or one reading of the notes."""

    reading: str
    statement: str
    model: str
    for_t: str | None
    aside: bool
    given: tuple            # ((name, draw text), ...) for identity claims
    draw: tuple             # ((name, draw text), ...) for sample claims
    formula: _Formula = field(repr=False, compare=False, default=None)
    for_formula: _Formula = field(repr=False, compare=False, default=None)
    free: tuple = ()        # free index variables, in INDEX_VARS order
    index: int = 0

    @property
    def tree(self) -> ast.Expression:
        return self.formula.tree

    @property
    def free_t(self) -> bool:
        return bool(self.free)

    def assignments(self, tau: int) -> list:
        """Every assignment of the free index variables the statement is claimed for."""
        envs = [{}]
        for v in self.free:
            lo = 1 if v == "t" else 0
            envs = [{**e, v: x} for e in envs for x in range(lo, tau + 1)]
        if self.for_formula is None:
            return envs
        return [e for e in envs if _for_holds(self.for_formula.tree.body, e, tau)]


@dataclass(frozen=True)
class Claim:
    id: str
    model: str
    seed: str
    section: str
    line: int                   # line of the formula in the seed file
    statement: str              # the statement, or the parts' statements joined by " ; "
    text: str                   # the formula as the seed writes it
    expect: str                 # "holds" | "fails" | "partial"
    notes: str
    define: dict                # name -> expression text, as written
    for_t: str | None           # the TOML ``for`` field
    path: str                   # the TOML file
    toml_line: int              # line of ``id = ...`` in the TOML file
    kind: str = "identity"
    parts: tuple = field(default=(), repr=False, compare=False)
    defines: dict = field(default_factory=dict, repr=False, compare=False)    # name -> _Define
    sizes: tuple = ()           # sample claims: ((size name, value), ...)
    tau: int | None = None      # sample claims
    trials: int | None = None   # sample claims

    @property
    def location(self) -> str:
        return f"{self.path}:{self.toml_line}"

    @property
    def source(self) -> str:
        return f'{self.seed}, "{self.section}", line {self.line}'

    # the first part, for claims with one statement
    @property
    def tree(self) -> ast.Expression:
        return self.parts[0].tree

    @property
    def formula(self) -> _Formula:
        return self.parts[0].formula

    @property
    def free_t(self) -> bool:
        return self.parts[0].free_t


@dataclass(frozen=True)
class ClaimResult:
    id: str
    model: str
    source: str
    statement: str
    verdict: str                # "holds" | "fails" | "partial" | "undecided"
    evidence: str
    expected: str
    status: str                 # "pass" | "fail" | "error"
    max_rel_error: float
    cases: int
    seconds: float = 0.0
    kind: str = "identity"
    parts: tuple = ()           # ({"reading", "aside", "verdict", "evidence", "cases"}, ...)


# -- locations --------------------------------------------------------------------------------
_CLAIM_HEADER = re.compile(r"^\s*\[\[\s*claim\s*\]\]\s*(#.*)?$")
_PART_HEADER = re.compile(r"^\s*\[\[\s*claim\s*\.\s*part\s*\]\]\s*(#.*)?$")
_ID_LINE = re.compile(r"""^\s*id\s*=\s*(["'])(.*?)\1""")


@dataclass
class _Block:
    start: int              # line of [[claim]] (or [[claim.part]])
    lines: list             # (line number, text)
    id: str | None = None
    id_line: int | None = None
    parts: list = field(default_factory=list)     # _Block per [[claim.part]]

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
    """The ``[[claim]]`` blocks of a TOML file, with their ``[[claim.part]]`` blocks and line
    numbers (a tiny locator: tomllib gives none)."""
    blocks = []
    for no, text in enumerate(raw.splitlines(), start=1):
        if _CLAIM_HEADER.match(text):
            blocks.append(_Block(no, []))
        elif blocks and _PART_HEADER.match(text):
            blocks[-1].parts.append(_Block(no, []))
        elif blocks:
            target = blocks[-1].parts[-1] if blocks[-1].parts else blocks[-1]
            target.lines.append((no, text))
            m = _ID_LINE.match(text)
            if m and blocks[-1].id is None and not blocks[-1].parts:
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
    """A backend's complaint (shapes, an unavailable quantity); the walker adds the location."""


class _Undecidable(Exception):
    """The scalar decision procedure cannot decide (SymPy finds no closed form)."""


# -- index variables -----------------------------------------------------------------------------
_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.MatMult: "@", ast.Pow: "**",
        ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%", ast.BitAnd: "&", ast.BitOr: "|",
        ast.BitXor: "^", ast.LShift: "<<", ast.RShift: ">>"}
_ALLOWED_OPS = (ast.Add, ast.Sub, ast.Mult, ast.MatMult, ast.Pow)
_COMPARE = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "=="}
_COMPARE_FN = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq}


def _op_column(formula: _Formula, node: ast.BinOp) -> int:
    """1-based column of a binary operator (ast gives none)."""
    lines = formula.text.split("\n")
    if node.left.end_lineno == node.right.lineno:
        segment = lines[node.left.end_lineno - 1][node.left.end_col_offset:node.right.col_offset]
        for i, ch in enumerate(segment):
            if not ch.isspace() and ch not in ")":
                return node.left.end_col_offset + i + 1
    return node.col_offset + 1


def _call_name(node) -> str | None:
    return node.func.id if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) else None


def _free_indices(node, bound=frozenset()) -> set:
    """Index variables used in ``node`` outside the binders that bind them."""
    name = _call_name(node)
    if name in ("sum_t", "max_t"):
        return set().union(*(_free_indices(a, bound | {"t"}) for a in node.args))
    if name in ("sum", "prod") and len(node.args) == 4 and isinstance(node.args[0], ast.Name):
        v = node.args[0].id
        out = set().union(*(_free_indices(a, bound) for a in node.args[1:3]))
        return out | _free_indices(node.args[3], bound | {v})
    if isinstance(node, ast.Name):
        return {node.id} if node.id in INDEX_VARS and node.id not in bound else set()
    return set().union(set(), *(_free_indices(c, bound) for c in ast.iter_child_nodes(node)))


def _mentions(node, var: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == var for n in ast.walk(node))


def _index_value(node, env: dict, tau: int, fail=None) -> int:
    """An index expression: integer arithmetic on index variables, ``tau`` and literals."""
    def bad(n, message):
        if fail is None:
            raise ValueError(message)
        raise fail(n, message)

    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.Name) and node.id == "tau":
        return tau
    if isinstance(node, ast.Name) and node.id in INDEX_VARS:
        if env is None or node.id not in env:
            bad(node, f"'{node.id}' is not bound here: use it inside sum_t(...), in a statement about "
                      f"every {node.id}, or as the parameter of a per-step definition")
        return env[node.id]
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
        a = _index_value(node.left, env, tau, fail)
        b = _index_value(node.right, env, tau, fail)
        return a + b if isinstance(node.op, ast.Add) else a - b
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_index_value(node.operand, env, tau, fail)
    bad(node, "a time index is built from t, k, i, j, tau, integer literals, + and -")


def _for_holds(node, env, tau) -> bool:
    if isinstance(node, ast.BoolOp):
        return all(_for_holds(v, env, tau) for v in node.values)
    items = [node.left, *node.comparators]
    return all(_COMPARE_FN[_COMPARE[type(op)]](_index_value(a, env, tau), _index_value(b, env, tau))
               for op, a, b in zip(node.ops, items, items[1:]))


def _is_index_expression(node) -> bool:
    """Syntactically an index expression: t k i j tau, integer literals, + and -."""
    if isinstance(node, ast.Constant):
        return type(node.value) is int
    if isinstance(node, ast.Name):
        return node.id in (*INDEX_VARS, "tau")
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
        return _is_index_expression(node.left) and _is_index_expression(node.right)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return _is_index_expression(node.operand)
    return False


def _is_rational_literal(node) -> bool:
    return (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div)
            and all(isinstance(s, ast.Constant) and type(s.value) is int for s in (node.left, node.right)))


# -- the whitelist walker --------------------------------------------------------------------------
class _Walker:
    """Walks a part's formulas over a whitelist of AST nodes with a backend that gives
    values (shapes, SymPy matrices or NumPy arrays) to names and operations."""

    def __init__(self, claim: Claim, part: Part, backend, tau: int):
        self.claim, self.part, self.backend, self.tau = claim, part, backend, tau
        self.vocab = vocabulary(part.model)
        self.memo = {}
        self.point = ""           # which random point, for counterexamples

    # errors
    def fail(self, formula, node, message, *, column=None, token=None):
        return _fail(self.claim.id, self.claim.path, formula.line, message, formula=formula,
                     node=node, column=column, token=token)

    def index(self, node, formula, env):
        return _index_value(node, env, self.tau, lambda n_, m: self.fail(formula, n_, m))

    def statement(self, env):
        """The values of the statement's sides for one assignment of the free indices."""
        f = self.part.formula
        cmp = f.tree.body
        return [self.evaluate(side, f, env, None) for side in (cmp.left, *cmp.comparators)]

    def _op(self, formula, node, fn, *args):
        try:
            return fn(*args)
        except _Mismatch as e:
            column = _op_column(formula, node) if isinstance(node, ast.BinOp) else None
            raise self.fail(formula, node, str(e), column=column) from None

    def evaluate(self, node, formula: _Formula, env, scope):
        """Value of ``node``; ``scope`` is the definition being evaluated (None: statement)."""
        b = self.backend
        if isinstance(node, ast.BinOp):
            op = type(node.op)
            if _is_rational_literal(node):
                if node.right.value == 0:
                    raise self.fail(formula, node, "division by zero")
                return b.rational(node.left.value, node.right.value)
            if op not in _ALLOWED_OPS:
                sym = _OPS.get(op, op.__name__)
                raise self.fail(formula, node, f"operator {sym!r} is not in the claims grammar "
                                               "(+ - * @ ** only; / only between integer literals)",
                                column=_op_column(formula, node), token=sym)
            if op is ast.Pow:
                k = node.right
                if isinstance(k, ast.UnaryOp) and isinstance(k.op, ast.USub):
                    k, sign = k.operand, -1
                else:
                    sign = 1
                if isinstance(k, ast.Constant) and type(k.value) is int:
                    exponent = sign * k.value
                elif _is_index_expression(node.right):
                    exponent = self.index(node.right, formula, env)
                else:
                    raise self.fail(formula, node.right, "the exponent of ** must be an integer literal "
                                                         "or an index expression")
                return self._op(formula, node, b.pow, self.evaluate(node.left, formula, env, scope), exponent)
            left = self.evaluate(node.left, formula, env, scope)
            right = self.evaluate(node.right, formula, env, scope)
            fn = {ast.Add: b.add, ast.Sub: b.sub, ast.Mult: b.mul, ast.MatMult: b.matmul}[op]
            return self._op(formula, node, fn, left, right)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return self._op(formula, node, b.neg, self.evaluate(node.operand, formula, env, scope))
            if isinstance(node.op, ast.UAdd):
                return self.evaluate(node.operand, formula, env, scope)
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
            return self.name(node, formula, env, scope)
        if isinstance(node, ast.Subscript):
            return self.subscript(node, formula, env, scope)
        if isinstance(node, ast.Attribute):
            if node.attr != "T":
                col = node.end_col_offset - len(node.attr)
                raise self.fail(formula, node, f"attribute '.{node.attr}' is not in the claims grammar "
                                               "(only .T)", column=col, token="." + node.attr)
            return self._op(formula, node, b.transpose, self.evaluate(node.value, formula, env, scope))
        if isinstance(node, ast.Call):
            return self.call(node, formula, env, scope)
        if isinstance(node, ast.Compare):
            raise self.fail(formula, node, "a comparison may only be the whole statement (lhs == rhs) "
                                           "or the argument of frac(...)")
        what = type(node).__name__
        raise self.fail(formula, node, f"{what} is not in the claims grammar")

    def name(self, node, formula, env, scope):
        n = node.id
        if n in self.vocab.const:
            return self._op(formula, node, self.backend.leaf, n, None)
        if n in self.vocab.step:
            raise self.fail(formula, node, f"{n!r} is per step: write it with a time index, e.g. {n}[t]")
        d = self.definition(node, formula, scope)
        if d is not None:
            if d.per_step:
                raise self.fail(formula, node, f"{n!r} is a per-step definition: write {n}[{d.param}]")
            return self.defined(d, None)
        if n in INDEX_VARS or n == "tau":
            raise self.fail(formula, node, f"{n!r} may only appear inside a time index [...]")
        if n == "L":
            raise self.fail(formula, node, "'L' (the loss) may only appear as grad(L, X) or grad(L[t], X)")
        if n in self.vocab.sizes:
            raise self.fail(formula, node, f"the size {n!r} may only appear as ones({n}) or eye({n})")
        if n in FUNCTIONS:
            raise self.fail(formula, node, f"{n!r} is a function: call it")
        raise self.fail(formula, node, f"unknown name {n!r}; the {self.part.model} vocabulary is "
                                       f"{' '.join(self.vocab.names())}")

    def definition(self, node, formula, scope):
        d = self.claim.defines.get(node.id)
        if d is None:
            return None
        if scope is not None and d.order >= scope.order:
            raise self.fail(formula, node, f"definition {scope.name!r} may only use earlier "
                                           f"definitions, not {node.id!r}")
        return d

    def defined(self, d: _Define, k):
        key = (d.name, k)
        if key not in self.memo:
            env = {} if k is None else {d.param: k}
            self.memo[key] = self.evaluate(d.formula.tree.body, d.formula, env, d)
        return self.memo[key]

    def _at(self, env):
        return "".join(f"{v} = {x}, " for v, x in sorted((env or {}).items()))

    def step_index(self, node, formula, env, name, lo, *, subscript):
        """The index of ``name[...]`` (``subscript``), checked against ``lo..tau``."""
        if isinstance(subscript.slice, ast.Slice):
            raise self.fail(formula, subscript.slice, "a slice is not in the claims grammar")
        k = self.index(subscript.slice, formula, env)
        if not lo <= k <= self.tau:
            text = ast.get_source_segment(formula.text, subscript)
            raise self.fail(formula, subscript, f"time index of {text} is {k} at {self._at(env)}"
                                                f"tau = {self.tau}: outside {lo}..tau")
        return k

    def subscript(self, node, formula, env, scope):
        target = node.value
        if not isinstance(target, ast.Name):
            raise self.fail(formula, node, "only a per-step name may be indexed, e.g. h[t]")
        n = target.id
        d = self.definition(target, formula, scope) if n in self.claim.defines else None
        if n not in self.vocab.step and (d is None or not d.per_step):
            if n in self.vocab.const or d is not None:
                raise self.fail(formula, target, f"{n!r} does not depend on time: write it without [...]")
            if n == "L":
                raise self.fail(formula, target, "'L[t]' (the loss of step t) may only appear as "
                                                 "grad(L[t], X)")
            return self.name(target, formula, env, scope)      # unknown name: the same message
        lo = 0 if (n in self.vocab.zero or d is not None) else 1
        k = self.step_index(node, formula, env, n, lo, subscript=node)
        if d is not None:
            return self.defined(d, k)
        if k == 0:
            return self._op(formula, node, self.backend.leaf, self.vocab.zero[n], None)
        return self._op(formula, node, self.backend.leaf, n, k)

    # calls ------------------------------------------------------------------------------------
    def call(self, node, formula, env, scope):
        f = node.func
        if not isinstance(f, ast.Name) or f.id not in FUNCTIONS:
            token = ast.get_source_segment(formula.text, f)
            raise self.fail(formula, f, f"call of {token!r}: the claims grammar calls only "
                                        f"{', '.join(FUNCTIONS)}", token=token)
        arity = ARITY[f.id]
        if node.keywords or len(node.args) != arity or any(isinstance(a, ast.Starred) for a in node.args):
            what = "one positional argument" if arity == 1 else f"{arity} positional arguments"
            raise self.fail(formula, node, f"{f.id}(...) takes exactly {what}")
        b = self.backend
        args = node.args
        name = f.id
        if name in ("ones", "eye"):
            arg = args[0]
            if not (isinstance(arg, ast.Name) and arg.id in self.vocab.sizes):
                raise self.fail(formula, arg, f"{name}(...) takes a size name: one of "
                                              f"{' '.join(self.vocab.sizes)}")
            return getattr(b, name)(arg.id)
        if name in ("sum_t", "max_t"):
            arg = args[0]
            if any(_call_name(n) == "sum_t" for n in ast.walk(arg)) and name == "sum_t":
                raise self.fail(formula, node, "nested sum_t(...) is not in the claims grammar")
            if not _mentions(arg, "t"):
                raise self.fail(formula, node, f"the terms of {name}(...) must refer to t")
            values = [self.evaluate(arg, formula, {**(env or {}), "t": s}, scope)
                      for s in range(1, self.tau + 1)]
            if name == "max_t":
                return self._op(formula, node, b.maximum, values)
            total = values[0]
            for v in values[1:]:
                total = self._op(formula, node, b.add, total, v)
            return total
        if name in ("sum", "prod"):
            return self.binder(node, formula, env, scope)
        if name == "frac":
            cmp = args[0]
            if not (isinstance(cmp, ast.Compare) and len(cmp.ops) == 1 and type(cmp.ops[0]) in _COMPARE
                    and type(cmp.ops[0]) is not ast.Eq):
                raise self.fail(formula, cmp, "frac(...) takes one comparison A < B (or <=, >, >=)")
            left = self.evaluate(cmp.left, formula, env, scope)
            right = self.evaluate(cmp.comparators[0], formula, env, scope)
            return self._op(formula, node, b.frac, _COMPARE[type(cmp.ops[0])], left, right)
        if name == "mpow":
            value = self.evaluate(args[0], formula, env, scope)
            k = self.index(args[1], formula, env)
            if k < 0:
                raise self.fail(formula, args[1], f"mpow(...) needs an exponent >= 0, got {k} at "
                                                  f"{self._at(env)}tau = {self.tau}")
            return self._op(formula, node, b.mpow, value, k)
        if name in ("jac", "pjac"):
            return self.jacobian(node, formula, env, name == "pjac")
        if name == "grad":
            return self.gradient(node, formula, env)
        value = self.evaluate(args[0], formula, env, scope)
        if name in ELEMENTWISE:
            return self._op(formula, node, b.apply, name, value)
        return self._op(formula, node, getattr(b, name), value)

    def binder(self, node, formula, env, scope):
        name = node.func.id
        var, first, last, body = node.args
        if not (isinstance(var, ast.Name) and var.id in INDEX_VARS):
            raise self.fail(formula, var, f"the first argument of {name}(...) is the index variable it "
                                          f"binds: one of {', '.join(INDEX_VARS)}")
        if env and var.id in env:
            raise self.fail(formula, var, f"{name}(...) binds {var.id!r}, which is already bound here")
        if not _mentions(body, var.id):
            what = "terms" if name == "sum" else "factors"
            raise self.fail(formula, node, f"the {what} of {name}(...) must refer to {var.id}")
        lo, hi = self.index(first, formula, env), self.index(last, formula, env)
        if name == "sum" and lo > hi:
            raise self.fail(formula, node, f"empty sum: {var.id} from {lo} to {hi} at {self._at(env)}"
                                           f"tau = {self.tau}")
        step = 1 if hi >= lo else -1
        b = self.backend
        total = None
        for s in range(lo, hi + step, step):
            term = self.evaluate(body, formula, {**(env or {}), var.id: s}, scope)
            if total is None:
                total = term
            else:
                total = self._op(formula, node, b.add if name == "sum" else b.matmul, total, term)
        return total

    def _ref(self, node, formula, env, allowed, what, *, zero_ok):
        """``NAME[index]`` naming one of ``allowed``; returns (name, index)."""
        if not (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)):
            raise self.fail(formula, node, f"expected {what} with a time index, e.g. h[t]")
        n = node.value.id
        if n not in allowed:
            raise self.fail(formula, node.value, f"{n!r} is not {what}; here: {' '.join(allowed) or 'none'}")
        lo = 0 if (zero_ok and n in self.vocab.zero) else 1
        return n, self.step_index(node, formula, env, n, lo, subscript=node)

    def jacobian(self, node, formula, env, partial):
        a, b_ = node.args
        fn = "pjac" if partial else "jac"
        A, i = self._ref(a, formula, env, self.vocab.forward, "a per-step forward quantity", zero_ok=True)
        if isinstance(b_, ast.Name) and b_.id in self.vocab.params:
            return self._op(formula, node, self.backend.jac_param, A, i, b_.id, partial)
        if partial:
            raise self.fail(formula, b_, "pjac(A[i], P) differentiates with respect to a parameter P; "
                                         f"parameters: {' '.join(self.vocab.params)}")
        inits = {v: k for k, v in self.vocab.zero.items() if k in self.vocab.states}
        if isinstance(b_, ast.Name) and b_.id in inits:
            B, j = inits[b_.id], 0
        else:
            nodes = tuple(dict.fromkeys((*self.vocab.states, *self.vocab.equations, *self.vocab.inputs)))
            B, j = self._ref(b_, formula, env, nodes,
                             f"a state, an equation or an input (the second argument of {fn})", zero_ok=True)
        return self._op(formula, node, self.backend.jac, A, i, B, j)

    def gradient(self, node, formula, env):
        loss, x = node.args
        if isinstance(loss, ast.Name) and loss.id == "L":
            t = None
        elif isinstance(loss, ast.Subscript) and isinstance(loss.value, ast.Name) and loss.value.id == "L":
            t = self.step_index(loss, formula, env, "L", 1, subscript=loss)
        else:
            raise self.fail(formula, loss, "grad(...) differentiates the loss: L (summed over steps) or "
                                           "L[t] (the loss of step t)")
        if isinstance(x, ast.Name):
            if "grad_" + x.id not in self.vocab.const:
                raise self.fail(formula, x, f"grad(L, {x.id}): {x.id!r} is not a parameter or an initial "
                                            "state; per-step quantities need a time index")
            return self._op(formula, node, self.backend.grad, t, x.id, None)
        grads = [n[5:] for n in self.vocab.step if n.startswith("grad_")]
        X, k = self._ref(x, formula, env, grads, "a quantity with a gradient", zero_ok=True)
        if k == 0:
            return self._op(formula, node, self.backend.grad, t, self.vocab.zero[X], None)
        return self._op(formula, node, self.backend.grad, t, X, k)


# -- backends --------------------------------------------------------------------------------------
def _shape_text(s) -> str:
    return "scalar" if s is None else f"({s[0]}, {s[1]})"


class _Shapes:
    """Values are symbolic shapes ((rows, cols), or None for a scalar): the static check.

    ``available`` (sample claims) limits the per-step names to those the numeric forward
    pass returns."""

    def __init__(self, vocab: Vocabulary, *, available=None, calculus=True):
        self.vocab, self.available, self.calculus = vocab, available, calculus

    def _avail(self, name):
        if self.available is not None and name not in self.available:
            raise _Mismatch(f"{name!r} is not available in sample claims; they see "
                            f"{' '.join(sorted(self.available))}")

    def leaf(self, name, t):
        self._avail(name)
        return tuple((self.vocab.step if t is not None else self.vocab.const)[name])

    def scalar(self, v):
        return None

    def rational(self, p, q):
        return None

    def ones(self, size):
        return (self.vocab.sizes[size], sp.S.One)

    def eye(self, size):
        return (self.vocab.sizes[size], self.vocab.sizes[size])

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

    def _matrix(self, a, fn, square=False):
        if a is None:
            raise _Mismatch(f"{fn}(...) takes a matrix, got a scalar")
        if square and a[0] != a[1]:
            raise _Mismatch(f"{fn}(...) takes a square matrix, got {_shape_text(a)}")
        return a

    def diag(self, a):
        a = self._column(a, "diag")
        return (a[0], a[0])

    def apply(self, fn, a):
        return self._matrix(a, fn) if fn != "abs" else a

    def softmax(self, a):
        return self._column(a, "softmax")

    def vec(self, a):
        a = self._matrix(a, "vec")
        return (a[0] * a[1], sp.S.One)

    def norm2(self, a):
        self._matrix(a, "norm2")
        return None

    def rho(self, a):
        self._matrix(a, "rho", square=True)
        return None

    def dominance(self, a):
        self._matrix(a, "dominance", square=True)
        return None

    def mpow(self, a, k):
        return self._matrix(a, "mpow", square=True)

    def maximum(self, values):
        if any(v is not None for v in values):
            raise _Mismatch("max_t(...) takes a scalar, got " + _shape_text(next(v for v in values if v)))
        return None

    def frac(self, op, a, b):
        self._same(a, b, "comparison")
        return None

    def _need_calculus(self, fn):
        if not self.calculus:
            raise _Mismatch(f"{fn}(...) is not available in sample claims (they measure forward "
                            "values and Jacobians of states with respect to states and inputs)")

    def jac(self, A, i, B, j):
        self._avail(A)
        if self.available is not None and B not in (*self.vocab.states, *self.vocab.inputs):
            raise _Mismatch(f"jac(..., {B}[j]): sample claims differentiate with respect to states and inputs")
        return (self.vocab.step[A][0], self.vocab.step[B][0])

    def jac_param(self, A, i, P, partial):
        self._need_calculus("pjac" if partial else "jac(A, P)")
        r, c = self.vocab.const[P]
        return (self.vocab.step[A][0], r * c)

    def grad(self, t, X, k):
        self._need_calculus("grad")
        return tuple(self.vocab.const["grad_" + X] if k is None else self.vocab.step["grad_" + X])


def _mp(e, dps):
    return mpmath.mpf(sp.Float(e, dps)._mpf_)


class _SymPy:
    """Values are explicit SymPy matrices of Floats (or SymPy scalars), from a :class:`_Trajectory`."""

    def __init__(self, traj, dps: int):
        self.traj, self.dps = traj, dps
        self.sizes = traj.sizes

    def leaf(self, name, t):
        return self.traj.const[name] if t is None else self.traj.steps[t][name]

    def scalar(self, v):
        return sp.Integer(v)

    def rational(self, p, q):
        return sp.Rational(p, q)

    def ones(self, size):
        return ImmutableMatrix(sp.ones(self.sizes[size], 1))

    def eye(self, size):
        return ImmutableMatrix(sp.eye(self.sizes[size]))

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

    def apply(self, fn, a):
        f = _activation_lambda(fn)
        if self._is_matrix(a):
            return a.applyfunc(lambda e: f(e).evalf(self.dps))
        return f(a).evalf(self.dps)

    def softmax(self, a):
        e = a.applyfunc(lambda v: sp.exp(v).evalf(self.dps))
        total = sum(e)
        return e.applyfunc(lambda v: v / total)

    def vec(self, a):
        r, c = a.shape
        return ImmutableMatrix(r * c, 1, [a[i, j] for j in range(c) for i in range(r)])

    def _mp_matrix(self, a):
        return mpmath.matrix([[_mp(e, self.dps) for e in row] for row in a.tolist()])

    def norm2(self, a):
        with mpmath.workdps(self.dps):
            s = mpmath.svd_r(self._mp_matrix(a), compute_uv=False)
            return sp.Float(max(abs(v) for v in s), self.dps)

    def rho(self, a):
        with mpmath.workdps(self.dps):
            ev = mpmath.eig(self._mp_matrix(a), left=False, right=False)
            return sp.Float(max(abs(v) for v in ev), self.dps)

    def dominance(self, a):
        n = a.shape[0]
        return min(abs(a[i, i]) - sum(abs(a[i, j]) for j in range(n) if j != i) for i in range(n))

    def mpow(self, a, k):
        return ImmutableMatrix((a ** k).evalf(self.dps)) if k else ImmutableMatrix(sp.eye(a.shape[0]))

    def maximum(self, values):
        return max(values)

    def frac(self, op, a, b):
        pairs = list(zip(list(a), list(b))) if self._is_matrix(b) else [(e, b) for e in a]
        return sp.Rational(sum(bool(_COMPARE_FN[op](x, y)) for x, y in pairs), len(pairs))

    def jac(self, A, i, B, j):
        return self.traj.jac(A, i, B, j)

    def jac_param(self, A, i, P, partial):
        return self.traj.jac_param(A, i, P, partial)

    def grad(self, t, X, k):
        const, steps = self.traj.loss_grads(t)
        return const["grad_" + X] if k is None else steps[k]["grad_" + X]


def _to_array(v):
    if isinstance(v, sp.MatrixBase):
        return np.array(v.tolist(), dtype=np.float64)
    return v if isinstance(v, (np.ndarray, int, float)) else float(v)


class _NumPy:
    """Values are float64 arrays (columns are (r, 1)) or Python numbers.  ``source`` gives the
    leaves: a :class:`_Trajectory` (values converted from its reference precision) or a
    :class:`_Numeric` run (sample claims)."""

    def __init__(self, source):
        self.source = source
        self.sizes = source.sizes
        self.cache = {}

    def _array(self, key, build):
        if key not in self.cache:
            self.cache[key] = _to_array(build())
        return self.cache[key]

    def leaf(self, name, t):
        s = self.source
        return self._array(("leaf", name, t), lambda: s.const[name] if t is None else s.steps[t][name])

    def scalar(self, v):
        return v

    def rational(self, p, q):
        return p / q

    def ones(self, size):
        return np.ones((self.sizes[size], 1))

    def eye(self, size):
        return np.eye(self.sizes[size])

    def add(self, a, b):
        return a + b

    def sub(self, a, b):
        return a - b

    def mul(self, a, b):
        return a * b

    def matmul(self, a, b):
        return a @ b

    def pow(self, a, k):
        if isinstance(a, np.ndarray):
            return np.power(np.asarray(a, dtype=np.float64), k)
        return float(a) ** k

    def neg(self, a):
        return -a

    def transpose(self, a):
        return a.T

    def diag(self, a):
        return np.diag(a[:, 0])

    def apply(self, fn, a):
        return _numeric_activation(fn)(a)

    def softmax(self, a):
        e = np.exp(a - a.max())
        return e / e.sum()

    def vec(self, a):
        return a.reshape(-1, 1, order="F")

    def norm2(self, a):
        return float(np.linalg.norm(a, 2))

    def rho(self, a):
        return float(np.max(np.abs(np.linalg.eigvals(a))))

    def dominance(self, a):
        d = np.abs(np.diag(a))
        return float(np.min(2 * d - np.abs(a).sum(axis=1)))

    def mpow(self, a, k):
        return np.linalg.matrix_power(a, k)

    def maximum(self, values):
        return max(values)

    def frac(self, op, a, b):
        return float(np.mean(_COMPARE_FN[op](np.asarray(a), np.asarray(b))))

    def jac(self, A, i, B, j):
        return self._array(("jac", A, i, B, j), lambda: self.source.jac(A, i, B, j))

    def jac_param(self, A, i, P, partial):
        return self._array(("jacp", A, i, P, partial), lambda: self.source.jac_param(A, i, P, partial))

    def grad(self, t, X, k):
        def build():
            const, steps = self.source.loss_grads(t)
            return const["grad_" + X] if k is None else steps[k]["grad_" + X]
        return self._array(("grad", t, X, k), build)


# -- activations --------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _activation_lambda(fn: str) -> sp.Lambda:
    """``tanh``, ``dtanh``, ...: the activation of :data:`ACTIVATIONS`, or SymPy's derivative of it."""
    if fn == "abs":
        z = sp.Symbol("z", real=True)
        return sp.Lambda(z, sp.Abs(z))
    if fn in ACTIVATIONS:
        return ACTIVATIONS[fn]
    base = ACTIVATIONS[fn[1:]]
    (z,) = base.variables
    return sp.Lambda(z, sp.diff(base.expr, z))


@functools.lru_cache(maxsize=None)
def _numeric_activation(fn: str):
    """The same function in float64, compiled from its SymPy expression by the spec interpreter."""
    f = _activation_lambda(fn)
    if fn == "abs":
        return np.abs
    body = _compile_scalar(f.expr, tuple(f.variables))
    bk = BACKENDS["numpy"]
    return lambda a: np.asarray(body(bk, np.asarray(a, dtype=np.float64)), dtype=np.float64) * np.ones_like(a)


# -- draws (given and draw fields) -------------------------------------------------------------
@dataclass(frozen=True)
class _DrawTarget:
    kind: str               # "param" | "init" | "input"
    shape: tuple            # symbolic shape


def _draw_targets(model_name: str) -> dict:
    v = vocabulary(model_name)
    out = {p: _DrawTarget("param", tuple(v.const[p])) for p in v.params}
    for s in v.states:
        out[v.zero[s]] = _DrawTarget("init", tuple(v.const[v.zero[s]]))
    for x in v.inputs:
        out[x] = _DrawTarget("input", tuple(v.step[x]))
    return out


def _draw_scalar(node, sizes: dict, fail):
    """A distribution parameter: numbers, + - * /, sqrt(...), size names."""
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return float(node.value)
    if isinstance(node, ast.Name) and node.id in sizes:
        return float(sizes[node.id]) if sizes[node.id] is not None else 1.0
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_draw_scalar(node.operand, sizes, fail)
    if isinstance(node, ast.BinOp) and type(node.op) in (ast.Add, ast.Sub, ast.Mult, ast.Div):
        a, b = _draw_scalar(node.left, sizes, fail), _draw_scalar(node.right, sizes, fail)
        if isinstance(node.op, ast.Div) and b == 0:
            raise fail(node, "division by zero")
        return {ast.Add: a + b, ast.Sub: a - b, ast.Mult: a * b}.get(type(node.op), a / b if b else 0.0)
    if _call_name(node) == "sqrt" and len(node.args) == 1 and not node.keywords:
        return math.sqrt(max(_draw_scalar(node.args[0], sizes, fail), 0.0))
    raise fail(node, "a distribution parameter is a number, a size name, + - * /, or sqrt(...)")


def _draw_value(node, shape: tuple, *, sizes: dict, rng, fail, exact: bool):
    """The value a draw formula gives: a SymPy matrix (``exact``: deterministic draws only) or a
    float64 array."""
    name = _call_name(node)
    if name not in DRAW_FUNCTIONS or node.keywords or len(node.args) != DRAW_FUNCTIONS[name]:
        allowed = DETERMINISTIC_DRAWS if exact else tuple(DRAW_FUNCTIONS)
        raise fail(node, "a draw is one of " + ", ".join(f"{f}({', '.join('x' * DRAW_FUNCTIONS[f])})"
                                                          for f in allowed))
    if exact and name not in DETERMINISTIC_DRAWS:
        raise fail(node, f"{name}(...) is random: identity claims fix values with "
                         f"{', '.join(d + '()' for d in DETERMINISTIC_DRAWS)} (use draw in sample claims)")
    r, c = shape
    if name == "identity" and r != c:
        raise fail(node, f"identity() needs a square matrix, got shape ({r}, {c})")
    if name in ("radius", "norm") and r != c:
        raise fail(node, f"{name}(...) needs a square matrix, got shape ({r}, {c})")
    if exact:
        if name == "zeros":
            return ImmutableMatrix(sp.zeros(r, c))
        if name == "ones":
            return ImmutableMatrix(sp.ones(r, c))
        if name == "identity":
            return ImmutableMatrix(sp.eye(r))
        value = node.args[0]
        if _is_rational_literal(value):
            q = sp.Rational(value.left.value, value.right.value)
        elif isinstance(value, ast.Constant) and type(value.value) is int:
            q = sp.Integer(value.value)
        else:
            raise fail(value, "full(c) takes an integer or a ratio of integer literals here")
        return ImmutableMatrix(r, c, [q] * (r * c))
    if rng is None:             # static check: arguments only
        for a in node.args:
            if _call_name(a) in DRAW_FUNCTIONS:
                _draw_value(a, shape, sizes=sizes, rng=None, fail=fail, exact=False)
            else:
                _draw_scalar(a, sizes, fail)
        return None
    if name == "zeros":
        return np.zeros((r, c))
    if name == "ones":
        return np.ones((r, c))
    if name == "identity":
        return np.eye(r)
    if name == "full":
        return np.full((r, c), _draw_scalar(node.args[0], sizes, fail))
    if name == "normal":
        mu, sigma = (_draw_scalar(a, sizes, fail) for a in node.args)
        return rng.normal(mu, sigma, size=(r, c))
    if name == "uniform":
        lo, hi = (_draw_scalar(a, sizes, fail) for a in node.args)
        return rng.uniform(lo, hi, size=(r, c))
    if name == "glorot":
        s = math.sqrt(6.0 / (r + c))
        return rng.uniform(-s, s, size=(r, c))
    if name == "orthogonal":
        q, rr = np.linalg.qr(rng.standard_normal((r, c)))
        return q * np.sign(np.diag(rr))
    base = _draw_value(node.args[0], shape, sizes=sizes, rng=rng, fail=fail, exact=False)
    target = _draw_scalar(node.args[1], sizes, fail)
    scale = np.max(np.abs(np.linalg.eigvals(base))) if name == "radius" else np.linalg.norm(base, 2)
    return base * (target / scale)


def _parse_draws(claim_id, path, block, table: dict, field_name: str, model_name: str, claim_line,
                 *, exact: bool) -> tuple:
    """Check a ``given``/``draw`` table; returns ((name, text), ...)."""
    targets = _draw_targets(model_name)
    out = []
    for key, text in table.items():
        line = (block.define_line(key) if block else None) or (block.field_line(field_name) if block else None) \
            or claim_line
        if key not in targets:
            raise _fail(claim_id, path, line, f"{field_name} {key!r}: not a parameter, an initial state or "
                                              f"an input of {model_name!r}: {' '.join(targets)}",
                        claim_line=claim_line)
        if not isinstance(text, str):
            raise _fail(claim_id, path, line, f"{field_name} {key!r}: the draw must be a string",
                        claim_line=claim_line)
        formula = _formula(claim_id, path, line, f"{field_name} {key!r}", text, claim_line)
        fail = lambda n, m, f=formula: _fail(claim_id, path, line, m, formula=f, node=n)  # noqa: E731
        stand_in = {s: 3 + k for k, s in enumerate(vocabulary(model_name).sizes.values())}
        shape = tuple(stand_in.get(s, 1) for s in targets[key].shape)      # distinct sizes stay distinct
        sizes = {str(s): None for s in vocabulary(model_name).sizes}
        _draw_value(formula.tree.body, shape, sizes=sizes, rng=None, fail=fail, exact=exact)
        out.append((key, formula.text))
    return tuple(out)


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


def _check_fields(table, fields, fail, what):
    unknown = sorted(set(table) - set(fields))
    if unknown:
        raise fail(f"unknown field(s) {', '.join(unknown)}{what}; fields are {', '.join(fields)}")
    for key, kind in fields.items():
        if key in table:
            value = table[key]
            if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
                raise fail(f"field {key!r}{what} must be a {kind.__name__}, got {value!r}")


def _parse(table: dict, path: str, block: _Block | None) -> Claim:
    id_line = (block.id_line or block.start) if block else 1
    claim_id = table.get("id", "?")

    def fail(message, line=id_line):
        return _fail(claim_id, path, line, message)

    _check_fields(table, {**REQUIRED, **OPTIONAL}, fail, "")
    for key in REQUIRED:
        if key not in table:
            raise fail(f"missing field {key!r}")
    if not claim_id:
        raise fail("empty id")
    kind = table.get("kind", "identity")
    if kind not in KINDS:
        raise fail(f"field 'kind' must be one of {', '.join(KINDS)}, got {kind!r}")
    model = table.get("model", "")
    if kind != "scalar" and not model:
        raise fail(f"missing field 'model' (a {kind} claim is about a model)")
    if model and model not in REGISTRY:
        raise fail(f"unknown model {model!r}; known models: {', '.join(sorted(REGISTRY))}")
    if table["expect"] not in VERDICTS:
        raise fail(f"field 'expect' must be \"holds\", \"fails\" or \"partial\", got {table['expect']!r}")
    if table["line"] < 1:
        raise fail(f"field 'line' must be a line number of the seed file, got {table['line']}")
    if ("statement" in table) == ("part" in table):
        raise fail("a claim has either a 'statement' or [[claim.part]] tables, not "
                   + ("both" if "statement" in table else "neither"))
    for key in ("sizes", "tau", "trials", "draw"):
        if key in table and kind != "sample":
            raise fail(f"field {key!r} is for sample claims")
    if "given" in table and kind != "identity":
        raise fail("field 'given' is for identity claims (sample claims use 'draw')")
    if kind == "scalar" and "define" in table:
        raise fail("field 'define' is for identity and sample claims")

    def line_of(key):
        return (block.field_line(key) if block else None) or id_line

    defines = {}
    if model:
        vocab = vocabulary(model)
        for order, (key, body) in enumerate(table.get("define", {}).items()):
            defines.update(_parse_define(claim_id, path, block, key, body, order, vocab, defines, id_line,
                                         line_of("define")))

    sizes, tau, trials = (), None, None
    if kind == "sample":
        names = list(vocabulary(model).sizes)
        given_sizes = table.get("sizes", {})
        bad = sorted(set(given_sizes) - set(names))
        if bad or not all(type(v) is int and v >= 1 for v in given_sizes.values()):
            raise fail(f"field 'sizes' maps the size names of {model!r} ({' '.join(names)}) to positive "
                       f"integers, got {given_sizes!r}", line_of("sizes"))
        sizes = tuple((n, given_sizes.get(n, 4)) for n in names)
        tau = table.get("tau", SAMPLE_TAU)
        trials = table.get("trials", SAMPLE_TRIALS)
        if tau < 1 or trials < 1:
            raise fail("fields 'tau' and 'trials' must be >= 1")

    raw_parts = table.get("part") or [{"reading": "", "statement": table["statement"]}]
    if not isinstance(raw_parts, list) or not all(isinstance(p, dict) for p in raw_parts):
        raise fail("parts are [[claim.part]] tables")
    part_blocks = block.parts if block and len(block.parts) == len(raw_parts) else [None] * len(raw_parts)
    parts = []
    for index, (ptable, pblock) in enumerate(zip(raw_parts, part_blocks)):
        parts.append(_parse_part(table, ptable, pblock, block, index, claim_id, path, id_line, kind, model,
                                 defines, "part" in table))
    if all(p.aside for p in parts):
        raise fail("every part is an aside: at least one part must count")
    statement = parts[0].statement if len(parts) == 1 else " ; ".join(p.statement for p in parts)
    claim = Claim(
        id=claim_id, model=model, seed=table["seed"], section=table["section"], line=table["line"],
        statement=statement, text=table["text"], expect=table["expect"], notes=table.get("notes", ""),
        define=dict(table.get("define", {})), for_t=table.get("for"), path=path, toml_line=id_line,
        kind=kind, parts=tuple(parts), defines=defines, sizes=sizes, tau=tau, trials=trials)
    for p in claim.parts:
        _static_check(claim, p)
    return claim


def _parse_define(claim_id, path, block, key, body, order, vocab, defines, id_line, fallback_line):
    dline = (block.define_line(key) if block else None) or fallback_line
    if not isinstance(body, str):
        raise _fail(claim_id, path, dline, f"define {key!r}: the definition must be a string",
                    claim_line=id_line)
    head = _formula(claim_id, path, dline, f"define key {key!r}", key, id_line)
    h = head.tree.body
    if isinstance(h, ast.Name):
        name, per_step, param = h.id, False, None
    elif (isinstance(h, ast.Subscript) and isinstance(h.value, ast.Name)
          and isinstance(h.slice, ast.Name) and h.slice.id in INDEX_VARS):
        name, per_step, param = h.value.id, True, h.slice.id
    else:
        raise _fail(claim_id, path, dline, "a definition's name is NAME or NAME[t]", formula=head, node=h)
    if name in vocab.step or name in vocab.const or name in vocab.sizes or name in RESERVED:
        raise _fail(claim_id, path, dline, f"{name!r} is already a name of the grammar", formula=head, node=h)
    if name in defines:
        raise _fail(claim_id, path, dline, f"{name!r} is defined twice", formula=head, node=h)
    formula = _formula(claim_id, path, dline, f"define {key!r}", body, id_line)
    free = _free_indices(formula.tree.body)
    if not per_step and free:
        v = sorted(free)[0]
        raise _fail(claim_id, path, dline, f"{name!r} uses {v} outside sum_t(...): define it as {name}[{v}]",
                    formula=formula)
    if per_step and free - {param}:
        v = sorted(free - {param})[0]
        raise _fail(claim_id, path, dline, f"{name!r} uses {v}, which is not its parameter {param}",
                    formula=formula)
    return {name: _Define(name, per_step, formula, order, param or "t")}


def _parse_part(table, ptable, pblock, block, index, claim_id, path, id_line, kind, model, defines,
                has_parts) -> Part:
    def line_of(key):
        if has_parts:
            return (pblock.field_line(key) if pblock else None) or (pblock.start if pblock else id_line)
        return (block.field_line(key) if block else None) or id_line

    def fail(message, line=None):
        return _fail(claim_id, path, line or (pblock.start if pblock else id_line), message,
                     claim_line=id_line)

    if has_parts:
        _check_fields(ptable, PART_FIELDS, fail, f" in part {index + 1}")
        for key in ("reading", "statement"):
            if key not in ptable:
                raise fail(f"part {index + 1}: missing field {key!r}")
        if "for" in ptable and "for" in table:
            raise fail(f"part {index + 1}: 'for' is given for the claim and for the part")
    pmodel = ptable.get("model", model)
    if pmodel and pmodel not in REGISTRY:
        raise fail(f"part {index + 1}: unknown model {pmodel!r}; known models: {', '.join(sorted(REGISTRY))}",
                   line_of("model"))
    if kind == "scalar" and "model" in ptable:
        raise fail("a scalar claim has no model")
    statement = _formula(claim_id, path, line_of("statement"), "statement", ptable["statement"], id_line)
    body = statement.tree.body
    ops = body.ops if isinstance(body, ast.Compare) else []
    if kind == "identity":
        if not (ops and all(isinstance(op, ast.Eq) for op in ops)):
            raise _fail(claim_id, path, statement.line, "a statement is `lhs == rhs`", formula=statement,
                        node=body)
    elif not (len(ops) == 1 and type(ops[0]) in _COMPARE and (kind == "scalar" or type(ops[0]) is not ast.Eq)):
        allowed = "== < <= > >=" if kind == "scalar" else "< <= > >="
        raise _fail(claim_id, path, statement.line, f"a {kind} statement is one comparison `lhs OP rhs` "
                                                    f"with OP one of {allowed}", formula=statement, node=body)
    free = tuple(v for v in INDEX_VARS if v in _free_indices(body))
    for_text = ptable.get("for", table.get("for"))
    for_line = line_of("for") if "for" in ptable else ((block.field_line("for") if block else None) or id_line)
    for_formula = None
    if for_text is not None:
        for_formula = _formula(claim_id, path, for_line, "for", for_text, id_line)
        if kind == "scalar":
            _scalar_domain(for_formula, lambda n, m: _fail(claim_id, path, for_line, m, formula=for_formula,
                                                           node=n))
        else:
            _check_for(claim_id, path, for_formula, free, id_line)
    given = draw = ()
    if kind == "identity":
        merged = {**table.get("given", {}), **ptable.get("given", {})}
        given = _parse_draws(claim_id, path, pblock or block, merged, "given", pmodel, id_line, exact=True)
    elif "given" in ptable:
        raise fail("'given' is for identity claims (sample claims use 'draw')")
    if kind == "sample":
        merged = {**table.get("draw", {}), **ptable.get("draw", {})}
        draw = _parse_draws(claim_id, path, pblock or block, merged, "draw", pmodel, id_line, exact=False)
    elif "draw" in ptable:
        raise fail("'draw' is for sample claims")
    return Part(reading=ptable.get("reading", ""), statement=ptable["statement"], model=pmodel,
                for_t=for_text, aside=bool(ptable.get("aside", False)), given=given, draw=draw,
                formula=statement, for_formula=for_formula, free=free, index=index)


def _check_for(claim_id, path, formula: _Formula, free: tuple, claim_line):
    """``for = "0 <= k < t"``: comparisons of index expressions of the statement's free indices,
    chained, joined by ``and``."""
    node = formula.tree.body
    if not free:
        raise _fail(claim_id, path, formula.line,
                    "'for' is given but the statement does not use t (or k, i, j) outside sum_t(...)",
                    claim_line=claim_line)
    comparisons = node.values if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And) else [node]
    constrained = False
    for cmp in comparisons:
        if not isinstance(cmp, ast.Compare):
            raise _fail(claim_id, path, formula.line, "'for' is a comparison of t, e.g. \"t < tau\" "
                        "(several joined by and)", formula=formula, node=cmp)
        items = [cmp.left, *cmp.comparators]
        for op, b in zip(cmp.ops, items[1:]):
            if type(op) not in _COMPARE:
                raise _fail(claim_id, path, formula.line, "'for' compares with < <= > >= ==", formula=formula,
                            node=b)
        for item in items:
            used = _free_indices(item)
            extra = used - set(free)
            if extra:
                v = sorted(extra)[0]
                raise _fail(claim_id, path, formula.line, f"'for' uses {v}, which the statement does not use",
                            formula=formula, node=item)
            constrained = constrained or bool(used)
            try:
                _index_value(item, {v: 1 for v in free}, 1)
            except ValueError as e:
                raise _fail(claim_id, path, formula.line, str(e), formula=formula, node=item) from None
    if not constrained:
        raise _fail(claim_id, path, formula.line, "'for' must constrain an index of the statement",
                    formula=formula, node=node)


def _literal_times(part: Part, claim: Claim) -> int:
    """The largest integer literal used in a time position (indices, binder bounds, 'for')."""
    trees = [part.tree, *(d.formula.tree for d in claim.defines.values())]
    if part.for_formula is not None:
        trees.append(part.for_formula.tree)
    biggest = 0

    def ints(node):
        return [c.value for c in ast.walk(node) if isinstance(c, ast.Constant) and type(c.value) is int]

    for tree in trees:
        for n in ast.walk(tree):
            if isinstance(n, ast.Subscript):
                biggest = max([biggest, *ints(n.slice)])
            if _call_name(n) in ("sum", "prod") and len(n.args) == 4:
                biggest = max([biggest, *ints(n.args[1]), *ints(n.args[2])])
    if part.for_formula is not None:
        biggest = max([biggest, *ints(part.for_formula.tree)])
    return biggest


def _static_check(claim: Claim, part: Part) -> None:
    """Whitelist, shapes and time indices, at a few values of tau (symbolic sizes)."""
    if claim.kind == "scalar":
        _ScalarWalker(claim, part, static=True).statement()
        return
    vocab = vocabulary(part.model)
    available = None
    if claim.kind == "sample":
        available = {*vocab.inputs, *_numeric_forward_names(part.model), *vocab.params,
                     *(vocab.zero[s] for s in vocab.states)}
    shapes = _Shapes(vocab, available=available, calculus=claim.kind == "identity")
    start = max(2, _literal_times(part, claim))
    for d in claim.defines.values():        # definitions are checked even when unused
        walker = _Walker(claim, part, shapes, start)
        walker.defined(d, 1 if d.per_step else None)
    taus = range(start, start + 3) if claim.kind == "identity" else [max(start, claim.tau)]
    for tau in taus:
        walker = _Walker(claim, part, shapes, tau)
        for env in part.assignments(tau):
            sides = walker.statement(env)
            cmp = part.tree.body
            for node, s in zip(cmp.comparators, sides[1:]):
                if s != sides[0]:
                    raise walker.fail(part.formula, node,
                                      f"the sides have shapes {_shape_text(sides[0])} and {_shape_text(s)}")
            if claim.kind == "sample" and sides[0] is not None:
                raise walker.fail(part.formula, cmp, f"a sample statement compares scalars, got "
                                                     f"{_shape_text(sides[0])}")


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


# -- scalar claims ---------------------------------------------------------------------------------
_Z = sp.Symbol("z", real=True)


def _scalar_number(node, fail):
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return sp.Integer(node.value)
    if _is_rational_literal(node) and node.right.value != 0:
        return sp.Rational(node.left.value, node.right.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_scalar_number(node.operand, fail)
    raise fail(node, "a bound of z is an integer or a ratio of integer literals")


def _scalar_domain(formula: _Formula, fail) -> sp.Set:
    """``for = "z > 0"`` (or a chain such as ``-1 <= z <= 1``) as an interval of the reals."""
    node = formula.tree.body
    if not isinstance(node, ast.Compare):
        raise fail(node, "'for' of a scalar claim compares z with numbers, e.g. \"z > 0\"")
    items = [node.left, *node.comparators]
    domain = sp.S.Reals
    for op, a, b in zip(node.ops, items, items[1:]):
        if type(op) not in _COMPARE or type(op) is ast.Eq:
            raise fail(b, "'for' compares with < <= > >=")
        sym = _COMPARE[type(op)]
        a_z = isinstance(a, ast.Name) and a.id == "z"
        b_z = isinstance(b, ast.Name) and b.id == "z"
        if a_z == b_z:
            raise fail(a, "each comparison in 'for' has z on exactly one side")
        bound = _scalar_number(b if a_z else a, fail)
        if not a_z:
            sym = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}[sym]
        piece = {"<": sp.Interval.open(-sp.oo, bound), "<=": sp.Interval(-sp.oo, bound),
                 ">": sp.Interval.open(bound, sp.oo), ">=": sp.Interval(bound, sp.oo)}[sym]
        domain = domain.intersect(piece)
    return domain


def _num(v, dps=50):
    return sp.N(v, dps)


def _sign(value) -> int:
    """The sign of an exact SymPy number (zero when SymPy simplifies it to zero or it vanishes to 50 digits)."""
    if value in (sp.oo, -sp.oo):
        return 1 if value == sp.oo else -1
    v = _num(value, 60)
    if v == 0 or abs(v) < sp.Float("1e-50"):
        return 0
    return 1 if v > 0 else -1


def _show(v) -> str:
    if v in (sp.oo, -sp.oo) or (isinstance(v, sp.Basic) and v.is_Rational):
        return str(v)
    return f"{float(_num(v)):.10g}"


def _components(region) -> list:
    if region is sp.S.EmptySet:
        return []
    if isinstance(region, sp.Union):
        return [c for a in region.args for c in _components(a)]
    if isinstance(region, sp.FiniteSet):
        return [sp.FiniteSet(p) for p in region]
    if isinstance(region, sp.Interval):
        return [region]
    raise _Undecidable(f"cannot split the domain {region}")


def _critical_points(f, a, b) -> list:
    """Zeros of f' strictly between a and b: by solveset, else as the positive real roots of a
    polynomial in u = exp(z) (tanh, sigmoid and exp are rational in exp(z))."""
    fp = sp.diff(f, _Z)
    if fp == 0:
        return []
    found = sp.solveset(fp, _Z, sp.Interval.open(a, b))
    if isinstance(found, sp.FiniteSet):
        return list(found)
    u = sp.Symbol("u", positive=True)
    g = sp.together(sp.expand(fp.rewrite(sp.exp).subs(_Z, sp.log(u))))
    num = sp.expand(sp.fraction(g)[0])
    if not num.is_polynomial(u) or num.free_symbols - {u}:
        raise _Undecidable(f"no closed form for the critical points of {f}")
    points = []
    for r in sp.Poly(num, u).real_roots():
        if _num(r) > 0:
            z = sp.log(r)
            if (a == -sp.oo or _num(z) > _num(a)) and (b == sp.oo or _num(z) < _num(b)):
                points.append(z)
    return points


def _candidates(f, component) -> list:
    """(value, attained, where) for the supremum of f over one interval or point."""
    if isinstance(component, sp.FiniteSet):
        (p,) = component
        return [(f.subs(_Z, p), True, p)]
    a, b = component.start, component.end
    out = []
    for end, open_, side in ((a, component.left_open, "+"), (b, component.right_open, "-")):
        if end in (sp.oo, -sp.oo):
            out.append((sp.limit(f, _Z, end), False, end))
        elif open_:
            out.append((sp.limit(f, _Z, end, side), False, end))
        else:
            out.append((f.subs(_Z, end), True, end))
    if _Z not in f.free_symbols:         # constant: attained at any inner point
        inner = (a + b) / 2 if sp.oo not in (a, -b) and -sp.oo not in (a, b) else \
            (b - 1 if a == -sp.oo and b != sp.oo else (a + 1 if a != -sp.oo else sp.Integer(0)))
        out.append((f, True, inner))
    else:
        out += [(f.subs(_Z, p), True, p) for p in _critical_points(f, a, b)]
    for v, _, _ in out:
        if not (v in (sp.oo, -sp.oo) or v.is_real):
            raise _Undecidable(f"SymPy gives no real limit or value for {f} (got {v})")
    return out


def _supremum(expr, domain) -> tuple:
    """(sup, attained, where, candidates) of ``expr`` (a function of z) over ``domain``."""
    e = sp.piecewise_fold(expr.rewrite(sp.Piecewise))
    pieces = e.args if isinstance(e, sp.Piecewise) else ((e, sp.true),)
    covered, candidates = sp.S.EmptySet, []
    for piece, cond in pieces:
        cset = sp.S.Reals if cond is sp.true else cond.as_set()
        region = sp.Complement(cset.intersect(domain), covered)
        covered = covered.union(cset)
        for component in _components(sp.simplify(region) if not isinstance(region, (sp.Interval, sp.FiniteSet))
                                     else region):
            candidates += _candidates(piece, component)
    if not candidates:
        raise _Undecidable("the domain of z is empty")
    best = max(candidates, key=lambda c: _num(c[0]) if c[0] not in (sp.oo, -sp.oo) else
               (sp.Float("1e300") if c[0] == sp.oo else sp.Float("-1e300")))
    ties = [c for c in candidates if _sign(c[0] - best[0]) == 0 if c[0] not in (sp.oo, -sp.oo)] \
        if best[0] not in (sp.oo, -sp.oo) else [best]
    attained = [c for c in ties if c[1]]
    where = attained[0][2] if attained else best[2]
    return best[0], bool(attained), where, candidates


class _ScalarFailure(Exception):
    """A max(...) or min(...) that is not attained: the statement is false as written."""


class _ScalarWalker:
    """Builds the SymPy expressions of a scalar statement through a whitelist; records what the
    decision found (suprema, where they are attained) as facts for the evidence."""

    def __init__(self, claim: Claim, part: Part, *, static=False):
        self.claim, self.part, self.static = claim, part, static
        self.domain = sp.S.Reals
        if part.for_formula is not None:
            self.domain = _scalar_domain(part.for_formula, lambda n, m: self.fail(part.for_formula, n, m))
        self.facts = []

    def fail(self, formula, node, message):
        return _fail(self.claim.id, self.claim.path, formula.line, message, formula=formula, node=node)

    def statement(self):
        f = self.part.formula
        cmp = f.tree.body
        return self.build(cmp.left, f), _COMPARE[type(cmp.ops[0])], self.build(cmp.comparators[0], f)

    def text(self, node):
        return ast.get_source_segment(self.part.formula.text, node)

    def build(self, node, f):
        if isinstance(node, ast.Constant):
            if type(node.value) is int:
                return sp.Integer(node.value)
            raise self.fail(f, node, "only integer literals (and ratios such as 1/4) are numbers here")
        if isinstance(node, ast.Name):
            if node.id == "z":
                return _Z
            raise self.fail(f, node, f"unknown name {node.id!r}: a scalar claim is about the real variable z")
        if isinstance(node, ast.UnaryOp) and type(node.op) in (ast.USub, ast.UAdd):
            v = self.build(node.operand, f)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.BinOp):
            ops = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
                   ast.Div: operator.truediv, ast.Pow: operator.pow}
            if type(node.op) not in ops:
                sym = _OPS.get(type(node.op), type(node.op).__name__)
                raise self.fail(f, node, f"operator {sym!r} is not in the scalar grammar (+ - * / **)")
            left, right = self.build(node.left, f), self.build(node.right, f)
            if isinstance(node.op, ast.Div) and right == 0:
                raise self.fail(f, node, "division by zero")
            return ops[type(node.op)](left, right)
        if isinstance(node, ast.Call):
            name = _call_name(node)
            if name not in SCALAR_FUNCTIONS:
                token = ast.get_source_segment(f.text, node.func)
                raise self.fail(f, node.func, f"call of {token!r}: the scalar grammar calls only "
                                              f"{', '.join(SCALAR_FUNCTIONS)}")
            if node.keywords or len(node.args) != 1 or isinstance(node.args[0], ast.Starred):
                raise self.fail(f, node, f"{name}(...) takes exactly one positional argument")
            arg = self.build(node.args[0], f)
            if name in ("sup", "inf", "max", "min"):
                return self.extremum(name, arg, node)
            if name == "exp":
                return sp.exp(arg)
            if name == "log":
                return sp.log(arg)
            return _activation_lambda(name)(arg)
        if isinstance(node, ast.Compare):
            raise self.fail(f, node, "a comparison may only be the whole statement")
        raise self.fail(f, node, f"{type(node).__name__} is not in the scalar grammar")

    def extremum(self, name, arg, node):
        if self.static:
            return sp.Dummy(name)
        sign = 1 if name in ("sup", "max") else -1
        value, attained, where, _ = _supremum(sign * arg, self.domain)
        value = sign * value
        text = self.text(node.args[0])
        word = "sup" if sign == 1 else "inf"
        if attained:
            self.facts.append(f"{word} of {text} over z = {_show(value)}, attained at z = {_show(where)}")
        else:
            self.facts.append(f"{word} of {text} over z = {_show(value)}, approached as z -> {_show(where)}"
                              " and not attained")
            if name in ("max", "min"):
                raise _ScalarFailure(f"{name}({text}) does not exist: the {word} {_show(value)} is approached "
                                     f"as z -> {_show(where)} and not attained")
        return value


def _domain_text(domain) -> str:
    return "every real z" if domain == sp.S.Reals else f"every z in {domain}"


def _witness(d, op, where, domain):
    """A point where ``d op 0`` is false, near ``where`` (a finite point or an infinite end)."""
    if where not in (sp.oo, -sp.oo):
        return where
    sign = 1 if where == sp.oo else -1
    bad = {"<": lambda v: v >= 0, "<=": lambda v: v > 0, ">": lambda v: v <= 0, ">=": lambda v: v < 0}[op]
    for k in range(0, 12):
        z = sign * sp.Integer(2) ** k
        if domain.contains(z) == sp.true and bad(_num(d.subs(_Z, z))):
            return z
    return None


def _check_scalar(claim: Claim, part: Part) -> "_Outcome":
    walker = _ScalarWalker(claim, part)
    cmp = part.tree.body
    lhs_text, rhs_text = walker.text(cmp.left), walker.text(cmp.comparators[0])
    try:
        lhs, op, rhs = walker.statement()
    except _ScalarFailure as e:
        return _Outcome("fails", "SymPy: " + "; ".join(walker.facts) + f"; so {e}", 0.0, 1)
    facts = "SymPy: " + "; ".join(walker.facts) + "; " if walker.facts else "SymPy: "
    d = lhs - rhs
    if _Z in d.free_symbols:
        verdict, text = _decide_forall(d, op, walker.domain, lhs, rhs, lhs_text, rhs_text)
        return _Outcome(verdict, facts + text, 0.0, 1)
    if _Z in lhs.free_symbols or _Z in rhs.free_symbols:        # the same function of z
        holds = _COMPARE_FN[op](0, 0) if d == 0 else _COMPARE_FN[op](_sign(d), 0)
        return _Outcome("holds" if holds else "fails", facts + f"{lhs_text} - ({rhs_text}) simplifies to "
                        f"{_show(d)} for {_domain_text(walker.domain)}", 0.0, 1)
    s = _sign(d)
    holds = {"<": s < 0, "<=": s <= 0, ">": s > 0, ">=": s >= 0, "==": s == 0}[op]
    rel = "=" if s == 0 else ("<" if s < 0 else ">")
    shown = [t if t == _show(v) else f"{t} = {_show(v)}" for t, v in ((lhs_text, lhs), (rhs_text, rhs))]
    text = f"{shown[0]} {rel} {shown[1]}"
    return _Outcome("holds" if holds else "fails", facts + text + ("" if holds else f", not {op}"), 0.0, 1)


def _decide_forall(d, op, domain, lhs, rhs, lhs_text, rhs_text):
    where_text = _domain_text(domain)
    if op == "==":
        hi, hi_att, hi_at, _ = _supremum(d, domain)
        lo, lo_att, lo_at, _ = _supremum(-d, domain)
        if _sign(hi) == 0 and _sign(lo) == 0:
            return "holds", f"{lhs_text} - ({rhs_text}) has sup 0 and inf 0 over {where_text}: they are equal"
        at = hi_at if _sign(hi) != 0 else lo_at
        z = _witness(d, "<=" if _sign(hi) != 0 else ">=", at, domain)
        return "fails", "counterexample: " + _scalar_counterexample(z, lhs, rhs, lhs_text, rhs_text, "==")
    if op in ("<", "<="):
        value, attained, where, _ = _supremum(d, domain)
        s = _sign(value)
        holds = s < 0 or (s == 0 and (op == "<=" or not attained))
        word, attained_text = "sup", "attained" if attained else "not attained"
    else:
        value, attained, where, _ = _supremum(-d, domain)
        value = -value
        s = _sign(value)
        holds = s > 0 or (s == 0 and (op == ">=" or not attained))
        word, attained_text = "inf", "attained" if attained else "not attained"
    summary = (f"for {where_text}, {word} of {lhs_text} - ({rhs_text}) = {_show(value)} "
               f"({attained_text}{' at z = ' + _show(where) if attained else ', as z -> ' + _show(where)})")
    if holds:
        return "holds", summary + f", so {lhs_text} {op} {rhs_text}"
    z = _witness(d, op, where, domain)
    return "fails", summary + "; counterexample: " + _scalar_counterexample(z, lhs, rhs, lhs_text, rhs_text, op)


def _scalar_counterexample(z, lhs, rhs, lhs_text, rhs_text, op):
    if z is None:
        return "no finite witness found"
    lv, rv = lhs.subs(_Z, z), rhs.subs(_Z, z)
    right = rhs_text if _Z not in rhs.free_symbols and rhs.is_Rational else f"{rhs_text} = {_show(rv)}"
    return f"z = {_show(z)}: {lhs_text} = {_show(lv)}, not {op} {right}"


# -- true values -----------------------------------------------------------------------------------
def _value(expr, env: dict, dps: int) -> ImmutableMatrix:
    """``expr`` at the explicit matrices of ``env``, to ``dps`` digits.  Like
    :func:`derive.proof._explicit`, but ``doit()`` multiplies explicit matrices
    directly where ``as_explicit()`` builds a symbolic sum per entry (~50x slower)."""
    e = expr.xreplace(env).doit()
    if not isinstance(e, sp.MatrixBase):
        e = e.as_explicit()
    return ImmutableMatrix(e).evalf(dps)


def _symbol_matrix(prefix: str, r: int, c: int) -> ImmutableMatrix:
    return ImmutableMatrix(r, c, [sp.Symbol(f"{prefix}[{p},{q}]") for p in range(r) for q in range(c)])


def _flat(M) -> list:
    """Entries with the columns stacked (vec)."""
    r, c = M.shape
    return [M[p, q] for q in range(c) for p in range(r)]


class _Trajectory:
    """True values of one unrolled example at one random point, with ``dps`` digits.

    ``const[name]`` (parameters, initial states, total gradients) and ``steps[t][name]``
    (t = 1..tau: inputs, label, equations, aliases, per-step gradients), plus on demand the
    gradients of one step's loss (:meth:`loss_grads`) and Jacobians (:meth:`jac`).

    ``kind`` "rational": entries k/97 (as :mod:`derive.proof` draws them); "float": uniform
    float64 entries in [-1, 1), exact in SymPy, so float64 claims see the same inputs.
    Parameters with a domain (``Model.domains``, e.g. alpha >= 1) are drawn inside it.
    ``given`` fixes quantities: ((name, draw text), ...)."""

    def __init__(self, model_name: str, sizes: tuple, tau: int, kind: str, seed: int, index: int,
                 dps: int, given: tuple = ()):
        D = derivation(model_name)
        model = D.model
        self.D, self.model, self.tau, self.kind, self.dps = D, model, tau, kind, dps
        size_map = dict(zip(model.sizes, sizes))
        self.concrete = concrete = (lambda e: e.subs(size_map)) if size_map else (lambda e: e)
        self.sizes = {str(k): int(v) for k, v in size_map.items()}
        K = int(concrete(model.label).shape[0])
        if kind == "rational":
            rng = random.Random(f"derive.claims:{seed}:{index}")
            labels = [rng.randrange(K) for _ in range(tau)]
            draw = lambda: sp.Float(sp.Rational(rng.randint(-90, 90), 97), dps)  # noqa: E731
            within = lambda lo, hi: sp.Float(lo + (hi - lo) * sp.Rational(rng.randint(0, 96), 97), dps)  # noqa: E731
        else:
            gen = np.random.default_rng([seed, index])
            labels = [int(gen.integers(K)) for _ in range(tau)]
            draw = lambda: sp.Float(float(gen.uniform(-1.0, 1.0)), dps)  # noqa: E731
            within = lambda lo, hi: sp.Float(float(gen.uniform(lo, hi)), dps)  # noqa: E731
        domains = getattr(model, "domains", None) or {}

        def matrix(sym, name=None):
            r, c = (int(s) for s in concrete(sym).shape)
            if name in domains:
                lo, hi = domains[name]
                hi = lo + 4 if hi is None else hi            # (low, None): as derive.proof draws it
                return ImmutableMatrix(r, c, [within(lo, hi) for _ in range(r * c)])
            return ImmutableMatrix(r, c, [draw() for _ in range(r * c)])

        const = {p.name: matrix(p, p.name) for p in model.params}
        for prev, _, _, init in D.states:
            const[init] = matrix(prev)
        xs = [{x.name: matrix(x) for x in model.inputs} for _ in range(tau)]
        for name, text in given:
            value = self._given(name, text)
            if name in const:
                const[name] = value
            else:
                for s in xs:
                    s[name] = value
        ev = lambda e, env: _value(e, env, dps)  # noqa: E731
        self._ev = ev

        self.param_sym = {p.name: concrete(p) for p in model.params}
        self.input_sym = {x.name: concrete(x) for x in model.inputs}
        self.prev_sym = {new: concrete(prev) for prev, new, _, _ in D.states}
        self.init_name = {new: init for _, new, _, init in D.states}
        self.state_names = tuple(new for _, new, _, _ in D.states)
        aliases = [(k, concrete(build(model))) for k, build in _ALIASES.get(model_name, {}).items()]
        self.eqs = [(eq.lhs.name, concrete(eq.lhs), concrete(eq.rhs)) for eq in model.equations]
        self.eqs += [(k, MatrixSymbol(k, *e.shape), e) for k, e in aliases]
        self.eq_index = {name: i for i, (name, _, _) in enumerate(self.eqs)}
        self.shapes = {name: tuple(int(s) for s in lhs.shape) for name, lhs, _ in self.eqs}

        forward = [(concrete(a.lhs), concrete(a.rhs)) for a in D.forward]
        base = {concrete(p): const[p.name] for p in model.params}
        state = {concrete(prev): const[init] for prev, _, _, init in D.states}
        envs, steps = [], [None]
        for t in range(tau):
            env = {**base, **state, concrete(model.label): _one_hot(labels[t], K)}
            env.update({concrete(x): xs[t][x.name] for x in model.inputs})
            for lhs, rhs in forward:
                env[lhs] = ev(rhs, env)
            for name, lhs, e in self.eqs[len(model.equations):]:
                env[lhs] = ev(e, env)
            envs.append(env)
            state = {concrete(prev): env[concrete(MatrixSymbol(new, *prev.shape))]
                     for prev, new, _, _ in D.states}
            values = {x.name: xs[t][x.name] for x in model.inputs}
            values[model.label.name] = env[concrete(model.label)]
            values.update({name: env[lhs] for name, lhs, _ in self.eqs})
            steps.append(values)
        self.envs, self.const, self.steps = envs, const, steps
        self._backward_eqs = [(a, concrete(a.lhs), concrete(a.rhs)) for a in D.backward]
        self._carries = [(concrete(c.lhs), concrete(c.rhs)) for c in D.carries]
        totals, grads = self._backward(None)
        const.update(totals)
        for t in range(1, tau + 1):
            steps[t].update(grads[t])
        self._loss_grads = {None: (const, steps)}
        self._jac, self._partials, self._runs = {}, {}, {}

    def _given(self, name, text):
        v = vocabulary(self.model.name)
        shape = v.const.get(name) or v.step.get(name)
        r, c = (int(self.concrete(s)) if not isinstance(s, int) else s for s in shape)
        tree = ast.parse(text, mode="eval").body

        def fail(node, message):
            raise ClaimSyntaxError(f"given {name!r}: {message}")
        return _draw_value(tree, (r, c), sizes=self.sizes, rng=None, fail=fail, exact=True)

    # gradients ---------------------------------------------------------------------------------
    def _backward(self, mask):
        """The derivation run backwards over time; ``mask`` = t keeps only the loss of step t
        (the adjoints of the output head, phase "post", are zero at every other step)."""
        D, concrete, ev, tau = self.D, self.concrete, self._ev, self.tau
        adjoint_of = {naming.adjoint(eq.lhs.name): eq.lhs.name for eq in self.model.equations}
        grads = [(g, concrete(g.rhs)) for g in D.gradients if g.kind != "initial"]
        carry = {concrete(c): ImmutableMatrix(sp.zeros(*concrete(c).shape)) for _, _, c, _ in D.states}
        totals, per_step = {}, [None] + [{} for _ in range(tau)]
        for t in reversed(range(tau)):
            env = {**self.envs[t], **carry}
            for a, lhs, rhs in self._backward_eqs:
                if mask is not None and a.phase == "post" and t + 1 != mask:
                    env[lhs] = ImmutableMatrix(sp.zeros(*lhs.shape))
                else:
                    env[lhs] = ev(rhs, env)
                if lhs.name in adjoint_of:
                    per_step[t + 1]["grad_" + adjoint_of[lhs.name]] = env[lhs]
            for g, rhs in grads:
                value = ev(rhs, env)
                if g.kind == "input":
                    per_step[t + 1]["grad_" + g.wrt.name] = value
                else:
                    name = "grad_" + g.wrt.name
                    totals[name] = value if name not in totals else (totals[name] + value).evalf(self.dps)
            carry = {lhs: ev(rhs, env) for lhs, rhs in self._carries}
        for g in D.gradients:
            if g.kind == "initial":
                totals["grad_" + g.wrt.name] = carry[concrete(g.rhs)]
        return totals, per_step

    def loss_grads(self, t):
        """(constant gradients, per-step gradients) of the loss of step ``t`` (None: of the sum)."""
        if t not in self._loss_grads:
            totals, per_step = self._backward(t)
            self._loss_grads[t] = (totals, per_step)
        return self._loss_grads[t]

    # Jacobians ---------------------------------------------------------------------------------
    def _cut(self, cut):
        """(symbol matrix, its true value) of the variable a Jacobian differentiates by."""
        kind, name, j = cut
        if kind == "param":
            true = self.const[name]
        elif kind == "input":
            true = self.steps[j][name]
        else:
            true = self.const[self.init_name[name]] if j == 0 else self.steps[j][name]
        return _symbol_matrix(f"_d{name}", *true.shape), true

    def jac(self, A, i, B, j):
        """dA(i)/dB(j) for a state or an input B (j = 0: the initial state)."""
        return self.jacobian(A, i, ("input" if B in self.input_sym else "node", B, j))

    def jac_param(self, A, i, P, partial):
        """dA(i)/d vec(P): through every step (total), or through step i alone (partial)."""
        return self.jacobian(A, i, ("param", P, i if partial else None))

    def jacobian(self, A, i, cut):
        """dA(i)/d(cut) in numerator layout: rows follow A, columns the cut variable (vec of a
        parameter).  At the exact test's points ("rational") it is the derivative of the unrolled
        composite, independent of the chain rule: the complex step at ``dps`` digits, or SymPy's
        derivative of the composite where the model is not analytic (ReLU).  At the float64
        test's point (a reference for float64 arithmetic) it is carried forward step by step,
        SymPy differentiating each equation (forward mode: the chain rule)."""
        key = (A, i, cut)
        if key not in self._jac:
            self._jac[key] = self._jacobian(A, i, cut)
        return self._jac[key]

    def _jacobian(self, A, i, cut):
        kind, name, j = cut
        syms, true = self._cut(cut)
        rows = self.shapes[A][0] if A in self.shapes else self.const[self.init_name[A]].shape[0]
        cols = len(syms)
        zero = ImmutableMatrix(sp.zeros(rows, cols))
        if i == 0:          # A[0] is an initial state
            same = kind == "node" and name == A and j == 0
            return ImmutableMatrix(sp.eye(rows)) if same else zero
        start = {"node": max(j or 0, 1), "input": j, "param": 1 if j is None else j}[kind]
        if i < start or (kind == "node" and j == i and self.eq_index[A] < self.eq_index[name]):
            return zero
        if kind == "node" and j == i and A == name:
            return ImmutableMatrix(sp.eye(rows))
        if self.kind == "rational":
            try:
                return self._complex_step(A, i, cut, start, true)
            except (TypeError, ValueError):     # not analytic (max(0, z) of a complex number)
                return self._composite(A, i, cut, start, syms, true)
        return self._forward_mode(A, i, cut, start, cols)

    def _run(self, key, cut, start, upto, value, evaluate):
        """The model's equations recomputed from the cut onwards with the cut variable set to
        ``value`` (everything before the cut at its true value), steps ``start..upto``; the
        values of every step are cached under ``key``."""
        kind, name, j = cut
        done = self._runs.setdefault(key, [])
        for s in range(start + len(done), upto + 1):
            previous = done[-1] if done else None
            env = dict(self.envs[s - 1])
            if previous is not None:
                env.update({self.prev_sym[st]: previous[st] for st in self.state_names})
            elif kind == "node" and j == 0:
                env[self.prev_sym[name]] = value
            if kind == "param" and (j is None or s == j):
                env[self.param_sym[name]] = value
            if kind == "input" and s == j:
                env[self.input_sym[name]] = value
            cut_at = self.eq_index[name] if (kind == "node" and j == s) else None
            values = {}
            for idx, (nm, lhs, rhs) in enumerate(self.eqs):
                if cut_at is not None and idx < cut_at:
                    result = self.steps[s][nm]
                elif cut_at is not None and idx == cut_at:
                    result = value
                else:
                    result = evaluate(rhs, env)
                env[lhs] = result
                values[nm] = result
            done.append(values)
        return done

    @staticmethod
    def _symbolic(rhs, env):
        value = rhs.xreplace(env).doit()
        return ImmutableMatrix(value if isinstance(value, sp.MatrixBase) else value.as_explicit())

    def _composite(self, A, i, cut, start, syms, true):
        """SymPy's derivative of the unrolled composite (exact; slow for deep compositions)."""
        expr = self._run(("symbolic", cut), cut, start, i, syms, self._symbolic)[i - start][A]
        J = ImmutableMatrix(expr).jacobian(_flat(syms))
        return ImmutableMatrix(J.xreplace(dict(zip(_flat(syms), _flat(true))))).evalf(self.dps)

    def _complex_step(self, A, i, cut, start, true):
        """The complex-step derivative of the unrolled composite, one column per entry of the
        cut variable: Im(A(i)(v + i h e_l)) / h with h = 10^(-dps/2), exact to ~dps digits for
        analytic models (no subtraction, so no cancellation)."""
        h = sp.Float(10, self.dps) ** (-(self.dps // 2))
        flat = _flat(true)
        r, c = true.shape
        columns = []
        for l in range(len(flat)):
            moved = [e + (sp.I * h if q == l else 0) for q, e in enumerate(flat)]
            value = ImmutableMatrix(r, c, lambda p, q, m=moved: m[q * r + p])
            run = self._run(("complex", cut, l), cut, start, i, value, lambda e, env: _value(e, env, self.dps))
            columns.append([(sp.im(v) / h).evalf(self.dps) for v in run[i - start][A]])
        return ImmutableMatrix(columns).T

    def _partial(self, s, idx, rhs, dep, env):
        """d rhs / d vec(dep) at the true values of ``env`` (equation ``idx`` of step ``s``)."""
        key = (s, idx, dep.name)
        if key not in self._partials:
            self._partials[key] = self._differentiate(rhs, dep, env)
        return self._partials[key]

    def _differentiate(self, rhs, dep, env):
        r, c = (int(s) for s in dep.shape)
        syms = _symbol_matrix("_p", r, c)
        e = _value(rhs, {**env, dep: syms}, self.dps)
        J = ImmutableMatrix(e).jacobian(_flat(syms))
        return ImmutableMatrix(J.xreplace(dict(zip(_flat(syms), _flat(env[dep]))))).evalf(self.dps)

    def _forward_mode(self, A, i, cut, start, cols):
        kind, name, j = cut
        eye = ImmutableMatrix(sp.eye(cols))
        carried = {name: eye} if kind == "node" and j == 0 else {}
        for s in range(start, i + 1):
            env = self.envs[s - 1]
            tangents = {self.prev_sym[st]: T for st, T in carried.items()}
            if kind == "param" and (j is None or s == j):
                tangents[self.param_sym[name]] = eye
            if kind == "input" and s == j:
                tangents[self.input_sym[name]] = eye
            cut_at = self.eq_index[name] if (kind == "node" and j == s) else None
            for idx, (nm, lhs, rhs) in enumerate(self.eqs):
                if cut_at is not None and idx <= cut_at:
                    if idx == cut_at:
                        tangents[lhs] = eye
                    continue
                total = None
                for dep in sorted(rhs.atoms(MatrixSymbol), key=str):
                    if dep in tangents:
                        term = self._partial(s, idx, rhs, dep, env) * tangents[dep]
                        total = term if total is None else total + term
                if total is not None:
                    tangents[lhs] = ImmutableMatrix(total).evalf(self.dps)
            carried = {st: tangents[lhs] for st in self.state_names
                       for nm, lhs, _ in self.eqs if nm == st and lhs in tangents}
        lhs = self.eqs[self.eq_index[A]][1]
        if lhs in tangents:
            return tangents[lhs]
        return ImmutableMatrix(sp.zeros(self.shapes[A][0], cols))


@functools.lru_cache(maxsize=64)
def _trajectory(model_name: str, sizes: tuple, tau: int, kind: str, seed: int, index: int,
                dps: int, given: tuple = ()) -> _Trajectory:
    """The true values of one random point (cached: claims share their points)."""
    return _Trajectory(model_name, sizes, tau, kind, seed, index, dps, given)


# -- numeric runs (sample claims) ----------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _numeric_forward_names(model_name: str) -> tuple:
    return forward_names(derivation(model_name).model)


class _Numeric:
    """One draw of a model's weights, inputs and initial states, run forward in float64 by the
    spec interpreter; Jacobians by the complex step through the same interpreter."""

    def __init__(self, model_name: str, sizes: dict, tau: int, draws: tuple, rng):
        self._forward = forward
        symbolic = derivation(model_name).model
        self.spec = spec = REGISTRY[model_name](*(sizes[str(s)] for s in symbolic.sizes))
        self.sizes, self.tau = dict(sizes), tau
        drawn = {k: ast.parse(v, mode="eval").body for k, v in draws}

        def fail(node, message):
            raise ClaimSyntaxError(f"draw: {message}")

        def value(name, shape, default):
            node = drawn.get(name)
            if node is None:
                node = ast.parse(default, mode="eval").body
            return _draw_value(node, shape, sizes=self.sizes, rng=rng, fail=fail, exact=False)

        self.params = {}
        for p, sym in zip(spec.params, symbolic.params):
            shape = tuple(int(s) for s in p.shape)
            if p.name in drawn:
                self.params[p.name] = value(p.name, shape, "")
            else:       # the model's own initialiser, as the generated init_params draws it
                dims = tuple(str(d) for d in sym.shape if d != 1)
                scheme = {p.name: spec.init.get(p.name, "glorot")}
                drawn_default = init_params({p.name: dims}, scheme, self.sizes, seed=int(rng.integers(2 ** 31)),
                                            dtype=np.float64)[p.name]
                self.params[p.name] = drawn_default.reshape(shape)
        self.states = tuple(new for new in spec.state.values())
        self.prev_shape = {new: tuple(int(s) for s in prev.shape) for prev, new in spec.state.items()}
        self.init_name = {new: naming.initial(new) for new in self.states}
        self.init = {self.init_name[st]: value(self.init_name[st], self.prev_shape[st], "zeros()")
                     for st in self.states}
        (x,) = spec.inputs
        self.x_name, m = x.name, int(x.shape[0])
        self.x = np.stack([value(x.name, (m, 1), "normal(0, 1)")[:, 0] for _ in range(tau)])[:, None, :]
        out = forward(spec, self.params, self.x, {k: v.T for k, v in self.init.items()})
        self.steps = [None] + [{**{k: v[t, 0][:, None] for k, v in out.items()}, x.name: self.x[t, 0][:, None]}
                               for t in range(tau)]
        self.const = {**self.params, **self.init}

    def _state(self, st, j):
        return self.init[self.init_name[st]] if j == 0 else self.steps[j][st]

    def jac(self, A, i, B, j):
        if B == self.x_name:
            n_b, first = self.x.shape[2], j - 1
        else:
            n_b, first = self.prev_shape[B][0], j
        if i < j:
            return np.zeros((self.steps[1][A].shape[0], n_b))
        if i == j and B != self.x_name:
            if A != B:
                raise _Mismatch(f"jac({A}[t], {B}[t]) within one step is not available in sample claims")
            return np.eye(n_b)
        eps = COMPLEX_STEP
        init = {self.init_name[st]: np.repeat(self._state(st, first).T, n_b, axis=0).astype(complex)
                for st in self.states}
        x = np.repeat(self.x[first:i], n_b, axis=1).astype(complex)
        if B == self.x_name:
            x[0] += 1j * eps * np.eye(n_b)
        else:
            init[self.init_name[B]] += 1j * eps * np.eye(n_b)
        out = self._forward(self.spec, self.params, x, init)
        return out[A][i - first - 1].imag.T / eps


# -- checking --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Outcome:
    verdict: str
    evidence: str
    rel: float
    cases: int


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
    where: tuple = None      # (env, side, (i, j), left, right, rel, point)


def _compare(sides, env, point, worst: _Worst, tolerance: float, first_failure: list):
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
                    local = (env, k, (i, j), l_, r_, rel, point)
        if local is not None and local[5] > tolerance and not first_failure:
            first_failure.append(local)


def _side_text(part: Part, k: int) -> str:
    cmp = part.tree.body
    node = (cmp.left, *cmp.comparators)[k]
    return ast.get_source_segment(part.formula.text, node)


def _sizes_text(model_name: str, sizes) -> str:
    names = list(vocabulary(model_name).sizes)
    return "(" + ", ".join(f"{n}={s}" for n, s in zip(names, sizes)) + ")"


def _plural(k: int, word: str) -> str:
    return f"{k} {word}" + ("" if k == 1 else "s")


def _env_text(env) -> str:
    return "".join(f"{v}={x}, " for v, x in sorted((env or {}).items()))


def _counterexample(part: Part, where, test: str) -> str:
    env, k, (i, j), l_, r_, rel, point = where
    return (f"{test}, {point}: {_env_text(env)}entry [{i},{j}]: claim {_side_text(part, k)} = {float(r_):.10g} "
            f"vs derived {_side_text(part, 0)} = {float(l_):.10g} (rel diff {rel:.2g})")


def _check_identity(claim, part, *, sizes, tau, seed, digits, points, float_sizes, float_tau) -> _Outcome:
    dps = digits + 10
    exact_tol = 10.0 ** (-(digits - 10))
    exact, failure = _Worst(), []
    for p in range(points):
        traj = _trajectory(part.model, tuple(sizes), tau, "rational", seed, p, dps, part.given)
        walker = _Walker(claim, part, _SymPy(traj, dps), tau)
        walker.point = f"point {p + 1} of {points}"
        for env in part.assignments(tau):
            _compare(walker.statement(env), env, walker.point, exact, exact_tol, failure)
        if failure:
            break
    small = f"{_sizes_text(part.model, sizes)} tau {tau}"
    if failure:
        text = _counterexample(part, failure[0], f"identity test at {small}, {digits} digits")
        return _Outcome("fails", "counterexample: " + text, failure[0][5], exact.cases)

    fl, f_failure = _Worst(), []
    traj = _trajectory(part.model, tuple(float_sizes), float_tau, "float", seed, 0, REFERENCE_DPS, part.given)
    walker = _Walker(claim, part, _NumPy(traj), float_tau)
    walker.point = "float64 point"
    for env in part.assignments(float_tau):
        _compare(walker.statement(env), env, walker.point, fl, FLOAT_TOLERANCE, f_failure)
    large = f"{_sizes_text(part.model, float_sizes)} tau {float_tau}"
    cases = exact.cases + fl.cases
    rel = max(exact.rel, fl.rel)
    if exact.cases == 0 or fl.cases == 0:
        return _Outcome("undecided", f"no comparison: the statement's range of t is empty at tau "
                                     f"{tau} or {float_tau}", rel, cases)
    if f_failure:
        text = _counterexample(part, f_failure[0], f"float64 at {large}")
        if f_failure[0][5] > FAIL_GAP:
            return _Outcome("fails", "counterexample: " + text + f"; the identity test at {small} did not see it",
                            rel, cases)
        return _Outcome("undecided", f"identity at {points} random points holds ({digits} digits) "
                                     f"but float64 differs beyond 50 eps (1 + |value|): {text}", rel, cases)
    evidence = (f"identity at {points} random points, {small}, {digits} digits: max rel diff "
                f"{exact.rel:.1e} ({_plural(exact.cases, 'comparison')}); float64 at {large}: "
                f"max rel diff {fl.rel:.1e} ({_plural(fl.cases, 'comparison')}, tolerance "
                f"50 eps (1 + |value|))")
    return _Outcome("holds", evidence, rel, cases)


def _stats(text, values) -> str:
    a = np.asarray(values, dtype=np.float64)
    if a.size and np.ptp(a) == 0:
        return text if text == f"{a[0]:g}" else f"{text} = {a[0]:.6g}"
    return f"{text} from {a.min():.4g} to {a.max():.4g} (mean {a.mean():.4g})"


def _check_sample(claim, part, *, seed, trials) -> _Outcome:
    trials = trials or claim.trials
    sizes = dict(claim.sizes)
    tau = claim.tau
    cmp = part.tree.body
    op = _COMPARE[type(cmp.ops[0])]
    lhs_text, rhs_text = _side_text(part, 0), _side_text(part, 1)
    lefts, rights, ratios, cases, violations, first = [], [], [], 0, 0, None
    for trial in range(trials):
        rng = np.random.default_rng([seed, zlib.crc32(claim.id.encode()), part.index, trial])
        run = _Numeric(part.model, sizes, tau, part.draw, rng)
        walker = _Walker(claim, part, _NumPy(run), tau)
        for env in part.assignments(tau):
            left, right = (float(v) for v in walker.statement(env))
            cases += 1
            lefts.append(left)
            rights.append(right)
            if op in ("<", "<=") and right > 0:
                ratios.append(left / right)
            if op in (">", ">=") and left > 0:
                ratios.append(right / left)
            slack = SAMPLE_SLACK * (abs(left) + abs(right))
            if not (_COMPARE_FN[op](left, right) or abs(left - right) <= slack):
                violations += 1
                if first is None:
                    first = (trial, env, left, right)
    draws = "; ".join(f"{k} = {v}" for k, v in part.draw) or "the model's initialisation"
    setting = (f"{trials} draws ({draws}), {part.model} {_sizes_text(part.model, [sizes[n] for n in sizes])} "
               f"tau {tau}")
    text = f"{_plural(cases, 'case')} from {setting}: {_stats(lhs_text, lefts)} against {_stats(rhs_text, rights)}"
    if ratios and any(rights) and any(lefts):
        text += f"; largest ratio {'lhs/rhs' if op in ('<', '<=') else 'rhs/lhs'} {max(ratios):.4g}"
    if violations:
        trial, env, left, right = first
        right_text = rhs_text if rhs_text == f"{right:g}" else f"{rhs_text} = {right:.6g}"
        text += (f"; violated in {violations} of {cases} cases (first: draw {trial + 1}, {_env_text(env)}"
                 f"{lhs_text} = {left:.6g}, not {op} {right_text})")
        return _Outcome("fails", "measured: " + text, 0.0, cases)
    return _Outcome("holds", "measured: " + text + "; no violation", 0.0, cases)


def _aggregate(verdicts) -> str:
    if any(v == "undecided" for v in verdicts):
        return "undecided"
    if all(v == "holds" for v in verdicts):
        return "holds"
    if all(v == "fails" for v in verdicts):
        return "fails"
    return "partial"


def check(claim: Claim, *, sizes=(2, 3, 2), tau=3, seed=0, digits=60, points=3,
          float_sizes=(5, 4, 3), float_tau=6, trials=None) -> ClaimResult:
    """Decide ``claim``: each part by its kind's procedure, then the verdict over the parts."""
    start = time.perf_counter()

    def result(verdict, evidence, rel, cases, parts=(), status=None):
        if status is None:
            status = "pass" if verdict == claim.expect else "fail"
        return ClaimResult(claim.id, claim.model, claim.source, claim.statement, verdict, evidence,
                           claim.expect, status, rel, cases, time.perf_counter() - start, claim.kind, parts)

    try:
        outcomes = []
        for part in claim.parts:
            if claim.kind == "identity":
                o = _check_identity(claim, part, sizes=sizes, tau=tau, seed=seed, digits=digits, points=points,
                                    float_sizes=float_sizes, float_tau=float_tau)
            elif claim.kind == "sample":
                o = _check_sample(claim, part, seed=seed, trials=trials)
            else:
                o = _check_scalar(claim, part)
            outcomes.append(o)
        counted = [(p, o) for p, o in zip(claim.parts, outcomes) if not p.aside]
        asides = [(p, o) for p, o in zip(claim.parts, outcomes) if p.aside]
        verdict = _aggregate([o.verdict for _, o in counted])
        if len(counted) == 1 and not counted[0][0].reading:
            evidence = counted[0][1].evidence
        else:
            evidence = "; ".join(f"[{p.reading}] {o.verdict}: {o.evidence}" for p, o in counted)
        evidence += "".join(f"; aside [{p.reading}] {o.verdict}: {o.evidence}" for p, o in asides)
        parts = tuple({"reading": p.reading, "aside": p.aside, "model": p.model, "statement": p.statement,
                       "verdict": o.verdict, "evidence": o.evidence, "cases": o.cases}
                      for p, o in zip(claim.parts, outcomes))
        rel = max((o.rel for _, o in counted), default=0.0)
        cases = sum(o.cases for o in outcomes)
        return result(verdict, evidence, rel, cases, parts)
    except Exception as e:  # a claim that cannot be checked is reported, not raised
        return result("undecided", f"{type(e).__name__}: {e}", float("nan"), 0, status="error")
