"""The statement language of the claims: lark parses it into the nodes of
verifier/claims/nodes.py (the contract a LaTeX reader of the notes produces too), and
anything outside it, or outside what a model's claim may say, is a ClaimSyntaxError
naming file:line, the column and the offending token.  Nothing is ever executed."""
from __future__ import annotations

from pathlib import Path

import pytest
from claim_files import SAMPLE, claim_file, write_claim

from verifier import claims
from verifier.claims import load
from verifier.claims.grammar import GRAMMAR, parse
from verifier.claims.nodes import (And, Binary, Binder, Call, Compare, Gradient, Indexed, Jacobian, Name, Neg,
                                   Number, Transpose, free_indices, segment, walk)
from verifier.claims.source import Where
from derive.errors import ClaimSyntaxError

WHERE = Where("f.toml", 7, "c", 3, "statement")


def tree(text):
    return parse(text, WHERE).tree


# -- the nodes ----------------------------------------------------------------------------------------
def test_a_statement_becomes_explicit_nodes():
    t = tree("grad_h[t] == W.T @ H[t+1] @ grad_h[t+1] + V.T @ grad_o[t]")
    h_next = Indexed("grad_h", Binary("+", Name("t"), Number(1)))
    assert t == Compare((Indexed("grad_h", Name("t")),
                         Binary("+", Binary("@", Binary("@", Transpose(Name("W")),
                                                        Indexed("H", Binary("+", Name("t"), Number(1)))), h_next),
                                Binary("@", Transpose(Name("V")), Indexed("grad_o", Name("t"))))), ("==",))


def test_binders_and_calculus_are_nodes_of_their_own():
    assert tree("sum_t(h[t])") == Binder("sum", Name("t"), None, None, Indexed("h", Name("t")))
    assert tree("max_t(norm2(W))") == Binder("max", Name("t"), None, None, Call("norm2", (Name("W"),)))
    assert tree("prod(j, t, k+1, W)") == Binder("prod", Name("j"), Name("t"), Binary("+", Name("k"), Number(1)),
                                                Name("W"))
    assert tree("jac(h[t], W)") == Jacobian(Indexed("h", Name("t")), Name("W"), False)
    assert tree("pjac(h[t], W)") == Jacobian(Indexed("h", Name("t")), Name("W"), True)
    assert tree("grad(L[t], h[k])") == Gradient(Indexed("L", Name("t")), Indexed("h", Name("k")))
    assert tree("grad(L, W)") == Gradient(Name("L"), Name("W"))


def test_precedence_is_pythons():
    assert tree("-x**2") == Neg(Binary("**", Name("x"), Number(2)))
    assert tree("2**-1") == Binary("**", Number(2), Neg(Number(1)))
    assert tree("a - b - c") == Binary("-", Binary("-", Name("a"), Name("b")), Name("c"))
    assert tree("a + b * c") == Binary("+", Name("a"), Binary("*", Name("b"), Name("c")))
    assert tree("+a") == Name("a")
    assert tree("0 <= k < t and t > 1") == And((Compare((Number(0), Name("k"), Name("t")), ("<=", "<")),
                                                Compare((Name("t"), Number(1)), (">",))))
    assert tree("frac(abs(W) < 1) > 1/2").operands[0].args[0] == Compare((Call("abs", (Name("W"),)), Number(1)),
                                                                         ("<",))
    assert tree("normal(0, 0.5)") == Call("normal", (Number(0), Number(0.5)))
    assert tree("zeros()") == Call("zeros", ())
    assert tree("andy < 1") == Compare((Name("andy"), Number(1)), ("<",))


def test_every_node_knows_its_source_text():
    text = "norm2(jac(h[t], h[k])) <= (9/10) ** (t - k)"
    t = parse(text, WHERE).tree
    assert [segment(text, n) for n in t.operands] == ["norm2(jac(h[t], h[k]))", "(9/10) ** (t - k)"]
    jac = next(n for n in walk(t) if isinstance(n, Jacobian))
    assert segment(text, jac) == "jac(h[t], h[k])" and segment(text, jac.of.name_span) == "h"
    assert free_indices(t) == {"t", "k"}
    assert free_indices(tree("sum_t(h[t]) + sum(k, 0, t, h[k])")) == {"t"}


def test_equal_trees_ignore_where_they_were_read():
    assert tree("h[t]  ==  W") == tree("h[t]==W")


def test_the_grammar_file_documents_the_special_calls():
    text = GRAMMAR.read_text()
    for name in ("sum_t", "max_t", "sum(k", "prod(j", "jac(A[i], B[j])", "pjac", "grad(L[t], X)", ".T", "**"):
        assert name in text, name


