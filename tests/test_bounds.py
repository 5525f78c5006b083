"""Jacobian bounds: derived by SymPy (derive.bounds), confirmed numerically (numeric.bounds).

Course formulas appear here only as claims the derivation is compared with;
nothing is computed from them.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import sympy as sp
from hypothesis import example, given
from hypothesis import strategies as st
from sympy import DiagMatrix, MatrixSymbol

from derive import bounds as db
from derive.models import REGISTRY
from numeric import bounds as nb


# ---------------------------------------------------------------------------------------
# 1. gamma
# ---------------------------------------------------------------------------------------

# The seeds' values, as claims to compare the derivation with.
SEED_GAMMA = {"tanh": 1, "sigmoid": sp.Rational(1, 4), "relu": 1, "identity": 1}


@pytest.mark.parametrize("name", sorted(SEED_GAMMA))
def test_gamma_by_critical_points_and_limits(name):
    g = db.gamma(name)
    assert g.value == SEED_GAMMA[name]
    assert g.finite and g.candidates


def test_relu_gamma_is_over_both_sides_and_reports_the_kink():
    g = db.gamma("relu")
    assert g.value == 1
    assert any("z = 0" in e for e in g.excluded), g
    assert sorted(v for _, v in g.candidates) == [0, 1]


def test_sigmoid_forms_agree_and_have_the_same_gamma():
    assert db.prove_sigmoid_forms()
    assert db.gamma(db.LOGISTIC).value == db.gamma("sigmoid").value


def test_sup_of_unbounded_functions_is_infinite():
    z = sp.Symbol("z", real=True)
    p = sp.Symbol("p", positive=True)
    assert db.sup_abs(sp.Lambda(z, z)).value == sp.oo
    assert db.sup_abs(sp.Lambda(p, 1 - 1 / p)).value == sp.oo     # 1 - 1/alpha near alpha = 0


@pytest.mark.parametrize("name", sorted(SEED_GAMMA))
def test_gamma_confirmed_numerically(name):
    r = nb.activation_check(name, points=801)
    assert r["violations"] == 0
    assert abs(r["max_ratio"] - 1) <= r["tolerance"], r


# ---------------------------------------------------------------------------------------
# Norm rules used by the walker
# ---------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------
# 2. One-step Jacobians, derived from the specs
# ---------------------------------------------------------------------------------------

def test_vanilla_jacobian_is_diag_phi_prime_times_W():
    sj = db.one_step_jacobian(REGISTRY["rnn"]())
    assert sj.lines() == ["d h(t) / d h_prev = diag(tanh'(a)) W"]
    assert "numerator" in sj.layout and "d h_i(t) / d h_j(t-1)" in sj.layout


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_registered_models_have_derived_jacobians_equal_to_brute_force(name):
    r = db.prove_jacobian(REGISTRY[name](2, 2, 1), seed=3)
    assert r["ok"], r
    assert r["entries"] == sum(int(p.shape[0]) for p in REGISTRY[name](2, 2, 1).state) ** 2


@pytest.mark.parametrize("d", [2, 3])
def test_skip_model_jacobian(d):
    assert db.prove_jacobian(db.skip_spec(2, 1, 1, d=d))["ok"]


def test_a_wrong_jacobian_fails_the_proof():
    model = REGISTRY["rnn"](2, 1, 1)
    sj = db.one_step_jacobian(model)
    key = ("h", "h_prev")
    W = model.symbol("W")
    wrong = dict(sj.blocks)
    wrong[key] = sj.blocks[key].xreplace({W: W.T})          # the layout mistake: W^T diag(phi')
    bad = dataclasses.replace(sj, blocks=wrong)
    r = db.prove_jacobian(model, jacobian=bad)
    assert not r["ok"] and r["max_abs_diff"] > 1e-3


@pytest.mark.skipif("lstm" not in REGISTRY, reason="lstm not registered")
def test_lstm_memory_path_is_diag_forget_gate():
    mp = db.lstm_memory_path(REGISTRY["lstm"]())
    assert mp["is_diag_forget"]
    assert mp["block"] == DiagMatrix(MatrixSymbol("f", *mp["block"].shape[:1], 1)) or mp["text"] == "diag(f)"


# ---------------------------------------------------------------------------------------
# 3. Bounds from the walker, compared with the seeds' formulas (claims)
# ---------------------------------------------------------------------------------------

def test_vanilla_bound_is_gamma_sigma():
    nbd = db.step_bound(REGISTRY["rnn"]()).scalar()
    g, s = sp.Symbol("gamma_tanh", positive=True), sp.Symbol("sigma_max(W)", positive=True)
    assert sp.simplify(nbd - g * s) == 0                      # seeds 000, 002, 004


def test_product_readings():
    r = db.product_readings()
    assert r["vanishing_sufficient"] and r["bounded_when_beta_le_1"] and r["bound_grows_when_beta_gt_1"]


def test_eigen_power_by_induction():
    p = db.prove_eigen_power()
    assert all(v for v in p.values() if isinstance(v, bool)), p


@pytest.mark.skipif("leaky" not in REGISTRY, reason="leaky not registered")
def test_leaky_bound_matches_the_notes_and_reduces_to_vanilla():
    st_ = db.leaky_statement(REGISTRY["leaky"]())
    a, g, s = st_["alpha"], st_["gamma"], st_["sigma"]
    assert sp.simplify(st_["uniform"] - ((1 - 1 / a) + g * s / a)) == 0     # seed 004, leaky units
    assert sp.simplify(st_["at_alpha_1"] - g * s) == 0
    rho = st_["rho"]
    assert sp.simplify(st_["timescale_large_alpha"] - (a / (1 - rho) - sp.Rational(1, 2))) == 0


def test_skip_path_bound_decays_with_tau_over_d():
    for d in (2, 3):
        p = db.skip_path_bound(d)
        assert p["power_is_scaled_identity"]


def test_clipping_proof():
    p = db.prove_clipping()
    assert p["norm_is_v"] and p["direction_kept"] and p["symbolic_size"] and p["min"]


# ---------------------------------------------------------------------------------------
# Numeric confirmation
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["rnn", "lstm"])
def test_complex_step_agrees_with_autograd(name):
    if name not in nb.models():
        pytest.skip(f"{name} not registered")
    rng = np.random.default_rng(5)
    case = nb.random_case(nb.concrete(name, 3, 2), rng, 1, weight_scale=1.0, input_scale=1.0, state_scale=1.0)
    tr = nb.trajectory(case)
    Ja = nb.autograd_step_jacobian(case.model, case.params, case.x[0], case.state0)
    ev = nb.evaluate(tr)
    allowed = 2 * nb.tolerance(tr, ev)[0] * np.exp(ev.log_bound_abs[0] - tr.log_actual[0])
    assert np.linalg.norm(tr.products[0] - Ja, 2) / np.linalg.norm(Ja, 2) <= allowed


def _check_case(case):
    tr = nb.trajectory(case)
    ev = nb.evaluate(tr)
    tol = nb.tolerance(tr, ev)
    ratio = np.exp(tr.log_actual - ev.log_bound)
    assert np.all(ratio <= 1 + tol), (case.describe(), ratio.max(), tol.max())


scales = st.floats(min_value=1e-3, max_value=5.0)


@given(seed=st.integers(0, 2**31 - 1), n=st.integers(2, 4), T=st.integers(1, 8),
       weight=scales, inputs=st.floats(min_value=0.0, max_value=10.0), activation=st.sampled_from(
           ["rnn", "rnn_sigmoid", "rnn_relu", "rnn_linear"]))
@example(seed=0, n=2, T=8, weight=1.0, inputs=0.0, activation="rnn")          # zero input: phi' = gamma
@example(seed=1, n=3, T=8, weight=5.0, inputs=10.0, activation="rnn")         # saturated
def test_vanilla_bounds_never_exceeded(seed, n, T, weight, inputs, activation):
    rng = np.random.default_rng(seed)
    case = nb.random_case(nb.concrete(activation, n, 1), rng, T, weight_scale=weight, input_scale=inputs)
    _check_case(case)


@given(seed=st.integers(0, 2**31 - 1), n=st.integers(2, 3), weight=scales,
       inputs=st.floats(min_value=0.0, max_value=10.0), model=st.sampled_from(["leaky", "lstm", "gru", "skip2"]))
def test_gated_and_leaky_bounds_never_exceeded(seed, n, weight, inputs, model):
    if model not in nb.models():
        return
    rng = np.random.default_rng(seed)
    case = nb.random_case(nb.concrete(model, n, 1), rng, 6, weight_scale=weight, input_scale=inputs)
    _check_case(case)


def test_sweep_counts_cases_and_finds_no_violation():
    r = nb.sweep("rnn", count=10, T=6)
    assert r.trajectories == 10 + 6 and r.cases == 16 * 6
    assert r.violations == 0 and 0 < r.max_ratio <= 1 + 1e-9


def test_search_is_deterministic_and_reaches_tightness():
    a = nb.search("rnn", seed=2, starts=1, iterations=120)
    b = nb.search("rnn", seed=2, starts=1, iterations=120)
    assert a == b
    assert a.violations == 0 and a.max_ratio >= 1 - nb.TIGHT_GAP


@pytest.mark.parametrize("name", ["rnn", "rnn_sigmoid", "leaky"])
def test_decay_rate_equals_the_bound_where_attained(name):
    if name not in nb.models():
        pytest.skip(f"{name} not registered")
    case = nb.attaining_case(name, T=60)
    d = nb.decay(case)
    assert abs(d.ratio - 1) <= nb.decay_tolerance(case), (d.measured_rate, d.bound_rate)


def test_saturation_makes_the_gradient_vanish_although_gamma_sigma_exceeds_one():
    case = nb.rest_case("rnn", sigma=3.0, input_scale=1.0, state_scale=0.5, T=80)
    d = nb.decay(case)
    assert d.measured_rate < 1 < d.bound_rate


# ---------------------------------------------------------------------------------------
# Faults in the bounds are caught by the same checks
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("fault", [f for f in nb.FAULTS], ids=lambda f: f.id)
def test_fault_in_a_bound_is_caught(fault):
    if fault.model not in nb.models():
        pytest.skip(f"{fault.model} not registered")
    r = nb.check_fault(fault, iterations=60)
    assert r.caught, r.how
    assert fault.expected in r.how, r.how


def test_correct_bounds_are_not_flagged_by_the_fault_checks():
    clean = nb.Fault("none", "rnn", "no change")
    r = nb.check_fault(clean, iterations=60)
    assert not r.caught, r.how


# ---------------------------------------------------------------------------------------
# Report entries
# ---------------------------------------------------------------------------------------

def test_entry_shape():
    e = nb._entry("x/bound", "rnn", "pass", 3, 0, 0.5, "s", "ev")
    assert set(e) >= {"id", "kind", "model", "status", "cases", "violations", "max_ratio", "max_rel_error",
                      "statement", "layout", "evidence"}
    assert e["kind"] == "bound" and e["max_rel_error"] is None


@pytest.mark.slow
def test_results_all_pass_and_are_deterministic():
    a = nb.results(seed=0)
    b = nb.results(seed=0)
    assert a == b
    bad = [(r["id"], r["status"], r["evidence"]) for r in a if r["status"] != "pass"]
    assert not bad, bad
    ids = {r["id"] for r in a}
    assert {"gamma/tanh", "gamma/sigmoid", "gamma/relu", "gamma/identity", "rnn/bound/product",
            "rnn/bound/readings", "rnn_linear/bound/eigen", "clipping/norm"} <= ids
    for r in a:
        if r["id"].startswith("gamma/"):
            assert isinstance(r["gamma"], str) and isinstance(r["gamma_float"], float)


@pytest.mark.slow
@pytest.mark.parametrize("name", nb.models())
def test_long_sweep(name):
    r = nb.sweep(name, count=300, T=30, seed=123)
    assert r.violations == 0, r
    s = nb.search(name, seed=7, starts=4, iterations=400, T=6)
    assert s.violations == 0, s
