"""Scalar claims: statements about functions of one real variable ``z``, decided exactly by SymPy.

``dtanh(z) < 1`` (for every real ``z``, or those the ``for`` field allows, e.g. ``for =
"z > 0"``), ``sup(dsigmoid(z)) < sup(dtanh(z))``.  Expressions: integer literals and
ratios, ``+ - * / **``, ``tanh sigmoid relu exp log abs``, the derivatives ``dtanh
dsigmoid drelu`` (SymPy's, :func:`verifier.claims.vocabulary.function`), and ``sup(e)
inf(e)`` over the domain, ``max(e) min(e)`` (the same, but only when attained).
Suprema and infima come from the one sup/inf engine, :mod:`derive.extrema`; a strict
inequality whose supremum is attained fails at the point where it is attained.
"""
from __future__ import annotations

import operator

import sympy as sp

from derive.extrema import infimum, show, sign, supremum

from verifier.claims.backends import COMPARE_FN
from verifier.claims.claim import Claim, Part
from verifier.claims.nodes import Binary, Call, Compare, Name, Neg, Node, Number, integer, ratio, segment
from verifier.claims.source import Formula
from verifier.claims.verdicts import Outcome
from verifier.claims.vocabulary import ACTIVATION_FUNCTIONS, DERIVATIVES, function

__all__ = ["SCALAR_FUNCTIONS", "Z", "domain", "ScalarBuilder", "decide"]

SCALAR_FUNCTIONS = (*ACTIVATION_FUNCTIONS, *DERIVATIVES, "exp", "log", "abs", "sup", "inf", "max", "min")
Z = sp.Symbol("z", real=True)

_ARITHMETIC = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv, "**": operator.pow}
_KIND = {"Indexed": "a time index", "Transpose": ".T", "Binder": "a binder (sum, prod, max_t)",
         "Jacobian": "jac(...)", "Gradient": "grad(...)", "And": "'and'"}


def _bound(node: Node, formula: Formula):
    if integer(node) is not None:
        return sp.Integer(node.value)
    if ratio(node) is not None and ratio(node)[1] != 0:
        return sp.Rational(*ratio(node))
    if isinstance(node, Neg):
        return -_bound(node.operand, formula)
    raise formula.error(node, "a bound of z is an integer or a ratio of integer literals")


def domain(formula: Formula) -> sp.Set:
    """``for = "z > 0"`` (or a chain such as ``-1 <= z <= 1``) as an interval of the reals."""
    node = formula.tree
    if not isinstance(node, Compare):
        raise formula.error(node, "'for' of a scalar claim compares z with numbers, e.g. \"z > 0\"")
    out = sp.S.Reals
    for op, a, b in zip(node.ops, node.operands, node.operands[1:]):
        if op == "==":
            raise formula.error(b, "'for' compares with < <= > >=")
        a_z = isinstance(a, Name) and a.id == "z"
        b_z = isinstance(b, Name) and b.id == "z"
        if a_z == b_z:
            raise formula.error(a, "each comparison in 'for' has z on exactly one side")
        bound = _bound(b if a_z else a, formula)
        if not a_z:
            op = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}[op]
        piece = {"<": sp.Interval.open(-sp.oo, bound), "<=": sp.Interval(-sp.oo, bound),
                 ">": sp.Interval.open(bound, sp.oo), ">=": sp.Interval(bound, sp.oo)}[op]
        out = out.intersect(piece)
    return out


class ScalarBuilder:
    """Builds the SymPy expressions of a scalar statement from its nodes; records what the
    decision found (suprema, where they are attained) as facts for the evidence.  A
    ``max(...)`` or ``min(...)`` that is not attained is recorded in ``missing``: the
    statement is false as written."""

    def __init__(self, part: Part, *, static=False):
        self.part, self.static = part, static
        self.domain = sp.S.Reals if part.for_formula is None else domain(part.for_formula)
        self.facts = []
        self.missing = None         # (message, number of facts when it was found)

    def statement(self):
        f = self.part.formula
        lhs, rhs = f.tree.operands
        return self.build(lhs, f), f.tree.ops[0], self.build(rhs, f)

    def text(self, node) -> str:
        return segment(self.part.formula.text, node)

    def build(self, node: Node, f: Formula):
        if isinstance(node, Number):
            if integer(node) is not None:
                return sp.Integer(node.value)
            raise f.error(node, "only integer literals (and ratios such as 1/4) are numbers here")
        if isinstance(node, Name):
            if node.id == "z":
                return Z
            raise f.error(node, f"unknown name {node.id!r}: a scalar claim is about the real variable z")
        if isinstance(node, Neg):
            return -self.build(node.operand, f)
        if isinstance(node, Binary):
            if node.op == "@":
                raise f.error(node, "operator '@' is not in the scalar grammar (+ - * / **)", token="@")
            left, right = self.build(node.left, f), self.build(node.right, f)
            if node.op == "/" and right == 0:
                raise f.error(node, "division by zero")
            return _ARITHMETIC[node.op](left, right)
        if isinstance(node, Call):
            if node.func not in SCALAR_FUNCTIONS:
                raise f.error((node.span[0], node.span[0] + len(node.func)),
                              f"call of {node.func!r}: the scalar grammar calls only {', '.join(SCALAR_FUNCTIONS)}")
            if len(node.args) != 1:
                raise f.error(node, f"{node.func}(...) takes exactly one positional argument")
            arg = self.build(node.args[0], f)
            if node.func in ("sup", "inf", "max", "min"):
                return self.extremum(node, arg)
            if node.func == "exp":
                return sp.exp(arg)
            if node.func == "log":
                return sp.log(arg)
            return function(node.func)(arg)
        if isinstance(node, Compare):
            raise f.error(node, "a comparison may only be the whole statement")
        what = _KIND.get(type(node).__name__, type(node).__name__)
        raise f.error(node, f"{what} is not in the scalar grammar")

    def extremum(self, node: Call, arg):
        if self.static:
            return sp.Dummy(node.func)
        e = (supremum if node.func in ("sup", "max") else infimum)(arg, Z, self.domain)
        text = self.text(node.args[0])
        if e.attained:
            self.facts.append(f"{e.kind} of {text} over z = {show(e.value)}, attained at z = {show(e.where)}")
        else:
            self.facts.append(f"{e.kind} of {text} over z = {show(e.value)}, approached as z -> {show(e.where)}"
                              " and not attained")
            if node.func in ("max", "min") and self.missing is None:
                self.missing = (f"{node.func}({text}) does not exist: the {e.kind} {show(e.value)} is approached "
                                f"as z -> {show(e.where)} and not attained", len(self.facts))
        return e.value


