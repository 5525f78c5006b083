"""LaTeX macros of the notes: ``\\newcommand`` and ``\\DeclareMathOperator``,
expanded in a formula by substituting text, never by running anything.

A macro's body is copied with ``#1``... replaced by the arguments' text and
read again, so macros inside it expand too.  At most
:data:`~verifier.notes.limits.MAX_MACRO_EXPANSIONS` expansions per formula, and the
result is held to :data:`~verifier.notes.limits.MAX_FORMULA_CHARS`: a macro that
calls itself ends in an error record, not a loop.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Optional

from verifier.notes.limits import MAX_FORMULA_CHARS, MAX_MACRO_EXPANSIONS
from verifier.notes.records import SourceMap


@dataclass(frozen=True)
class Macro:
    """``\\newcommand{name}[nargs][default]{body}``; ``default`` is the value of an
    optional first argument (None: all arguments are required)."""

    name: str
    nargs: int
    body: str
    default: Optional[str] = None


class ExpansionError(Exception):
    """Expansion stopped: too many expansions, too long a result, a missing argument."""


def substitute(body: str, args: list[str]) -> str:
    """``body`` with ``#k`` replaced by ``args[k-1]`` and ``##`` by ``#``."""
    out, k = [], 0
    while k < len(body):
        ch = body[k]
        if ch == "#" and k + 1 < len(body):
            nxt = body[k + 1]
            if nxt.isdigit() and 1 <= int(nxt) <= len(args):
                out.append(args[int(nxt) - 1])
                k += 2
                continue
            if nxt == "#":
                out.append("#")
                k += 2
                continue
        out.append(ch)
        k += 1
    return "".join(out)


def _take_group(queue: deque, close: str) -> str:
    """The text up to the ``close`` token that balances (the opener already taken)."""
    opener = "{" if close == "}" else "["
    depth, text = 0, []
    while queue:
        _, value, _ = queue.popleft()
        if value == opener:
            depth += 1
        elif value == close:
            if depth == 0:
                return "".join(text)
            depth -= 1
        text.append(value)
    raise ExpansionError(f"a macro argument is not closed by {close}")


def _take_argument(queue: deque) -> str:
    while queue and queue[0][0] == "WORD" and not queue[0][1].strip():
        queue.popleft()
    if not queue:
        raise ExpansionError("a macro argument is missing at the end of the formula")
    kind, value, origin = queue.popleft()
    if kind == "LBRACE":
        return _take_group(queue, "}")
    if kind == "WORD":
        value = value.lstrip()
        if len(value) > 1:
            queue.appendleft((kind, value[1:], origin))
        return value[:1]
    return value


def expand(text: str, source: SourceMap, macros: dict[str, Macro], lex) -> tuple[str, SourceMap]:
    """``text`` with the ``macros`` expanded, and its map (an expansion maps to
    where the macro was called).  ``lex(text)`` gives (type, value, offset) tokens
    of the document lexer.  Raises :class:`ExpansionError`."""
    tokens = lex(text)
    if not any(kind == "CS" and value in macros for kind, value, _ in tokens):
        return text, source
    queue = deque(tokens)
    pieces: list[tuple[str, SourceMap]] = []
    expansions = length = 0
    while queue:
        kind, value, origin = queue.popleft()
        if kind == "CS" and value in macros:
            expansions += 1
            if expansions > MAX_MACRO_EXPANSIONS:
                raise ExpansionError(f"more than {MAX_MACRO_EXPANSIONS} macro expansions "
                                     f"(does {value} call itself?)")
            macro = macros[value]
            args = []
            for k in range(macro.nargs):
                if k == 0 and macro.default is not None:
                    while queue and queue[0][0] == "WORD" and not queue[0][1].strip():
                        queue.popleft()
                    if queue and queue[0][0] == "LSQB":
                        queue.popleft()
                        args.append(_take_group(queue, "]"))
                    else:
                        args.append(macro.default)
                else:
                    args.append(_take_argument(queue))
            body = substitute(macro.body, args)
            if len(body) + length > MAX_FORMULA_CHARS:
                raise ExpansionError(f"macro expansion longer than {MAX_FORMULA_CHARS} characters")
            queue.extendleft(reversed([(k2, v2, origin) for k2, v2, _ in lex(body)]))
            continue
        length += len(value)
        if length > MAX_FORMULA_CHARS:
            raise ExpansionError(f"macro expansion longer than {MAX_FORMULA_CHARS} characters")
        if text.startswith(value, origin):
            pieces.append((value, source.slice(origin, origin + len(value))))
        else:
            line, column = source.locate(origin)
            pieces.append((value, SourceMap(((0, line, column),))))
    return SourceMap.join(pieces)
