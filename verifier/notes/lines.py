"""A formula's lines: unwrap its environment, split at ``\\\\``, drop the ``&`` marks.

Works on the tokens of ``math.lark``'s lexer, so a ``\\\\`` or ``&`` inside braces
or an inner environment (a matrix) is left alone.  ``a &= b & \\text{(why)}``
becomes ``a = b \\quad \\text{(why)}``: cells pair up (left, right), and each
further pair is an aside.
"""
from __future__ import annotations

from verifier.notes.mathlex import raw_tokens
from verifier.notes.records import FormulaLine, SourceMap

#: Environments that wrap a whole formula (unwrapped; their lines split).
WRAPPERS = frozenset({"equation", "align", "gather", "multline", "flalign", "alignat", "eqnarray",
                      "displaymath", "aligned", "alignedat", "gathered", "split"})
_SKIP = frozenset({"WS", "SPACING", "STYLE", "LABEL"})
_RELATION_START = frozenset({"REL", "XARROW", "STACKREL"})
_OPERATOR_START = frozenset({"PLUS", "MINUS", "PM", "MP", "CDOT", "TIMES", "ODOT", "STAR", "CIRC"})
_OPEN = frozenset({"LBRACE", "BEGIN_ENV", "LEFT"})
_CLOSE = frozenset({"RBRACE", "END_ENV", "RIGHT"})
ASIDE = " \\quad "


def _env_name(tok) -> str:
    word = tok[tok.index("{") + 1:tok.index("}")]
    return word.strip().rstrip("*")


def _label(tok) -> str:
    return tok[tok.index("{") + 1:tok.rindex("}")].strip() if tok.startswith("\\label") else ""


def _matching_end(tokens, k) -> int | None:
    depth = 0
    for j in range(k, len(tokens)):
        if tokens[j].type == "BEGIN_ENV":
            depth += 1
        elif tokens[j].type == "END_ENV":
            depth -= 1
            if depth == 0:
                return j
    return None


def _unwrap(tokens):
    """(environment, tokens inside the wrapping environments)."""
    environment = ""
    while True:
        sig = [k for k, t in enumerate(tokens) if t.type not in _SKIP]
        if not sig or tokens[sig[0]].type != "BEGIN_ENV" or _env_name(tokens[sig[0]]) not in WRAPPERS:
            return environment, tokens
        end = _matching_end(tokens, sig[0])
        if end != sig[-1] or _env_name(tokens[end]) != _env_name(tokens[sig[0]]):
            return environment, tokens
        environment = environment or _env_name(tokens[sig[0]])
        tokens = tokens[sig[0] + 1:end]


def _split(tokens, kind):
    """Runs of tokens between top-level ``kind`` tokens (braces and environments nest)."""
    runs, current, depth = [], [], 0
    for t in tokens:
        if t.type in _OPEN:
            depth += 1
        elif t.type in _CLOSE:
            depth = max(0, depth - 1)
        if t.type == kind and depth == 0:
            runs.append((current, t))
            current = []
        else:
            current.append(t)
    runs.append((current, None))
    return runs


def split_lines(math: str, source: SourceMap) -> tuple[str, tuple[FormulaLine, ...], str]:
    """(environment, lines, first label) of the formula ``math`` mapped by ``source``."""
    environment, tokens = _unwrap(raw_tokens(math))
    lines, first_label = [], ""
    for line_tokens, _ in _split(tokens, "LINEBREAK"):
        labels = [_label(t) for t in line_tokens if t.type == "LABEL" and _label(t)]
        cells = _split(line_tokens, "AMP")
        pieces = []
        for k, (cell, amp) in enumerate(cells):
            if cell:
                start, end = cell[0].start_pos, cell[-1].end_pos
                pieces.append((math[start:end], source.slice(start, end)))
            if amp is not None and k % 2 == 1:  # the & after a right cell starts an aside
                pieces.append((ASIDE, source.slice(amp.start_pos, amp.end_pos)))
        text, smap = SourceMap.join(pieces)
        stripped = text.strip()
        if not stripped or stripped == ASIDE.strip():
            first_label = first_label or (labels[0] if labels else "")
            continue
        lead = len(text) - len(text.lstrip())
        smap = smap.slice(lead, lead + len(stripped))
        first = next((t for t in line_tokens if t.type not in _SKIP and t.type != "AMP"), None)
        continuation = ("relation" if first is not None and first.type in _RELATION_START else
                        "operator" if first is not None and first.type in _OPERATOR_START else "")
        line, column = smap.locate(0)
        end_line, _ = smap.locate(max(0, len(stripped) - 1))
        lines.append(FormulaLine(latex=stripped, line=line, column=column, end_line=end_line,
                                 continuation=continuation, label=labels[0] if labels else "",
                                 source=smap))
        first_label = first_label or (labels[0] if labels else "")
    return environment, tuple(lines), first_label