def _domain_text(d) -> str:
    return "every real z" if d == sp.S.Reals else f"every z in {d}"


def _witness(d, op, where, region):
    """A point where ``d op 0`` is false, near ``where`` (a finite point or an infinite end)."""
    if where not in (sp.oo, -sp.oo):
        return where
    s = 1 if where == sp.oo else -1
    bad = {"<": lambda v: v >= 0, "<=": lambda v: v > 0, ">": lambda v: v <= 0, ">=": lambda v: v < 0}[op]
    for k in range(0, 12):
        z = s * sp.Integer(2) ** k
        if region.contains(z) == sp.true and bad(sp.N(d.subs(Z, z), 50)):
            return z
    return None


def _counterexample(z, lhs, rhs, lhs_text, rhs_text, op):
    if z is None:
        return "no finite witness found"
    lv, rv = lhs.subs(Z, z), rhs.subs(Z, z)
    right = rhs_text if Z not in rhs.free_symbols and rhs.is_Rational else f"{rhs_text} = {show(rv)}"
    return f"z = {show(z)}: {lhs_text} = {show(lv)}, not {op} {right}"


def _forall(d, op, region, lhs, rhs, lhs_text, rhs_text):
    """Decide ``lhs op rhs`` for every z of ``region`` (``d = lhs - rhs`` depends on z)."""
    where_text = _domain_text(region)
    if op == "==":
        hi, lo = supremum(d, Z, region), infimum(d, Z, region)
        if sign(hi.value) == 0 and sign(lo.value) == 0:
            return "holds", f"{lhs_text} - ({rhs_text}) has sup 0 and inf 0 over {where_text}: they are equal"
        at = hi.where if sign(hi.value) != 0 else lo.where
        z = _witness(d, "<=" if sign(hi.value) != 0 else ">=", at, region)
        return "fails", "counterexample: " + _counterexample(z, lhs, rhs, lhs_text, rhs_text, "==")
    e = (supremum if op in ("<", "<=") else infimum)(d, Z, region)
    s = sign(e.value)
    if op in ("<", "<="):
        holds = s < 0 or (s == 0 and (op == "<=" or not e.attained))
    else:
        holds = s > 0 or (s == 0 and (op == ">=" or not e.attained))
    how = f"attained at z = {show(e.where)}" if e.attained else f"not attained, as z -> {show(e.where)}"
    summary = f"for {where_text}, {e.kind} of {lhs_text} - ({rhs_text}) = {show(e.value)} ({how})"
    if holds:
        return "holds", summary + f", so {lhs_text} {op} {rhs_text}"
    z = _witness(d, op, e.where, region)
    return "fails", summary + "; counterexample: " + _counterexample(z, lhs, rhs, lhs_text, rhs_text, op)


def decide(claim: Claim, part: Part) -> Outcome:
    """Decide one scalar part exactly (see the module docstring)."""
    builder = ScalarBuilder(part)
    lhs_node, rhs_node = part.tree.operands
    lhs_text, rhs_text = builder.text(lhs_node), builder.text(rhs_node)
    lhs, op, rhs = builder.statement()
    if builder.missing is not None:
        message, known = builder.missing
        return Outcome("fails", "SymPy: " + "; ".join(builder.facts[:known]) + f"; so {message}", 0.0, 1)
    facts = "SymPy: " + "; ".join(builder.facts) + "; " if builder.facts else "SymPy: "
    d = lhs - rhs
    if Z in d.free_symbols:
        verdict, text = _forall(d, op, builder.domain, lhs, rhs, lhs_text, rhs_text)
        return Outcome(verdict, facts + text, 0.0, 1)
    if Z in lhs.free_symbols or Z in rhs.free_symbols:        # the same function of z on both sides
        holds = COMPARE_FN[op](0, 0) if d == 0 else COMPARE_FN[op](sign(d), 0)
        return Outcome("holds" if holds else "fails", facts + f"{lhs_text} - ({rhs_text}) simplifies to "
                       f"{show(d)} for {_domain_text(builder.domain)}", 0.0, 1)
    s = sign(d)
    holds = {"<": s < 0, "<=": s <= 0, ">": s > 0, ">=": s >= 0, "==": s == 0}[op]
    rel = "=" if s == 0 else ("<" if s < 0 else ">")
    shown = [t if t == show(v) else f"{t} = {show(v)}" for t, v in ((lhs_text, lhs), (rhs_text, rhs))]
    text = f"{shown[0]} {rel} {shown[1]}"
    return Outcome("holds" if holds else "fails", facts + text + ("" if holds else f", not {op}"), 0.0, 1)
