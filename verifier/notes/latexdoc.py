"""Formulas of LaTeX notes: the document grammar ``latex.lark``, ``\\input``/``\\include``
and the notes' own macros.

``\\input{f}`` and ``\\include{f}`` are read where they stand, relative to the
directory of the file that includes them (``.tex`` added when ``f`` has no
suffix), at most :data:`~verifier.notes.limits.MAX_INPUT_DEPTH` levels below the
file given; a file already being read (a cycle) is refused with an error at the
``\\input`` line.  Macros defined in an included file hold after it, as in TeX.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedInput

from verifier.notes.limits import MAX_FORMULAS_PER_FILE, MAX_INPUT_DEPTH, MAX_NESTING_DEPTH
from verifier.notes.macros import ExpansionError, Macro, expand
from verifier.notes.markdown import Found
from verifier.notes.records import FileError, Reference, SourceMap

GRAMMAR = Path(__file__).with_name("latex.lark")
_OPENERS = {"DOLLAR": "$", "DDOLLAR": "$$", "LDISPLAY": "\\[", "LINLINE": "\\("}


@lru_cache(maxsize=None)
def _parser() -> Lark:
    return Lark(GRAMMAR.read_text(encoding="utf-8"), parser="lalr", lexer="basic",
                keep_all_tokens=True, maybe_placeholders=False)


def lex(text: str) -> list[tuple[str, str, int]]:
    """(type, value, offset) of each token of ``text`` by the document lexer."""
    return [(t.type, t.value, t.start_pos) for t in _parser().lex(text)]


@dataclass
class Reading:
    """What reading a LaTeX file (and what it includes) collects."""

    #: (file, formula, its math after macro expansion, why the expansion failed or "")
    found: list[tuple[str, Found, str, str]] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)
    macros: dict[str, Macro] = field(default_factory=dict)


def _nesting_error(text: str, file: str) -> FileError | None:
    depth = 0
    try:
        for tok in _parser().lex(text):
            if tok.type == "LBRACE":
                depth += 1
                if depth > MAX_NESTING_DEPTH:
                    return FileError(file, tok.line, tok.column,
                                     f"braces nested deeper than {MAX_NESTING_DEPTH}")
            elif tok.type == "RBRACE":
                depth -= 1
    except UnexpectedInput:
        return None  # the parser reports it with its position
    return None


def _syntax_error(exc: UnexpectedInput, file: str) -> FileError:
    token = getattr(exc, "token", None)
    if token is not None and token.type == "$END":
        reason = "the file ends inside a group or formula (an unclosed {, $ or \\begin)"
    elif token is not None:
        reason = f"unexpected {token.type.lower()} {str(token)[:20]!r} (unbalanced braces or math delimiters?)"
    else:
        reason = "unexpected character"
    return FileError(file, exc.line if exc.line and exc.line > 0 else 1,
                     exc.column if exc.column and exc.column > 0 else 1, reason)


def _children_in_order(tree: Tree):
    """Subtrees and tokens in document order, not descending into math or definitions."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, Tree) and node.data not in ("math", "newcommand", "mathop"):
            stack.extend(reversed(node.children))


def _group_text(text: str, group: Tree) -> str:
    return text[group.children[0].end_pos:group.children[-1].start_pos]


def _name(children) -> str:
    return next(str(c) for c in children if isinstance(c, Token) and c.type == "CS")


def _define(node: Tree, text: str, file: str, reading: Reading) -> None:
    kids = node.children
    name = _name(kids[1:])
    body = _group_text(text, kids[-1])
    if node.data == "mathop":
        star = "*" if kids[0].endswith("*") else ""
        reading.macros[name] = Macro(name, 0, f"\\operatorname{star}{{{body}}}")
        return
    words = [c for c in kids if isinstance(c, Token) and c.type == "WORD"]
    nargs, default = 0, None
    if words:
        try:
            nargs = int(words[0].strip())
        except ValueError:
            nargs = -1
        if not 0 <= nargs <= 9:
            reading.errors.append(FileError(file, kids[0].line, kids[0].column,
                                            f"{name} has {words[0].strip()!r} arguments (0 to 9 allowed)"))
            return
        brackets = [k for k, c in enumerate(kids) if isinstance(c, Token) and c.type == "LSQB"]
        if len(brackets) == 2:
            close = next(k for k in range(brackets[1], len(kids))
                         if isinstance(kids[k], Token) and kids[k].type == "RSQB")
            default = text[kids[brackets[1]].end_pos:kids[close].start_pos]
    if kids[0].startswith("\\providecommand") and name in reading.macros:
        return
    reading.macros[name] = Macro(name, nargs, body, default)


