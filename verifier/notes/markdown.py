"""Formulas of Markdown notes (``.md``, ``.txt``, MyST / Jupyter Book, a notebook's
markdown cell), found by markdown-it-py with executablebooks' plugins.

Code blocks and fences are skipped by the Markdown parser itself.  Found:

* ``$$...$$`` (display; with a MyST label ``$$...$$ (label)``), ``$...$`` (inline),
  ``$$...$$`` inside a paragraph (display), ``\\[...\\]`` (display), ``\\(...\\)``
  (inline), top-level ``\\begin{equation}``/``align``/``gather``... (amsmath);
* MyST ``{math}`` directives (backtick or colon fences) with ``:label:``, MyST
  targets ``(label)=`` before a display formula, ``{eq}`label``` references;
* d2l's ``:eqlabel:`label``` (labels the display formula just before it) and
  ``:eqref:`label``` references.

markdown-it gives block positions by line only; each formula's column, and the
position of every line of it, is found by looking its text up in the source from
where its block (or the previous formula of the paragraph) starts.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock
from markdown_it.rules_inline import StateInline
from mdit_py_plugins.amsmath import amsmath_plugin
from mdit_py_plugins.colon_fence import colon_fence_plugin
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.dollarmath.index import DOLLAR_EQNO_REV
from mdit_py_plugins.front_matter import front_matter_plugin
from mdit_py_plugins.myst_blocks import myst_block_plugin
from mdit_py_plugins.myst_role import myst_role_plugin

from verifier.notes.limits import MAX_FORMULAS_PER_FILE
from verifier.notes.records import Reference, SourceMap


@dataclass(frozen=True)
class Found:
    """A formula as found in the source, before its lines are split."""

    text: str
    display: bool
    line: int          # of the opening delimiter (1-based)
    column: int
    end_line: int
    source: SourceMap  # of ``text``
    label: str = ""
    environment: str = ""


# ------------------------------------------------------------------ \[ \] and \( \)

def _bracket_inline(state: StateInline, silent: bool) -> bool:
    """``\\(...\\)`` inline and ``\\[...\\]`` inside a paragraph (before the escape rule)."""
    src, pos = state.src, state.pos
    if not src.startswith(("\\(", "\\["), pos):
        return False
    closing = "\\)" if src[pos + 1] == "(" else "\\]"
    memo = state.env.setdefault("_notes_inline_last", {})
    if memo.get(closing, (None, -1))[0] is not src:
        memo[closing] = (src, src.rfind(closing))
    if memo[closing][1] < pos + 2:
        return False
    end = src.find(closing, pos + 2)
    if end == -1 or end == pos + 2:
        return False
    if not silent:
        token = state.push("math_bracket", "math", 0)
        token.content = src[pos + 2:end]
        token.markup = src[pos:pos + 2]
    state.pos = end + 2
    return True


def _bracket_block(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    """A ``\\[ ... \\]`` block starting a line (may interrupt a paragraph)."""
    if state.sCount[start] - state.blkIndent >= 4:
        return False
    begin = state.bMarks[start] + state.tShift[start]
    if not state.src.startswith("\\[", begin):
        return False
    line, close = start, -1
    while line < end:
        first = begin + 2 if line == start else state.bMarks[line] + state.tShift[line]
        close = state.src.find("\\]", first, state.eMarks[line])
        if close != -1:
            break
        line += 1
    if close == -1:
        return False
    if silent:
        return True
    token = state.push("math_bracket_block", "math", 0)
    token.block = True
    token.content = state.src[begin + 2:close]
    token.markup = "\\["
    token.map = [start, line + 1]
    state.line = line + 1
    return True


def _dollar_closes(line: str) -> bool:
    stripped = line.strip()
    return stripped.endswith("$$") or bool(DOLLAR_EQNO_REV.match(stripped[::-1]))


def _next_closer(state: StateBlock, key: str, closes) -> list[int]:
    """For each line i, the first line j >= i that ``closes`` (or -1); built once per
    parse, so that no opener scans the rest of the file for a closer that is not there."""
    memo = state.env.setdefault("_notes_closers", {})
    if key not in memo:
        lines = state.src.split("\n")
        table, nxt = [-1] * (len(lines) + 1), -1
        for i in range(len(lines) - 1, -1, -1):
            if closes(lines[i]):
                nxt = i
            table[i] = nxt
        memo[key] = table
    return memo[key]


def _guarded(rule, key_of):
    """``rule`` skipped at once when no line after its opener can close it: the
    plugins scan every following line for a closer, quadratic on a file of
    unclosed openers.  ``key_of(first line)`` gives (key, closes) or None."""

    def guarded(state: StateBlock, start: int, end: int, silent: bool) -> bool:
        first = state.src[state.bMarks[start] + state.tShift[start]:state.eMarks[start]]
        spec = key_of(first)
        if spec is not None:
            table = _next_closer(state, *spec)
            if start + 1 < len(table) and table[start + 1] == -1 and not spec[1](first[2:]):
                return False
        return rule(state, start, end, silent)

    return guarded


def _dollar_key(line: str):
    return ("$$", _dollar_closes) if line.startswith("$$") else None


def _bracket_key(line: str):
    return ("\\]", lambda text: "\\]" in text) if line.startswith("\\[") else None


def _env_key(line: str):
    if not line.startswith("\\begin{") or "}" not in line:
        return None
    closing = "\\end{" + line[7:line.find("}")] + "}"
    return closing, lambda text: text.rstrip().endswith(closing)


@lru_cache(maxsize=None)
def parser() -> MarkdownIt:
    md = (MarkdownIt("commonmark")
          .use(front_matter_plugin)
          .use(dollarmath_plugin, allow_labels=True, allow_space=True, allow_digits=True,
               double_inline=True)
          .use(amsmath_plugin)
          .use(myst_role_plugin)
          .use(myst_block_plugin)
          .use(colon_fence_plugin))
    # Formulas need none of emphasis, links, images, entities or raw HTML; their rules
    # are off (emphasis pairing is quadratic on hostile input), and math inside
    # HTML blocks (notebooks wrap text in <div>) is found like any other.
    md.disable(["emphasis", "strikethrough", "balance_pairs", "fragments_join", "link", "image",
                "autolink", "html_inline", "entity", "html_block", "linkify", "replacements",
                "smartquotes"], ignoreInvalid=True)
    md.inline.ruler.before("escape", "math_bracket", _bracket_inline)
    md.block.ruler.before("fence", "math_bracket_block", _guarded(_bracket_block, _bracket_key),
                          {"alt": ["paragraph", "reference", "blockquote", "list"]})
    for name, key_of in (("math_block", _dollar_key), ("amsmath", _env_key)):
        rules = md.block.ruler.__rules__
        index = md.block.ruler.__find__(name)
        rules[index].fn = _guarded(rules[index].fn, key_of)
    md.block.ruler.__cache__ = None
    return md


# ------------------------------------------------------------------ locating

class _Source:
    def __init__(self, text: str):
        self.text = text
        self.lines = text.split("\n")
        self.starts = [0]
        for line in self.lines[:-1]:
            self.starts.append(self.starts[-1] + len(line) + 1)

    def position(self, offset: int) -> tuple[int, int]:
        """(line, column), 1-based, of ``offset``."""
        lo, hi = 0, len(self.starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1, offset - self.starts[lo] + 1

    def find(self, opener: str, content: str, start: int) -> tuple[int, int]:
        """(offset of the opener, offset of the content) of a formula at or after
        ``start``; the content's first line is looked up with the opener."""
        head = content.split("\n", 1)[0]
        at = self.text.find(opener + head, start)
        if at != -1:
            return at, at + len(opener)
        at = self.text.find(head, start) if head.strip() else -1
        if at != -1:
            return max(start, at - len(opener)), at
        return start, start

    def content_map(self, content: str, offset: int) -> SourceMap:
        """The map of ``content`` whose first character is at ``offset``: each
        later line is found in its source line (container prefixes like ``> ``
        were stripped by markdown-it)."""
        line, column = self.position(offset)
        parts = content.split("\n")
        columns = []
        for k, part in enumerate(parts[1:], start=line):
            source_line = self.lines[k] if k < len(self.lines) else ""
            at = source_line.find(part) if part else 0
            columns.append(at + 1 if at >= 0 else 1)
        return SourceMap.verbatim(content, line, column, tuple(columns))

    def found(self, opener: str, content: str, start: int, display: bool, label: str = "",
              environment: str = "") -> tuple[Found, int]:
        """The formula with its positions, and the offset where the next search starts."""
        open_at, content_at = self.find(opener, content, start)
        smap = self.content_map(content, content_at)
        line, column = self.position(open_at)
        end_line = self.position(min(len(self.text), content_at + len(content)))[0]
        return (Found(text=content, display=display, line=line, column=column, end_line=end_line,
                      source=smap, label=label, environment=environment),
                content_at + len(content))


