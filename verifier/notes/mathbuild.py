"""The callbacks of ``math.lark``: each rule's children -> a :mod:`mathtree` node.

They run while the LALR parser reduces, so the tree is built bottom-up without
recursion (see :mod:`verifier.notes.mathparse`).  They keep
the notation (see :mod:`verifier.notes.mathtree` for what each node means) and
settle only what the notation itself says: a superscript ``T`` is a transpose,
``\\frac{\\partial L}{\\partial X}`` a derivative, a bracketed superscript an index.
"""
from __future__ import annotations

from dataclasses import replace

from lark import Token, Transformer

from verifier.notes import mathtree as mt

#: Relations, by the spelling of the notes -> one name each.
RELATIONS = {
    "=": "=", "<": "<", ">": ">", ":": ":", ":=": ":=", "\\coloneqq": ":=", "\\triangleq": ":=",
    "\\le": "le", "\\leq": "le", "\\leqslant": "le", "≤": "le",
    "\\ge": "ge", "\\geq": "ge", "\\geqslant": "ge", "≥": "ge",
    "\\ne": "ne", "\\neq": "ne", "≠": "ne", "\\approx": "approx", "≈": "approx",
    "\\propto": "propto", "∝": "propto", "\\sim": "sim", "∼": "sim",
    "\\rightarrow": "to", "\\to": "to", "\\longrightarrow": "to", "→": "to", "⟶": "to",
    "\\leftarrow": "gets", "\\gets": "gets", "\\longleftarrow": "gets", "←": "gets",
    "\\Rightarrow": "implies", "\\implies": "implies", "\\Longrightarrow": "implies",
    "\\in": "in", "∈": "in",
}
#: Product operators -> the name kept in ``Product.ops``.
PRODUCT_OPS = {"STAR": "star", "CDOT": "cdot", "TIMES": "times", "ODOT": "odot", "CIRC": "circ",
               "OTIMES": "otimes", "OPLUS": "oplus", "DIV": "div"}
SIGNS = {"PLUS": "+", "MINUS": "-", "PM": "±", "MP": "∓"}
FONTS = {"mathbf": "bf", "boldsymbol": "bf", "bm": "bf", "pmb": "bf", "mathbfit": "bf",
         "mathrm": "rm", "mathit": "it", "mathcal": "cal", "mathbb": "bb", "mathsf": "sf",
         "mathtt": "tt", "mathfrak": "frak", "mathscr": "cal"}
ACCENTS = {"widehat": "hat", "widetilde": "tilde", "overline": "bar", "overrightarrow": "vec"}
OPENS = {"LPAR": "(", "LSQB": "[", "LCURLY": "{", "ANGLE_L": "<", "LNULL": "."}
CLOSES = {"RPAR": ")", "RSQB": "]", "RCURLY": "}", "ANGLE_R": ">", "RNULL": "."}
TRANSPOSE_MARKS = frozenset({"T", "top", "intercal", "⊤"})
GREEK_LETTERS = dict(zip(
    "αβγδεζηθικλμνξπρστυφχψωΓΔΘΛΞΠΣΥΦΨΩϵϑϕ",
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi pi rho sigma tau "
    "upsilon phi chi psi omega Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega "
    "epsilon vartheta phi".split()))


class Refused(Exception):
    """The callbacks refuse a construct the grammar lets through (a mismatched bracket)."""

    def __init__(self, reason: str, token: str, column: int):
        super().__init__(reason)
        self.reason, self.token, self.column = reason, token, column


# -------------------------------------------------------------- internal pieces

class _Piece:
    """A value the callbacks pass up that is not a node of the final tree."""

    __slots__ = ("span",)


class _Rel(_Piece):
    __slots__ = ("op", "annotation")

    def __init__(self, op, annotation, span):
        self.op, self.annotation, self.span = op, annotation, span


class _Stmt(_Piece):
    __slots__ = ("node", "punct")

    def __init__(self, node, punct, span):
        self.node, self.punct, self.span = node, punct, span


class _Scripts(_Piece):
    __slots__ = ("sub", "sup")

    def __init__(self, sub, sup, span):
        self.sub, self.sup, self.span = sub, sup, span


class _Call(_Piece):
    __slots__ = ("body",)

    def __init__(self, body, span):
        self.body, self.span = body, span


