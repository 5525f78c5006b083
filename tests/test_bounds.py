"""Decay bounds, by module: the one-step Jacobian (derive.jacobian), the bounds and
named statements (derive.bounds), their numeric confirmation (numeric.trajectories,
numeric.bound_checks) and the report stage (verifier.stages.bounds).

Course formulas appear here only as claims the derivation is compared with;
nothing is computed from them.
"""
from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from hypothesis import example, given
from hypothesis import strategies as st
from sympy import DiagMatrix, MatrixSymbol

from derive import bounds as db
from derive import extrema
from derive.errors import DerivationError, UnknownModel
from derive.jacobian import LAYOUT, one_step_jacobian, prove_jacobian, state_params
from derive.models import REGISTRY, get
from derive.spec import ACTIVATIONS, BoundFault
from numeric import bound_checks as bc
from numeric import trajectories as tj
from numeric.jacobians import step_jacobians
from verifier.stages import bounds as stage

ROOT = Path(__file__).resolve().parent.parent
TIGHT = [m for m in tj.models() if bc.tight(m)]


# =======================================================================================
# derive.jacobian: the one-step Jacobian, derived and proven
# =======================================================================================

def test_vanilla_jacobian_is_diag_phi_prime_times_W():
    sj = one_step_jacobian(get("rnn")())
    assert sj.lines() == ["d h(t) / d h_prev = diag(tanh'(a)) W"]
    assert sj.layout == LAYOUT and "numerator" in LAYOUT and "d h_i(t) / d h_j(t-1)" in LAYOUT


@pytest.mark.parametrize("model", tj.models())
def test_derived_jacobians_equal_brute_force(model):
    spec = tj.concrete(model, 2, 2, 1)
    r = prove_jacobian(spec, seed=3)
    assert r["ok"], r
    assert r["entries"] == sum(int(p.shape[0]) for p in spec.state) ** 2


def test_a_wrong_jacobian_fails_the_proof():
    model = get("rnn")(2, 1, 1)
    sj = one_step_jacobian(model)
    key = ("h", "h_prev")
    W = model.symbol("W")
    wrong = dict(sj.blocks)
    wrong[key] = sj.blocks[key].xreplace({W: W.T})          # the layout mistake: W^T diag(phi')
    r = prove_jacobian(model, jacobian=dataclasses.replace(sj, blocks=wrong))
    assert not r["ok"] and r["max_abs_diff"] > 1e-3


def test_state_params_leave_out_the_output_head():
    assert state_params(get("rnn")()) == ("U", "W", "b")
    assert set(state_params(get("skip")())) == {"U", "W", "W_skip", "b"}


# =======================================================================================
# derive.bounds: gamma, the norm walker, the named statements
# =======================================================================================

# The seeds' values, as claims to compare the derivation with.
SEED_GAMMA = {"tanh": 1, "sigmoid": sp.Rational(1, 4), "relu": 1, "identity": 1}


def test_gamma_covers_the_one_activation_table():
    assert set(SEED_GAMMA) == set(ACTIVATIONS)


@pytest.mark.parametrize("name", sorted(SEED_GAMMA))
def test_gamma_by_critical_points_and_limits(name):
    g = db.gamma(name)
    assert isinstance(g, extrema.Extremum)
    assert g.value == SEED_GAMMA[name] and g.attained
    assert g.finite and g.candidates


def test_relu_gamma_is_over_both_sides_and_reports_the_kink():
    g = db.gamma("relu")
    assert g.value == 1
    assert [p for p, _ in g.excluded] == [0], g
    assert {v for _, v, _ in g.candidates} == {0, 1}


def test_sigmoid_is_the_logistic_function_and_its_tanh_form():
    assert db.prove_sigmoid_forms()
    z = sp.Symbol("z", real=True)
    assert db.gamma(sp.Lambda(z, (1 + sp.tanh(z / 2)) / 2)).value == db.gamma("sigmoid").value


def test_sup_of_unbounded_functions_is_infinite():
    z = sp.Symbol("z", real=True)
    p = sp.Symbol("p", positive=True)
    assert extrema.sup_abs(sp.Lambda(z, z)).value == sp.oo
    assert extrema.sup_abs(sp.Lambda(p, 1 - 1 / p)).value == sp.oo     # 1 - 1/alpha near alpha = 0


def test_diag_norm_is_max_abs_by_sympy():
    v = sp.symbols("v1:4", real=True)
    D = sp.diag(*v)
    assert sorted(D.singular_values(), key=sp.default_sort_key) == sorted(
        (sp.Abs(x) for x in v), key=sp.default_sort_key)