# ------------------------------------------------------------------ the walk

def _directive(content: str) -> tuple[str, str, int]:
    """(label, body, lines of options) of a ``{math}`` directive's content."""
    lines = content.split("\n")
    label, k = "", 0
    if lines and lines[0].strip() == "---":
        end = next((j for j in range(1, len(lines)) if lines[j].strip() == "---"), None)
        if end is not None:
            for option in lines[1:end]:
                key, _, value = option.partition(":")
                if key.strip() == "label":
                    label = value.strip()
            k = end + 1
    while k < len(lines) and lines[k].startswith(":") and lines[k].count(":") >= 2:
        key, _, value = lines[k][1:].partition(":")
        if key.strip() == "label":
            label = value.strip()
        k += 1
    return label, "\n".join(lines[k:]), k


def read_markdown(text: str, file: str, cell: int | None = None,
                  limit: int = MAX_FORMULAS_PER_FILE) -> tuple[list[Found], list[Reference]]:
    """The formulas of the Markdown ``text`` (in document order; one past ``limit``
    at most, so that the caller can tell there were more) and the label references."""
    src = _Source(text)
    found: list[Found] = []
    references: list[Reference] = []
    pending_target = ""

    def add(formula: Found) -> None:
        nonlocal pending_target
        if formula.display and pending_target and not formula.label:
            formula = Found(**{**formula.__dict__, "label": pending_target})
        pending_target = ""
        found.append(formula)

    for token in parser().parse(text):
        if len(found) > limit:
            break
        block_start = src.starts[token.map[0]] if token.map and token.map[0] < len(src.starts) else 0
        kind = token.type
        if kind in ("math_block", "math_block_label"):
            add(src.found("$$", token.content, block_start, True, label=token.info or "")[0])
        elif kind == "math_bracket_block":
            add(src.found("\\[", token.content, block_start, True)[0])
        elif kind == "amsmath":
            env = token.meta.get("environment", "")
            add(src.found("", token.content, block_start, True, environment=env)[0])
        elif kind in ("fence", "colon_fence") and token.info.strip() in ("{math}", "{eval-rst} math"):
            label, body, skipped = _directive(token.content)
            body_line = token.map[0] + 1 + skipped
            start = src.starts[body_line] if body_line < len(src.starts) else block_start
            formula, _ = src.found("", body, start, True, label=label)
            line, column = src.position(block_start)
            add(Found(**{**formula.__dict__, "line": line, "column": column, "end_line": token.map[1]}))
        elif kind == "myst_target":
            pending_target = token.content.strip()
        elif kind == "inline" and token.children:
            cursor = block_start
            children = token.children
            for k, child in enumerate(children):
                if len(found) > limit:
                    break
                ckind = child.type
                if ckind in ("math_inline", "math_inline_double", "math_bracket"):
                    opener = child.markup
                    display = ckind == "math_inline_double" or opener == "\\["
                    formula, cursor = src.found(opener, child.content, cursor, display)
                    add(formula)
                elif ckind == "myst_role" and child.meta.get("name") in ("eq", "numref", "ref"):
                    if child.meta.get("name") == "eq":
                        references.append(Reference(file=file, line=token.map[0] + 1,
                                                    label=child.content.strip(), cell=cell))
                elif ckind == "text" and child.content.rstrip().endswith((":eqlabel:", ":eqref:")) \
                        and k + 1 < len(children) and children[k + 1].type == "code_inline":
                    name = children[k + 1].content.strip()
                    if child.content.rstrip().endswith(":eqref:"):
                        references.append(Reference(file=file, line=token.map[0] + 1, label=name, cell=cell))
                    else:
                        last = next((j for j in range(len(found) - 1, -1, -1) if found[j].display), None)
                        if last is not None and not found[last].label:
                            found[last] = Found(**{**found[last].__dict__, "label": name})
    return found, references
