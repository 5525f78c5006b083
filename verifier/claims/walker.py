"""The meaning of an identity or sample formula: its nodes evaluated over a backend.

:class:`Walker` walks a part's statement (and the claim's definitions) for one value
of tau and one assignment of the free index variables.  It resolves names against
the model's :class:`~verifier.claims.vocabulary.Vocabulary`, time indices, binders,
``jac`` and ``grad``, and hands every value and operation to a backend
(:mod:`verifier.claims.backends`): symbolic shapes (the static check), SymPy matrices
at a multi-precision point, or float64 arrays.  Whatever the grammar parses but a
model's claim may not say is refused here with a located error.
"""
from __future__ import annotations

from dataclasses import dataclass

from verifier.claims.backends import Mismatch
from verifier.claims.nodes import (INDEX_VARS, And, Binary, Binder, Call, Compare, Gradient, Indexed, Jacobian,
                                   Name, Neg, Node, Number, Transpose, integer, mentions, ratio, segment,
                                   walk)
from verifier.claims.source import Formula
from verifier.claims.vocabulary import ARITY, ELEMENTWISE, FUNCTIONS, vocabulary

__all__ = ["Define", "Walker", "index_value", "is_index_expression", "condition_holds", "env_text"]


@dataclass(frozen=True)
class Define:
    """A helper quantity of a claim: ``H[t] = diag(1 - h[t]**2)`` or ``S = sum_t(h[t])``."""

    name: str
    per_step: bool
    formula: Formula
    order: int
    param: str = "t"        # the index variable of a per-step definition


def env_text(env) -> str:
    return "".join(f"{v} = {x}, " for v, x in sorted((env or {}).items()))


def index_value(node: Node, env: dict, tau: int, formula: Formula) -> int:
    """An index expression: integer arithmetic on index variables, ``tau`` and literals."""
    if integer(node) is not None:
        return node.value
    if isinstance(node, Name) and node.id == "tau":
        return tau
    if isinstance(node, Name) and node.id in INDEX_VARS:
        if env is None or node.id not in env:
            raise formula.error(node, f"'{node.id}' is not bound here: use it inside sum_t(...), in a "
                                      f"statement about every {node.id}, or as the parameter of a per-step "
                                      "definition")
        return env[node.id]
    if isinstance(node, Binary) and node.op in "+-":
        a = index_value(node.left, env, tau, formula)
        b = index_value(node.right, env, tau, formula)
        return a + b if node.op == "+" else a - b
    if isinstance(node, Neg):
        return -index_value(node.operand, env, tau, formula)
    raise formula.error(node, "a time index is built from t, k, i, j, tau, integer literals, + and -")


def is_index_expression(node: Node) -> bool:
    """Syntactically an index expression: t k i j tau, integer literals, + and -."""
    if isinstance(node, Number):
        return integer(node) is not None
    if isinstance(node, Name):
        return node.id in (*INDEX_VARS, "tau")
    if isinstance(node, Binary) and node.op in "+-":
        return is_index_expression(node.left) and is_index_expression(node.right)
    if isinstance(node, Neg):
        return is_index_expression(node.operand)
    return False


_COMPARE = {"<": int.__lt__, "<=": int.__le__, ">": int.__gt__, ">=": int.__ge__, "==": int.__eq__}


def condition_holds(formula: Formula, env: dict, tau: int, node: Node = None) -> bool:
    """A ``for`` condition (comparisons of index expressions, joined by ``and``) at ``env``."""
    node = formula.tree if node is None else node
    if isinstance(node, And):
        return all(condition_holds(formula, env, tau, n) for n in node.terms)
    values = [index_value(a, env, tau, formula) for a in node.operands]
    return all(_COMPARE[op](a, b) for op, a, b in zip(node.ops, values, values[1:]))


