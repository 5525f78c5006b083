"""Backends of the walker: what a value is and what the operations do.

* :class:`Shapes`: values are symbolic shapes ((rows, cols), or None for a scalar):
  the static check of a claim when it is loaded;
* :class:`SymPyValues`: explicit SymPy matrices at a multi-precision point (the
  identity test);
* :class:`NumPyValues`: float64 arrays (the float64 test of identity claims, and the
  sample claims).

A backend's complaint (shapes that do not fit, a quantity a kind of claim cannot see)
is a :class:`Mismatch`; the walker adds the location.
"""
from __future__ import annotations

import operator

import mpmath
import numpy as np
import sympy as sp
from sympy import ImmutableMatrix

from derive.errors import ClaimSyntaxError

from verifier.claims.vocabulary import Vocabulary, function, numeric_function

__all__ = ["Mismatch", "Shapes", "SymPyValues", "NumPyValues", "COMPARE_FN", "shape_text"]

COMPARE_FN = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq}


class Mismatch(ClaimSyntaxError):
    """A backend's complaint (shapes, an unavailable quantity); the walker adds the location."""


def shape_text(s) -> str:
    return "scalar" if s is None else f"({s[0]}, {s[1]})"


class Shapes:
    """Values are symbolic shapes ((rows, cols), or None for a scalar): the static check.

    ``available`` (sample claims) limits the per-step names to those the numeric forward
    pass returns."""

    def __init__(self, vocab: Vocabulary, *, available=None, calculus=True):
        self.vocab, self.available, self.calculus = vocab, available, calculus

    def _avail(self, name):
        if self.available is not None and name not in self.available:
            raise Mismatch(f"{name!r} is not available in sample claims; they see "
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
            raise Mismatch(f"{what} of shapes {shape_text(a)} and {shape_text(b)}")
        return a

    def add(self, a, b):
        return self._same(a, b, "sum")

    def sub(self, a, b):
        return self._same(a, b, "difference")

    def mul(self, a, b):
        return self._same(a, b, "elementwise product")

    def matmul(self, a, b):
        if a is None or b is None:
            raise Mismatch("@ needs two matrices; use * for a scalar factor")
        if a[1] != b[0]:
            raise Mismatch(f"matrix product of shapes {shape_text(a)} and {shape_text(b)}")
        return (a[0], b[1])

    def pow(self, a, k):
        return a

    def neg(self, a):
        return a

    def transpose(self, a):
        if a is None:
            raise Mismatch(".T of a scalar")
        return (a[1], a[0])

    def _column(self, a, fn):
        if a is None or a[1] != 1:
            raise Mismatch(f"{fn}(...) takes a column vector, got {shape_text(a)}")
        return a

    def _matrix(self, a, fn, square=False):
        if a is None:
            raise Mismatch(f"{fn}(...) takes a matrix, got a scalar")
        if square and a[0] != a[1]:
            raise Mismatch(f"{fn}(...) takes a square matrix, got {shape_text(a)}")
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
            raise Mismatch("max_t(...) takes a scalar, got " + shape_text(next(v for v in values if v)))
        return None

    def frac(self, op, a, b):
        self._same(a, b, "comparison")
        return None

    def _need_calculus(self, fn):
        if not self.calculus:
            raise Mismatch(f"{fn}(...) is not available in sample claims (they measure forward "
                            "values and Jacobians of states with respect to states and inputs)")

    def jac(self, A, i, B, j):
        self._avail(A)
        if self.available is not None and B not in (*self.vocab.states, *self.vocab.inputs):
            raise Mismatch(f"jac(..., {B}[j]): sample claims differentiate with respect to states and inputs")
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


class SymPyValues:
    """Values are explicit SymPy matrices of Floats (or SymPy scalars), from an identity :class:`~verifier.claims.identity.Trajectory`."""

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
        f = function(fn)
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
        return sp.Rational(sum(bool(COMPARE_FN[op](x, y)) for x, y in pairs), len(pairs))

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


class NumPyValues:
    """Values are float64 arrays (columns are (r, 1)) or Python numbers.  ``source`` gives the
    leaves: a :class:`~verifier.claims.identity.Trajectory` (values converted from its reference
    precision) or a :class:`~verifier.claims.sample.Trial` (sample claims)."""

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
        return numeric_function(fn)(a)

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
        return float(np.mean(COMPARE_FN[op](np.asarray(a), np.asarray(b))))

    def jac(self, A, i, B, j):
        return self._array(("jac", A, i, B, j), lambda: self.source.jac(A, i, B, j))

    def jac_param(self, A, i, P, partial):
        return self._array(("jacp", A, i, P, partial), lambda: self.source.jac_param(A, i, P, partial))

    def grad(self, t, X, k):
        def build():
            const, steps = self.source.loss_grads(t)
            return const["grad_" + X] if k is None else steps[k]["grad_" + X]
        return self._array(("grad", t, X, k), build)
