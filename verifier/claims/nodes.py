"""The claims AST: the formulas of the claims as small frozen dataclasses.

:mod:`verifier.claims.grammar` parses the statement language (``grammar.lark``) into
these nodes; a reader of the notes' LaTeX produces the same nodes, and the deciders
(:mod:`.identity`, :mod:`.scalar`, :mod:`.sample`) read nothing else.  No Python
``ast`` object and no SymPy object appears here: a node is its kind, its parts and
``span``, the ``(start, end)`` character offsets of its text in the formula it was
read from (for error messages; spans do not take part in equality, so two readings of
the same formula compare equal).

Node kinds:

=================  ===========================================================
``Number``         an integer or decimal literal (``2``, ``0.5``)
``Name``           a bare name: parameter, definition, size, index variable,
                   ``tau``, ``L``, ``z``
``Indexed``        a name at a time index: ``h[t-1]``, ``L[t]``, ``H[t+1]``
``Neg``            ``-e``
``Binary``         ``e op e`` with op one of ``+ - * / @ **``
``Transpose``      ``e.T``
``Call``           ``f(e, ...)``: ``diag``, ``tanh``, ``norm2``, ``sup``, ``normal``...
``Binder``         ``sum``, ``prod`` or ``max`` of ``body`` over an index
                   variable from ``lo`` to ``hi`` (both None: 1..tau)
``Jacobian``       ``jac(A[i], B[j])``; ``partial``: ``pjac(A[i], P)``
``Gradient``       ``grad(L[t], X)``, ``grad(L, X)``
``Compare``        ``a op b op c ...`` (a chain), ops from ``== < <= > >=``
``And``            ``c and c ...`` (``for`` conditions)
=================  ===========================================================
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Iterator

__all__ = ["Node", "Number", "Name", "Indexed", "Neg", "Binary", "Transpose", "Call", "Binder",
           "Jacobian", "Gradient", "Compare", "And", "INDEX_VARS", "BINARY_OPS", "COMPARE_OPS",
           "BINDERS", "children", "walk", "free_indices", "mentions", "segment", "integer", "ratio"]

#: The index variables of the notes' time indices and binders.
INDEX_VARS = ("t", "k", "i", "j")
BINARY_OPS = ("+", "-", "*", "/", "@", "**")
COMPARE_OPS = ("==", "<", "<=", ">", ">=")
BINDERS = ("sum", "prod", "max")

Span = tuple


@dataclass(frozen=True)
class Node:
    """Base of every node; ``span`` is (start, end) in the formula's text."""

    span: Span = field(default=(0, 0), kw_only=True, compare=False, repr=False)


@dataclass(frozen=True)
class Number(Node):
    value: int | float


@dataclass(frozen=True)
class Name(Node):
    id: str


@dataclass(frozen=True)
class Indexed(Node):
    """``name[index]``: a per-step quantity, a per-step definition or ``L`` at a time index."""

    name: str
    index: Node

    @property
    def name_span(self) -> Span:
        return (self.span[0], self.span[0] + len(self.name))


@dataclass(frozen=True)
class Neg(Node):
    operand: Node


@dataclass(frozen=True)
class Binary(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Transpose(Node):
    operand: Node


@dataclass(frozen=True)
class Call(Node):
    func: str
    args: tuple


@dataclass(frozen=True)
class Binder(Node):
    """``op`` (sum, prod or max) of ``body`` for ``var`` from ``lo`` to ``hi``, stepping by
    +1 or -1 (a product keeps its factors in that order); ``lo`` and ``hi`` None: 1..tau."""

    op: str
    var: Name
    lo: Node | None
    hi: Node | None
    body: Node


@dataclass(frozen=True)
class Jacobian(Node):
    """``jac(of, wrt)`` (numerator layout); ``partial``: ``pjac``, the immediate derivative."""

    of: Node
    wrt: Node
    partial: bool = False


@dataclass(frozen=True)
class Gradient(Node):
    """``grad(loss, wrt)``: ``loss`` is ``L`` (summed over steps) or ``L[t]`` (one step)."""

    loss: Node
    wrt: Node


@dataclass(frozen=True)
class Compare(Node):
    operands: tuple
    ops: tuple


@dataclass(frozen=True)
class And(Node):
    terms: tuple


def children(node: Node) -> Iterator[Node]:
    """The direct sub-nodes of ``node``, in source order."""
    for f in fields(node):
        value = getattr(node, f.name)
        if isinstance(value, Node):
            yield value
        elif isinstance(value, tuple):
            yield from (v for v in value if isinstance(v, Node))


def walk(node: Node) -> Iterator[Node]:
    """``node`` and every node below it."""
    yield node
    for c in children(node):
        yield from walk(c)


def free_indices(node: Node, bound: frozenset = frozenset()) -> set:
    """Index variables used in ``node`` outside the binders that bind them."""
    if isinstance(node, Name):
        return {node.id} if node.id in INDEX_VARS and node.id not in bound else set()
    if isinstance(node, Binder):
        ends = set().union(*(free_indices(e, bound) for e in (node.lo, node.hi) if e is not None))
        return ends | free_indices(node.body, bound | {node.var.id})
    return set().union(set(), *(free_indices(c, bound) for c in children(node)))


def mentions(node: Node, var: str) -> bool:
    return any(isinstance(n, Name) and n.id == var for n in walk(node))


def segment(text: str, node_or_span) -> str:
    """The source text of a node (or a span)."""
    start, end = node_or_span.span if isinstance(node_or_span, Node) else node_or_span
    return text[start:end]


def integer(node: Node) -> int | None:
    """The value of an integer literal, else None."""
    return node.value if isinstance(node, Number) and type(node.value) is int else None


def ratio(node: Node) -> tuple | None:
    """``(p, q)`` for a ratio of integer literals ``p/q`` (a rational constant), else None."""
    if isinstance(node, Binary) and node.op == "/":
        p, q = integer(node.left), integer(node.right)
        if p is not None and q is not None:
            return p, q
    return None
