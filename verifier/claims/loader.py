"""Claims files: TOML read with tomlkit, every key located, every claim checked when loaded.

A claims file is ``[[claim]]`` tables of ``key = value`` lines, each optionally followed
by ``[[claim.part]]`` tables.  The file is parsed by tomlkit, which keeps the text of
every item: walking the document's items and accumulating their exact text (which
round-trips byte for byte) gives the line of every table header and every key, so an
error names the line of the field it is about.  Then each claim's fields are checked
(unknown, missing and mistyped fields are located errors), its formulas parsed by the
grammar, and each part statically checked: names, shapes and time indices for identity
and sample claims (at a few values of tau, symbolic sizes), the expression for scalar
claims.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import tomlkit
from tomlkit.exceptions import ParseError, TOMLKitError
from tomlkit.items import AoT, Table

from derive.errors import ClaimSyntaxError, UnknownModel
from derive.models import get

from verifier.claims import draws, sample
from verifier.claims.backends import Shapes, shape_text
from verifier.claims.claim import KINDS, VERDICTS, Claim, Part
from verifier.claims.grammar import parse
from verifier.claims.nodes import (INDEX_VARS, And, Binder, Compare, Indexed, Name, free_indices, integer,
                                   walk)
from verifier.claims.scalar import ScalarBuilder, domain
from verifier.claims.source import Formula, Where, fail
from verifier.claims.vocabulary import RESERVED, vocabulary
from verifier.claims.walker import Define, Walker, index_value

__all__ = ["load", "catalogue", "REQUIRED", "OPTIONAL", "PART_FIELDS"]

REQUIRED = {"id": str, "seed": str, "section": str, "line": int, "text": str, "expect": str}
OPTIONAL = {"kind": str, "model": str, "statement": str, "notes": str, "define": dict, "for": str,
            "given": dict, "draw": dict, "sizes": dict, "tau": int, "trials": int, "part": list}
PART_FIELDS = {"reading": str, "statement": str, "for": str, "aside": bool, "model": str,
               "given": dict, "draw": dict}


# -- the file, located -----------------------------------------------------------------------------
@dataclass
class _Table:
    """One ``[[claim]]`` or ``[[claim.part]]`` table as written: values and the line of each key."""

    line: int                                   # the header's line
    values: dict = field(default_factory=dict)
    lines: dict = field(default_factory=dict)   # key -> line
    parts: list = field(default_factory=list)   # _Table per [[claim.part]]

    def line_of(self, key: str, default: int = None) -> int:
        return self.lines.get(key, self.line if default is None else default)


class _Layout:
    """Accumulates the text of the document's items, checking it against the file, to know the
    line each item starts on."""

    def __init__(self, raw: str, path: str):
        self.raw, self.path, self.offset = raw, path, 0

    @property
    def line(self) -> int:
        """The line the next item starts on (its first non-blank character)."""
        rest = self.raw[self.offset:]
        skipped = len(rest) - len(rest.lstrip(" \t\r\n"))
        return self.raw.count("\n", 0, self.offset + skipped) + 1

    def take(self, text: str) -> None:
        if not self.raw.startswith(text, self.offset):
            raise ClaimSyntaxError(f"{self.path}:{self.line}: cannot locate this part of the file; claims files "
                                   "are [[claim]] and [[claim.part]] tables of key = value lines")
        self.offset += len(text)

    def item(self, key, item) -> int:
        """Take a key/value item (or a comment or blank line); returns the line of its key."""
        if key is None:
            self.take(item.as_string())
            return self.line
        t = item.trivia
        self.take(t.indent)
        line = self.line
        self.take(f"{key.as_string()}{key.sep}{item.as_string()}{t.comment_ws}{t.comment}{t.trail}")
        return line

    def header(self, table: Table, name: str) -> int:
        t = table.trivia
        self.take(t.indent)
        line = self.line
        self.take(f"[[{table.display_name or name}]]{t.comment_ws}{t.comment}{t.trail}")
        return line


def _tables(body, layout: _Layout, name: str, nested: bool) -> list:
    """The tables of an array of tables ``name`` (claim, or claim.part when ``nested``)."""
    out = []
    for table in body:
        located = _Table(layout.header(table, name))
        for key, item in table.value.body:
            if key is not None and isinstance(item, AoT) and key.key == "part" and not nested:
                located.lines.setdefault("part", layout.line)
                located.parts += _tables(item.body, layout, f"{name}.part", True)
                continue
            if isinstance(item, (AoT, Table)):
                raise ClaimSyntaxError(f"{layout.path}:{layout.line}: claims are [[claim]] tables of key = value "
                                       "lines and [[claim.part]] tables (write tables inline: define = { ... })")
            line = layout.item(key, item)
            if key is not None:
                located.values[key.key] = item.unwrap()
                located.lines[key.key] = line
        out.append(located)
    return out


def _read(path: Path) -> list:
    shown = str(path)
    raw = path.read_text(encoding="utf-8")
    try:
        doc = tomlkit.parse(raw)
    except ParseError as e:
        raise ClaimSyntaxError(f"{shown}:{e.line}: not valid TOML: {e}") from None
    except TOMLKitError as e:           # e.g. a key given twice in one table: no position
        raise ClaimSyntaxError(f"{shown}: not valid TOML: {e}") from None
    layout = _Layout(raw, shown)
    claims = []
    for key, item in doc.body:
        if key is None:
            layout.item(None, item)
        elif key.key == "claim" and isinstance(item, AoT):
            claims += _tables(item.body, layout, "claim", False)
        else:
            raise ClaimSyntaxError(f"{shown}:{layout.line}: unknown top-level key {key.key!r}; claims are "
                                   "[[claim]] tables")
    return claims


# -- fields ------------------------------------------------------------------------------------------
def _check_fields(table: _Table, fields: dict, where: Where, what: str = "") -> None:
    for key in table.values:
        if key not in fields:
            raise fail(where.at(table.line_of(key)), f"unknown field {key!r}{what}; fields are "
                                                     f"{', '.join(fields)}")
    for key, kind in fields.items():
        if key in table.values:
            value = table.values[key]
            if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
                raise fail(where.at(table.line_of(key)), f"field {key!r}{what} must be a {kind.__name__}, "
                                                         f"got {value!r}")


def _model(name: str, where: Where, what: str = "") -> str:
    try:
        get(name)
    except UnknownModel as e:
        raise fail(where, f"{what}{e}") from None
    return name


def _claim(table: _Table, path: str) -> Claim:
    values = table.values
    claim_id = values.get("id", "?")
    id_line = table.line_of("id")
    where = Where(path, id_line, claim_id if isinstance(claim_id, str) else "?", id_line)

    def at(key):
        return where.at(table.line_of(key, id_line))

    _check_fields(table, {**REQUIRED, **OPTIONAL}, where)
    if "part" in values:                    # an inline array, not [[claim.part]] tables
        raise fail(at("part"), "parts are [[claim.part]] tables, each with a reading and a statement")
    for key in REQUIRED:
        if key not in values:
            raise fail(where, f"missing field {key!r}")
    if not claim_id:
        raise fail(where, "empty id")
    kind = values.get("kind", "identity")
    if kind not in KINDS:
        raise fail(at("kind"), f"field 'kind' must be one of {', '.join(KINDS)}, got {kind!r}")
    model = values.get("model", "")
    if kind != "scalar" and not model:
        raise fail(where, f"missing field 'model' (a {kind} claim is about a model)")
    if model:
        _model(model, at("model"))
    if values["expect"] not in VERDICTS:
        raise fail(at("expect"), f"field 'expect' must be \"holds\", \"fails\" or \"partial\", "
                                 f"got {values['expect']!r}")
    if values["line"] < 1:
        raise fail(at("line"), f"field 'line' must be a line number of the seed file, got {values['line']}")
    if ("statement" in values) == bool(table.parts):
        raise fail(where, "a claim has either a 'statement' or [[claim.part]] tables, not "
                          + ("both" if "statement" in values else "neither"))
    for key in ("sizes", "tau", "trials", "draw"):
        if key in values and kind != "sample":
            raise fail(at(key), f"field {key!r} is for sample claims")
    if "given" in values and kind != "identity":
        raise fail(at("given"), "field 'given' is for identity claims (sample claims use 'draw')")
    if kind == "scalar" and "define" in values:
        raise fail(at("define"), "field 'define' is for identity and sample claims")

    defines = {}
    if model:
        vocab = vocabulary(model)
        for order, (key, body) in enumerate(values.get("define", {}).items()):
            defines.update(_define(key, body, order, vocab, defines, at("define")))

    sizes, tau, trials = (), None, None
    if kind == "sample":
        names = list(vocabulary(model).sizes)
        given_sizes = values.get("sizes", {})
        bad = sorted(set(given_sizes) - set(names))
        if bad or not all(type(v) is int and v >= 1 for v in given_sizes.values()):
            raise fail(at("sizes"), f"field 'sizes' maps the size names of {model!r} ({' '.join(names)}) to "
                                    f"positive integers, got {given_sizes!r}")
        sizes = tuple((n, given_sizes.get(n, 4)) for n in names)
        tau = values.get("tau", sample.SAMPLE_TAU)
        trials = values.get("trials", sample.SAMPLE_TRIALS)
        if tau < 1 or trials < 1:
            raise fail(at("tau" if tau < 1 else "trials"), "fields 'tau' and 'trials' must be >= 1")

    rows = table.parts or [_Table(table.line_of("statement"), {"reading": "", "statement": values["statement"]},
                                  {"statement": table.line_of("statement")})]
    parts = [_part(table, row, index, where, kind, model, bool(table.parts)) for index, row in enumerate(rows)]
    if all(p.aside for p in parts):
        raise fail(where, "every part is an aside: at least one part must count")
    statement = parts[0].statement if len(parts) == 1 else " ; ".join(p.statement for p in parts)
    claim = Claim(
        id=claim_id, model=model, seed=values["seed"], section=values["section"], line=values["line"],
        statement=statement, text=values["text"], expect=values["expect"], notes=values.get("notes", ""),
        define=dict(values.get("define", {})), for_t=values.get("for"), path=path, toml_line=id_line,
        kind=kind, parts=tuple(parts), defines=defines, sizes=sizes, tau=tau, trials=trials)
    for p in claim.parts:
        _static_check(claim, p)
    return claim


def _define(key: str, body, order: int, vocab, defines: dict, where: Where) -> dict:
    if not isinstance(body, str):
        raise fail(where, f"define {key!r}: the definition must be a string")
    head = parse(key, where.at(where.line, f"define key {key!r}"))
    h = head.tree
    if isinstance(h, Name):
        name, per_step, param = h.id, False, None
    elif isinstance(h, Indexed) and isinstance(h.index, Name) and h.index.id in INDEX_VARS:
        name, per_step, param = h.name, True, h.index.id
    else:
        raise head.error(h, "a definition's name is NAME or NAME[t]")
    if name in vocab.step or name in vocab.const or name in vocab.sizes or name in RESERVED:
        raise head.error(h, f"{name!r} is already a name of the grammar")
    if name in defines:
        raise head.error(h, f"{name!r} is defined twice")
    formula = parse(body, where.at(where.line, f"define {key!r}"))
    free = free_indices(formula.tree)
    if not per_step and free:
        v = sorted(free)[0]
        raise formula.error(None, f"{name!r} uses {v} outside sum_t(...): define it as {name}[{v}]")
    if per_step and free - {param}:
        v = sorted(free - {param})[0]
        raise formula.error(None, f"{name!r} uses {v}, which is not its parameter {param}")
    return {name: Define(name, per_step, formula, order, param or "t")}


def _draws(tables: list, field_name: str, model: str, where: Where, *, exact: bool) -> tuple:
    """A ``given``/``draw`` field, the claim's merged with the part's (the part wins):
    ((name, text), ...), each checked against the model's targets."""
    merged = {}
    for table in tables:
        for key, text in table.values.get(field_name, {}).items():
            merged[key] = (text, where.at(table.line_of(field_name)))
    targets = draws.targets(model)
    vocab = vocabulary(model)
    stand_in = {s: 3 + k for k, s in enumerate(vocab.sizes.values())}      # distinct sizes stay distinct
    out = []
    for key, (text, at) in merged.items():
        if key not in targets:
            raise fail(at, f"{field_name} {key!r}: not a parameter, an initial state or an input of "
                           f"{model!r}: {' '.join(targets)}")
        if not isinstance(text, str):
            raise fail(at, f"{field_name} {key!r}: the draw must be a string")
        formula = parse(text, at.at(at.line, f"{field_name} {key!r}"))
        shape = tuple(stand_in.get(s, 1) for s in targets[key].shape)
        draws.check(formula, shape, size_names=list(vocab.sizes), exact=exact)
        out.append((key, formula.text))
    return tuple(out)


