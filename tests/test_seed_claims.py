"""The claim kinds the seed catalogue needs beyond gradient identities: parts and the
"partial" verdict, Jacobians, step losses, scalar (SymPy suprema) and sample (measured)
claims.  Every kind is shown to flip its verdict on a mutated claim, the Jacobian methods
are shown to agree with each other, and the new grammar rejects what it does not know
with a located ClaimSyntaxError."""
from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from verifier import claims
from verifier.claims import check, load
from derive.errors import ClaimSyntaxError

HEAD = {"seed": "001_e1543032cbfbfdb6.txt", "section": "s", "line": 1, "text": "t"}


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, dict):
        return "{ " + ", ".join(f'"{k}" = {toml_value(x)}' for k, x in v.items()) + " }"
    return "'" + v + "'" if '"' in v else '"' + v + '"'


def claim_file(tmp_path: Path, *, parts=(), name="claims.toml", **fields) -> Path:
    """One claim: ``fields`` (with HEAD's defaults) and optional [[claim.part]] tables."""
    lines = ["[[claim]]", 'id = "mutant"']
    for k, v in {**HEAD, **fields}.items():
        lines.append(f"{k} = {toml_value(v)}")
    for part in parts:
        lines += ["", "[[claim.part]]"] + [f"{k} = {toml_value(v)}" for k, v in part.items()]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def decide(tmp_path, **fields):
    [claim] = load(claim_file(tmp_path, **fields))
    return check(claim)


def scalar(tmp_path, statement, expect="holds", **extra):
    return decide(tmp_path, kind="scalar", expect=expect, statement=statement, **extra)


SAMPLE = dict(kind="sample", model="rnn", sizes={"n": 8, "m": 3, "K": 2}, tau=4, trials=5)


# -- scalar claims: SymPy finds the suprema ---------------------------------------------------------
@pytest.mark.parametrize("statement, verdict", [
    ("dsigmoid(z) < 1", "holds"),
    ("dsigmoid(z) < 1/5", "fails"),             # sup sigmoid' = 1/4 at z = 0
    ("dtanh(z) <= 1", "holds"),
    ("dtanh(z) < 1", "fails"),                  # the sup 1 is attained at z = 0
    ("abs(tanh(z)) < 1", "holds"),              # the sup 1 is not attained
    ("abs(tanh(z)) < 99/100", "fails"),
    ("sup(dsigmoid(z)) == 1/4", "holds"),
    ("sup(dsigmoid(z)) == 1/3", "fails"),
    ("4 * sup(dsigmoid(z)) == sup(dtanh(z))", "holds"),
    ("sup(dsigmoid(z)) < sup(dtanh(z))", "holds"),
    ("sup(dtanh(z)) < sup(dsigmoid(z))", "fails"),
    ("max(dtanh(z)) == 1", "holds"),
    ("max(abs(tanh(z))) == 1", "fails"),        # a max that is not attained does not exist
    ("inf(dtanh(z)) == 0", "holds"),
    ("dtanh(z) > 0", "holds"),                  # the inf 0 is not attained
    ("dtanh(z) >= 1/2", "fails"),
    ("dsigmoid(z) <= dtanh(z)", "fails"),       # saturated units: sigmoid' > tanh' for |z| > 1.66
    ("dtanh(z) == 1 - tanh(z)**2", "holds"),
    ("dtanh(z) == 1 - tanh(z)**3", "fails"),
    ("drelu(z) >= 0", "holds"),
    ("drelu(z) >= 1", "fails"),
    ("sup(drelu(z)) == 1", "holds"),
    ("relu(z) >= z", "holds"),
    ("relu(z) <= z", "fails"),
])
def test_scalar_claims_decide_and_flip(tmp_path, statement, verdict):
    result = scalar(tmp_path, statement, expect=verdict)
    assert (result.verdict, result.status) == (verdict, "pass"), result.evidence
    assert result.evidence.startswith("SymPy")
    if verdict == "fails" and "max(" not in statement:
        assert "counterexample: z = " in result.evidence or " > " in result.evidence or " < " in result.evidence, \
            result.evidence


