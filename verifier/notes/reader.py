"""``read(paths)``: notes files -> :class:`~verifier.notes.records.Document` records.

The kind of a file is its suffix: ``.md .markdown .myst .txt`` are Markdown,
``.tex .latex .ltx`` LaTeX, ``.ipynb`` a notebook (its markdown cells, through
``nbformat``); a directory stands for the notes files under it.  Every problem
(missing, too large, binary, not UTF-8, not a notebook, outside a grammar)
becomes an error record; ``read`` raises only for a ``paths`` argument of the
wrong type.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

from verifier.notes.latexdoc import Reading, read_latex
from verifier.notes.limits import (MAX_FILE_BYTES, MAX_FORMULA_CHARS, MAX_FORMULAS_PER_FILE,
                                   MAX_NOTEBOOK_BYTES)
from verifier.notes.lines import split_lines
from verifier.notes.markdown import Found, read_markdown
from verifier.notes.records import Document, FileError, Formula, Reference

MARKDOWN = (".md", ".markdown", ".myst", ".txt")
LATEX = (".tex", ".latex", ".ltx")
NOTEBOOK = (".ipynb",)
KINDS = {**dict.fromkeys(MARKDOWN, "markdown"), **dict.fromkeys(LATEX, "latex"),
         **dict.fromkeys(NOTEBOOK, "notebook")}


def kind_of(path: str | Path) -> str:
    """``markdown``, ``latex`` or ``notebook`` by the suffix; ``""`` when unknown."""
    return KINDS.get(Path(path).suffix.lower(), "")


def decode(data: bytes) -> tuple[str, str]:
    """(text, error): the UTF-8 text of ``data`` with newlines made ``\\n``.
    Invalid UTF-8 is replaced and reported; a NUL byte means a binary file (no text)."""
    if b"\0" in data:
        return "", f"binary file (a NUL byte at byte {data.index(0)})"
    try:
        text, error = data.decode("utf-8"), ""
    except UnicodeDecodeError as exc:
        text = data.decode("utf-8", errors="replace")
        error = f"not valid UTF-8 (byte {exc.start}); undecodable bytes read as U+FFFD"
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.replace("\r\n", "\n").replace("\r", "\n"), error


def load(path: Path, limit: int = MAX_FILE_BYTES) -> tuple[str, str]:
    """(text, error) of a file; the size is checked before it is read."""
    try:
        size = path.stat().st_size
        if not path.is_file():
            return "", "not a file"
        if size > limit:
            return "", f"{size} bytes, more than the {limit} allowed"
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        return "", f"cannot be read ({exc.strerror or exc})"
    if len(data) > limit:
        return "", f"more than the {limit} bytes allowed"
    text, error = decode(data)
    if error.startswith("binary"):
        return "", error
    return text, error


def formula(found: Found, file: str, math: str | None = None, error: str = "",
            cell: int | None = None) -> Formula:
    """The record of a found formula, with its lines split (unless it is too long)."""
    math = found.text if math is None else math
    if not error and len(math) > MAX_FORMULA_CHARS:
        error = f"formula longer than {MAX_FORMULA_CHARS} characters: not read"
    environment, lines, label = found.environment, (), ""
    if not error:
        env, lines, label = split_lines(math, found.source)
        environment = environment or env
    return Formula(file=file, line=found.line, column=found.column, end_line=found.end_line,
                   text=found.text, display=found.display, environment=environment,
                   label=found.label or label, cell=cell, lines=lines, math=math, error=error)


def _capped(formulas: list[Formula], errors: list[FileError], file: str) -> tuple[Formula, ...]:
    if len(formulas) > MAX_FORMULAS_PER_FILE:
        errors.append(FileError(file, formulas[MAX_FORMULAS_PER_FILE].line, 1,
                                f"more than {MAX_FORMULAS_PER_FILE} formulas: the rest not read"))
        formulas = formulas[:MAX_FORMULAS_PER_FILE]
    return tuple(formulas)


def read_text(text: str, file: str, kind: str = "markdown") -> Document:
    """The document of ``text`` as if read from ``file`` (``markdown``, ``latex``
    or ``notebook`` JSON).  ``\\input`` paths are relative to ``file``."""
    errors: list[FileError] = []
    if len(text) > (MAX_NOTEBOOK_BYTES if kind == "notebook" else MAX_FILE_BYTES):
        return Document(path=file, kind=kind, errors=(FileError(file, 1, 1, "text too long: not read"),))
    if kind == "markdown":
        found, references = read_markdown(text, file)
        formulas = [formula(f, file) for f in found]
        return Document(path=file, kind=kind, formulas=_capped(formulas, errors, file),
                        references=tuple(references), errors=tuple(errors))
    if kind == "latex":
        reading = Reading()
        read_latex(text, file, (Path(file).resolve(),), reading, load)
        formulas = [formula(f, name, math, error) for name, f, math, error in reading.found]
        errors = reading.errors
        return Document(path=file, kind=kind, formulas=_capped(formulas, errors, file),
                        references=tuple(reading.references), errors=tuple(errors))
    if kind == "notebook":
        return _notebook(text, file)
    return Document(path=file, kind=kind, errors=(FileError(file, 1, 1, f"unknown kind {kind!r}"),))


def _notebook(text: str, file: str) -> Document:
    import nbformat  # imported when a notebook is read: it loads jsonschema (0.1 s)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            notebook = nbformat.reads(text, as_version=4)
        cells = list(notebook.cells)
    except (json.JSONDecodeError, nbformat.reader.NotJSONError) as exc:
        return Document(path=file, kind="notebook",
                        errors=(FileError(file, 1, 1, f"not a notebook: not JSON ({exc})"[:300]),))
    except Exception as exc:  # nbformat raises many kinds for a malformed notebook
        return Document(path=file, kind="notebook",
                        errors=(FileError(file, 1, 1, f"not a notebook: {type(exc).__name__}: {exc}"[:300]),))
    formulas: list[Formula] = []
    references: list[Reference] = []
    errors: list[FileError] = []
    budget = MAX_FILE_BYTES
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict) or cell.get("cell_type") != "markdown":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        if not isinstance(source, str):
            errors.append(FileError(file, 1, 1, "cell source is not text", cell=index))
            continue
        budget -= len(source)
        if budget < 0:
            errors.append(FileError(file, 1, 1, f"markdown cells longer than {MAX_FILE_BYTES} "
                                                f"characters together: the rest not read", cell=index))
            break
        source = source.replace("\r\n", "\n").replace("\r", "\n")
        found, refs = read_markdown(source, file, cell=index,
                                    limit=max(0, MAX_FORMULAS_PER_FILE - len(formulas)))
        formulas.extend(formula(f, file, cell=index) for f in found)
        references.extend(refs)
        if len(formulas) > MAX_FORMULAS_PER_FILE:
            break
    return Document(path=file, kind="notebook", formulas=_capped(formulas, errors, file),
                    references=tuple(references), errors=tuple(errors))


def _files(paths) -> list[tuple[str, str]]:
    """(path, problem) for each file to read: directories give their notes files."""
    out = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and kind_of(p))
            out.extend((str(p), "") for p in found)
            if not found:
                out.append((str(path), "a directory without notes files (.md .txt .tex .ipynb)"))
        else:
            out.append((str(path), ""))
    return out


def read(paths) -> list[Document]:
    """One :class:`Document` per notes file in ``paths`` (a path or a list of them;
    a directory gives the notes files under it, sorted)."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    if not all(isinstance(p, (str, Path)) for p in paths):
        raise TypeError("read(paths): paths must be a path or a list of paths (str or pathlib.Path)")
    documents = []
    for name, problem in _files(paths):
        kind = kind_of(name)
        if problem or not kind:
            reason = problem or (f"unknown kind of notes {Path(name).suffix or '(no suffix)'!r}: "
                                 f"expected .md .markdown .myst .txt .tex .latex .ltx .ipynb")
            documents.append(Document(path=name, kind=kind, errors=(FileError(name, 1, 1, reason),)))
            continue
        limit = MAX_NOTEBOOK_BYTES if kind == "notebook" else MAX_FILE_BYTES
        text, error = load(Path(name), limit)
        if error and not text:
            documents.append(Document(path=name, kind=kind, errors=(FileError(name, 1, 1, error),)))
            continue
        document = read_text(text, name, kind)
        if error:
            document = Document(path=document.path, kind=kind, formulas=document.formulas,
                                references=document.references,
                                errors=(FileError(name, 1, 1, error),) + document.errors)
        documents.append(document)
    return documents
