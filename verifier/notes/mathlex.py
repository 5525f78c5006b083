"""The tokens of a formula: the lexer of ``math.lark`` and the post-lexer that
settles what one token cannot say alone.

* ``|`` opens or closes an absolute value, or is the "given" bar of
  ``P(x_t | h_t)``: after an operand, it closes an open ``|`` or, inside a
  bracket, is ``MID``; elsewhere it opens one.  ``\\|`` likewise opens or closes a norm.
* ``<`` and ``>`` inside a superscript's braces are angle brackets when they pair
  (``h^{<t>}``, ``a^{(i)<t>[1]}``); elsewhere they are relations (``y_{<t}``).
* ``\\left(`` is ``(``, ``\\right]`` is ``]``; ``\\left.``/``\\right.`` are ``LNULL``/``RNULL``.
* ``\\quad`` at the top level starts an aside; nested, it is space.
* A number right after ``^``, ``_``, ``\\frac`` or ``\\sqrt`` gives one digit, as in TeX.

The nesting of brackets and environments is checked here, before parsing
(:data:`~verifier.notes.limits.MAX_NESTING_DEPTH`).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from lark import Lark, Token

from verifier.notes.limits import MAX_NESTING_DEPTH

GRAMMAR = Path(__file__).with_name("math.lark")

#: Tokens after which a ``|`` or ``\\|`` closes (or is the "given" bar).
OPERAND_END = frozenset({
    "LETTER", "NUMBER", "GREEK", "SYMCS", "RPAR", "RSQB", "RCURLY", "ANGLE_R", "RNULL",
    "ABS_R", "NORM_R", "RBRACE", "PRIME", "TEXT", "DOTS", "FUNC", "STAR",
})
_OPENERS = {"LPAR", "LSQB", "LCURLY", "ANGLE_L", "LNULL"}
_CLOSERS = {"RPAR", "RSQB", "RCURLY", "ANGLE_R", "RNULL"}

#: ``\left``/``\right`` delimiters, by what follows the command.
_LEFT = {"(": "LPAR", "[": "LSQB", "\\{": "LCURLY", "\\lbrace": "LCURLY", "\\lbrack": "LSQB",
         "\\langle": "ANGLE_L", "⟨": "ANGLE_L", "\\lVert": "NORM_L", "\\lvert": "ABS_L",
         "\\Vert": "NORM_L", "\\|": "NORM_L", "\\vert": "ABS_L", "|": "ABS_L", ".": "LNULL"}
_RIGHT = {")": "RPAR", "]": "RSQB", "\\}": "RCURLY", "\\rbrace": "RCURLY", "\\rbrack": "RSQB",
          "\\rangle": "ANGLE_R", "⟩": "ANGLE_R", "\\rVert": "NORM_R", "\\rvert": "ABS_R",
          "\\Vert": "NORM_R", "\\|": "NORM_R", "\\vert": "ABS_R", "|": "ABS_R", ".": "RNULL"}


class TooDeep(Exception):
    """Brackets or environments nested deeper than MAX_NESTING_DEPTH (at ``token``)."""

    def __init__(self, token: Token):
        super().__init__(f"nested deeper than {MAX_NESTING_DEPTH}")
        self.token = token


class PostLex:
    """Lark post-lexer: rewrites the token stream as the module docstring says."""

    #: Terminals no rule names (the post-lexer replaces them), kept in the lexer.
    always_accept = ("BAR", "DBAR", "LEFT", "RIGHT", "QUAD", "UNKNOWN_CS", "OTHER")

    def process(self, stream):
        return iter(settle(list(stream)))


def _split_digits(tok: Token) -> list[Token]:
    head = Token.new_borrow_pos("NUMBER", tok[0], tok)
    rest = Token("NUMBER", tok[1:], start_pos=tok.start_pos + 1, line=tok.line,
                 column=tok.column + 1, end_line=tok.end_line, end_column=tok.end_column,
                 end_pos=tok.end_pos)
    head.end_pos, head.end_column = tok.start_pos + 1, tok.column + 1
    return [head, rest]


def _angle_pairs(tokens: list[Token], start: int) -> int | None:
    """Index of the ``>`` that pairs with the ``<`` at ``start`` inside the same
    superscript braces, or None."""
    depth = 0
    for j in range(start + 1, len(tokens)):
        t = tokens[j]
        if t.type == "LBRACE":
            depth += 1
        elif t.type == "RBRACE":
            if depth == 0:
                return None
            depth -= 1
        elif t.type == "REL" and t == ">" and depth == 0:
            return j
        elif t.type == "REL" and t == "<" and depth == 0:
            return None
    return None


def settle(tokens: list[Token]) -> list[Token]:
    """The token list with bars, angles, ``\\left``/``\\right``, asides and script
    digits settled (see the module docstring); raises :class:`TooDeep`."""
    out: list[Token] = []
    stack: list[str] = []
    angle_closers: set[int] = set()
    prev = ""
    i = 0
    queue = list(tokens)
    while i < len(queue):
        tok = queue[i]
        kind = tok.type
        if kind in ("LEFT", "RIGHT"):
            word = tok.value[5 if kind == "LEFT" else 6:].strip()
            kind = (_LEFT if kind == "LEFT" else _RIGHT)[word]
        elif kind == "NUMBER" and len(tok) > 1 and prev in ("CARET", "UNDERSCORE", "FRAC", "SQRT") \
                and tok[0] != ".":
            queue[i:i + 1] = _split_digits(tok)
            tok = queue[i]
        elif kind == "BAR":
            if stack and stack[-1] == "abs" and prev in OPERAND_END:
                kind = "ABS_R"
            elif prev in OPERAND_END and stack and stack[-1] in ("paren", "brace", "sup"):
                kind = "MID"
            else:
                kind = "ABS_L"
        elif kind == "DBAR":
            kind = "NORM_R" if stack and stack[-1] == "norm" and prev in OPERAND_END else "NORM_L"
        elif kind == "REL" and tok == "<" and stack and stack[-1] == "sup":
            j = _angle_pairs(queue, i)
            if j is not None:
                kind = "ANGLE_L"
                angle_closers.add(j)
        elif kind == "REL" and tok == ">" and i in angle_closers:
            kind = "ANGLE_R"
        elif kind == "QUAD":
            if stack:
                i += 1
                continue
            kind = "ASIDE"

        if kind == "LBRACE":
            stack.append("sup" if prev == "CARET" else "brace")
        elif kind == "RBRACE":
            _pop_to(stack, ("brace", "sup"))
        elif kind in _OPENERS:
            stack.append("paren")
        elif kind in _CLOSERS:
            _pop_to(stack, ("paren",))
        elif kind == "ABS_L":
            stack.append("abs")
        elif kind == "ABS_R":
            _pop_to(stack, ("abs",))
        elif kind == "NORM_L":
            stack.append("norm")
        elif kind == "NORM_R":
            _pop_to(stack, ("norm",))
        elif kind == "BEGIN_ENV":
            stack.append("env")
        elif kind == "END_ENV":
            _pop_to(stack, ("env",))
        if len(stack) > MAX_NESTING_DEPTH:
            raise TooDeep(tok)
        out.append(tok if kind == tok.type else Token.new_borrow_pos(kind, tok.value, tok))
        prev = kind
        i += 1
    return out


def _pop_to(stack: list[str], kinds: tuple[str, ...]) -> None:
    """Pop up to and including the innermost entry of one of ``kinds`` (nothing if none)."""
    for k in range(len(stack) - 1, -1, -1):
        if stack[k] in kinds:
            del stack[k:]
            return


@lru_cache(maxsize=None)
def grammar_text() -> str:
    return GRAMMAR.read_text(encoding="utf-8")


@lru_cache(maxsize=None)
def _raw_lexer() -> Lark:
    # A lexer only (every terminal kept), built once; the grammar's %ignore lines
    # are dropped so that spaces and \label{} come out as tokens.
    text = "\n".join(line for line in grammar_text().splitlines() if not line.startswith("%ignore"))
    return Lark(text, parser=None, lexer="basic")


def raw_tokens(latex: str) -> list[Token]:
    """Every token of ``latex`` as the grammar's lexer sees it, ignored ones (spaces,
    ``\\label{}``) included, before the post-lexer.  Never fails: an unknown
    character is an ``OTHER`` token."""
    return list(_raw_lexer().lex(latex))