def test_scalar_sup_is_found_not_typed(tmp_path):
    evidence = scalar(tmp_path, "sup(dsigmoid(z)) < sup(dtanh(z))").evidence
    assert "sup of dsigmoid(z) over z = 1/4, attained at z = 0" in evidence
    assert "sup of dtanh(z) over z = 1, attained at z = 0" in evidence
    evidence = scalar(tmp_path, "dtanh(z) < 1", expect="fails").evidence
    assert "counterexample: z = 0: dtanh(z) = 1, not < 1" in evidence


def test_scalar_crossing_of_sigmoid_and_tanh_derivatives(tmp_path):
    """SymPy's critical points of sigmoid' - tanh' come from a polynomial in u = exp(z)."""
    value, attained, where, _ = claims._supremum(claims._activation_lambda("dsigmoid")(claims._Z)
                                                 - claims._activation_lambda("dtanh")(claims._Z), sp.S.Reals)
    assert attained and abs(float(value) - 0.0438713443812133) < 1e-14
    assert abs(abs(float(where)) - 2.401712415) < 1e-8


def test_scalar_domain_flips_a_verdict(tmp_path):
    assert scalar(tmp_path, "drelu(z) == 1", **{"for": "z > 0"}).verdict == "holds"
    assert scalar(tmp_path, "drelu(z) == 1", expect="fails", **{"for": "z > -1"}).verdict == "fails"
    assert scalar(tmp_path, "dsigmoid(z) <= dtanh(z)", **{"for": "-1 <= z <= 1"}).verdict == "holds"
    assert scalar(tmp_path, "dsigmoid(z) <= dtanh(z)", expect="fails", **{"for": "0 <= z <= 2"}).verdict == "fails"


# -- sample claims: measured, seeded ------------------------------------------------------------------
def test_sample_claim_flips_with_the_draw(tmp_path):
    small = decide(tmp_path, **SAMPLE, expect="holds", statement="norm2(W) < 1",
                   draw={"W": "norm(normal(0, 1), 1/2)"})
    assert small.verdict == "holds" and "no violation" in small.evidence and "measured: 5 cases" in small.evidence
    big = decide(tmp_path, **SAMPLE, expect="fails", statement="norm2(W) < 1", draw={"W": "normal(0, 1)"})
    assert big.verdict == "fails" and "violated in 5 of 5 cases (first: draw 1" in big.evidence


def test_sample_claim_flips_with_the_threshold(tmp_path):
    entries = decide(tmp_path, **SAMPLE, expect="holds", statement="frac(abs(W) < 1) > 1/4",
                     draw={"W": "normal(0, 1)"})
    assert entries.verdict == "holds"
    assert decide(tmp_path, **SAMPLE, expect="fails", statement="frac(abs(W) < 1) > 99/100",
                  draw={"W": "normal(0, 1)"}).verdict == "fails"


def test_sample_jacobian_bound_flips_with_its_exponent(tmp_path):
    fields = dict(SAMPLE, **{"for": "0 <= k < t"}, define={"beta": "max_t(norm2(jac(h[t], h[t-1])))"},
                  draw={"W": "normal(0, 2/sqrt(n))"})
    assert decide(tmp_path, **fields, expect="holds",
                  statement="norm2(jac(h[t], h[k])) <= beta ** (t - k)").verdict == "holds"
    # an exponent off by one: beta^(t-k-1) is below the actual norm somewhere
    assert decide(tmp_path, **fields, expect="fails",
                  statement="norm2(jac(h[t], h[k])) <= beta ** (t - k - 1)").verdict == "fails"


def test_sample_claims_are_deterministic_and_seeded(tmp_path):
    [claim] = load(claim_file(tmp_path, **SAMPLE, expect="fails", statement="norm2(W) < 1",
                              draw={"W": "normal(0, 1)"}))
    assert check(claim).evidence == check(claim).evidence
    assert check(claim, seed=1).evidence != check(claim).evidence


