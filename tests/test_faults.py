"""Every check catches injected faults in every model, and says which gradient is wrong."""
import importlib

import pytest

from numeric import checks
from numeric.faults import DEFAULT_MIN_FAULTS, FAULTS, MIN_FAULTS, inject
from numeric.verify import make_data
from derive.models import REGISTRY

CASES = [(model, f) for model, faults in sorted(FAULTS.items()) for f in faults]


def data(model, seed=0):
    _, params, x, y, init = make_data(model, seed=seed, sizes={"n": 4, "m": 3, "K": 4}, B=3, tau=4)
    return params, x, y, init


def test_every_model_has_its_faults():
    assert set(FAULTS) == set(REGISTRY)
    for model, faults in FAULTS.items():
        assert len({f.id for f in faults}) >= MIN_FAULTS.get(model, DEFAULT_MIN_FAULTS), model
        assert len({(f.old, f.new) for f in faults}) == len(faults)


@pytest.mark.parametrize("model", sorted(REGISTRY))
def test_the_unfaulted_module_passes(model):
    module = importlib.import_module(f"numeric.generated.{model}")
    params, x, y, init = data(model)
    results = checks.check(checks.spec_for(model, params), module.loss_and_grads, params, x, y, init)
    assert not checks.failures(results), checks.summary(results)


@pytest.mark.parametrize("model,fault", CASES, ids=[f"{m}-{f.id}" for m, f in CASES])
def test_fault_is_caught_by_every_check(model, fault):
    module = inject(model, fault)
    params, x, y, init = data(model)
    results = checks.check(checks.spec_for(model, params), module.loss_and_grads, params, x, y, init,
                           explain=False)
    for name in fault.caught_on:
        for check in checks.CHECKS:
            r = next(r for r in results if r.gradient == name and r.check == check)
            assert not r.ok, f"{check} missed fault {fault.id} on {name}: {r.message()}"
            assert repr(name) in r.message() and "DISAGREES" in r.message()


def test_failure_message_names_step_and_worst_entries():
    fault = next(f for f in FAULTS["rnn"] if f.id == "scaled-gradient")
    params, x, y, init = data("rnn")
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
