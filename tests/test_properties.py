"""Property tests: every model's generated gradients agree with all three oracles over
sizes, seeds and weight scales that include saturated units (hypothesis); ReLU cases
include points exactly on the kink."""
import importlib

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from derive.models import REGISTRY
from numeric import checks

MODELS = sorted(REGISTRY)
GATED = {"lstm", "gru", "gru_cho"}     # more parameters per size: smaller draws keep CI time


def module(model):
    return importlib.import_module(f"numeric.generated.{model}")


@st.composite
def problems(draw, model, *, max_tau=12):
    gen = module(model)
    small = model in GATED
    B, n, m = draw(st.integers(1, 4)), draw(st.integers(1, 6 if small else 8)), draw(st.integers(1, 6 if small else 8))
    K, tau = draw(st.integers(2, 6)), draw(st.integers(1, min(max_tau, 8) if small else max_tau))
    seed = draw(st.integers(0, 2**31 - 1))
    # 3.0 saturates tanh and the gates (|a| ~ 3 sqrt(n)); 8.0 also makes the reverse
    # recurrence ill-conditioned where units are not saturated (the A term of numeric/tolerances.py)
    scale = draw(st.sampled_from([0.01, 0.3, 1.0, 3.0, 8.0]))
    rng = np.random.default_rng(seed)
    sizes = {"n": n, "m": m, "K": K}
    params = {k: scale * rng.standard_normal(v.shape)
              for k, v in gen.init_params(*(sizes[s] for s in gen.SIZES)).items()}
    for k, (low, high) in getattr(gen, "DOMAINS", {}).items():
        params[k] = low + rng.uniform(0, 4 if high is None else high - low, params[k].shape)
    x = rng.standard_normal((tau, B, m))
    y = rng.integers(0, K, (tau, B))
    init = {k: np.tanh(rng.standard_normal((B, n))) for k in gen.STATES}
    if model == "rnn_relu" and draw(st.booleans()):
        # exactly on the kink: a(1) = b + W h0 + U x(1) = 0 for every unit
        x[0], params["b"] = 0.0, np.zeros(n)
        init = {k: np.zeros((B, n)) for k in gen.STATES}
    return params, x, y, init, seed


def _smallest(model):
    gen = module(model)
    params = {k: np.ones(v.shape) for k, v in gen.init_params(1, 1, 2).items()}
    return params, np.zeros((1, 1, 1)), np.zeros((1, 1), dtype=np.int64), \
        {k: np.zeros((1, 1)) for k in gen.STATES}, 0


def _property(model):
    examples = settings.default.max_examples
    @settings(deadline=None, max_examples=max(1, examples // 2) if model in GATED else examples)
    @given(problems(model))
    @example(_smallest(model))
    def test(problem):
        params, x, y, init, seed = problem
        results = checks.check(checks.spec_for(model, params), module(model).loss_and_grads,
                               params, x, y, init, seed=seed)
        assert results
        assert not checks.failures(results), checks.summary(results)
    return test


@pytest.mark.parametrize("model", MODELS)
def test_generated_gradients_agree_with_every_oracle(model):
    _property(model)()


@settings(deadline=None, max_examples=10)
@given(problems("rnn", max_tau=6))
@example(({"U": np.array([[-5.21432922]]), "W": np.array([[-1.39773834]]), "b": np.array([13.30979193]),
           "V": np.array([[5.273182], [-13.13117836]]), "c": np.array([-0.04162611, -4.98770993])},
          np.array([[[0.14863152]]]), np.array([[1]]), {"h0": np.array([[0.23716866]])}, 4))
# ^ a saturated unit: 1 - h^2 = 2e-10 loses its relative accuracy, an absolute error of
#   a few u times dL/dh (13) times U (5): the state-adjoint part of G (checks.term_scale)
def test_mpmath_agreement_is_far_below_float64_rounding_of_the_oracle(problem):
    """The mpmath oracle is good to 50 digits: the discrepancy left is the float64
    code's own, bounded by the error model, never the oracle's."""
    params, x, y, init, seed = problem
    results = checks.check(checks.spec_for("rnn", params), module("rnn").loss_and_grads, params, x, y, init,
                           seed=seed, which=("mpmath", "autograd"))
    for r in results:
        assert r.ok, r.message()


def test_the_recurrence_terms_are_needed_and_enough():
    """Recurrent weights of scale 8/sqrt(n), unsaturated units: rounding grows along the
    recurrence.  The observed error exceeds the bound with neither recurrence term
    (A = 1 and G = the largest gradient entry) and stays within the error model's
    bound, which has the amplification A and the state adjoints in G."""
    from numeric import oracles, tolerances
    gen = module("rnn")
    rng = np.random.default_rng(22)
    n, m, K, B, tau = 6, 4, 4, 3, 12
    params = {k: 8.0 * rng.standard_normal(v.shape) / np.sqrt(n) for k, v in gen.init_params(n, m, K).items()}
    x, y = rng.standard_normal((tau, B, m)), rng.integers(0, K, (tau, B))
    init = {"h0": np.tanh(rng.standard_normal((B, n)))}
    model = checks.spec_for("rnn", params)
    results = checks.check(model, gen.loss_and_grads, params, x, y, init, seed=22, which=("autograd",),
                           explain=False)
    assert not checks.failures(results)
    ref = oracles.autograd_grads(model, params, x, y, init)
    _, got = gen.loss_and_grads(params, x, y, **init)
    worst = max(float(np.max(np.abs(got[k] - ref[k]))) for k in ref)
    plain = tolerances.float64_gradient_tolerance(checks.path_length(model, tau, B), 1.0).relative
    assert worst > plain * checks.term_scale(ref)
