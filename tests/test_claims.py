"""The claims of the course notes: the catalogue decides as expected, a wrong claim is refuted,
and the verdict over a claim's parts (holds, fails, partial, asides) is the documented one.

The pieces have their own files: the grammar (tests/test_claims_grammar.py), the TOML
loader (tests/test_claims_loader.py) and one per decider (test_claims_identity.py,
test_claims_scalar.py, test_claims_sample.py)."""
from __future__ import annotations

import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
from claim_files import H, PARTS, claim_file, write_claim
from sympy import MatrixSymbol

from derive.errors import ClaimSyntaxError, SpecError
from derive.models import get
from derive.spec import softmax
from verifier import claims
from verifier.claims import Claim, catalogue, check, load
from verifier.claims.identity import trajectory
from verifier.claims.nodes import Compare

SEEDS = Path("/work/shared/seeds")


def decide(tmp_path, **fields):
    [claim] = load(claim_file(tmp_path, **fields))
    return check(claim)


# -- the catalogue ---------------------------------------------------------------------------
CATALOGUE = catalogue()


def test_catalogue_is_sorted_unique_and_one_file_per_seed():
    ids = [c.id for c in CATALOGUE]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert {"004-grad-o", "004-grad-h-last", "004-grad-h-recursion", "004-grad-W", "004-grad-U",
            "004-grad-V", "004-grad-b", "004-grad-c"} <= set(ids)
    seeds = {"000": "000_896ebda0a3a80bff.txt", "001": "001_e1543032cbfbfdb6.txt",
             "002": "002_43f2f9f4d98fad2e.txt", "003": "003_08590fb14900077a.txt",
             "004": "004_2bd5bd3ef5bc2048.txt"}
    assert {c.id[:3] for c in CATALOGUE} == set(seeds)      # every seed file has claims
    for c in CATALOGUE:
        assert isinstance(c, Claim) and all(isinstance(p.tree, Compare) for p in c.parts)
        assert c.seed == seeds[c.id[:3]], c.id
        assert Path(c.path).name.startswith(f"seed_{c.id[:3]}"), (c.id, c.path)    # one file per seed
        assert Path(c.path).parent == claims.CLAIMS_DIR
        assert c.kind in claims.KINDS and c.expect in claims.VERDICTS
        assert (c.kind == "scalar") == (not c.model), c.id
        assert any(not p.aside for p in c.parts)
    seed_004 = [c for c in CATALOGUE if c.id in ("004-grad-o", "004-grad-W")]
    assert all(c.section == "Back-Propagation Through Time (BPTT)" and c.model == "rnn" for c in seed_004)


@pytest.mark.skipif(not (SEEDS / "004_2bd5bd3ef5bc2048.txt").exists(), reason="course notes not present")
def test_catalogue_text_is_copied_from_the_seed_line():
    for c in CATALOGUE:
        seed_lines = (SEEDS / c.seed).read_text(encoding="utf-8").splitlines()
        assert c.text in seed_lines[c.line - 1], c.id


@pytest.mark.parametrize("claim", CATALOGUE, ids=lambda c: c.id)
def test_catalogue_claim_decides_as_expected(claim):
    result = check(claim)
    assert result.status == "pass", result.evidence
    assert result.verdict == claim.expect
    assert result.id == claim.id and result.expected == claim.expect and result.kind == claim.kind
    assert result.cases > 0
    assert "line" in result.source and claim.seed in result.source
    assert len(result.parts) == len(claim.parts)
    for part, p in zip(claim.parts, result.parts):
        assert p["reading"] == part.reading and p["aside"] == part.aside and p["evidence"] in result.evidence
    counted = [p["verdict"] for p in result.parts if not p["aside"]]
    if result.verdict == "partial":
        assert "holds" in counted and "fails" in counted
    else:
        assert set(counted) == {result.verdict}
    for p in result.parts:
        if p["verdict"] == "fails":     # a counterexample with numbers, or the measured violations
            assert any(w in p["evidence"] for w in ("counterexample", "violated", "not attained")), p
        if p["verdict"] == "holds" and claim.kind == "identity":
            assert "60 digits" in p["evidence"] and "float64" in p["evidence"]
        if claim.kind == "sample":
            assert "measured" in p["evidence"] and " draws " in p["evidence"]
        if claim.kind == "scalar":
            assert p["evidence"].startswith("SymPy")
    if result.verdict == "holds" and claim.kind == "identity":
        assert result.max_rel_error < 1e-13


def test_check_is_deterministic():
    claim = CATALOGUE[0]
    first = check(claim)
    trajectory.cache_clear()                 # the points are drawn again
    again = check(claim)
    assert (first.verdict, first.evidence, first.max_rel_error) == (again.verdict, again.evidence,
                                                                    again.max_rel_error)