@given(st.integers(0, 10_000), st.integers(1, 5), st.integers(1, 5))
def test_norm_rules_hold_on_random_matrices(seed, n, k):
    rng = np.random.default_rng(seed)
    A, B = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    u, v = rng.standard_normal(n), rng.standard_normal(n)
    nrm = lambda M: np.linalg.norm(M, 2)  # noqa: E731
    tol = 1e-12 * (1 + nrm(A)) * (1 + nrm(B))
    assert nrm(A + B) <= nrm(A) + nrm(B) + tol
    assert nrm(A @ B) <= nrm(A) * nrm(B) + tol
    assert abs(nrm(np.diag(u)) - np.max(np.abs(u))) <= tol
    assert np.max(np.abs(u * v)) <= np.max(np.abs(u)) * np.max(np.abs(v)) + tol
    C, D = rng.standard_normal((n, k)), rng.standard_normal((k, k))
    E = rng.standard_normal((k, n))
    big = np.block([[A, C], [E, D]])
    small = np.array([[nrm(A), nrm(C)], [nrm(E), nrm(D)]])
    assert nrm(big) <= nrm(small) * (1 + 1e-12)


def test_vanilla_bound_is_gamma_sigma():
    bound = db.step_bound(get("rnn")()).scalar()
    g, s = sp.Symbol("gamma_tanh", positive=True), sp.Symbol("sigma_max(W)", positive=True)
    assert sp.simplify(bound - g * s) == 0                      # seeds 000, 002, 004


def test_the_activation_of_a_model_is_read_from_its_bound():
    assert list(db.gammas(get("rnn")())) == ["tanh"]
    assert list(db.gammas(get("rnn_sigmoid")())) == ["sigmoid"]
    assert db.gammas(get("rnn_sigmoid")())["sigmoid"].value == sp.Rational(1, 4)
    assert db.gammas(get("rnn_linear")()) == {}
    assert list(db.gammas(get("lstm")())) == ["sigmoid", "tanh"]


def test_product_readings():
    r = db.product_readings()
    assert r["vanishing_sufficient"] and r["bounded_when_beta_le_1"] and r["bound_grows_when_beta_gt_1"]


def test_eigen_power_by_induction():
    p = db.prove_eigen_power()
    assert all(v for v in p.values() if isinstance(v, bool)), p


def test_leaky_bound_matches_the_notes_and_reduces_to_vanilla():
    st_ = db.leaky_statement(get("leaky")())
    a, g, s = st_["alpha"], st_["gamma"], st_["sigma"]
    assert st_["param"] == "alpha"                                             # from Model.domains
    assert sp.simplify(st_["uniform"] - ((1 - 1 / a) + g * s / a)) == 0     # seed 004, leaky units
    assert sp.simplify(st_["at_alpha_1"] - g * s) == 0
    rho = st_["rho"]
    assert sp.simplify(st_["timescale_large_alpha"] - (a / (1 - rho) - sp.Rational(1, 2))) == 0


def test_memory_path_is_diag_of_the_forget_gate():
    mp = db.memory_path(get("lstm")())
    assert (mp["state"], mp["gate"], mp["gate_biases"]) == ("s", "f", ("b_f",))
    assert mp["is_diag_gate"] and mp["text"] == "diag(f)"
    assert mp["block"] == DiagMatrix(MatrixSymbol("f", *mp["block"].shape[:1], 1))


def test_a_model_without_a_memory_path_is_refused():
    with pytest.raises(DerivationError, match="no state s with"):
        db.memory_path(get("gru")())


@pytest.mark.parametrize("d", [2, 3])
def test_skip_path_bound_decays_with_tau_over_d(d):
    p = db.skip_path_bound(get("skip")(d=d))
    assert p["d"] == d and p["power_is_scaled_identity"]
    assert p["one_step_params"] == ("W",) and p["delay_params"] == ("W_skip",)


def test_skip_path_bound_needs_a_skip_edge():
    with pytest.raises(DerivationError, match="a delay line of copies"):
        db.skip_path_bound(get("lstm")())


def test_clipping_proof():
    p = db.prove_clipping()
    assert p["norm_is_v"] and p["direction_kept"] and p["symbolic_size"] and p["min"]


# =======================================================================================
# numeric.trajectories and numeric.bound_checks: the bounds confirmed numerically
# =======================================================================================

def test_models_are_the_registry_and_the_variants_the_specs_ask_for():
    assert set(REGISTRY) <= set(tj.models())
    assert "skip_d3" in tj.models() and not tj.registered("skip_d3")
    assert len(tj.symbolic("skip_d3").state) == 3
    with pytest.raises(UnknownModel, match="known models"):
        tj.concrete("skip9", 2, 1)


def test_the_tight_models_are_the_ones_whose_spec_says_where():
    assert set(TIGHT) == {"rnn", "rnn_linear", "rnn_relu", "rnn_sigmoid", "leaky", "skip", "skip_d3"}