def _math(node: Tree, text: str, file: str, reading: Reading) -> None:
    kids = node.children
    first, last = kids[0], kids[-1]
    comments = [c for c in kids if isinstance(c, Token) and c.type == "COMMENT"]
    comments += [t for sub in kids if isinstance(sub, Tree) for t in sub.scan_values(
        lambda v: isinstance(v, Token) and v.type == "COMMENT")]
    if first.type == "BEGIN_MATH":
        start, end, opener, display = first.start_pos, last.end_pos, "", True
    else:
        start, end = first.end_pos, last.start_pos
        opener, display = _OPENERS[first.type], first.type != "DOLLAR" and first.type != "LINLINE"
    content = text[start:end]
    # the map of the content: it is copied verbatim from the file
    line, column = _position(text, start)
    columns = tuple(1 for _ in range(content.count("\n")))
    smap = SourceMap.verbatim(content, line, column, columns)
    math = list(content)
    for c in comments:
        for k in range(c.start_pos - start, c.end_pos - start):
            if 0 <= k < len(math):
                math[k] = " "
    math = "".join(math)
    environment = ""
    if first.type == "BEGIN_MATH":
        environment = first[first.index("{") + 1:first.index("}")].rstrip("*")
    found = Found(text=content, display=display, line=first.line, column=first.column,
                  end_line=last.end_line or last.line, source=smap, environment=environment)
    try:
        math, smap = expand(math, smap, reading.macros, lex)
    except ExpansionError as exc:
        reading.found.append((file, found, content, str(exc)))
        return
    reading.found.append((file, Found(**{**found.__dict__, "source": smap}), math, ""))


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _include(node: Tree, file: str, chain: tuple[Path, ...], reading: Reading, load) -> None:
    kids = node.children
    name = str(kids[2]).strip()
    target = (chain[-1].parent / name)
    if not target.suffix:
        target = target.with_suffix(".tex")
    target = target.resolve()
    where = (file, kids[0].line, kids[0].column)
    if target in chain:
        cycle = " -> ".join(p.name for p in chain[chain.index(target):] + (target,))
        reading.errors.append(FileError(*where, f"\\input cycle refused: {cycle}"))
        return
    if len(chain) > MAX_INPUT_DEPTH:
        reading.errors.append(FileError(*where, f"\\input nested deeper than {MAX_INPUT_DEPTH} files: "
                                               f"{name} not read"))
        return
    text, error = load(target)
    if error:
        reading.errors.append(FileError(*where, f"\\input{{{name}}}: {error}"))
        if not text:
            return
    shown = Path(file).parent / name
    read_latex(text, str(shown if shown.suffix else shown.with_suffix(".tex")), chain + (target,),
               reading, load)


def read_latex(text: str, file: str, chain: tuple[Path, ...], reading: Reading, load) -> None:
    """Collect the formulas, macros, references and errors of the LaTeX ``text`` of
    ``file`` into ``reading``; ``chain`` is the files being read (the includers,
    then this one); ``load(path) -> (text, error)`` reads an included file."""
    error = _nesting_error(text, file)
    if error:
        reading.errors.append(error)
        return
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as exc:
        reading.errors.append(_syntax_error(exc, file))
        return
    for node in _children_in_order(tree):
        if not isinstance(node, Tree):
            continue
        if len(reading.found) > MAX_FORMULAS_PER_FILE:
            return
        if node.data in ("newcommand", "mathop"):
            _define(node, text, file, reading)
        elif node.data == "math":
            _math(node, text, file, reading)
        elif node.data == "include":
            _include(node, file, chain, reading, load)
        elif node.data == "eqref":
            reading.references.append(Reference(file=file, line=node.children[0].line,
                                                label=str(node.children[2]).strip()))
