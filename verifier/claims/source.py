"""Where a formula stands in a claims file, and the located errors about it.

Every error about a claim is a :class:`~derive.errors.ClaimSyntaxError` whose message
starts with ``file:line: claim 'id'`` and, for a formula, names the field, the column
and the offending token, then shows the formula with a caret under the column::

    claims.toml:12: claim 'mutant' (line 3), statement column 14: unknown name 'foo' ...
        grad_o[t] == foo[t] - y[t]
                     ^

The exception carries ``path``, ``line``, ``column``, ``token``, ``claim_id`` and
``claim_line`` for programs.
"""
from __future__ import annotations

from dataclasses import dataclass

from derive.errors import ClaimSyntaxError

from verifier.claims.nodes import Node, segment

__all__ = ["Where", "Formula", "fail", "formula_error", "column_of"]


@dataclass(frozen=True)
class Where:
    """A place in a claims file: the file, the line, the claim and its ``id`` line, the field."""

    path: str
    line: int
    claim_id: str = "?"
    claim_line: int | None = None
    field: str = ""

    def at(self, line: int, field: str = "") -> "Where":
        return Where(self.path, line, self.claim_id, self.claim_line, field or self.field)


@dataclass(frozen=True)
class Formula:
    """One formula of a claim: its text, its tree and where it stands."""

    text: str
    tree: Node
    where: Where

    @property
    def line(self) -> int:
        return self.where.line

    def error(self, node_or_span, message: str, *, token: str = None) -> ClaimSyntaxError:
        """A located error about ``node_or_span`` (a node, a (start, end) span, or None)."""
        return formula_error(self.where, self.text, message, node_or_span, token=token)


def column_of(text: str, offset: int) -> int:
    """1-based column of ``offset`` within its line of ``text``."""
    return offset - (text.rfind("\n", 0, offset) + 1) + 1


def fail(where: Where, message: str) -> ClaimSyntaxError:
    """A located error about a claim (no formula)."""
    return _error(where, message, None, None, None)


def formula_error(where: Where, text: str, message: str, node_or_span=None, *,
                  token: str = None) -> ClaimSyntaxError:
    """A located error about a formula; ``node_or_span`` gives the column and the token."""
    column = None
    if node_or_span is not None:
        span = node_or_span.span if isinstance(node_or_span, Node) else node_or_span
        column = column_of(text, span[0])
        if token is None and span[1] > span[0]:
            token = segment(text, span)
    return _error(where, message, text, column, token)


def _error(where: Where, message: str, text, column, token) -> ClaimSyntaxError:
    head = f"{where.path}:{where.line}: claim {where.claim_id!r}"
    claim_line = where.claim_line if where.claim_line is not None else where.line
    if claim_line != where.line:
        head += f" (line {claim_line})"
    if text is not None:
        head += f", {where.field}" if where.field else ""
        if column is not None:
            head += f" column {column}"
    out = f"{head}: {message}"
    if token is not None and repr(token) not in message:
        out += f" (token {token!r})"
    if text is not None:
        out += f"\n    {text}"
        if column is not None and "\n" not in text:
            out += "\n    " + " " * (column - 1) + "^"
    err = ClaimSyntaxError(out)
    err.path, err.line, err.column, err.token = where.path, where.line, column, token
    err.claim_id, err.claim_line = where.claim_id, claim_line
    return err
