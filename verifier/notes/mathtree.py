"""The parse tree of one formula of the notes: small frozen dataclasses.

:func:`verifier.notes.parse_math` turns the LaTeX of a display line into one of
these trees (the grammar is ``math.lark`` beside this module).  The tree keeps
the notation, not a meaning: deciding that ``h^{(t)}`` is the hidden state at
step t, or that ``W(x+y)`` is a product, is the translator's work.  Every node
has ``span = (start, end)``: character offsets (0-based, end excluded) into the
LaTeX string that was parsed; ``FormulaLine.locate`` turns an offset into a
file line and column.

Node types
----------
Statements
    ``Line(body, asides, punctuation)``   one display line; ``asides`` hold what
                                          follows ``\\quad`` or trails as ``\\text``,
                                          ``punctuation`` the dropped final ``,``/``.``
    ``Lines(lines)``                      a multi-line formula (``aligned``, ``\\\\``)
    ``Chain(parts, relations, annotations)``  ``a = b \\le c``; ``parts[0] is None``
                                          when the line starts with a relation
                                          (a continuation, ``&= ...``); ``annotations[i]``
                                          is the label of ``\\xrightarrow{...}`` or None
    ``Tuple(items, separator)``           ``a, b, \\dots, c`` (``,`` or ``;``)
    ``Given(outcome, condition)``         ``x_t | x_1, \\dots`` inside ``P(...)``
Arithmetic
    ``Sum(terms, signs)``                 n-ary; ``signs[i]`` is ``+ - ± ∓`` before term i
    ``Neg(body)``                         a lone unary minus ``-x``
    ``Product(factors, ops)``             n-ary; ``ops[i]`` joins factor i and i+1:
                                          ``juxt`` (juxtaposition: ``Wx_0``, ``gv``),
                                          ``cdot times odot circ star otimes oplus div``
    ``Frac(num, den, inline)``            ``\\frac{a}{b}``; ``inline`` for ``a / b``
    ``Power(base, exponent)``             ``x^2``, ``W^{-1}`` (``is_inverse``), ``(..)^{1/T}``
    ``Transpose(body)``                   ``^T ^\\top ^\\intercal ^{T}``, ``h^{(t-1)T}``
    ``Sqrt(body, index)``
Calculus
    ``Derivative(kind, of, wrt, order)``  ``\\frac{\\partial L}{\\partial X}``,
                                          ``\\partial L / \\partial X``, ``\\frac{dL}{dX}``;
                                          ``kind`` is ``partial`` or ``d``; ``of`` None for
                                          the operator ``\\frac{\\partial}{\\partial x}``
    ``Gradient(of, wrt)``                 ``\\nabla_{X} L`` (``wrt`` None for ``\\nabla L``)
    ``Differential(kind, body, order)``   a ``\\partial x`` or ``d x`` outside a derivative
    ``Binder(op, index, lower, upper, condition, body)``
                                          ``\\sum_{t=1}^{T}``, ``\\prod_{j=k+1}^{t}``,
                                          ``\\max_z``; ``condition`` keeps a subscript that
                                          is not ``i = a`` (``j < t \\le i``, ``w \\in V``)
Atoms
    ``Symbol(name, font, accent, primes, sub, sup)``
                                          ``name`` is a letter or a Greek/command name
                                          without backslash (``h``, ``sigma``, ``ell``),
                                          or a word for ``\\mathrm{diag}``; ``font`` is
                                          ``bf`` (``\\mathbf \\boldsymbol \\bm``), ``rm``,
                                          ``cal``, ``bb``, ``it``, ``sf``, ``tt``, ``frak``,
                                          ``op`` (a function name) or ``""``; ``accent``
                                          ``hat tilde bar vec dot ddot check breve`` or ``""``;
                                          ``sub``/``sup`` are sub-trees: ``h_{t-1}``,
                                          ``h^{(t)}`` (bracketed superscripts ``(t) <t>
                                          \\langle t\\rangle [1]`` are kept here as indices;
                                          ``\\Lambda^{(\\tau-t)}`` may be a power: the
                                          translator decides)
    ``Number(text)``
    ``Text(text)``                        ``\\text{...}``, ``\\mbox{...}`` (prose kept verbatim)
    ``Dots(kind)``                        ``dots ldots cdots vdots ddots``
Brackets and structure
    ``Group(open, close, body)``          ``(a+b)``, ``\\left[ .. \\right]``, ``\\{..\\}``
    ``Concat(items)``                     ``[h_{t-1}; x_t]``, ``[h_{t-1}, x_t]``
    ``Apply(head, args, named)``          ``\\tanh(a)``, ``\\sigma(z)``, ``f_\\theta(h, x)``,
                                          ``\\operatorname{softmax}(o)``, ``\\log \\hat y``;
                                          ``named`` when the head is a function name
                                          (``\\tanh``, ``\\operatorname``, ``\\mathrm{diag}``,
                                          ``\\text{softmax}``); a plain symbol head may also
                                          be a product (``\\mathbf{H}(\\nabla L)``)
    ``Abs(body)``                         ``|x|``, ``\\lvert x \\rvert``
    ``Norm(body, order)``                 ``\\|x\\|``, ``\\|x\\|_2``, ``\\lVert x \\rVert``
    ``Matrix(kind, rows)``                ``bmatrix pmatrix matrix vmatrix cases array substack``
    ``Accent(accent, body)``              an accent over more than a symbol
    ``Subscript(base, sub)``              a subscript on something that is not a symbol

:class:`ParseError` is the record of a line outside the grammar (a value, not an
exception): the reason, the offending token and its offset.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Iterator, Optional

Span = tuple[int, int]


@dataclass(frozen=True)
class Node:
    """Base of every node: ``span`` is (start, end) in the parsed LaTeX."""

    span: Span


@dataclass(frozen=True)
class Line(Node):
    body: Optional[Node]
    asides: tuple[Node, ...] = ()
    punctuation: str = ""


@dataclass(frozen=True)
class Lines(Node):
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class Chain(Node):
    parts: tuple[Optional[Node], ...]
    relations: tuple[str, ...]
    annotations: tuple[Optional[Node], ...]

    @property
    def continuation(self) -> bool:
        """True when the chain starts with a relation (``&= ...``, ``\\rightarrow \\le b``)."""
        return self.parts[0] is None


@dataclass(frozen=True)
class Tuple(Node):
    items: tuple[Node, ...]
    separator: str = ","


@dataclass(frozen=True)
class Given(Node):
    outcome: Node
    condition: Node


@dataclass(frozen=True)
class Sum(Node):
    terms: tuple[Node, ...]
    signs: tuple[str, ...]


@dataclass(frozen=True)
class Neg(Node):
    body: Node


@dataclass(frozen=True)
class Product(Node):
    factors: tuple[Node, ...]
    ops: tuple[str, ...]

    @property
    def juxtaposed(self) -> bool:
        """True when some factors are multiplied by juxtaposition (no operator written)."""
        return "juxt" in self.ops


@dataclass(frozen=True)
class Frac(Node):
    num: Node
    den: Node
    inline: bool = False


@dataclass(frozen=True)
class Power(Node):
    base: Node
    exponent: Node

    @property
    def is_inverse(self) -> bool:
        e = self.exponent
        return isinstance(e, Neg) and isinstance(e.body, Number) and e.body.text == "1"


@dataclass(frozen=True)
class Transpose(Node):
    body: Node


@dataclass(frozen=True)
class Sqrt(Node):
    body: Node
    index: Optional[Node] = None


@dataclass(frozen=True)
class Derivative(Node):
    kind: str
    of: Optional[Node]
    wrt: Node
    order: Optional[Node] = None


@dataclass(frozen=True)
class Gradient(Node):
    of: Optional[Node]
    wrt: Optional[Node]


@dataclass(frozen=True)
class Differential(Node):
    kind: str
    body: Optional[Node]
    order: Optional[Node] = None


@dataclass(frozen=True)
class Binder(Node):
    op: str
    index: Optional[Node]
    lower: Optional[Node]
    upper: Optional[Node]
    condition: Optional[Node]
    body: Optional[Node]


@dataclass(frozen=True)
class Symbol(Node):
    name: str
    font: str = ""
    accent: str = ""
    primes: int = 0
    sub: Optional[Node] = None
    sup: Optional[Node] = None


@dataclass(frozen=True)
class Number(Node):
    text: str


@dataclass(frozen=True)
class Text(Node):
    text: str


@dataclass(frozen=True)
class Dots(Node):
    kind: str


@dataclass(frozen=True)
class Group(Node):
    open: str
    close: str
    body: Optional[Node]


@dataclass(frozen=True)
class Concat(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Apply(Node):
    head: Node
    args: tuple[Node, ...]
    named: bool = False


@dataclass(frozen=True)
class Abs(Node):
    body: Node


@dataclass(frozen=True)
class Norm(Node):
    body: Node
    order: Optional[Node] = None


@dataclass(frozen=True)
class Matrix(Node):
    kind: str
    rows: tuple[tuple[Optional[Node], ...], ...]


@dataclass(frozen=True)
class Accent(Node):
    accent: str
    body: Node


@dataclass(frozen=True)
class Subscript(Node):
    base: Node
    sub: Node


@dataclass(frozen=True)
class ParseError:
    """A line outside the grammar: ``reason``, the offending ``token`` (its text,
    ``""`` at the end of input) and ``column``, its 0-based offset in the parsed
    LaTeX (like node spans)."""

    reason: str
    token: str
    column: int

    def __str__(self) -> str:
        at = f" at {self.token!r}" if self.token else ""
        return f"{self.reason}{at} (offset {self.column})"


def children(node: Node) -> Iterator[Node]:
    """The direct sub-nodes of ``node``, in field order."""
    for f in fields(node):
        value = getattr(node, f.name)
        if isinstance(value, Node):
            yield value
        elif isinstance(value, tuple):
            for item in value:
                if isinstance(item, Node):
                    yield item
                elif isinstance(item, tuple):  # Matrix rows
                    yield from (cell for cell in item if isinstance(cell, Node))


def walk(node: Node) -> Iterator[Node]:
    """Every node of the tree, parents before children (iterative: no recursion limit)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(list(children(current))))