def _part(table: _Table, row: _Table, index: int, where: Where, kind: str, model: str, has_parts: bool) -> Part:
    part_where = where.at(row.line)
    if has_parts:
        _check_fields(row, PART_FIELDS, where, f" in part {index + 1}")
        for key in ("reading", "statement"):
            if key not in row.values:
                raise fail(part_where, f"part {index + 1}: missing field {key!r}")
        if "for" in row.values and "for" in table.values:
            raise fail(where.at(row.line_of("for")), f"part {index + 1}: 'for' is given for the claim and "
                                                     "for the part")
    values = row.values
    pmodel = values.get("model", model)
    if kind == "scalar" and "model" in values:
        raise fail(where.at(row.line_of("model")), "a scalar claim has no model")
    if pmodel and pmodel != model:
        _model(pmodel, where.at(row.line_of("model")), f"part {index + 1}: ")
    statement = parse(values["statement"], where.at(row.line_of("statement"), "statement"))
    body = statement.tree
    ops = body.ops if isinstance(body, Compare) else ()
    if kind == "identity":
        if not (ops and all(op == "==" for op in ops)):
            raise statement.error(body, "a statement is `lhs == rhs`")
    elif not (len(ops) == 1 and (kind == "scalar" or ops[0] != "==")):
        allowed = "== < <= > >=" if kind == "scalar" else "< <= > >="
        raise statement.error(body, f"a {kind} statement is one comparison `lhs OP rhs` with OP one of {allowed}")
    free = tuple(v for v in INDEX_VARS if v in free_indices(body))
    for_text = values.get("for", table.values.get("for"))
    for_formula = None
    if for_text is not None:
        owner = row if "for" in values else table
        for_formula = parse(for_text, where.at(owner.line_of("for", where.line), "for"))
        if kind == "scalar":
            domain(for_formula)
        else:
            _check_for(for_formula, free)
    given = drawn = ()
    if kind == "identity":
        given = _draws([table, row] if has_parts else [table], "given", pmodel, where, exact=True)
    elif "given" in values:
        raise fail(where.at(row.line_of("given")), "'given' is for identity claims (sample claims use 'draw')")
    if kind == "sample":
        drawn = _draws([table, row] if has_parts else [table], "draw", pmodel, where, exact=False)
    elif "draw" in values:
        raise fail(where.at(row.line_of("draw")), "'draw' is for sample claims")
    return Part(reading=values.get("reading", ""), statement=values["statement"], model=pmodel,
                for_t=for_text, aside=bool(values.get("aside", False)), given=given, draw=drawn,
                formula=statement, for_formula=for_formula, free=free, index=index)