@pytest.mark.parametrize("name", sorted(SEED_GAMMA))
def test_gamma_confirmed_numerically(name):
    r = bc.activation_check(name, points=801)
    assert r["violations"] == 0
    assert abs(r["max_ratio"] - 1) <= r["tolerance"], r


def test_products_are_the_chained_one_step_jacobians():
    rng = np.random.default_rng(2)
    case = tj.random_case(tj.concrete("lstm", 3, 2), rng, 4, weight_scale=1.0, input_scale=1.0, state_scale=1.0)
    tr = tj.trajectory(case)
    steps = step_jacobians(case.model, case.params, case.x[:, None, :],
                           {k: v[None, :] for k, v in case.state0.items()})[:, 0]
    P = np.eye(steps.shape[-1])
    for t in range(len(case.x)):
        P = steps[t] @ P
        assert np.linalg.norm(tr.products[t] - P, 2) <= 1e-12 * np.linalg.norm(P, 2)


@pytest.mark.parametrize("name", ["rnn", "lstm", "skip"])
def test_complex_step_agrees_with_autograd(name):
    rng = np.random.default_rng(5)
    case = tj.random_case(tj.concrete(name, 3, 2), rng, 1, weight_scale=1.0, input_scale=1.0, state_scale=1.0)
    tr = tj.trajectory(case)
    Ja = tj.autograd_step_jacobian(case.model, case.params, case.x[0], case.state0)
    ev = tj.evaluate(tr)
    allowed = 2 * tj.tolerance(tr, ev)[0] * np.exp(ev.log_bound_abs[0] - tr.log_actual[0])
    assert np.linalg.norm(tr.products[0] - Ja, 2) / np.linalg.norm(Ja, 2) <= allowed


def _check_case(case):
    tr = tj.trajectory(case)
    ev = tj.evaluate(tr)
    tol = tj.tolerance(tr, ev)
    ratio = np.exp(tr.log_actual - ev.log_bound)
    assert np.all(ratio <= 1 + tol), (case.describe(), ratio.max(), tol.max())


scales = st.floats(min_value=1e-3, max_value=5.0)


@given(seed=st.integers(0, 2**31 - 1), n=st.integers(2, 4), T=st.integers(1, 8),
       weight=scales, inputs=st.floats(min_value=0.0, max_value=10.0), model=st.sampled_from(
           ["rnn", "rnn_sigmoid", "rnn_relu", "rnn_linear"]))
@example(seed=0, n=2, T=8, weight=1.0, inputs=0.0, model="rnn")          # zero input: phi' = gamma
@example(seed=1, n=3, T=8, weight=5.0, inputs=10.0, model="rnn")         # saturated
def test_vanilla_bounds_never_exceeded(seed, n, T, weight, inputs, model):
    rng = np.random.default_rng(seed)
    _check_case(tj.random_case(tj.concrete(model, n, 1), rng, T, weight_scale=weight, input_scale=inputs))


@given(seed=st.integers(0, 2**31 - 1), n=st.integers(2, 3), weight=scales,
       inputs=st.floats(min_value=0.0, max_value=10.0),
       model=st.sampled_from(["leaky", "lstm", "gru", "gru_cho", "skip", "skip_d3"]))
def test_gated_leaky_and_skip_bounds_never_exceeded(seed, n, weight, inputs, model):
    rng = np.random.default_rng(seed)
    _check_case(tj.random_case(tj.concrete(model, n, 1), rng, 6, weight_scale=weight, input_scale=inputs))


def test_sweep_counts_cases_and_finds_no_violation():
    r = bc.sweep("rnn", count=10, T=6)
    assert r.trajectories == 10 + 6 and r.cases == 16 * 6
    assert r.violations == 0 and 0 < r.max_ratio <= 1 + 1e-9


def test_search_is_deterministic_and_reaches_tightness():
    a = bc.search("rnn", seed=2, starts=1, iterations=120)
    b = bc.search("rnn", seed=2, starts=1, iterations=120)
    assert a == b
    assert a.violations == 0 and a.max_ratio >= 1 - bc.TIGHT_GAP


def test_held_parameters_come_from_the_spec():
    assert bc.held("leaky") == {"alpha": pytest.approx(np.full(2, 3.0))}
    assert bc.held("rnn") == {}


@pytest.mark.parametrize("name", TIGHT)
def test_decay_rate_equals_the_bound_where_attained(name):
    case = tj.attaining_case(name, T=60)
    assert case.label == tj.cases_of(name).attaining.label
    d = tj.decay(case)
    assert abs(d.ratio - 1) <= tj.decay_tolerance(case), (d.measured_rate, d.bound_rate)


def test_no_attaining_case_without_the_spec_saying_where():
    assert tj.attaining_case("gru") is None and not bc.tight("gru")