# -- located errors ------------------------------------------------------------------------------------
SYNTAX = {
    "unknown name": ("grad_o[t] == foo[t] - y[t]", "foo"),
    "unknown function": ("grad_W == __import__(os)", "call of '__import__'"),
    "call through attribute": ('grad_W == __import__("os").system("true")', "string literal"),
    "attribute": ("grad_o[t] == o[t].__class__", "unexpected '.'"),
    "string literal": ("grad_o[t] == 'abc'", "string literal"),
    "float literal": ("grad_o[t] == 0.5 * o[t]", "float literal"),
    "division": ("grad_o[t] == o[t] / 2", "'/'"),
    "lambda": ("grad_o[t] == (lambda: o)()", "unexpected ':'"),
    "modulo": ("grad_o[t] == o[t] % 2", "unexpected '%'"),
    "not a statement": ("grad_o[t]", "lhs == rhs"),
    "python syntax": ("grad_o[t] == (o[t] +", "not a formula"),
    "shape": ("grad_o[t] == W @ o[t]", "matrix product of shapes"),
    "index out of range": ("grad_h[t] == grad_h[t+1]", "outside"),
    "x at 0": ("grad_W == sum_t(grad_a[t] @ x[t-1].T)", "outside 1..tau"),
    "missing index": ("grad_o == o[t]", "time index"),
    "time on a parameter": ("grad_W[t] == W", "does not depend on time"),
    "keyword argument": ("grad_o[t] == softmax(v=o[t])", "unexpected '='"),
    "non-integer exponent": ("grad_o[t] == o[t] ** o[t]", "integer literal"),
    "sum without t": ("grad_c == sum_t(c)", "refer to t"),
    "elementwise shapes": ("grad_c == c + h0.T @ h[t] * c", "elementwise product of shapes"),
}


