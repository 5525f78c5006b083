"""Identity claims: forward values, BPTT gradients, gradients of one step's loss and Jacobians,
decided by an identity test on the one evaluator (derive.evaluate).  Each kind of
statement is shown to flip its verdict when mutated, and the three Jacobian methods
of derive.evaluate.PointJacobians agree."""
from __future__ import annotations

import pytest
import sympy as sp
from claim_files import claim_file, write_claim

from derive.evaluate import Cut, PointJacobians, draw_point, run_forward
from derive.models import derivation
from verifier.claims import check, load
from verifier.claims.identity import trajectory


def decide(tmp_path, **fields):
    [claim] = load(claim_file(tmp_path, **fields))
    return check(claim)


def test_literal_indices_initial_state_and_aliases(tmp_path):
    for statement in ("grad_h[0] == grad_h0", "h[0] == h0",
                      "grad_h0 == W.T @ diag(1 - h[1]**2) @ grad_h[1]",
                      "grad_x[t] == U.T @ grad_a[t]",
                      "yhat[t] == softmax(o[t])", "h[t] == tanh(b + W @ h[t-1] + U @ x[t])"):
        path, _, _ = write_claim(tmp_path, statement, expect="holds")
        result = check(load(path)[0], points=1)
        assert result.verdict == "holds", (statement, result.evidence)


def test_empty_range_is_undecided(tmp_path):
    path, _, _ = write_claim(tmp_path, "grad_h[t] == V.T @ grad_o[t]", extra='for = "t == 7"')
    result = check(load(path)[0])
    assert (result.verdict, result.cases) == ("undecided", 0)


def test_counterexample_names_t_entry_and_values(tmp_path):
    path, _, _ = write_claim(tmp_path, "grad_o[t] == y[t] - yhat[t]")
    evidence = check(load(path)[0]).evidence
    assert "t=1" in evidence and "claim y[t] - yhat[t] = " in evidence and "derived grad_o[t] = " in evidence


def test_a_cell_claim_can_fail(tmp_path):
    """An LSTM formula with the wrong gate's matrix is refuted with a counterexample."""
    result = decide(tmp_path, model="lstm", expect="fails",
                    statement="f[t] == sigmoid(W_g @ h[t-1] + U_f @ x[t] + b_f)")
    assert result.verdict == "fails" and result.evidence.startswith("counterexample"), result.evidence


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
    ("jac(yhat[t], o[t]) == diag(yhat[t]) - yhat[t] @ yhat[t].T", {}, "holds"),
    ("jac(yhat[t], o[t]) == diag(yhat[t])", {}, "fails"),
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


@pytest.mark.parametrize("model, methods", [("rnn", ("symbolic", "forward")), ("lstm", ("forward",))])
def test_jacobian_methods_agree(model, methods):
    """The complex step and SymPy's derivative of the composite (the exact test's methods) and
    forward mode (the float64 reference's) give the same Jacobians, by every kind of cut
    (the composite of the LSTM is too deep for SymPy to differentiate quickly)."""
    D = derivation(model)
    sizes = dict(zip(D.model.sizes, (2, 3, 2)))
    point = draw_point(D.model, sizes, 3, seed=4, digits=40)
    J = PointJacobians(D.model, point, run_forward(D, point, sizes=sizes, digits=40, aliases=True),
                       sizes=sizes, digits=40)
    for cut, A, i in ((Cut("node", "h", 0), "h", 3), (Cut("node", "h", 1), "o", 3), (Cut("input", "x", 2), "h", 3),
                      (Cut("param", "W", None), "h", 2), (Cut("param", "U", 2), "h", 2),
                      (Cut("node", "h", 1), "yhat", 2)):
        complex_step = J.jacobian(A, i, cut, "complex")
        assert complex_step.shape == (J.rows[A], J.true_value(cut).shape[0] * J.true_value(cut).shape[1])
        assert any(abs(e) > 1e-3 for e in complex_step), (cut, A, i)
        for method in methods:
            assert max(abs(e) for e in (complex_step - J.jacobian(A, i, cut, method))) < 1e-15, (cut, method)
    assert J.jacobian("o", 2, Cut("node", "h", 2), "complex").is_zero_matrix is False
    assert J.jacobian(D.model.equations[0].lhs.name, 2, Cut("node", "h", 2), "complex").is_zero_matrix


def test_relu_jacobian_is_the_derivative_of_the_composite():
    """ReLU has no complex extension: the exact test differentiates the composite."""
    traj = trajectory("rnn_relu", (2, 3, 2), 3, "rational", 0, 0, 70)
    J = traj.jac("h", 3, "h", 1)
    step = [traj.jac("h", t, "h", t - 1) for t in (2, 3)]
    assert J == step[1] * step[0] and J.shape == (2, 2)
    for t in (2, 3):
        assert step[t - 2] == sp.diag(*[1 if v > 0 else 0 for v in traj.steps[t]["a"]]) * traj.const["W"]