def test_the_sigmoid_attaining_case_sits_at_its_fixed_point():
    case = tj.attaining_case("rnn_sigmoid", T=5)
    assert np.allclose(case.state0["h0"], 0.5)
    assert np.allclose(case.params["b"], -case.params["W"] @ np.full(3, 0.5))
    assert np.allclose(tj.trajectory(case).values["h"], 0.5)


def test_saturation_makes_the_gradient_vanish_although_gamma_sigma_exceeds_one():
    case = tj.rest_case("rnn", sigma=3.0, input_scale=1.0, state_scale=0.5, T=80)
    d = tj.decay(case)
    assert d.measured_rate < 1 < d.bound_rate


# Faults in the bounds are caught by the same checks

def test_faults_are_declared_by_the_specs():
    declared = {(m, f.id) for m, f in bc.faults()}
    assert {("rnn", "wrong-gamma-tanh"), ("rnn_sigmoid", "wrong-gamma-sigmoid"), ("rnn_relu", "wrong-gamma-relu"),
            ("leaky", "leaky-worst-unit"), ("lstm", "lstm-forget-min"), ("skip", "skip-exponent")} <= declared
    assert len(declared) == 10


@pytest.mark.parametrize("model,fault", bc.faults(), ids=lambda v: v.id if isinstance(v, BoundFault) else v)
def test_fault_in_a_bound_is_caught(model, fault):
    r = bc.check_fault(model, fault, iterations=60)
    assert r.caught, r.how
    assert fault.expected in r.how, r.how


def test_correct_bounds_are_not_flagged_by_the_fault_checks():
    r = bc.check_fault("rnn", BoundFault("none", "no change"), iterations=60)
    assert not r.caught, r.how


def test_a_fault_naming_no_symbol_of_the_bound_is_refused():
    case = tj.random_case(tj.concrete("rnn", 2, 1), np.random.default_rng(0), 3)
    with pytest.raises(KeyError, match="no symbol 'gamma_relu'"):
        tj.evaluate(tj.trajectory(case), BoundFault("x", "x", replace=(("gamma_relu", 1),)))


# =======================================================================================
# verifier.stages.bounds: the report stage
# =======================================================================================

def test_entry_shape():
    e = stage.entry("x/bound", "rnn", "pass", 3, 0, 0.5, "s", "ev")
    assert set(e) >= {"id", "kind", "model", "status", "cases", "violations", "max_ratio", "max_rel_error",
                      "statement", "layout", "evidence"}
    assert e["kind"] == "bound" and e["max_rel_error"] is None


def test_report_ids_of_the_bound_stage_are_unique():
    ids = [id for id, _, _ in stage.plan(seed=0)]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    assert {"gamma/tanh", "gamma/sigmoid", "gamma/relu", "gamma/identity", "rnn/bound/product",
            "rnn/bound/readings", "rnn_linear/bound/eigen", "leaky/bound/timescale", "lstm/bound/memory-path",
            "skip/bound/shortest-path", "skip_d3/bound/shortest-path", "clipping/norm",
            "faults/skip-exponent"} <= set(ids)
    assert all(f"{m}/bound/product" in ids for m in tj.models())


def test_a_failing_step_is_an_error_entry():
    def broken(id):
        raise DerivationError("boom")

    (e,) = stage.results(steps=[("x/bound/product", "rnn", broken)])
    assert (e["id"], e["status"], e["evidence"]) == ("x/bound/product", "error", "DerivationError: boom")


def _strings(path: Path) -> list:
    """String constants of a module, docstrings left out."""
    tree = ast.parse(path.read_text())
    docs = {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef)) and n.body
            and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and id(n) not in docs]


@pytest.mark.parametrize("path", ["numeric/trajectories.py", "numeric/bound_checks.py", "verifier/stages/bounds.py",
                                  "verifier/report/figures.py"])
def test_the_bound_modules_name_no_model(path):
    names = sorted(tj.models(), key=len, reverse=True)
    found = [s for s in _strings(ROOT / path) for name in names if re.match(rf"{re.escape(name)}\b", s)]
    assert not found, f"{path} names models: {found}"


@pytest.mark.slow
def test_results_all_pass_and_are_deterministic():
    a = stage.results(seed=0)
    b = stage.results(seed=0)
    assert a == b
    bad = [(r["id"], r["status"], r["evidence"]) for r in a if r["status"] != "pass"]
    assert not bad, bad
    assert [r["id"] for r in a] == [id for id, _, _ in stage.plan(seed=0)]
    for r in a:
        if r["id"].startswith("gamma/"):
            assert isinstance(r["gamma"], str) and isinstance(r["gamma_float"], float)


@pytest.mark.slow
@pytest.mark.parametrize("name", tj.models())
def test_long_sweep(name):
    r = bc.sweep(name, count=300, T=30, seed=123)
    assert r.violations == 0, r
    s = bc.search(name, seed=7, starts=4, iterations=400, T=6)
    assert s.violations == 0, s
