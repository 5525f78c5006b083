"""Every check catches injected faults, and says which gradient is wrong."""
import numpy as np
import pytest

from numeric import checks
from numeric.faults import FAULTS, inject
from numeric.generated import rnn

CASES = [(model, f) for model, faults in sorted(FAULTS.items()) for f in faults]


def data(seed=0, tau=4, B=3, n=4, m=3, K=4):
    rng = np.random.default_rng(seed)
    params = rnn.init_params(n, m, K, seed=seed)
    params = {k: v + 0.1 * rng.standard_normal(v.shape) for k, v in params.items()}  # non-zero biases
    return params, rng.standard_normal((tau, B, m)), rng.integers(0, K, (tau, B)), \
        {"h0": 0.5 * rng.standard_normal((B, n))}


def test_at_least_ten_distinct_faults_per_model():
    for model, faults in FAULTS.items():
        assert len({f.id for f in faults}) >= 10
        assert len({(f.old, f.new) for f in faults}) == len(faults)


def test_the_unfaulted_module_passes():
    params, x, y, init = data()
    results = checks.check(checks.spec_for("rnn", params), rnn.loss_and_grads, params, x, y, init)
    assert not checks.failures(results), checks.summary(results)


@pytest.mark.parametrize("model,fault", CASES, ids=[f"{m}-{f.id}" for m, f in CASES])
def test_fault_is_caught_by_every_check(model, fault):
    module = inject(model, fault)
    params, x, y, init = data()
    results = checks.check(checks.spec_for(model, params), module.loss_and_grads, params, x, y, init)
    for name in fault.caught_on:
        for check in checks.CHECKS:
            r = next(r for r in results if r.gradient == name and r.check == check)
            assert not r.ok, f"{check} missed fault {fault.id} on {name}: {r.message()}"
            assert repr(name) in r.message() and "DISAGREES" in r.message()


def test_failure_message_names_step_and_worst_entries():
    fault = next(f for f in FAULTS["rnn"] if f.id == "scaled-gradient")
    params, x, y, init = data()
    results = checks.check(checks.spec_for("rnn", params), inject("rnn", fault).loss_and_grads,
                           params, x, y, init, which=("autograd",))
    bad = checks.failures(results)
    assert [r.gradient for r in bad] == ["U"]
    msg = bad[0].message()
    assert "time step t=1" in msg and "seed 0" in msg and "expected" in msg
    assert len(bad[0].worst) <= checks.WORST


def test_a_stale_fault_is_refused():
    from numeric.faults import Fault
    with pytest.raises(ValueError, match="occurs 0 times"):
        inject("rnn", Fault("x", "x", "no such text", "y", ("W",)))