def test_sample_jacobian_is_the_complex_step_of_the_forward_pass():
    rng = np.random.default_rng(5)
    run = claims._Numeric("rnn", {"n": 4, "m": 3, "K": 2}, 3, (("W", "normal(0, 1)"),), rng)
    J = run.jac("h", 2, "h", 1)
    a = run.params["W"] @ run.steps[1]["h"] + run.params["U"] @ run.steps[2]["x"] + run.params["b"]
    assert np.allclose(J, np.diag(1 - np.tanh(a[:, 0]) ** 2) @ run.params["W"], rtol=0, atol=1e-14)
    Jx = run.jac("h", 2, "x", 2)
    assert np.allclose(Jx, np.diag(1 - np.tanh(a[:, 0]) ** 2) @ run.params["U"], rtol=0, atol=1e-14)
    assert np.allclose(run.jac("h", 3, "h", 1), run.jac("h", 3, "h", 2) @ J, rtol=0, atol=1e-14)


# -- identity claims with Jacobians and step losses ---------------------------------------------------------
@pytest.mark.parametrize("statement, extra, verdict", [
    ("jac(h[t], h[k]) == prod(j, t, k+1, jac(h[j], h[j-1]))", {"for": "0 <= k < t"}, "holds"),
    ("jac(h[t], h[k]) == prod(j, k+1, t, jac(h[j], h[j-1]))", {"for": "0 <= k < t - 1"}, "fails"),
    ("jac(h[t], h[t-1]) == diag(dtanh(a[t])) @ W", {}, "holds"),
    ("jac(h[t], h[t-1]) == W.T @ diag(dtanh(a[t]))", {}, "fails"),
    ("jac(o[t], h[t]) == V", {}, "holds"),
    ("jac(a[t], h[t]) == 0 * W", {}, "holds"),                       # a(t) comes before h(t)
    ("jac(h[t], a[t]) == diag(1 - h[t]**2)", {}, "holds"),
    ("jac(h[t], x[t]) == diag(dtanh(a[t])) @ U", {}, "holds"),
    ("jac(h[t], x[t]) == diag(1 - h[t]) @ U", {}, "fails"),
    ("vec(grad(L[t], W)).T == grad(L[t], h[t]).T @ jac(h[t], W)", {}, "holds"),
    ("vec(grad(L[t], W)).T == grad(L[t], h[t]).T @ pjac(h[t], W)", {"for": "t >= 2"}, "fails"),
    ("grad_W == sum_t(grad(L[t], W))", {}, "holds"),
    ("grad_W == sum_t(grad(L[t], W)) + grad(L[1], W)", {}, "fails"),
    ("grad(L[t], h[t]) == V.T @ (yhat[t] - y[t])", {}, "holds"),
    ("grad(L[t], h[k]).T == grad(L[t], h[t]).T @ jac(h[t], h[k])", {"for": "0 <= k <= t"}, "holds"),
    ("grad(L[t], h[k]).T == grad(L[t], h[t]).T @ jac(h[t], h[k])", {"for": "t < k <= tau"}, "holds"),
    ("grad(L[t], h[k]).T == grad(L[t], h[t]).T @ jac(h[t], h[k]).T", {"for": "0 <= k < t"}, "fails"),
    ("grad(L, W) == grad_W", {}, "holds"),
    ("grad(L[tau], h[t]) == mpow(W.T, tau - t) @ grad(L[tau], h[tau])",
     {"given": {"x": "zeros()", "b": "zeros()", "h0": "zeros()"}}, "holds"),
    ("grad(L[tau], h[t]) == mpow(W.T, tau - t) @ grad(L[tau], h[tau])", {"for": "t < tau"}, "fails"),
    ("grad(L[tau], h[t]) == mpow(W.T, tau - t + 1) @ grad(L[tau], h[tau])",
     {"given": {"x": "zeros()", "b": "zeros()", "h0": "zeros()"}}, "fails"),
    ("norm2(jac(h[t], h[t-1])) == norm2(jac(h[t], h[t-1]).T)", {}, "holds"),
    ("rho(jac(h[t], h[t-1])) == rho(W)", {"given": {"x": "zeros()", "b": "zeros()", "h0": "zeros()"}}, "holds"),
    ("rho(jac(h[t], h[t-1])) == rho(W)", {}, "fails"),
])
def test_identity_claims_with_calculus_flip(tmp_path, statement, extra, verdict):
    result = decide(tmp_path, model="rnn", expect=verdict, statement=statement, **extra)
    assert (result.verdict, result.status) == (verdict, "pass"), result.evidence
    if verdict == "fails":
        assert result.evidence.startswith("counterexample") and " vs derived " in result.evidence