class Walker:
    """Evaluates a part's formulas for one ``tau`` with ``backend``; ``defines`` are the
    claim's definitions (name -> :class:`Define`)."""

    def __init__(self, model: str, statement: Formula, defines: dict, backend, tau: int):
        self.statement_formula, self.defines, self.backend, self.tau = statement, defines, backend, tau
        self.model = model
        self.vocab = vocabulary(model)
        self.memo = {}

    def index(self, node, formula, env):
        return index_value(node, env, self.tau, formula)

    def statement(self, env) -> list:
        """The values of the statement's sides for one assignment of the free indices."""
        f = self.statement_formula
        return [self.evaluate(side, f, env, None) for side in f.tree.operands]

    def _op(self, formula, node, fn, *args):
        try:
            return fn(*args)
        except Mismatch as e:
            where = self._operator_span(formula, node) if isinstance(node, Binary) else node
            raise formula.error(where, str(e)) from None

    @staticmethod
    def _operator_span(formula, node: Binary) -> tuple:
        """Where the operator of ``node`` stands (between its operands)."""
        start, end = node.left.span[1], node.right.span[0]
        for k in range(start, end):
            if not formula.text[k].isspace() and formula.text[k] != ")":
                return (k, k + len(node.op))
        return node.span

    # -- nodes -----------------------------------------------------------------------------
    def evaluate(self, node, formula: Formula, env, scope):
        """Value of ``node``; ``scope`` is the definition being evaluated (None: the statement)."""
        b = self.backend
        if isinstance(node, Binary):
            return self.binary(node, formula, env, scope)
        if isinstance(node, Neg):
            return self._op(formula, node, b.neg, self.evaluate(node.operand, formula, env, scope))
        if isinstance(node, Number):
            if integer(node) is not None:
                return b.scalar(node.value)
            raise formula.error(node, "a float literal is not in the claims grammar (integer literals only)")
        if isinstance(node, Name):
            return self.name(node, formula, env, scope)
        if isinstance(node, Indexed):
            return self.subscript(node, formula, env, scope)
        if isinstance(node, Transpose):
            return self._op(formula, node, b.transpose, self.evaluate(node.operand, formula, env, scope))
        if isinstance(node, Call):
            return self.call(node, formula, env, scope)
        if isinstance(node, Binder):
            return self.binder(node, formula, env, scope)
        if isinstance(node, Jacobian):
            return self.jacobian(node, formula, env)
        if isinstance(node, Gradient):
            return self.gradient(node, formula, env)
        if isinstance(node, (Compare, And)):
            raise formula.error(node, "a comparison may only be the whole statement (lhs == rhs) "
                                      "or the argument of frac(...)")
        raise formula.error(node, f"{type(node).__name__} is not in the claims grammar")

    def binary(self, node: Binary, formula, env, scope):
        b = self.backend
        if ratio(node) is not None:
            p, q = ratio(node)
            if q == 0:
                raise formula.error(node, "division by zero")
            return b.rational(p, q)
        if node.op == "/":
            raise formula.error(self._operator_span(formula, node), "operator '/' is not in the claims grammar "
                                "(+ - * @ ** only; / only between integer literals)", token="/")
        if node.op == "**":
            k = node.right
            sign = -1 if isinstance(k, Neg) else 1
            k = k.operand if isinstance(k, Neg) else k
            if integer(k) is not None:
                exponent = sign * k.value
            elif is_index_expression(node.right):
                exponent = self.index(node.right, formula, env)
            else:
                raise formula.error(node.right, "the exponent of ** must be an integer literal or an index "
                                                "expression")
            return self._op(formula, node, b.pow, self.evaluate(node.left, formula, env, scope), exponent)
        left = self.evaluate(node.left, formula, env, scope)
        right = self.evaluate(node.right, formula, env, scope)
        fn = {"+": b.add, "-": b.sub, "*": b.mul, "@": b.matmul}[node.op]
        return self._op(formula, node, fn, left, right)

    def name(self, node: Name, formula, env, scope):
        n = node.id
        if n in self.vocab.const:
            return self._op(formula, node, self.backend.leaf, n, None)
        if n in self.vocab.step:
            raise formula.error(node, f"{n!r} is per step: write it with a time index, e.g. {n}[t]")
        d = self.definition(node, formula, scope)
        if d is not None:
            if d.per_step:
                raise formula.error(node, f"{n!r} is a per-step definition: write {n}[{d.param}]")
            return self.defined(d, None)
        if n in INDEX_VARS or n == "tau":
            raise formula.error(node, f"{n!r} may only appear inside a time index [...]")
        if n == "L":
            raise formula.error(node, "'L' (the loss) may only appear as grad(L, X) or grad(L[t], X)")
        if n in self.vocab.sizes:
            raise formula.error(node, f"the size {n!r} may only appear as ones({n}) or eye({n})")
        if n in FUNCTIONS:
            raise formula.error(node, f"{n!r} is a function: call it")
        raise formula.error(node, f"unknown name {n!r}; the {self.model} vocabulary is "
                                  f"{' '.join(self.vocab.names())}")

    def definition(self, node: Name, formula, scope):
        d = self.defines.get(node.id)
        if d is None:
            return None
        if scope is not None and d.order >= scope.order:
            raise formula.error(node, f"definition {scope.name!r} may only use earlier definitions, "
                                      f"not {node.id!r}")
        return d

    def defined(self, d: Define, k):
        key = (d.name, k)
        if key not in self.memo:
            env = {} if k is None else {d.param: k}
            self.memo[key] = self.evaluate(d.formula.tree, d.formula, env, d)
        return self.memo[key]

    def step_index(self, node: Indexed, formula, env, lo: int) -> int:
        """The index of ``name[...]``, checked against ``lo..tau``."""
        k = self.index(node.index, formula, env)
        if not lo <= k <= self.tau:
            raise formula.error(node, f"time index of {segment(formula.text, node)} is {k} at {env_text(env)}"
                                      f"tau = {self.tau}: outside {lo}..tau")
        return k

    def subscript(self, node: Indexed, formula, env, scope):
        n = node.name
        target = Name(n, span=node.name_span)
        d = self.definition(target, formula, scope) if n in self.defines else None
        if n not in self.vocab.step and (d is None or not d.per_step):
            if n in self.vocab.const or d is not None:
                raise formula.error(target, f"{n!r} does not depend on time: write it without [...]")
            if n == "L":
                raise formula.error(target, "'L[t]' (the loss of step t) may only appear as grad(L[t], X)")
            return self.name(target, formula, env, scope)      # unknown name: the same message
        lo = 0 if (n in self.vocab.zero or d is not None) else 1
        k = self.step_index(node, formula, env, lo)
        if d is not None:
            return self.defined(d, k)
        if k == 0:
            return self._op(formula, node, self.backend.leaf, self.vocab.zero[n], None)
        return self._op(formula, node, self.backend.leaf, n, k)

    # -- calls and binders --------------------------------------------------------------------
    def call(self, node: Call, formula, env, scope):
        name, args = node.func, node.args
        callee = (node.span[0], node.span[0] + len(name))
        if name not in ARITY:
            raise formula.error(callee, f"call of {name!r}: the claims grammar calls only "
                                        f"{', '.join(FUNCTIONS)}", token=name)
        if len(args) != ARITY[name]:
            what = "one positional argument" if ARITY[name] == 1 else f"{ARITY[name]} positional arguments"
            raise formula.error(node, f"{name}(...) takes exactly {what}")
        b = self.backend
        if name in ("ones", "eye"):
            arg = args[0]
            if not (isinstance(arg, Name) and arg.id in self.vocab.sizes):
                raise formula.error(arg, f"{name}(...) takes a size name: one of {' '.join(self.vocab.sizes)}")
            return getattr(b, name)(arg.id)
        if name == "frac":
            cmp = args[0]
            if not (isinstance(cmp, Compare) and len(cmp.ops) == 1 and cmp.ops[0] != "=="):
                raise formula.error(cmp, "frac(...) takes one comparison A < B (or <=, >, >=)")
            left = self.evaluate(cmp.operands[0], formula, env, scope)
            right = self.evaluate(cmp.operands[1], formula, env, scope)
            return self._op(formula, node, b.frac, cmp.ops[0], left, right)
        if name == "mpow":
            value = self.evaluate(args[0], formula, env, scope)
            k = self.index(args[1], formula, env)
            if k < 0:
                raise formula.error(args[1], f"mpow(...) needs an exponent >= 0, got {k} at "
                                             f"{env_text(env)}tau = {self.tau}")
            return self._op(formula, node, b.mpow, value, k)
        value = self.evaluate(args[0], formula, env, scope)
        if name in ELEMENTWISE:
            return self._op(formula, node, b.apply, name, value)
        return self._op(formula, node, getattr(b, name), value)

    def binder(self, node: Binder, formula, env, scope):
        b = self.backend
        var = node.var.id
        if node.lo is None:                       # sum_t(e), max_t(e): t = 1..tau
            shown = node.op + "_t"
            if node.op == "sum" and any(isinstance(n, Binder) and n.lo is None and n.op == "sum"
                                        for n in walk(node.body)):
                raise formula.error(node, "nested sum_t(...) is not in the claims grammar")
            if not mentions(node.body, var):
                raise formula.error(node, f"the terms of {shown}(...) must refer to t")
            lo, hi = 1, self.tau
        else:
            if env and var in env:
                raise formula.error(node.var, f"{node.op}(...) binds {var!r}, which is already bound here")
            if not mentions(node.body, var):
                what = "terms" if node.op == "sum" else "factors"
                raise formula.error(node, f"the {what} of {node.op}(...) must refer to {var}")
            lo, hi = self.index(node.lo, formula, env), self.index(node.hi, formula, env)
            if node.op == "sum" and lo > hi:
                raise formula.error(node, f"empty sum: {var} from {lo} to {hi} at {env_text(env)}"
                                          f"tau = {self.tau}")
        step = 1 if hi >= lo else -1
        values = [self.evaluate(node.body, formula, {**(env or {}), var: s}, scope)
                  for s in range(lo, hi + step, step)]
        if node.op == "max":
            return self._op(formula, node, b.maximum, values)
        combine = b.add if node.op == "sum" else b.matmul
        total = values[0]
        for v in values[1:]:
            total = self._op(formula, node, combine, total, v)
        return total

    # -- calculus ---------------------------------------------------------------------------------
    def _ref(self, node, formula, env, allowed, what, *, zero_ok):
        """``NAME[index]`` naming one of ``allowed``; returns (name, index)."""
        if not isinstance(node, Indexed):
            raise formula.error(node, f"expected {what} with a time index, e.g. h[t]")
        n = node.name
        if n not in allowed:
            raise formula.error(node.name_span, f"{n!r} is not {what}; here: {' '.join(allowed) or 'none'}")
        lo = 0 if (zero_ok and n in self.vocab.zero) else 1
        return n, self.step_index(node, formula, env, lo)

    def jacobian(self, node: Jacobian, formula, env):
        fn = "pjac" if node.partial else "jac"
        A, i = self._ref(node.of, formula, env, self.vocab.forward, "a per-step forward quantity", zero_ok=True)
        wrt = node.wrt
        if isinstance(wrt, Name) and wrt.id in self.vocab.params:
            return self._op(formula, node, self.backend.jac_param, A, i, wrt.id, node.partial)
        if node.partial:
            raise formula.error(wrt, "pjac(A[i], P) differentiates with respect to a parameter P; "
                                     f"parameters: {' '.join(self.vocab.params)}")
        inits = {v: k for k, v in self.vocab.zero.items() if k in self.vocab.states}
        if isinstance(wrt, Name) and wrt.id in inits:
            B, j = inits[wrt.id], 0
        else:
            nodes = tuple(dict.fromkeys((*self.vocab.states, *self.vocab.equations, *self.vocab.inputs)))
            B, j = self._ref(wrt, formula, env, nodes,
                             f"a state, an equation or an input (the second argument of {fn})", zero_ok=True)
        return self._op(formula, node, self.backend.jac, A, i, B, j)

    def gradient(self, node: Gradient, formula, env):
        loss, x = node.loss, node.wrt
        if isinstance(loss, Name) and loss.id == "L":
            t = None
        elif isinstance(loss, Indexed) and loss.name == "L":
            t = self.step_index(loss, formula, env, 1)
        else:
            raise formula.error(loss, "grad(...) differentiates the loss: L (summed over steps) or "
                                      "L[t] (the loss of step t)")
        if isinstance(x, Name):
            if "grad_" + x.id not in self.vocab.const:
                raise formula.error(x, f"grad(L, {x.id}): {x.id!r} is not a parameter or an initial state; "
                                       "per-step quantities need a time index")
            return self._op(formula, node, self.backend.grad, t, x.id, None)
        grads = [n[5:] for n in self.vocab.step if n.startswith("grad_")]
        X, k = self._ref(x, formula, env, grads, "a quantity with a gradient", zero_ok=True)
        if k == 0:
            return self._op(formula, node, self.backend.grad, t, self.vocab.zero[X], None)
        return self._op(formula, node, self.backend.grad, t, X, k)

