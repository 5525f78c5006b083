"""Sample claims: inequalities about random draws, decided by seeded measurement.  Every
statement is shown to flip with its draw or its threshold, and the Jacobians are the one
complex-step Jacobian of the forward pass (numeric.jacobians)."""
from __future__ import annotations

import numpy as np
from claim_files import SAMPLE, claim_file

from verifier.claims import check, load
from verifier.claims.sample import Trial


def decide(tmp_path, **fields):
    [claim] = load(claim_file(tmp_path, **fields))
    return check(claim)


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
    run = Trial("rnn", {"n": 4, "m": 3, "K": 2}, 3, (("W", "normal(0, 1)"),), np.random.default_rng(5))
    J = run.jac("h", 2, "h", 1)
    a = run.params["W"] @ run.steps[1]["h"] + run.params["U"] @ run.steps[2]["x"] + run.params["b"]
    assert np.allclose(J, np.diag(1 - np.tanh(a[:, 0]) ** 2) @ run.params["W"], rtol=0, atol=1e-14)
    Jx = run.jac("h", 2, "x", 2)
    assert np.allclose(Jx, np.diag(1 - np.tanh(a[:, 0]) ** 2) @ run.params["U"], rtol=0, atol=1e-14)
    assert np.allclose(run.jac("h", 3, "h", 1), run.jac("h", 3, "h", 2) @ J, rtol=0, atol=1e-14)
    assert np.array_equal(run.jac("h", 1, "h", 2), np.zeros((4, 4))) and np.array_equal(run.jac("h", 2, "h", 2),
                                                                                         np.eye(4))