class _Braced(_Piece):
    """``\\underbrace{e}`` before its label: the label is dropped, e kept."""

    __slots__ = ("body", "kind")

    def __init__(self, body, kind, span):
        self.body, self.kind, self.span = body, kind, span


class _Braces(_Piece):
    """A ``{...}`` group: its node (None when empty) and the span with the braces."""

    __slots__ = ("node",)

    def __init__(self, node, span):
        self.node, self.span = node, span


def _un(x):
    """The node inside braces (None for ``{}``), or ``x`` itself."""
    return x.node if isinstance(x, _Braces) else x


def _span(items) -> mt.Span:
    spans = [_span_of(x) for x in items if x is not None]
    spans = [s for s in spans if s is not None]
    if not spans:
        return (0, 0)
    return (min(s[0] for s in spans), max(s[1] for s in spans))


def _span_of(x):
    if isinstance(x, Token):
        return (x.start_pos, x.end_pos)
    if isinstance(x, (mt.Node, _Piece)):
        return x.span
    return None


def _tok(items, *types):
    return [x for x in items if isinstance(x, Token) and x.type in types]


def _nodes(items):
    return [x for x in items if not isinstance(x, Token)]


def _cs_name(tok: str) -> str:
    return tok.lstrip("\\").rstrip("*")


def _braced_word(tok: str) -> str:
    """The word inside ``\\operatorname{...}``, ``\\mathrm{...}``, ``\\text{...}``."""
    return tok[tok.index("{") + 1:tok.rindex("}")].strip()


def _is_transpose_mark(node) -> bool:
    return isinstance(node, mt.Symbol) and node.name in TRANSPOSE_MARKS and not node.font \
        and not node.sub and not node.sup and not node.accent and not node.primes


def _is_index(node) -> bool:
    """A bracketed superscript: ``(t)``, ``<t>``, ``[1]``, ``\\langle t \\rangle`` or a run of them."""
    if isinstance(node, mt.Group):
        return node.open in "([<"
    if isinstance(node, mt.Concat):
        return True
    if isinstance(node, mt.Product):
        return all(op == "juxt" for op in node.ops) and all(_is_index(f) for f in node.factors)
    return False


def _product(factors, ops, span):
    return factors[0] if len(factors) == 1 else mt.Product(span=span, factors=tuple(factors), ops=tuple(ops))


def _args(body) -> tuple:
    if body is None:
        return ()
    if isinstance(body, mt.Tuple) and body.separator == ",":
        return body.items
    return (body,)


def _is_named(head) -> bool:
    return isinstance(head, mt.Text) or (isinstance(head, mt.Symbol) and head.font == "op")


def _differential(node, kind):
    """``node`` as (of, order) when it is a differential of ``kind``, else None."""
    if isinstance(node, mt.Differential) and node.kind == kind:
        return node.body, node.order
    if kind == "d":
        if isinstance(node, mt.Symbol) and node.name == "d" and node.font in ("", "rm") \
                and not node.sub and not node.sup:
            return None, None
        if isinstance(node, mt.Product) and node.ops[0] == "juxt":
            first = _differential(node.factors[0], "d")
            if first is not None:
                rest = node.factors[1:]
                of = rest[0] if len(rest) == 1 else mt.Product(
                    span=_span(rest), factors=rest, ops=node.ops[1:])
                return of, None
    return None


def _derivative(num, den, span):
    """A derivative node when ``num/den`` is written as one, else None."""
    for kind in ("partial", "d"):
        top, bottom = _differential(num, kind), _differential(den, kind)
        if top is not None and bottom is not None and bottom[0] is not None:
            return mt.Derivative(span=span, kind=kind, of=top[0], wrt=bottom[0], order=top[1])
    return None


def _with_font(node, font):
    if isinstance(node, mt.Symbol):
        return replace(node, font=font)
    if isinstance(node, mt.Number):
        return mt.Symbol(span=node.span, name=node.text, font=font)
    if isinstance(node, mt.Product):
        return replace(node, factors=tuple(_with_font(f, font) for f in node.factors))
    if isinstance(node, (mt.Power, mt.Transpose)):
        field = "base" if isinstance(node, mt.Power) else "body"
        return replace(node, **{field: _with_font(getattr(node, field), font)})
    return node


