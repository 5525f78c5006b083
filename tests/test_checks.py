"""numeric.checks: the one checker, as records and as a raising call."""
import numpy as np
import pytest

from derive.errors import DeriveError, GradientMismatch
from numeric import checks
from numeric.generated import rnn


def _data(seed=0):
    params = rnn.init_params(3, 2, 4, seed=seed)
    rng = np.random.default_rng(seed)
    return params, rng.standard_normal((4, 2, 2)), rng.integers(0, 4, (4, 2))


def test_assert_grads_returns_the_records_when_every_check_agrees():
    params, x, y = _data()
    results = checks.assert_grads("rnn", rnn.loss_and_grads, params, x, y)
    assert results and all(r.ok for r in results)
    assert {r.check for r in results} == set(checks.CHECKS)


def test_assert_grads_raises_naming_the_wrong_gradient():
    params, x, y = _data()

    def wrong(params, x, y, **init):
        loss, grads = rnn.loss_and_grads(params, x, y, **init)
        return loss, {**grads, "W": grads["W"] * (1 + 1e-6)}

    with pytest.raises(GradientMismatch, match="'W'") as caught:
        checks.assert_grads("rnn", wrong, params, x, y, which=("autograd",))
    assert isinstance(caught.value, (DeriveError, AssertionError))
    assert {r.gradient for r in caught.value.results} == {"W"}
