"""The reader of a course's notes: every formula, where it is, and its parse tree.

    >>> from verifier.notes import read, parse_math
    >>> [document] = read("lecture.md")
    >>> for formula in document.display_formulas:
    ...     for line in formula.lines:
    ...         tree = parse_math(line.latex)       # a mathtree.Line or a ParseError

``read(paths) -> list[Document]``
    Markdown (``.md``, ``.txt``, MyST), LaTeX (``.tex``, with ``\\input`` and
    macros) and notebooks (``.ipynb``, markdown cells).  Each
    :class:`~verifier.notes.records.Document` holds its formulas
    (:class:`~verifier.notes.records.Formula`: file, line, column, end line, text,
    display or inline, environment, label, notebook cell, and its
    :class:`~verifier.notes.records.FormulaLine` lines), the label references, and
    the file-level errors.  ``read_text(text, file, kind)`` does the same for a string.
``parse_math(latex) -> mathtree.Line | mathtree.ParseError``
    The LaTeX of one line (``FormulaLine.latex``) as a tree of the frozen
    dataclasses of :mod:`verifier.notes.mathtree` (its docstring lists them); the
    grammar is ``math.lark``.  ``parse_lines(formula)`` parses every line of a formula.

Nothing here raises on the content of a file; the limits against hostile input
are in :mod:`verifier.notes.limits`.
"""
from verifier.notes.mathparse import parse_math
from verifier.notes.mathtree import Line, Node, ParseError
from verifier.notes.reader import read, read_text
from verifier.notes.records import Document, FileError, Formula, FormulaLine, Reference


def parse_lines(formula: Formula) -> tuple[Line | ParseError, ...]:
    """The parse of each line of ``formula`` (empty when the formula has an ``error``)."""
    return tuple(parse_math(line.latex) for line in formula.lines)


__all__ = ["read", "read_text", "parse_math", "parse_lines", "Document", "Formula", "FormulaLine",
           "Reference", "FileError", "Line", "Node", "ParseError"]