def _trailing_text(node):
    """Split trailing ``\\text{...}`` factors off the end of a statement: (node, asides)."""
    if isinstance(node, mt.Chain) and node.parts[-1] is not None:
        last, texts = _trailing_text(node.parts[-1])
        if texts:
            return replace(node, parts=node.parts[:-1] + (last,)), texts
        return node, ()
    if isinstance(node, mt.Product):
        k = len(node.factors)
        while k > 1 and isinstance(node.factors[k - 1], mt.Text) and node.ops[k - 2] == "juxt":
            k -= 1
        if 0 < k < len(node.factors):
            kept = node.factors[:k]
            return _product(kept, node.ops[:k - 1], _span(kept)), node.factors[k:]
    return node, ()


# -------------------------------------------------------------- the callbacks

class Build(Transformer):
    """One callback per rule of math.lark; each gets the rule's children
    (tokens included) and returns a node or a piece for its parent."""

    # statements ------------------------------------------------------------
    def start(self, items):
        return items[0]

    def line(self, items):
        groups, current = [], []
        for x in items:
            if isinstance(x, Token) and x.type == "ASIDE":
                groups.append(current)
                current = []
            else:
                current.append(x)
        groups.append(current)
        stmts = [g[0] if g else None for g in groups]
        body = stmts[0].node if stmts[0] else None
        punct = stmts[0].punct if stmts[0] else ""
        asides = [s.node for s in stmts[1:] if s is not None]
        if stmts[1:] and stmts[-1] is not None and not punct:
            punct = stmts[-1].punct
        if body is not None:
            body, texts = _trailing_text(body)
            asides = list(texts) + asides
        return mt.Line(span=_span(items), body=body, asides=tuple(asides), punctuation=punct)

    def _chain(self, items, span):
        parts, rels, notes = [], [], []
        expect_part = True
        for x in items:
            if isinstance(x, _Rel):
                if expect_part:
                    parts.append(None)
                rels.append(x.op)
                notes.append(x.annotation)
                expect_part = True
            else:
                parts.append(x)
                expect_part = False
        if expect_part:
            parts.append(None)
        if not rels:
            return parts[0]
        return mt.Chain(span=span, parts=tuple(parts), relations=tuple(rels), annotations=tuple(notes))

    def statement(self, items):
        punct = "." if _tok(items, "PERIOD") else ""
        parts = []
        for x in items:
            if isinstance(x, _Stmt):  # a seq
                parts.append(x.node)
                if x.punct and not punct:
                    punct = x.punct
            elif isinstance(x, _Rel):
                parts.append(x)
        return _Stmt(self._chain(parts, _span(items)), punct, _span(items))

    def seq(self, items):
        exprs = _nodes(items)
        trailing = isinstance(items[-1], Token) and items[-1].type == "COMMA"
        node = exprs[0] if len(exprs) == 1 else mt.Tuple(span=_span(exprs), items=tuple(exprs), separator=",")
        return _Stmt(node, "," if trailing else "", _span(items))

    def istmt(self, items):
        return self._chain(items, _span(items))

    def ilist(self, items):
        stmts = _nodes(items)
        if len(stmts) == 1:
            return stmts[0]
        sep = ";" if _tok(items, "SEMI") else ","
        return mt.Tuple(span=_span(items), items=tuple(stmts), separator=sep)

    def inner(self, items):
        lists = _nodes(items)
        if len(lists) == 1:
            return lists[0]
        return mt.Given(span=_span(items), outcome=lists[0], condition=lists[1])

    def relation(self, items):
        first = items[0]
        if first.type == "REL":
            scripts = items[1] if len(items) > 1 else None
            note = (scripts.sup or scripts.sub) if scripts is not None else None
            return _Rel(RELATIONS.get(str(first), _cs_name(first)), note, _span(items))
        if first.type == "XARROW":
            inner = [x for x in _nodes(items)]
            note = inner[-1] if inner else None
            return _Rel("to" if "right" in first else "gets", note, _span(items))
        # \stackrel{note}{REL}
        rel = _tok(items, "REL")[0]
        notes = _nodes(items)
        return _Rel(RELATIONS.get(str(rel), _cs_name(rel)), notes[0] if notes else None, _span(items))

    # arithmetic ------------------------------------------------------------
    def expr(self, items):
        terms, signs, sign, explicit = [], [], "+", False
        for x in items:
            if isinstance(x, Token):
                sign, explicit = SIGNS[x.type], True
            else:
                terms.append(x)
                signs.append(sign)
                sign = "+"
        if len(terms) == 1:
            if signs[0] == "-":
                return mt.Neg(span=_span(items), body=terms[0])
            if signs[0] == "+" or not explicit:
                return terms[0]
        return mt.Sum(span=_span(items), terms=tuple(terms), signs=tuple(signs))

    def term(self, items):
        factors, ops, pending = [], [], None
        slash = False
        for x in items:
            if isinstance(x, Token):
                if x.type == "SLASH":
                    slash = True
                else:
                    pending = PRODUCT_OPS[x.type]
                continue
            if slash and factors:
                num = factors.pop()
                span = (num.span[0], x.span[1])
                factors.append(_derivative(num, x, span) or mt.Frac(span=span, num=num, den=x, inline=True))
                slash = False
                continue
            if factors:
                ops.append(pending or "juxt")
            factors.append(x)
            pending = None
        factors, ops = self._apply_named(factors, ops)
        return _product(factors, ops, _span(items))

    @staticmethod
    def _apply_named(factors, ops):
        """``\\text{diag}[v]``: a function name juxtaposed with a bracket is applied to it."""
        out_f, out_o, k = [factors[0]], [], 1
        while k < len(factors):
            head, nxt, op = out_f[-1], factors[k], ops[k - 1]
            if op == "juxt" and _is_named(head) and isinstance(nxt, (mt.Group, mt.Concat)) \
                    and (not isinstance(nxt, mt.Group) or nxt.open in "(["):
                args = nxt.items if isinstance(nxt, mt.Concat) else _args(nxt.body)
                out_f[-1] = mt.Apply(span=(head.span[0], nxt.span[1]), head=head, args=tuple(args), named=True)
            else:
                out_f.append(nxt)
                out_o.append(op)
            k += 1
        return out_f, out_o

    # postfix: scripts, primes, calls ---------------------------------------
    def postfix(self, items):
        base = _un(items[0])
        if base is None:
            raise Refused("empty braces", "{}", items[0].span[0])
        scripts = next((x for x in items[1:] if isinstance(x, _Scripts)), None)
        call = next((x for x in items[1:] if isinstance(x, _Call)), None)
        primes = _tok(items[1:], "PRIME")
        if primes:
            if not isinstance(base, mt.Symbol):
                p = primes[0]
                raise Refused("a prime on something that is not a symbol", str(p), p.start_pos)
            base = replace(base, primes=base.primes + len(primes[0]), span=_span([base, primes[0]]))
        if scripts is not None:
            base = self._attach(base, scripts)
        elif isinstance(base, _Braced):
            base = base.body
        if call is not None:
            span = (base.span[0], call.span[1])
            if isinstance(base, (mt.Symbol, mt.Text)):
                base = mt.Apply(span=span, head=base, args=_args(call.body), named=_is_named(base))
            else:
                group = mt.Group(span=call.span, open="(", close=")", body=call.body)
                base = mt.Product(span=span, factors=(base, group), ops=("juxt",))
        return base

    def _attach(self, base, scripts):
        sub, sup = scripts.sub, scripts.sup
        span = _span([base, scripts])
        if isinstance(base, _Braced):
            body = base.body
            label_is_sub = base.kind == "underbrace"
            sub, sup = (None, sup) if label_is_sub else (sub, None)
            base = body
        if sub is not None:
            if isinstance(base, mt.Symbol) and base.sub is None:
                base = replace(base, sub=sub, span=_span([base, sub]))
            elif isinstance(base, mt.Norm) and base.order is None:
                base = replace(base, order=sub, span=_span([base, sub]))
            else:
                base = mt.Subscript(span=_span([base, sub]), base=base, sub=sub)
        if sup is None:
            return replace(base, span=span) if isinstance(base, mt.Node) else base
        if _is_transpose_mark(sup):
            return mt.Transpose(span=span, body=base)
        if isinstance(sup, mt.Symbol) and sup.name == "prime" and isinstance(base, mt.Symbol):
            return replace(base, primes=base.primes + 1, span=span)
        if isinstance(base, mt.Symbol) and base.sup is None:
            if _is_index(sup):
                return replace(base, sup=sup, span=span)
            if isinstance(sup, mt.Product) and _is_transpose_mark(sup.factors[-1]) \
                    and sup.ops[-1] == "juxt":
                rest = sup.factors[:-1]
                index = _product(rest, sup.ops[:-1], _span(rest))
                if _is_index(index):
                    return mt.Transpose(span=span, body=replace(base, sup=index, span=span))
        return mt.Power(span=span, base=base, exponent=sup)

    def scripts(self, items):
        sub = sup = None
        for k, x in enumerate(items):
            if isinstance(x, Token) and x.type == "UNDERSCORE":
                sub = _un(items[k + 1])
            elif isinstance(x, Token) and x.type == "CARET":
                sup = _un(items[k + 1])
        return _Scripts(sub, sup, _span(items))

    def sarg(self, items):
        x = items[0]
        if isinstance(x, Token):
            if x.type == "TEXT":
                return mt.Text(span=_span(items), text=_braced_word(x))
            if x.type == "STAR":
                return mt.Symbol(span=_span(items), name="*")
            if x.type == "PRIME":
                return mt.Symbol(span=_span(items), name="prime")
            return self._leaf(x)
        return x

    farg = sarg

    def call(self, items):
        nodes = _nodes(items)
        return _Call(nodes[0] if nodes else None, _span(items))

    # binders, functions, calculus --------------------------------------------
    def bigop(self, items):
        op_tok = items[0]
        op = _braced_word(op_tok).replace("\\,", "").replace(" ", "") if "{" in op_tok else \
            {"∑": "sum", "∏": "prod"}.get(str(op_tok), _cs_name(op_tok))
        scripts = next((x for x in items if isinstance(x, _Scripts)), None)
        bodies = [x for x in items[1:] if isinstance(x, mt.Node)]
        body = bodies[0] if bodies else None
        if body is not None and _tok(items[1:], "MINUS"):
            body = mt.Neg(span=_span(items[1:]), body=body)
        if scripts is None and isinstance(body, mt.Group) and body.open == "(" and op in ("max", "min"):
            head = mt.Symbol(span=_span([op_tok]), name=op, font="op")
            return mt.Apply(span=_span(items), head=head, args=_args(body.body), named=True)
        sub = scripts.sub if scripts else None
        upper = scripts.sup if scripts else None
        index = lower = condition = None
        if isinstance(sub, mt.Symbol):
            index = sub
        elif isinstance(sub, mt.Chain) and len(sub.relations) == 1 and sub.relations[0] == "=" \
                and isinstance(sub.parts[0], mt.Symbol):
            index, lower = sub.parts[0], sub.parts[1]
        elif isinstance(sub, mt.Chain):
            condition = sub
            if len(sub.parts) == 3 and isinstance(sub.parts[1], mt.Symbol):
                index = sub.parts[1]
            elif isinstance(sub.parts[0], mt.Symbol):
                index = sub.parts[0]
        else:
            condition = sub
        return mt.Binder(span=_span(items), op=op, index=index, lower=lower, upper=upper,
                         condition=condition, body=body)

    def func(self, items):
        tok = items[0]
        name = _braced_word(tok) if "{" in tok else _cs_name(tok)
        head = mt.Symbol(span=_span([tok]), name=name, font="op")
        scripts = next((x for x in items if isinstance(x, _Scripts)), None)
        if scripts is not None:
            head = replace(head, sub=scripts.sub, sup=scripts.sup, span=_span([tok, scripts]))
        args = [x for x in items[1:] if isinstance(x, mt.Node)]
        if not args:
            return head
        arg = args[0]
        if isinstance(arg, mt.Group) and arg.open in "([":
            values = _args(arg.body)
        elif isinstance(arg, mt.Concat):
            values = (arg,)
        else:
            values = (arg,)
        return mt.Apply(span=_span(items), head=head, args=tuple(values), named=True)

    def funarg(self, items):
        return items[0]

    def nabla(self, items):
        wrt = None
        for k, x in enumerate(items):
            if isinstance(x, Token) and x.type == "UNDERSCORE":
                wrt = _un(items[k + 1])
                items = items[:k] + items[k + 2:]
                break
        rest = [x for x in items[1:] if isinstance(x, mt.Node)]
        return mt.Gradient(span=_span(items), of=rest[-1] if rest else None, wrt=wrt)

    def partial(self, items):
        order = None
        for k, x in enumerate(items):
            if isinstance(x, Token) and x.type == "CARET":
                order = _un(items[k + 1])
                rest = items[:k] + items[k + 2:]
                break
        else:
            rest = items
        body = [x for x in rest[1:] if isinstance(x, mt.Node)]
        return mt.Differential(span=_span(items), kind="partial", body=body[-1] if body else None,
                               order=order)

    # atoms -------------------------------------------------------------------
    def _leaf(self, tok: Token):
        span = (tok.start_pos, tok.end_pos)
        if tok.type == "NUMBER":
            return mt.Number(span=span, text=str(tok))
        if tok.type == "LETTER":
            return mt.Symbol(span=span, name=GREEK_LETTERS.get(str(tok), str(tok)))
        return mt.Symbol(span=span, name=_cs_name(tok))

    def symbol(self, items):
        return self._leaf(items[0])

    def number(self, items):
        return self._leaf(items[0])

    def text(self, items):
        return mt.Text(span=_span(items), text=_braced_word(items[0]))

    def dots(self, items):
        tok = str(items[0])
        kind = {"...": "dots", "…": "dots", "⋯": "cdots", "⋮": "vdots", "⋱": "ddots"}.get(tok, _cs_name(tok))
        return mt.Dots(span=_span(items), kind=kind)

    def group(self, items):
        open_tok, close_tok = items[0], items[-1]
        body = items[1] if len(items) == 3 else None
        o, c = OPENS[open_tok.type], CLOSES[close_tok.type]
        pair = o + c
        if pair not in ("()", "[]", "{}", "<>") and "." not in pair:
            interval = pair in ("(]", "[)") and isinstance(body, mt.Tuple) and len(body.items) == 2
            if not interval:
                raise Refused(f"bracket opened with {open_tok!s} is closed with {close_tok!s}",
                              str(close_tok), close_tok.start_pos)
        span = _span(items)
        if o == "[" and c == "]" and isinstance(body, mt.Tuple):
            return mt.Concat(span=span, items=body.items)
        return mt.Group(span=span, open=o, close=c, body=body)

    def brace_group(self, items):
        nodes = _nodes(items)
        return _Braces(nodes[0] if nodes else None, _span(items))

    def abs(self, items):
        return mt.Abs(span=_span(items), body=items[1])

    def norm(self, items):
        return mt.Norm(span=_span(items), body=items[1])

    def frac(self, items):
        num, den = _un(items[1]), _un(items[2])
        if num is None or den is None:
            raise Refused("empty \\frac argument", "{}", items[1 if num is None else 2].span[0])
        span = _span(items)
        return _derivative(num, den, span) or mt.Frac(span=span, num=num, den=den)

    def sqrt(self, items):
        nodes = [x for x in items if not isinstance(x, Token)]
        index = nodes[0] if len(nodes) == 2 else None
        body = _un(nodes[-1])
        if body is None:
            raise Refused("empty \\sqrt argument", "{}", nodes[-1].span[0])
        return mt.Sqrt(span=_span(items), body=body, index=index)

    def matrix(self, items):
        begin, end = items[0], items[-1]
        kind = _braced_word(begin.split("}")[0] + "}").rstrip("*")
        end_kind = _braced_word(end).rstrip("*")
        if kind != end_kind:
            raise Refused(f"\\begin{{{kind}}} is closed by \\end{{{end_kind}}}", str(end), end.start_pos)
        return mt.Matrix(span=_span(items), kind=kind, rows=items[1])

    def substack(self, items):
        return mt.Matrix(span=_span(items), kind="substack", rows=items[2])

    def rows(self, items):
        rows = [x for x in items if isinstance(x, tuple)]
        if len(rows) > 1 and all(cell is None for cell in rows[-1]):
            rows.pop()
        return tuple(rows)

    def row(self, items):
        return tuple(x for x in items if not isinstance(x, Token))

    def cell(self, items):
        return items[0] if items else None

    def font(self, items):
        body = _un(items[1])
        if body is None:
            raise Refused("empty font argument", "{}", items[1].span[0])
        name = _cs_name(items[0])
        return replace(_with_font(body, FONTS.get(name, name)), span=_span(items))

    def accent(self, items):
        body = _un(items[1])
        if body is None:
            raise Refused("empty accent argument", "{}", items[1].span[0])
        name = _cs_name(items[0])
        name = ACCENTS.get(name, name)
        if isinstance(body, mt.Symbol) and not body.accent:
            return replace(body, accent=name, span=_span(items))
        return mt.Accent(span=_span(items), accent=name, body=body)

    def underbrace(self, items):
        body = _un(items[1])
        if body is None:
            raise Refused("empty \\underbrace argument", "{}", items[1].span[0])
        return _Braced(body, _cs_name(items[0]), _span(items))