def depth(node: Node) -> int:
    """The height of the tree (a leaf has depth 1), computed without recursion."""
    best, stack = 0, [(node, 1)]
    while stack:
        current, level = stack.pop()
        best = max(best, level)
        stack.extend((child, level + 1) for child in children(current))
    return best


def sexpr(node) -> str:
    """A compact prefix form of a tree, for messages and tests: ``h_t = \\tanh(W x)``
    reads ``(= h_[t] (tanh (* W x)))``.  Symbols show ``font.accent.name'`` with
    ``_[sub]`` and ``^[sup]``; ``*`` is juxtaposition, other products name their
    operator; binders read ``(sum_[t=1..T] body)``."""
    if node is None:
        return "_"
    s = sexpr
    if isinstance(node, Symbol):
        text = ".".join(x for x in (node.font, node.accent, node.name) if x) + "'" * node.primes
        if node.sub is not None:
            text += f"_[{s(node.sub)}]"
        if node.sup is not None:
            text += f"^[{s(node.sup)}]"
        return text
    if isinstance(node, Number):
        return node.text
    if isinstance(node, Text):
        return repr(node.text)
    if isinstance(node, Dots):
        return node.kind
    if isinstance(node, Line):
        body = s(node.body)
        asides = "".join(f" (aside {s(a)})" for a in node.asides)
        return body + asides + (f" {node.punctuation}" if node.punctuation else "")
    if isinstance(node, Chain):
        items = [s(node.parts[0])]
        for rel, note, part in zip(node.relations, node.annotations, node.parts[1:]):
            items += [rel + (f"[{s(note)}]" if note is not None else ""), s(part)]
        if len(set(node.relations)) == 1 and not any(node.annotations):
            return f"({node.relations[0]} {' '.join(items[::2])})"
        return f"(chain {' '.join(items)})"
    if isinstance(node, Sum):
        terms = [s(t) if sign == "+" else f"({sign} {s(t)})" for t, sign in zip(node.terms, node.signs)]
        return f"(+ {' '.join(terms)})"
    if isinstance(node, Neg):
        return f"(- {s(node.body)})"
    if isinstance(node, Product):
        if len(set(node.ops)) == 1:
            op = "*" if node.ops[0] == "juxt" else node.ops[0]
            return f"({op} {' '.join(s(f) for f in node.factors)})"
        items = [s(node.factors[0])]
        for op, f in zip(node.ops, node.factors[1:]):
            items += ["*" if op == "juxt" else op, s(f)]
        return f"(prod {' '.join(items)})"
    if isinstance(node, Frac):
        return f"(/ {s(node.num)} {s(node.den)})"
    if isinstance(node, Power):
        return f"(^ {s(node.base)} {s(node.exponent)})"
    if isinstance(node, Transpose):
        return f"(T {s(node.body)})"
    if isinstance(node, Sqrt):
        return f"(sqrt {s(node.body)})" if node.index is None else f"(root {s(node.index)} {s(node.body)})"
    if isinstance(node, Derivative):
        op = "∂" if node.kind == "partial" else "d"
        order = f"^{s(node.order)}" if node.order is not None else ""
        return f"({op}{order} {s(node.of)} {s(node.wrt)})"
    if isinstance(node, Gradient):
        return f"(nabla_[{s(node.wrt)}] {s(node.of)})"
    if isinstance(node, Differential):
        return f"(diff-{node.kind} {s(node.body)})"
    if isinstance(node, Binder):
        limits = ""
        if node.index is not None or node.lower is not None or node.upper is not None:
            lower = f"={s(node.lower)}" if node.lower is not None else ""
            upper = f"..{s(node.upper)}" if node.upper is not None else ""
            limits = f"_[{s(node.index)}{lower}{upper}]"
        if node.condition is not None:
            limits += f"[if {s(node.condition)}]"
        return f"({node.op}{limits} {s(node.body)})"
    if isinstance(node, Apply):
        return f"({s(node.head)} {' '.join(s(a) for a in node.args)})".replace(" )", ")")
    if isinstance(node, Group):
        return f"{node.open}{s(node.body)}{node.close}"
    if isinstance(node, Concat):
        return f"(concat {' '.join(s(i) for i in node.items)})"
    if isinstance(node, Tuple):
        return f"(tuple{node.separator} {' '.join(s(i) for i in node.items)})"
    if isinstance(node, Given):
        return f"(given {s(node.outcome)} {s(node.condition)})"
    if isinstance(node, Abs):
        return f"(abs {s(node.body)})"
    if isinstance(node, Norm):
        order = f"_[{s(node.order)}]" if node.order is not None else ""
        return f"(norm{order} {s(node.body)})"
    if isinstance(node, Matrix):
        rows = " ".join("(" + " ".join(s(c) for c in row) + ")" for row in node.rows)
        return f"({node.kind} {rows})"
    if isinstance(node, Accent):
        return f"({node.accent} {s(node.body)})"
    if isinstance(node, Subscript):
        return f"(sub {s(node.base)} {s(node.sub)})"
    if isinstance(node, ParseError):
        return f"<error: {node}>"
    return f"<{type(node).__name__}>"
