"""The records the reader hands over: documents, formulas, their lines, and errors.

Lines and columns are 1-based, as an editor shows them.  In a notebook they
count within the cell: ``cell`` is the cell's index in the notebook (0-based,
code cells counted) and the location reads ``nb.ipynb:cell 3:line 2``
(the cell shown 1-based).
"""
from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Optional


@dataclass(frozen=True)
class SourceMap:
    """Where each character of a piece of text sits in its file.

    ``segments`` are ``(offset, line, column)``: the text from ``offset`` on (up
    to the next segment) starts at that line and column and runs along it.
    """

    segments: tuple[tuple[int, int, int], ...]

    @classmethod
    def verbatim(cls, text: str, line: int, column: int, columns: tuple[int, ...] = ()) -> "SourceMap":
        """The map of ``text`` copied from the file at (line, column); its k-th
        following line starts at column ``columns[k-1]`` (1 when not given)."""
        segments, offset = [(0, line, column)], 0
        for k, part in enumerate(text.split("\n")[:-1]):
            offset += len(part) + 1
            segments.append((offset, line + k + 1, columns[k] if k < len(columns) else 1))
        return cls(tuple(segments))

    def locate(self, offset: int) -> tuple[int, int]:
        """(line, column) in the file of the character at ``offset``."""
        k = max(0, bisect_right([s[0] for s in self.segments], offset) - 1)
        start, line, column = self.segments[k]
        return line, column + max(0, offset - start)

    def slice(self, start: int, end: int) -> "SourceMap":
        """The map of ``text[start:end]``."""
        inside = [s for s in self.segments if start < s[0] < end]
        line, column = self.locate(start)
        return SourceMap(((0, line, column),) + tuple((s[0] - start, s[1], s[2]) for s in inside))

    @staticmethod
    def join(pieces: list[tuple[str, "SourceMap"]]) -> tuple[str, "SourceMap"]:
        """Concatenate pieces of text, each with its own map."""
        text, segments, offset = [], [], 0
        for piece, smap in pieces:
            if not piece:
                continue
            segments.extend((offset + s[0], s[1], s[2]) for s in smap.segments if s[0] < len(piece))
            text.append(piece)
            offset += len(piece)
        return "".join(text), SourceMap(tuple(segments) or ((0, 1, 1),))


@dataclass(frozen=True)
class FormulaLine:
    """One line of a formula: the whole formula, or one ``\\\\``-separated line of
    an aligned environment with its ``&`` marks removed (a third ``&``-cell, the
    comment column, follows a ``\\quad``).

    ``continuation`` is ``"relation"`` when the line starts with a relation
    (``&= ...``: its left side is the previous line's), ``"operator"`` when it
    starts with ``+ - \\cdot \\times`` (it goes on with the previous line's right
    side), else ``""``.  ``latex`` is what :func:`~verifier.notes.parse_math`
    parses; ``locate(offset)`` gives the file line and column of an offset in it
    (a node's span)."""

    latex: str
    line: int
    column: int
    end_line: int
    continuation: str = ""
    label: str = ""
    source: SourceMap = field(default=SourceMap(((0, 1, 1),)), repr=False, compare=False)

    def locate(self, offset: int) -> tuple[int, int]:
        return self.source.locate(offset)


@dataclass(frozen=True)
class Formula:
    """One formula of the notes.

    ``text`` is its LaTeX as in the file (between the delimiters; an environment
    keeps its ``\\begin``/``\\end``); ``math`` is what the lines come from: the
    same, with comments blanked and macros expanded.  ``line``/``column`` point at
    the opening delimiter, ``end_line`` at the closing one.  ``display`` is False
    for inline ``$...$``/``\\(...\\)``.  ``environment`` is the math environment
    (``equation``, ``align``, ``aligned``, ``split``... or ``""``), ``label`` the
    formula's label (``\\label``, MyST ``(label)``, ``:label:``, d2l ``:eqlabel:``),
    ``cell`` the notebook cell index (None outside notebooks).  ``error`` says why
    the formula was not split into lines (too long, a macro loop), else ``""``."""

    file: str
    line: int
    column: int
    end_line: int
    text: str
    display: bool
    environment: str = ""
    label: str = ""
    cell: Optional[int] = None
    lines: tuple[FormulaLine, ...] = ()
    math: str = ""
    error: str = ""

    @property
    def where(self) -> str:
        """``file:line:column``, or ``file:cell N:line L`` in a notebook."""
        if self.cell is not None:
            return f"{self.file}:cell {self.cell + 1}:line {self.line}"
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Reference:
    """A reference to a formula label: MyST ``{eq}`label```, d2l ``:eqref:`label```,
    LaTeX ``\\eqref{label}``."""

    file: str
    line: int
    label: str
    cell: Optional[int] = None


@dataclass(frozen=True)
class FileError:
    """A problem with a whole file (unreadable, too large, not a notebook, an
    ``\\input`` refused) or with a part of it that could not be read."""

    file: str
    line: int
    column: int
    reason: str
    cell: Optional[int] = None

    def __str__(self) -> str:
        where = f"{self.file}:cell {self.cell + 1}:line {self.line}" if self.cell is not None \
            else f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class Document:
    """One file given to :func:`~verifier.notes.read`: its formulas (those of the
    files it ``\\input``s included, each naming its own file), the label
    references, and the file-level errors."""

    path: str
    kind: str
    formulas: tuple[Formula, ...] = ()
    references: tuple[Reference, ...] = ()
    errors: tuple[FileError, ...] = ()

    @property
    def display_formulas(self) -> tuple[Formula, ...]:
        return tuple(f for f in self.formulas if f.display)