@pytest.mark.parametrize("name", sorted(SYNTAX))
def test_syntax_errors_name_file_line_and_token(tmp_path, name):
    statement, needle = SYNTAX[name]
    path, _, st_line = write_claim(tmp_path, statement)
    with pytest.raises(ClaimSyntaxError) as info:
        load(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{st_line}: claim 'mutant'"), message
    assert needle in message, message
    assert info.value.line == st_line and info.value.path == str(path)
    if name != "not a statement":
        assert "column" in message and info.value.column >= 1 and info.value.token, message


@pytest.mark.parametrize("statement, token", [
    ("grad_o[t] == yhat[t] - y[t] + bogus", "bogus"),
    ("grad_o[t] == (o[t] +", "end of formula"),
    ("grad_o[t] == o[t] $ 2", "$"),
    ("grad_W == W @ h[t] @ W", "@"),
])
def test_column_points_at_the_offending_token(tmp_path, statement, token):
    path, _, _ = write_claim(tmp_path, statement)
    with pytest.raises(ClaimSyntaxError) as info:
        load(path)
    column = len(statement) + 1 if token == "end of formula" else statement.rindex(token) + 1
    assert (info.value.column, info.value.token) == (column, token), str(info.value)
    assert str(info.value).splitlines()[-1] == "    " + " " * (column - 1) + "^"


def test_grammar_never_executes(tmp_path):
    marker = tmp_path / "executed"
    statement = f'grad_W == __import__("os").system("touch {marker}")'
    path, _, _ = write_claim(tmp_path, statement)
    with pytest.raises(ClaimSyntaxError):
        load(path)
    assert not marker.exists()


def test_nothing_calls_python_or_sympy_parsers(tmp_path):
    marker = tmp_path / "executed"
    for statement in (f'sup(__import__("os").system("touch {marker}")) < 1',
                      'dtanh(z) < eval("1")'):
        with pytest.raises(ClaimSyntaxError):
            load(claim_file(tmp_path, kind="scalar", expect="holds", statement=statement))
    with pytest.raises(ClaimSyntaxError):
        load(claim_file(tmp_path, **SAMPLE, expect="holds", statement="norm2(W) < 1",
                        draw={"W": f'normal(0, __import__("os").system("touch {marker}"))'}))
    assert not marker.exists()
    for source in Path(claims.__file__).parent.glob("*.py"):
        text = source.read_text()
        assert "sympify(" not in text and "parse_expr" not in text, source
        assert "eval(" not in text.replace(".evalf(", "").replace("_eval_", ""), source
        assert "import ast" not in text, source


def test_errors_in_definitions_and_for_are_located(tmp_path):
    extra = 'define = { "H[t]" = "diag(1 - h[t]**2) + eval(1)" }'
    path, id_line, _ = write_claim(tmp_path, "grad_a[t] == H[t] @ grad_h[t]", extra=extra)
    with pytest.raises(ClaimSyntaxError) as info:
        load(path)
    assert f"{path}:{id_line + 7}:" in str(info.value) and "eval" in str(info.value)

    path, id_line, _ = write_claim(tmp_path, "grad_h[t] == V.T @ grad_o[t]", extra='for = "t < len(tau)"')
    with pytest.raises(ClaimSyntaxError) as info:
        load(path)
    assert f"{path}:{id_line + 7}:" in str(info.value)

    path, _, _ = write_claim(tmp_path, "grad_W == W", extra='for = "t < tau"')
    with pytest.raises(ClaimSyntaxError, match="does not use t"):
        load(path)


SEMANTICS = {
    "unknown kind": (dict(kind="proof", model="rnn", statement="grad_W == grad_W"), "kind"),
    "scalar with model name": (dict(kind="scalar", statement="y < 1"), "unknown name 'y'"),
    "scalar float": (dict(kind="scalar", statement="dtanh(z) < 0.5"), "integer literals"),
    "scalar call": (dict(kind="scalar", statement="erf(z) < 1"), "erf"),
    "scalar chain": (dict(kind="scalar", statement="0 < dtanh(z) < 1"), "one comparison"),
    "scalar for": (dict(kind="scalar", statement="dtanh(z) < 1", **{"for": "z > y"}), "integer"),
    "scalar matrix product": (dict(kind="scalar", statement="z @ z < 1"), "'@'"),
    "identity inequality": (dict(model="rnn", statement="norm2(W) < 1"), "lhs == rhs"),
    "sample equality": (dict(SAMPLE, statement="norm2(W) == 1"), "one comparison"),
    "sample matrix": (dict(SAMPLE, statement="W < W"), "compares scalars"),
    "sample grad": (dict(SAMPLE, statement="norm2(grad_W) < 1"), "not available in sample claims"),
    "sample pjac": (dict(SAMPLE, statement="norm2(pjac(h[1], W)) < 1"), "not available in sample claims"),
    "sample a": (dict(SAMPLE, statement="norm2(a[1]) < 1"), "not available in sample claims"),
    "draw in identity": (dict(model="rnn", statement="grad_W == grad_W", draw={"W": "zeros()"}), "sample"),
    "random given": (dict(model="rnn", statement="grad_W == grad_W", given={"W": "normal(0, 1)"}), "random"),
    "given unknown": (dict(model="rnn", statement="grad_W == grad_W", given={"Q": "zeros()"}), "'Q'"),
    "identity of non-square": (dict(model="rnn", statement="grad_W == grad_W", given={"U": "identity()"}),
                               "square"),
    "draw function": (dict(SAMPLE, statement="norm2(W) < 1", draw={"W": "cauchy()"}), "a draw is one of"),
    "jac of a parameter": (dict(model="rnn", statement="jac(W, h[1]) == W"), "time index"),
    "jac by a label": (dict(model="rnn", statement="jac(h[2], y[1]) == W"), "not a state"),
    "pjac by a state": (dict(model="rnn", statement="pjac(h[2], h[1]) == W"), "parameter"),
    "grad of a state": (dict(model="rnn", statement="grad(h[1], W) == W"), "differentiates the loss"),
    "loss at 0": (dict(model="rnn", statement="grad(L[0], W) == W"), "outside 1..tau"),
    "bare L": (dict(model="rnn", statement="L == W"), "grad(L, X)"),
    "frac of a value": (dict(SAMPLE, statement="frac(W) > 0"), "one comparison"),
    "binder variable": (dict(model="rnn", statement="grad_W == sum(W, 1, 2, W)"), "index variable"),
    "binder shadowing": (dict(model="rnn", statement="grad_W == sum_t(sum(t, 1, 2, W @ h[t] @ h[t].T))"),
                         "already bound"),
    "binder unused": (dict(model="rnn", statement="grad_W == prod(j, 1, 2, W)"), "must refer to j"),
    "empty sum": (dict(model="rnn", statement="grad_W == sum(k, 3, 1, W @ h[k] @ h[k].T)"), "empty sum"),
    "negative power": (dict(model="rnn", statement="W == mpow(W, t - 2)"), "exponent >= 0"),
    "for with another index": (dict(model="rnn", statement="h[t] == h[t]", **{"for": "k < t"}),
                               "does not use"),
    "arity": (dict(model="rnn", statement="W == jac(h[1])"), "2 positional arguments"),
    "function arity": (dict(model="rnn", statement="W == diag(h[1], h[2])"), "one positional argument"),
    "rational matrix division": (dict(model="rnn", statement="W == W / 2"), "'/'"),
}


@pytest.mark.parametrize("name", sorted(SEMANTICS))
def test_what_a_claim_may_not_say_is_located(tmp_path, name):
    fields, needle = SEMANTICS[name]
    fields = {"expect": "holds", **fields}
    path = claim_file(tmp_path, **fields)
    with pytest.raises(ClaimSyntaxError) as info:
        load(path)
    assert str(info.value).startswith(f"{path}:"), str(info.value)
    assert needle in str(info.value), str(info.value)
