"""``parse_math``: the LaTeX of one display line -> a tree of :mod:`mathtree` nodes,
or a :class:`~verifier.notes.mathtree.ParseError` record.

The grammar is ``math.lark`` (LALR, linear time); the tree is built by the
callbacks of :mod:`verifier.notes.mathbuild` while the parser reduces.
"""
from __future__ import annotations

import re
from functools import lru_cache

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from verifier.notes import mathtree as mt
from verifier.notes.limits import MAX_FORMULA_CHARS, MAX_NESTING_DEPTH
from verifier.notes.mathbuild import Build, Refused
from verifier.notes.mathlex import PostLex, TooDeep, grammar_text


@lru_cache(maxsize=None)
def _parser() -> Lark:
    return Lark(grammar_text(), parser="lalr", lexer="basic", postlex=PostLex(),
                transformer=Build(), keep_all_tokens=True, maybe_placeholders=False)


TEXT_COMMANDS = re.compile(r"\\(?:text|textrm|textit|textbf|textsf|texttt|textnormal|mbox|hbox"
                           r"|operatorname|mathrm)$")


def _describe(tok: Token) -> str:
    kind = tok.type
    if kind == "$END":
        return "the line ends too early (an unclosed {, ( or \\left?)"
    if kind == "UNKNOWN_CS" and TEXT_COMMANDS.match(str(tok)):
        return f"{tok}{{...}} is not closed"
    if kind == "UNKNOWN_CS":
        return f"unknown command {tok}"
    if kind == "OTHER":
        return "unexpected character"
    if kind == "RBRACE":
        return "unbalanced }"
    if kind == "LINEBREAK":
        return "a line break \\\\ outside an environment (give the reader's lines one at a time)"
    if kind in ("AMP",):
        return "an alignment & outside an environment"
    return f"unexpected {kind.lower()} token"


#: Fragments left when an exporter turned a backslash escape into a control
#: character and dropped it: \f of \frac, \r of \right, \t of \text, \b of \boldsymbol.
LOST_ESCAPES = (("rac{", "\\frac", "\\f"), ("ight)", "\\right", "\\r"), ("ight]", "\\right", "\\r"),
                ("ight|", "\\right", "\\r"), ("ight.", "\\right", "\\r"), ("ext{", "\\text", "\\t"),
                ("oldsymbol{", "\\boldsymbol", "\\b"))


def lost_escape(latex: str) -> str:
    """Why ``latex`` looks damaged by a lost backslash escape, or ``""``."""
    for fragment, command, escape in LOST_ESCAPES:
        at = latex.find(fragment)
        while at != -1:
            before = latex[at - 1] if at else " "
            if not before.isalpha() and latex[max(0, at - 2):at] != escape:
                return (f"the notes lost the {escape} of {command}: '{fragment}' is left "
                        f"(an exporter turned the escape into a control character)")
            at = latex.find(fragment, at + 1)
    return ""


def parse_math(latex: str) -> mt.Line | mt.ParseError:
    """The parse tree of one display line of LaTeX, or a ParseError record.

    Never raises on any input string: over-long input, nesting past
    MAX_NESTING_DEPTH and anything outside ``math.lark`` come back as records.
    """
    if len(latex) > MAX_FORMULA_CHARS:
        return mt.ParseError(f"formula longer than {MAX_FORMULA_CHARS} characters", "", MAX_FORMULA_CHARS)
    damage = lost_escape(latex)
    if damage:
        fragment = damage.split("'")[1]
        return mt.ParseError(damage, fragment, latex.find(fragment))
    try:
        tree = _parser().parse(latex)
    except TooDeep as exc:
        return mt.ParseError(f"brackets nested deeper than {MAX_NESTING_DEPTH}", str(exc.token),
                             exc.token.start_pos or 0)
    except Refused as exc:
        return mt.ParseError(exc.reason, exc.token, exc.column)
    except UnexpectedToken as exc:
        tok = exc.token
        column = tok.start_pos if tok.type != "$END" else len(latex)
        return mt.ParseError(_describe(tok),
                             "" if tok.type == "$END" else str(tok), column or 0)
    except (UnexpectedCharacters, UnexpectedInput) as exc:  # pragma: no cover - OTHER catches all
        return mt.ParseError("unexpected character", latex[exc.pos_in_stream:exc.pos_in_stream + 1],
                             exc.pos_in_stream or 0)
    if mt.depth(tree) > 4 * MAX_NESTING_DEPTH:
        return mt.ParseError(f"formula nested deeper than {4 * MAX_NESTING_DEPTH} levels", "", 0)
    return tree