def test_catalogue_covers_the_issue_examples():
    """Issue 4 item 9 names tanh versus sigmoid, identity initialisation with ReLU, the
    echo-state spectral radius and what random initial weights look like."""
    by_id = {c.id: c for c in CATALOGUE}
    for cid, kind, model in (("001-f-prime-below-1", "scalar", ""), ("004-sigmoid-vanishes-quicker", "scalar", ""),
                             ("001-identity-init", "identity", "rnn_relu"), ("004-echo-state", "sample", "rnn"),
                             ("001-normal-weights", "sample", "rnn")):
        assert (by_id[cid].kind, by_id[cid].model) == (kind, model)
    assert {c.expect for c in by_id.values()} == {"holds", "fails", "partial"}
    assert {c.kind for c in by_id.values()} == set(claims.KINDS)


def test_claim_documentation_lists_every_function():
    doc = claims.__doc__
    for name in (*claims.FUNCTIONS, *claims.KINDS, "partial", "aside", "given", "draw"):
        assert name in doc, name
    assert textwrap.dedent(doc)


def test_the_vocabulary_reads_the_model_and_its_aliases():
    v = claims.vocabulary("rnn")
    assert {"x", "a", "h", "o", "yhat", "y", "grad_h", "grad_o", "grad_x"} <= set(v.step)
    assert {"U", "W", "b", "V", "c", "h0", "grad_W", "grad_h0"} <= set(v.const)
    assert v.forward == ("a", "h", "o", "yhat") and v.zero["h"] == "h0"
    assert claims.vocabulary("lstm").states == ("h", "s")


def test_a_models_aliases_are_checked_like_its_equations():
    model = get("rnn")()
    o, q = model.symbol("o"), MatrixSymbol("q", *model.symbol("o").shape)
    assert model.aliases == {"yhat": softmax(o)}
    with pytest.raises(SpecError, match="alias 'yhat' uses \\['q'\\]"):
        replace(model, aliases={"yhat": softmax(q)})
    with pytest.raises(SpecError, match="alias 'h' is already a name"):
        replace(model, aliases={"h": softmax(o)})


# -- the checker can fail ---------------------------------------------------------------------------
MUTANTS = {
    "transposed-W": ("grad_h[t] == W @ H[t+1] @ grad_h[t+1] + V.T @ grad_o[t]", H + '\nfor = "t < tau"'),
    "shifted-index": ("grad_W == sum_t(H[t] @ grad_h[t] @ h[t].T)", H),
    "dropped-term": ("grad_h[t] == W.T @ H[t+1] @ grad_h[t+1]", H + '\nfor = "t < tau"'),
    "sign-flip": ("grad_o[t] == y[t] - yhat[t]", ""),
    "dropped-label": ("grad_h[tau] == V.T @ yhat[tau]", ""),
}


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutated_claims_fail_with_a_counterexample(tmp_path, name):
    statement, extra = MUTANTS[name]
    path, id_line, _ = write_claim(tmp_path, statement, cid=name, extra=extra)
    [claim] = load(path)
    assert claim.location == f"{path}:{id_line}"
    result = check(claim)
    assert result.verdict == "fails", result.evidence
    assert result.status == "pass"           # the file expects "fails": not a failure
    assert result.evidence.startswith("counterexample")
    assert "entry [" in result.evidence and " vs derived " in result.evidence
    assert result.max_rel_error > 1e-6


def test_a_wrong_claim_expected_to_hold_is_a_failed_check(tmp_path):
    path, _, _ = write_claim(tmp_path, "grad_c == sum_t(yhat[t])", expect="holds")
    result = check(load(path)[0])
    assert (result.verdict, result.status) == ("fails", "fail")


def test_a_right_claim_expected_to_fail_is_a_failed_check(tmp_path):
    path, _, _ = write_claim(tmp_path, "grad_c == sum_t(grad_o[t])", expect="fails")
    result = check(load(path)[0])
    assert (result.verdict, result.status) == ("holds", "fail")


def test_a_claim_that_cannot_be_decided_is_an_error_result(tmp_path):
    path, _, _ = write_claim(tmp_path, "grad_h[5] == W.T @ diag(1 - h[6]**2) @ grad_h[6] + V.T @ grad_o[5]",
                             expect="holds")
    [claim] = load(path)                     # fine for tau >= 6
    result = check(claim, tau=3)
    assert (result.status, result.verdict) == ("error", "undecided")
    assert "ClaimSyntaxError" in result.evidence and f"{path}:" in result.evidence
    assert check(claim, tau=6, float_tau=6, points=1).verdict == "holds"


# -- parts and verdicts -------------------------------------------------------------------------------
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