def test_jacobian_methods_agree():
    """Complex step and SymPy's derivative of the composite (the exact test's two methods) and
    forward mode (the float64 reference's) give the same Jacobians."""
    traj = claims._trajectory("rnn", (2, 3, 2), 3, "rational", 4, 0, 40)
    for cut, A, i in ((("node", "h", 0), "h", 3), (("node", "h", 1), "o", 3), (("input", "x", 2), "h", 3),
                      (("param", "W", None), "h", 2), (("param", "U", 2), "h", 2), (("node", "a", 2), "h", 3)):
        kind, name, j = cut
        start = {"node": max(j or 0, 1), "input": j, "param": 1 if j is None else j}[kind]
        syms, true = traj._cut(cut)
        by_step = traj._complex_step(A, i, cut, start, true)
        composite = traj._composite(A, i, cut, start, syms, true)
        forward = traj._forward_mode(A, i, cut, start, len(syms))
        for other in (composite, forward):
            assert max(abs(e) for e in (by_step - other)) < 1e-30, cut


def test_relu_jacobian_falls_back_to_the_composite():
    traj = claims._trajectory("rnn_relu", (2, 3, 2), 3, "rational", 0, 0, 70)
    J = traj.jac("h", 3, "h", 1)
    step = [traj.jac("h", t, "h", t - 1) for t in (2, 3)]
    assert J == step[1] * step[0]
    assert all(e in (0, 1) for t in (2, 3) for e in sp.Matrix(traj.steps[t]["a"]).applyfunc(
        lambda v: 1 if v > 0 else 0)) and J.shape == (2, 2)


# -- parts and verdicts -------------------------------------------------------------------------------
PARTS = [
    {"reading": "sigmoid", "statement": "dsigmoid(z) < 1"},
    {"reading": "tanh", "statement": "dtanh(z) < 1"},
]


def test_parts_give_holds_fails_or_partial(tmp_path):
    result = decide(tmp_path, kind="scalar", expect="partial", parts=PARTS)
    assert (result.verdict, result.status) == ("partial", "pass")
    assert "[sigmoid] holds:" in result.evidence and "[tanh] fails:" in result.evidence
    assert [p["verdict"] for p in result.parts] == ["holds", "fails"]
    assert decide(tmp_path, kind="scalar", expect="partial", parts=PARTS[:1]).verdict == "holds"
    assert decide(tmp_path, kind="scalar", expect="fails", parts=PARTS[1:]).status == "pass"
    wrong = decide(tmp_path, kind="scalar", expect="holds", parts=PARTS)
    assert (wrong.verdict, wrong.status) == ("partial", "fail")


def test_asides_are_reported_but_do_not_count(tmp_path):
    parts = [PARTS[0], {**PARTS[1], "aside": True}]
    result = decide(tmp_path, kind="scalar", expect="holds", parts=parts)
    assert (result.verdict, result.status) == ("holds", "pass")
    assert "; aside [tanh] fails: " in result.evidence
    with pytest.raises(ClaimSyntaxError, match="every part is an aside"):
        load(claim_file(tmp_path, kind="scalar", expect="holds", parts=[{**PARTS[0], "aside": True}]))


def test_parts_override_model_and_given(tmp_path):
    parts = [{"reading": "tanh", "statement": "jac(h[t], h[t-1]) == diag(dtanh(a[t])) @ W"},
             {"reading": "linear", "model": "rnn_linear", "statement": "jac(h[t], h[t-1]) == W"},
             {"reading": "relu at rest", "model": "rnn_relu", "given": {"W": "identity()", "b": "zeros()"},
              "statement": "jac(h[t], h[t-1]) == diag(drelu(a[t]))"}]
    result = decide(tmp_path, model="rnn", expect="holds", parts=parts)
    assert result.verdict == "holds", result.evidence
    assert [p["model"] for p in result.parts] == ["rnn", "rnn_linear", "rnn_relu"]


