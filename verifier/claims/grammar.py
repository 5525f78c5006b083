"""The statement language of the claims, parsed by lark into :mod:`verifier.claims.nodes`.

The grammar is ``grammar.lark`` beside this file: it is the documentation of what a
formula may look like.  :func:`parse` reads one formula and returns a
:class:`~verifier.claims.source.Formula`; text outside the grammar is a
:class:`~derive.errors.ClaimSyntaxError` naming ``file:line``, the column and the
offending token.  Calls that bind an index or differentiate become nodes of their own
(:class:`~.nodes.Binder`, :class:`~.nodes.Jacobian`, :class:`~.nodes.Gradient`); the
number of their arguments and the variable a binder binds are checked here, everything
that depends on a model's names by the deciders.
"""
from __future__ import annotations

import functools
from pathlib import Path

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from derive.errors import ClaimSyntaxError

from verifier.claims.nodes import (INDEX_VARS, And, Binary, Binder, Call, Compare, Gradient, Indexed,
                                   Jacobian, Name, Neg, Number, Transpose)
from verifier.claims.source import Formula, Where, formula_error

__all__ = ["GRAMMAR", "parse", "SPECIAL"]

GRAMMAR = Path(__file__).with_name("grammar.lark")

#: Calls that become nodes of their own: name -> number of arguments.
SPECIAL = {"sum_t": 1, "max_t": 1, "sum": 4, "prod": 4, "jac": 2, "pjac": 2, "grad": 2}


@functools.lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(GRAMMAR.read_text(encoding="utf-8"), parser="lalr", propagate_positions=True,
                maybe_placeholders=False)


class _Located(Exception):
    """A message about a span of the formula (turned into a located ClaimSyntaxError)."""

    def __init__(self, message: str, span: tuple):
        super().__init__(message)
        self.message, self.span = message, span


def _span(meta) -> tuple:
    return (meta.start_pos, meta.end_pos)


def _arguments(what: int) -> str:
    return "one positional argument" if what == 1 else f"{what} positional arguments"


@v_args(meta=True)
class _ToNodes(Transformer):
    def name(self, meta, children):
        return Name(str(children[0]), span=_span(meta))

    def integer(self, meta, children):
        return Number(int(children[0]), span=_span(meta))

    def decimal(self, meta, children):
        return Number(float(children[0]), span=_span(meta))

    def indexed(self, meta, children):
        name, index = children
        return Indexed(str(name), index, span=_span(meta))

    def signed(self, meta, children):
        sign, operand = children
        return Neg(operand, span=_span(meta)) if sign == "-" else operand

    def binary(self, meta, children):
        left, op, right = children
        return Binary(str(op), left, right, span=_span(meta))

    def transpose(self, meta, children):
        return Transpose(children[0], span=_span(meta))

    def compare(self, meta, children):
        return Compare(tuple(children[0::2]), tuple(str(op) for op in children[1::2]), span=_span(meta))

    def all_of(self, meta, children):
        return And(tuple(children), span=_span(meta))

    def call(self, meta, children):
        func, args = str(children[0]), tuple(children[1:])
        span = _span(meta)
        if func not in SPECIAL:
            return Call(func, args, span=span)
        if len(args) != SPECIAL[func]:
            raise _Located(f"{func}(...) takes exactly {_arguments(SPECIAL[func])}", span)
        if func in ("sum_t", "max_t"):
            var = Name("t", span=(span[0], span[0] + len(func)))
            return Binder(func[:-2], var, None, None, args[0], span=span)
        if func in ("sum", "prod"):
            var, lo, hi, body = args
            if not (isinstance(var, Name) and var.id in INDEX_VARS):
                raise _Located(f"the first argument of {func}(...) is the index variable it binds: "
                               f"one of {', '.join(INDEX_VARS)}", var.span)
            return Binder(func, var, lo, hi, body, span=span)
        if func in ("jac", "pjac"):
            return Jacobian(args[0], args[1], func == "pjac", span=span)
        return Gradient(args[0], args[1], span=span)


_READABLE = {"ADD": "+ -", "MUL": "* / @", "COMPARE": "== < <= > >=", "NAME": "a name",
             "INT": "an integer", "DECIMAL": "a number", "_AND": "and"}


def _expected(parser: Lark, names) -> str:
    shown = []
    for name in sorted(names):
        if name in _READABLE:
            shown.append(_READABLE[name])
            continue
        try:
            pattern = parser.get_terminal(name).pattern
        except KeyError:
            continue
        shown.append(pattern.value)
    return " ".join(dict.fromkeys(shown))


def _syntax_error(e: UnexpectedInput, text: str, where: Where) -> ClaimSyntaxError:
    """The located error for what lark could not parse."""
    if isinstance(e, UnexpectedEOF) or (isinstance(e, UnexpectedToken) and e.token.type == "$END"):
        return formula_error(where, text, "not a formula of the claims grammar (the formula ends too "
                             "early)", (len(text), len(text)), token="end of formula")
    if isinstance(e, UnexpectedCharacters):
        pos = e.pos_in_stream
        ch = text[pos]
        end = pos + 1
        if ch in "'\"":
            close = text.find(ch, pos + 1)
            end = close + 1 if close > 0 else len(text)
            what = "a string literal"
        else:
            what = f"unexpected {ch!r}"
        return formula_error(where, text, f"not a formula of the claims grammar ({what})", (pos, end))
    token = e.token
    expected = _expected(_parser(), e.expected) if isinstance(e, UnexpectedToken) else ""
    message = f"not a formula of the claims grammar (unexpected {str(token)!r}"
    message += f"; expected one of {expected})" if expected else ")"
    return formula_error(where, text, message, (token.start_pos, token.end_pos), token=str(token))


def parse(text: str, where: Where) -> Formula:
    """The formula ``text`` (stripped) read by the grammar, located at ``where``."""
    stripped = text.strip()
    if not stripped:
        raise formula_error(where, stripped, "empty formula")
    try:
        tree = _parser().parse(stripped)
    except UnexpectedInput as e:
        raise _syntax_error(e, stripped, where) from None
    try:
        node = _ToNodes().transform(tree)
    except VisitError as e:
        if isinstance(e.orig_exc, _Located):
            raise formula_error(where, stripped, e.orig_exc.message, e.orig_exc.span) from None
        raise
    if isinstance(node, Token):        # cannot happen with this grammar: every token is in a rule
        raise formula_error(where, stripped, "not a formula of the claims grammar")
    return Formula(stripped, node, where)

