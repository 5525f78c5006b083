"""The claims machinery: the catalogue decides as expected, the checker can fail,
and anything outside the claims grammar is a located ClaimSyntaxError."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from verifier import claims
from verifier.claims import Claim, catalogue, check, load
from derive.errors import ClaimSyntaxError

SEEDS = Path("/work/shared/seeds")
H = 'define = { "H[t]" = "diag(1 - h[t]**2)" }'


def write_claim(tmp_path: Path, statement: str, *, cid="mutant", expect="fails", extra="",
                name="claims.toml", lead="# a claim file\n\n") -> tuple[Path, int, int]:
    """One claim in a TOML file; returns (path, line of its id, line of its statement)."""
    text = lead + "\n".join([
        "[[claim]]",
        f'id = "{cid}"',
        'model = "rnn"',
        'seed = "004_2bd5bd3ef5bc2048.txt"',
        'section = "Back-Propagation Through Time (BPTT)"',
        "line = 124",
        "text = 'mutated'",
        f'expect = "{expect}"',
        extra,
        f"statement = '{statement}'" if '"' in statement else f'statement = "{statement}"',
        "",
    ])
    path = tmp_path / name
    path.write_text(text)
    lines = text.splitlines()
    id_line = next(i for i, s in enumerate(lines, 1) if s.startswith("id ="))
    st_line = next(i for i, s in enumerate(lines, 1) if s.startswith("statement ="))
    return path, id_line, st_line


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
        assert isinstance(c, Claim) and all(isinstance(p.tree, ast.Expression) for p in c.parts)
        assert c.seed == seeds[c.id[:3]], c.id
        assert Path(c.path).name.startswith(f"seed_{c.id[:3]}"), (c.id, c.path)    # one file per seed
        assert c.kind in claims.KINDS and c.expect in claims.VERDICTS
        assert (c.kind == "scalar") == (not c.model), c.id
        assert any(not p.aside for p in c.parts)
    seed_004 = [c for c in CATALOGUE if c.id in ("004-grad-o", "004-grad-W")]
    assert all(c.section == "Back-Propagation Through Time (BPTT)" and c.model == "rnn" for c in seed_004)


def test_catalogue_locations_point_at_the_id_lines():
    for c in CATALOGUE:
        path, line = c.location.rsplit(":", 1)
        assert Path(path).read_text().splitlines()[int(line) - 1].strip() == f'id = "{c.id}"'


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
    claims._trajectory.cache_clear()
    again = check(claim)
    assert (first.verdict, first.evidence, first.max_rel_error) == (again.verdict, again.evidence,
                                                                    again.max_rel_error)


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


def test_counterexample_names_t_entry_and_values(tmp_path):
    path, _, _ = write_claim(tmp_path, "grad_o[t] == y[t] - yhat[t]")
    evidence = check(load(path)[0]).evidence
    assert "t=1" in evidence and "claim y[t] - yhat[t] = " in evidence and "derived grad_o[t] = " in evidence


def test_empty_range_is_undecided(tmp_path):
    path, _, _ = write_claim(tmp_path, "grad_h[t] == V.T @ grad_o[t]", extra='for = "t == 7"')
    result = check(load(path)[0])
    assert (result.verdict, result.cases) == ("undecided", 0)


def test_index_beyond_the_checked_tau_is_an_error_result(tmp_path):
    path, _, _ = write_claim(tmp_path, "grad_h[5] == W.T @ diag(1 - h[6]**2) @ grad_h[6] + V.T @ grad_o[5]",
                             expect="holds")
    [claim] = load(path)                     # fine for tau >= 6
    result = check(claim, tau=3)
    assert result.status == "error" and "ClaimSyntaxError" in result.evidence
    assert f"{path}:" in result.evidence
    assert check(claim, tau=6, float_tau=6, points=1).verdict == "holds"


def test_literal_indices_and_initial_state(tmp_path):
    for statement in ("grad_h[0] == grad_h0", "h[0] == h0",
                      "grad_h0 == W.T @ diag(1 - h[1]**2) @ grad_h[1]",
                      "grad_x[t] == U.T @ grad_a[t]",
                      "yhat[t] == softmax(o[t])", "h[t] == tanh(b + W @ h[t-1] + U @ x[t])"):
        path, _, _ = write_claim(tmp_path, statement, expect="holds")
        result = check(load(path)[0], points=1)
        assert result.verdict == "holds", (statement, result.evidence)


# -- syntax errors ------------------------------------------------------------------------------
SYNTAX = {
    "unknown name": ("grad_o[t] == foo[t] - y[t]", "foo"),
    "unknown function": ("grad_W == __import__('os')", "__import__"),
    "call through attribute": ('grad_W == __import__("os").system("true")', "__import__"),
    "attribute": ("grad_o[t] == o[t].__class__", ".__class__"),
    "string literal": ("grad_o[t] == 'abc'", "string literal"),
    "float literal": ("grad_o[t] == 0.5 * o[t]", "float literal"),
    "division": ("grad_o[t] == o[t] / 2", "'/'"),
    "lambda": ("grad_o[t] == (lambda: o)()", "lambda"),
    "not a statement": ("grad_o[t]", "lhs == rhs"),
    "python syntax": ("grad_o[t] == (o[t] +", "not a formula"),
    "shape": ("grad_o[t] == W @ o[t]", "matrix product of shapes"),
    "index out of range": ("grad_h[t] == grad_h[t+1]", "outside"),
    "x at 0": ("grad_W == sum_t(grad_a[t] @ x[t-1].T)", "outside 1..tau"),
    "missing index": ("grad_o == o[t]", "time index"),
    "time on a parameter": ("grad_W[t] == W", "does not depend on time"),
    "keyword argument": ("grad_o[t] == softmax(v=o[t])", "one positional argument"),
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
        assert "column" in message and info.value.column >= 1


def test_column_points_at_the_offending_token(tmp_path):
    statement = "grad_o[t] == yhat[t] - y[t] + bogus"
    path, _, _ = write_claim(tmp_path, statement)
    with pytest.raises(ClaimSyntaxError) as info:
        load(path)
    assert info.value.column == statement.index("bogus") + 1
    assert info.value.token == "bogus"


def test_grammar_never_executes(tmp_path):
    marker = tmp_path / "executed"
    statement = f'grad_W == __import__("os").system("touch {marker}")'
    path, _, _ = write_claim(tmp_path, statement)
    with pytest.raises(ClaimSyntaxError):
        load(path)
    assert not marker.exists()


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


def test_field_errors_are_located(tmp_path):
    path, id_line, _ = write_claim(tmp_path, "grad_c == sum_t(grad_o[t])", expect="maybe")
    with pytest.raises(ClaimSyntaxError, match=rf"{path}:{id_line}: .*expect"):
        load(path)
    path, id_line, _ = write_claim(tmp_path, "grad_c == sum_t(grad_o[t])", extra='colour = "red"')
    with pytest.raises(ClaimSyntaxError, match="unknown field"):
        load(path)


def test_duplicate_ids_across_files_are_rejected(tmp_path):
    write_claim(tmp_path, "grad_c == sum_t(grad_o[t])", cid="same", name="a.toml")
    write_claim(tmp_path, "grad_c == sum_t(grad_o[t])", cid="same", name="b.toml")
    with pytest.raises(ClaimSyntaxError, match="duplicate id"):
        catalogue(tmp_path)


def test_a_cell_claim_can_fail(tmp_path):
    """An LSTM formula with the wrong gate's matrix is refuted with a counterexample."""
    path = tmp_path / "lstm.toml"
    path.write_text("\n".join([
        "[[claim]]", 'id = "lstm-mutant"', 'model = "lstm"', 'seed = "001_e1543032cbfbfdb6.txt"',
        'section = "LSTM"', "line = 361", "text = 'mutated'", 'expect = "fails"',
        'statement = "f[t] == sigmoid(W_g @ h[t-1] + U_f @ x[t] + b_f)"', ""]))
    [claim] = load(path)
    result = check(claim)
    assert result.verdict == "fails" and result.evidence.startswith("counterexample"), result.evidence