def _check_for(formula: Formula, free: tuple) -> None:
    """``for = "0 <= k < t"``: comparisons of index expressions of the statement's free indices,
    chained, joined by ``and``."""
    node = formula.tree
    if not free:
        raise fail(formula.where, "'for' is given but the statement does not use t (or k, i, j) outside "
                                  "sum_t(...)")
    constrained = False
    for cmp in (node.terms if isinstance(node, And) else (node,)):
        if not isinstance(cmp, Compare):
            raise formula.error(cmp, "'for' is a comparison of t, e.g. \"t < tau\" (several joined by and)")
        for item in cmp.operands:
            used = free_indices(item)
            extra = used - set(free)
            if extra:
                raise formula.error(item, f"'for' uses {sorted(extra)[0]}, which the statement does not use")
            constrained = constrained or bool(used)
            index_value(item, {v: 1 for v in free}, 1, formula)
    if not constrained:
        raise formula.error(node, "'for' must constrain an index of the statement")


def _literal_times(part: Part, claim: Claim) -> int:
    """The largest integer literal used in a time position (indices, binder bounds, 'for')."""
    trees = [part.tree, *(d.formula.tree for d in claim.defines.values())]
    biggest = 0

    def ints(node):
        return [n.value for n in walk(node) if integer(n) is not None]

    for tree in trees:
        for n in walk(tree):
            if isinstance(n, Indexed):
                biggest = max([biggest, *ints(n.index)])
            if isinstance(n, Binder) and n.lo is not None:
                biggest = max([biggest, *ints(n.lo), *ints(n.hi)])
    if part.for_formula is not None:
        biggest = max([biggest, *ints(part.for_formula.tree)])
    return biggest


