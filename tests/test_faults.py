"""Every check catches the faults made by mutating the derivation, in every registered model.

The faults come from numeric/faults.py, pattern by pattern, for whatever the registry holds.
Default suite: every fault against the three oracles; ``derive verify`` on VERIFY_SAMPLE
faults per model and the evaluator's cross-check on the first fault of each pattern of each
model; ``--run-slow``: both on all the others too.
"""
import importlib

import pytest
from sympy import MatAdd, MatMul

from derive.models import derivation, names
from numeric import checks, faults as F
from numeric.faults import check_data, faults, inject
from numeric.verify import verify

MIN_FAULTS = 10
CASES = [(model, f) for model in names() for f in faults(model)]


#: verify runs three cases with explanations (about a second a fault): in the default suite on
#: this many faults per model, evenly spread over its list (so over its patterns)
VERIFY_SAMPLE = 4


def _sampled(fault) -> bool:
    found = faults(fault.model)
    return fault in [found[i * len(found) // VERIFY_SAMPLE] for i in range(VERIFY_SAMPLE)]


def _first_of_its_pattern(fault) -> bool:
    return fault is next(f for f in faults(fault.model) if f.pattern == fault.pattern)


SAMPLE = [(m, f) for m, f in CASES if _sampled(f)]
REST = [(m, f) for m, f in CASES if not _sampled(f)]
FIRSTS = [(m, f) for m, f in CASES if _first_of_its_pattern(f)]
OTHERS = [(m, f) for m, f in CASES if not _first_of_its_pattern(f)]


def ids(cases):
    return [f"{m}-{f.id}" for m, f in cases]


@pytest.mark.parametrize("model", names())
def test_every_model_has_its_faults(model):
    found = faults(model)
    assert len(found) >= MIN_FAULTS, F.screen(model).census()
    assert len({f.id for f in found}) == len(found)
    assert len({f.source for f in found}) == len(found)          # distinct modules, not one twice
    for f in found:
        assert f.id.split("/")[0] == f.pattern and f.pattern in F.PATTERNS
        assert f.model == model and f.description and f.gradients
    screening = F.screen(model)
    assert len(screening.faults) + len(screening.discarded) == len(list(F.mutants(model)))
    assert sum(c["faults"] for c in screening.census().values()) == len(found)


def test_every_pattern_makes_faults_somewhere():
    made = {f.pattern for model in names() for f in faults(model)}
    assert made == set(F.PATTERNS)


def test_the_classics_are_among_the_faults():
    every = {(m, f.id) for m, f in CASES}
    assert {("lstm", "gate-routed/g<->f"), ("lstm", "carry-dropped/dL_ds/dL_ds_carry"),
            ("gru", "variant/cho/dL_dr"), ("gru_cho", "variant/pytorch/dL_dr")} <= every
    for model in names():              # a model's declared confusions all become faults
        for c in F.confusions(model):
            assert (model, f"variant/{c['id']}/dL_d{c['of']}") in every


@pytest.mark.parametrize("model", names())
def test_the_unfaulted_module_passes_on_the_check_data(model):
    module = importlib.import_module(f"numeric.generated.{model}")
    params, x, y, init = check_data(model)
    results = checks.check(checks.spec_for(model, params), module.loss_and_grads, params, x, y, init)
    assert not checks.failures(results), checks.summary(results)


@pytest.mark.parametrize("model,fault", CASES, ids=ids(CASES))
def test_fault_is_caught_by_every_check(model, fault):
    params, x, y, init = check_data(model)
    results = checks.check(checks.spec_for(model, params), inject(fault).loss_and_grads, params, x, y, init,
                           explain=False)
    for check in checks.CHECKS:
        flagged = {r.gradient for r in results if r.check == check and not r.ok}
        assert flagged == set(fault.gradients), \
            (f"{check} on {fault.id} ({fault.description}): flags {sorted(flagged)}, "
             f"the fault changes {sorted(fault.gradients)}")
        for r in results:
            if r.check == check and not r.ok:
                assert repr(r.gradient) in r.message() and "DISAGREES" in r.message()


def _rejected_by_verify(fault, tmp_path):
    path = tmp_path / f"{fault.model}_fault.py"
    path.write_text(fault.source)
    code, report = verify(fault.model, path, seed=0)
    assert code == 1, f"verify passed {fault.id} ({fault.description}):\n{report}"
    assert "FAILED" in report and any(f"{g}: wrong" in report for g in fault.gradients), report


def _printed_as_derived(fault):
    """The printed module computes the wrong derivation itself (derive.evaluate.run)."""
    params, x, y, init = check_data(fault.model)
    _, grads = inject(fault).loss_and_grads(params, x, y, **init)
    assert F.changed(fault.model, grads, F.evaluated(fault)) == ()


@pytest.mark.parametrize("model,fault", SAMPLE, ids=ids(SAMPLE))
def test_verify_rejects_the_fault(model, fault, tmp_path):
    _rejected_by_verify(fault, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("model,fault", REST, ids=ids(REST))
def test_verify_rejects_every_fault(model, fault, tmp_path):
    _rejected_by_verify(fault, tmp_path)


@pytest.mark.parametrize("model,fault", FIRSTS, ids=ids(FIRSTS))
def test_the_fault_is_printed_as_derived(model, fault):
    _printed_as_derived(fault)


@pytest.mark.slow
@pytest.mark.parametrize("model,fault", OTHERS, ids=ids(OTHERS))
def test_every_fault_is_printed_as_derived(model, fault):
    _printed_as_derived(fault)


@pytest.mark.parametrize("model", names())
def test_an_equivalent_mutation_is_not_a_fault(model):
    d = derivation(model)
    carry = d.carries[0]
    # 3 c - 2 c: a different module, the same gradients up to rounding
    rewritten = MatAdd(MatMul(3, carry.rhs), MatMul(-2, carry.rhs), evaluate=False)
    verdict = F.examine(model, F._with(d, {carry.name: rewritten}), id="equivalent/3c-2c")
    assert isinstance(verdict, F.Discarded) and verdict.reason == "equivalent", verdict
    # a sum with its terms in another order prints the same module
    summed = next(a for a in d.backward if isinstance(a.rhs, MatAdd))
    reordered = MatAdd(*reversed(summed.rhs.args), evaluate=False)
    verdict = F.examine(model, F._with(d, {summed.name: reordered}), id="equivalent/reordered")
    assert isinstance(verdict, F.Discarded) and verdict.reason in ("not applicable", "equivalent"), verdict
    assert not any(f.id.startswith("equivalent/") for f in faults(model))


def test_a_fault_that_changes_one_gradient_is_named_with_its_step():
    fault = next(f for f in faults("rnn") if f.id == "time-shifted/dL_dW/h_prev->h")
    assert fault.gradients == ("W",)
    params, x, y, init = check_data("rnn")
    results = checks.check(checks.spec_for("rnn", params), inject(fault).loss_and_grads, params, x, y, init,
                           which=("autograd",))
    bad = checks.failures(results)
    assert [r.gradient for r in bad] == ["W"]
    msg = bad[0].message()
    assert "time step t=1" in msg and "seed 0" in msg and "expected" in msg
    assert len(bad[0].worst) <= checks.WORST


def test_inject_gives_a_module_with_the_generated_api():
    fault = faults("lstm")[0]
    module = inject(fault)
    generated = importlib.import_module("numeric.generated.lstm")
    assert module.GRADS == generated.GRADS and module.PARAMS == generated.PARAMS
    params, x, y, init = check_data("lstm")
    loss, grads = module.loss_and_grads(params, x, y, **init)
    assert loss == pytest.approx(generated.loss_and_grads(params, x, y, **init)[0])   # the forward is right
    assert set(grads) == set(generated.GRADS)


def test_every_wrong_derivation_prints_and_runs():
    refused = [(model, d) for model in names() for d in F.screen(model).discarded
               if d.reason.startswith(("unprintable", "does not run"))]
    assert not refused, "\n".join(f"{model} {d.id}: {d.reason}" for model, d in refused)