def test_a_part_error_is_located_at_its_own_line(tmp_path):
    path = claim_file(tmp_path, kind="scalar", expect="partial",
                      parts=[PARTS[0], {"reading": "bad", "statement": "dtanh(y) < 1"}])
    lines = path.read_text().splitlines()
    bad_line = max(i for i, s in enumerate(lines, 1) if s.startswith("statement"))
    with pytest.raises(ClaimSyntaxError) as info:
        load(path)
    assert info.value.line == bad_line and "unknown name 'y'" in str(info.value)


# -- the new grammar rejects what it does not know ---------------------------------------------------------
SYNTAX = {
    "unknown kind": (dict(kind="proof", model="rnn", statement="grad_W == grad_W"), "kind"),
    "bad expect": (dict(model="rnn", expect="maybe", statement="grad_W == grad_W"), "partial"),
    "statement and parts": (dict(model="rnn", statement="grad_W == grad_W", parts=PARTS), "not both"),
    "no model": (dict(statement="grad_W == grad_W"), "missing field 'model'"),
    "scalar with model name": (dict(kind="scalar", statement="y < 1"), "unknown name 'y'"),
    "scalar float": (dict(kind="scalar", statement="dtanh(z) < 0.5"), "integer literals"),
    "scalar call": (dict(kind="scalar", statement="erf(z) < 1"), "erf"),
    "scalar chain": (dict(kind="scalar", statement="0 < dtanh(z) < 1"), "one comparison"),
    "scalar for": (dict(kind="scalar", statement="dtanh(z) < 1", **{"for": "z > y"}), "integer"),
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
    "rational matrix division": (dict(model="rnn", statement="W == W / 2"), "'/'"),
}


@pytest.mark.parametrize("name", sorted(SYNTAX))
def test_new_grammar_errors_are_located(tmp_path, name):
    fields, needle = SYNTAX[name]
    fields = {"expect": "holds", **fields}
    path = claim_file(tmp_path, **fields)
    with pytest.raises(ClaimSyntaxError) as info:
        load(path)
    assert str(info.value).startswith(f"{path}:"), str(info.value)
    assert needle in str(info.value), str(info.value)


def test_the_walker_never_calls_python_or_sympy_parsers(tmp_path):
    marker = tmp_path / "executed"
    for statement in (f'sup(__import__("os").system("touch {marker}")) < 1',
                      'dtanh(z) < eval("1")'):
        with pytest.raises(ClaimSyntaxError):
            load(claim_file(tmp_path, kind="scalar", expect="holds", statement=statement))
    with pytest.raises(ClaimSyntaxError):
        load(claim_file(tmp_path, **SAMPLE, expect="holds", statement="norm2(W) < 1",
                        draw={"W": f'normal(0, __import__("os").system("touch {marker}"))'}))
    assert not marker.exists()
    source = Path(claims.__file__).read_text()
    assert "sympify(" not in source and "parse_expr" not in source and "eval(" not in source.replace(
        ".evalf(", "").replace("_eval_", "")


def test_claim_documentation_lists_every_function():
    doc = claims.__doc__
    for name in (*claims.FUNCTIONS, *claims.KINDS, "partial", "aside", "given", "draw"):
        assert name in doc, name
    assert textwrap.dedent(doc)


def test_catalogue_covers_the_issue_examples():
    """Issue 4 item 9 names tanh versus sigmoid, identity initialisation with ReLU, the
    echo-state spectral radius and what random initial weights look like."""
    by_id = {c.id: c for c in claims.catalogue()}
    for cid, kind, model in (("001-f-prime-below-1", "scalar", ""), ("004-sigmoid-vanishes-quicker", "scalar", ""),
                             ("001-identity-init", "identity", "rnn_relu"), ("004-echo-state", "sample", "rnn"),
                             ("001-normal-weights", "sample", "rnn")):
        assert (by_id[cid].kind, by_id[cid].model) == (kind, model)
    assert {c.expect for c in by_id.values()} == {"holds", "fails", "partial"}
    assert {c.kind for c in by_id.values()} == set(claims.KINDS)