def _static_check(claim: Claim, part: Part) -> None:
    """Names, shapes and time indices, at a few values of tau (symbolic sizes)."""
    if claim.kind == "scalar":
        ScalarBuilder(part, static=True).statement()
        return
    vocab = vocabulary(part.model)
    available = sample.available(part.model) if claim.kind == "sample" else None
    shapes = Shapes(vocab, available=available, calculus=claim.kind == "identity")
    start = max(2, _literal_times(part, claim))
    for d in claim.defines.values():        # definitions are checked even when unused
        Walker(part.model, part.formula, claim.defines, shapes, start).defined(d, 1 if d.per_step else None)
    taus = range(start, start + 3) if claim.kind == "identity" else [max(start, claim.tau)]
    cmp = part.tree
    for tau in taus:
        walker = Walker(part.model, part.formula, claim.defines, shapes, tau)
        for env in part.assignments(tau):
            sides = walker.statement(env)
            for node, s in zip(cmp.operands[1:], sides[1:]):
                if s != sides[0]:
                    raise part.formula.error(node, f"the sides have shapes {shape_text(sides[0])} and "
                                                   f"{shape_text(s)}")
            if claim.kind == "sample" and sides[0] is not None:
                raise part.formula.error(cmp, f"a sample statement compares scalars, got {shape_text(sides[0])}")


# -- files ----------------------------------------------------------------------------------------
def load(path) -> list:
    """The claims of one TOML file (``[[claim]]`` tables), in file order."""
    path = Path(path)
    claims, seen = [], {}
    for table in _read(path):
        claim = _claim(table, str(path))
        if claim.id in seen:
            raise fail(Where(str(path), claim.toml_line, claim.id), f"duplicate id (first at line {seen[claim.id]})")
        seen[claim.id] = claim.toml_line
        claims.append(claim)
    return claims


def catalogue(directory) -> list:
    """Every claim of every ``*.toml`` file in ``directory``, sorted by id."""
    claims, seen = [], {}
    for path in sorted(Path(directory).glob("*.toml")):
        for claim in load(path):
            if claim.id in seen:
                raise ClaimSyntaxError(f"{claim.location}: claim {claim.id!r}: duplicate id "
                                       f"(also at {seen[claim.id]})")
            seen[claim.id] = claim.location
            claims.append(claim)
    return sorted(claims, key=lambda c: c.id)
