"""The one sup/inf engine: extrema of a function of one real variable, by SymPy.

Used for ``gamma = sup |phi'|`` of an activation (:mod:`derive.bounds`) and for
the scalar claims of the course notes (``sup(dsigmoid(z)) < sup(dtanh(z))``).

The function is rewritten as a ``Piecewise`` and split into the intervals (and
isolated points) of its pieces within the domain.  On each interval the
candidates are the values at the critical points inside it (``solveset`` of the
derivative, or, for functions rational in ``exp(z)`` such as tanh and sigmoid,
the positive real roots of a polynomial in ``u = exp(z)``), the values at its
closed ends and the limits at its open or infinite ends.  The supremum is the
largest candidate; it is *attained* when a candidate at a point (not a limit)
reaches it.  An isolated point of a piece (ReLU's derivative at 0, where
Heaviside takes the value 1/2 and ReLU has no derivative) can be left out.

Nothing here is typed in per function: every derivative is SymPy's.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import sympy as sp

from derive.errors import DerivationError

__all__ = ["Extremum", "supremum", "infimum", "sup_abs", "sign", "show"]

_DIGITS = 60      # sign decisions: SymPy numbers evaluated to this many digits
_ZERO = sp.Float("1e-50")


@dataclass(frozen=True)
class Extremum:
    """``sup`` (or ``inf``) of a function of one variable over a domain, and how it was found."""

    expr: sp.Expr                  # the function, of ``var``
    var: sp.Symbol
    domain: sp.Set
    kind: str                      # "sup" or "inf"
    value: sp.Expr                 # exact (sp.oo / -sp.oo when unbounded)
    attained: bool                 # reached at a point of the domain, not only approached
    where: sp.Expr                 # that point, or the end it is approached at
    candidates: tuple              # ((point, value, attained), ...): critical points, ends, limits
    excluded: tuple = ()           # isolated points left out, ((point, value), ...)

    @property
    def finite(self) -> bool:
        return bool(self.value.is_finite)

    def __str__(self) -> str:
        how = "attained at" if self.attained else "approached as"
        at = f"{self.var} = {show(self.where)}" if self.attained else f"{self.var} -> {show(self.where)}"
        cands = "; ".join(f"{self.var} {'=' if a else '->'} {show(p)}: {show(v)}" for p, v, a in self.candidates)
        skip = ("; left out " + ", ".join(f"{self.var} = {show(p)} (value {show(v)})" for p, v in self.excluded)
                if self.excluded else "")
        return f"{self.kind} {self.expr} = {show(self.value)}, {how} {at} (candidates {cands}{skip})"


def show(v) -> str:
    """An exact number as SymPy prints it when short, else 10 significant digits."""
    if v in (sp.oo, -sp.oo) or (isinstance(v, sp.Basic) and (v.is_Rational or v.is_Symbol)):
        return str(v)
    try:
        return f"{float(sp.N(v, 30)):.10g}"
    except TypeError:
        return str(v)


def sign(value) -> int:
    """The sign of an exact SymPy number: 0 when it vanishes to 50 digits."""
    if value in (sp.oo, -sp.oo):
        return 1 if value == sp.oo else -1
    v = sp.N(value, _DIGITS)
    if v == 0 or abs(v) < _ZERO:
        return 0
    return 1 if v > 0 else -1


def _key(v):
    """Sort key of a candidate value (infinities at the ends)."""
    if v == sp.oo:
        return sp.Float("1e300")
    if v == -sp.oo:
        return sp.Float("-1e300")
    return sp.N(v, _DIGITS)


def _components(region) -> list:
    if region is sp.S.EmptySet:
        return []
    if isinstance(region, sp.Union):
        return [c for a in region.args for c in _components(a)]
    if isinstance(region, sp.FiniteSet):
        return [sp.FiniteSet(p) for p in region]
    if isinstance(region, sp.Interval):
        return [region]
    raise DerivationError(f"cannot split the domain {region} into intervals and points")


def _critical_points(f, z, a, b) -> list:
    """Zeros of f' strictly between a and b: by solveset, else as the positive real roots of a
    polynomial in u = exp(z) (tanh, sigmoid and exp are rational in exp(z))."""
    fp = sp.diff(f, z)
    if sp.simplify(fp) == 0:
        return []
    found = sp.solveset(fp, z, sp.Interval.open(a, b))
    if isinstance(found, sp.FiniteSet):
        return sorted(found, key=sp.default_sort_key)
    u = sp.Dummy("u", positive=True)
    g = sp.together(sp.expand(fp.rewrite(sp.exp).subs(z, sp.log(u))))
    num = sp.expand(sp.fraction(g)[0])
    if not num.is_polynomial(u) or num.free_symbols - {u}:
        raise DerivationError(f"no closed form for the critical points of {f} on ({a}, {b})")
    points = []
    for r in sp.Poly(num, u).real_roots():
        if sp.N(r) > 0:
            p = sp.log(r)
            if (a == -sp.oo or sp.N(p) > sp.N(a)) and (b == sp.oo or sp.N(p) < sp.N(b)):
                points.append(p)
    return points


def _candidates(f, z, component) -> list:
    """(point, value, attained) for the supremum of f over one interval or one point."""
    if isinstance(component, sp.FiniteSet):
        (p,) = component
        return [(p, sp.simplify(f.subs(z, p)), True)]
    a, b = component.start, component.end
    out = []
    for end, open_, side in ((a, component.left_open, "+"), (b, component.right_open, "-")):
        if end in (sp.oo, -sp.oo) or open_:
            out.append((end, sp.limit(f, z, end, side) if end.is_finite else sp.limit(f, z, end), False))
        else:
            out.append((end, sp.simplify(f.subs(z, end)), True))
    if z not in f.free_symbols:          # a constant: attained at every inner point
        inner = (a + b) / 2 if a.is_finite and b.is_finite else (
            b - 1 if b.is_finite else (a + 1 if a.is_finite else sp.Integer(0)))
        out.append((inner, f, True))
    else:
        out += [(p, sp.simplify(f.subs(z, p)), True) for p in _critical_points(f, z, a, b)]
    for p, v, _ in out:
        if not (v in (sp.oo, -sp.oo) or v.is_real):
            raise DerivationError(f"SymPy gives no real limit or value for {f} at {z} = {p} (got {v})")
    return out


@functools.lru_cache(maxsize=None)
def supremum(expr: sp.Expr, var: sp.Symbol, domain: sp.Set = sp.S.Reals, *,
             exclude_points: bool = False) -> Extremum:
    """``sup`` of ``expr`` (a function of ``var``) over ``domain``.

    With ``exclude_points``, isolated points where a piece of a piecewise function
    holds alone (a derivative's value at a kink) are left out and reported in
    :attr:`Extremum.excluded`."""
    e = sp.piecewise_fold(expr.rewrite(sp.Piecewise))
    pieces = e.args if isinstance(e, sp.Piecewise) else ((e, sp.true),)
    covered, candidates, excluded = sp.S.EmptySet, [], []
    for piece, cond in pieces:
        cset = sp.S.Reals if cond is sp.true else cond.as_set()
        region = sp.Complement(cset.intersect(domain), covered)
        covered = covered.union(cset)
        if not isinstance(region, (sp.Interval, sp.FiniteSet)):
            region = sp.simplify(region)
        for component in _components(region):
            if exclude_points and isinstance(component, sp.FiniteSet) and len(pieces) > 1:
                (p,) = component
                excluded.append((p, sp.simplify(piece.subs(var, p))))
                continue
            candidates += _candidates(piece, var, component)
    if not candidates:
        raise DerivationError(f"sup of {expr}: the domain {domain} is empty")
    best = max(candidates, key=lambda c: _key(c[1]))[1]
    if best in (sp.oo, -sp.oo):
        ties = [c for c in candidates if c[1] == best]
    else:
        ties = [c for c in candidates if c[1] not in (sp.oo, -sp.oo) and sign(c[1] - best) == 0]
    attained = [c for c in ties if c[2]]
    where = attained[0][0] if attained else ties[0][0]
    return Extremum(expr, var, domain, "sup", best, bool(attained), where, tuple(candidates), tuple(excluded))


def infimum(expr: sp.Expr, var: sp.Symbol, domain: sp.Set = sp.S.Reals, *,
            exclude_points: bool = False) -> Extremum:
    """``inf`` of ``expr`` over ``domain``: minus the supremum of ``-expr``."""
    s = supremum(-expr, var, domain, exclude_points=exclude_points)
    return Extremum(expr, var, domain, "inf", -s.value, s.attained, s.where,
                    tuple((p, -v, a) for p, v, a in s.candidates), tuple((p, -v) for p, v in s.excluded))


def _domain_of(v: sp.Symbol) -> sp.Set:
    if v.is_positive:
        return sp.Interval.open(0, sp.oo)
    if v.is_nonnegative:
        return sp.Interval(0, sp.oo)
    return sp.S.Reals


@functools.lru_cache(maxsize=None)
def sup_abs(f: sp.Lambda) -> Extremum:
    """``sup |f|`` of a one-variable ``Lambda`` over its variable's domain (the
    reals; (0, oo) for a positive variable): the larger of ``sup f`` and
    ``-inf f``.  Isolated points of a piecewise ``f`` (ReLU's derivative at 0)
    are left out and reported."""
    (v,) = f.variables
    x = sp.Dummy("x", real=True, positive=v.is_positive, nonnegative=v.is_nonnegative)
    expr = f.expr.xreplace({v: x})
    domain = _domain_of(v)
    top = supremum(expr, x, domain, exclude_points=True)
    low = infimum(expr, x, domain, exclude_points=True)
    chosen = top if _key(top.value) >= _key(-low.value) else low
    value = top.value if chosen is top else -low.value
    candidates = tuple(dict.fromkeys((p, sp.Abs(val), a) for p, val, a in (*top.candidates, *low.candidates)))
    shown = sp.Symbol("z")
    relabel = lambda p: p.xreplace({x: shown}) if isinstance(p, sp.Basic) else p  # noqa: E731
    return Extremum(f.expr.xreplace({v: shown}), shown, domain, "sup |.|", value, chosen.attained,
                    relabel(chosen.where), tuple((relabel(p), val, a) for p, val, a in candidates),
                    tuple(dict.fromkeys((relabel(p), sp.Abs(val)) for p, val in (*top.excluded, *low.excluded))))
