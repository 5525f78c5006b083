"""Adding a model is one spec file plus one registry line.

Two models written from scratch in tests/data/models (a peephole LSTM and a
sigmoid RNN) are registered with one line each, as the README says, and every
stage of the project runs on them with no other edit: derivation, proof at
small sizes, code generation, the numeric checks, the derivation-level faults,
the decay bounds and the report entries (whose ids must be unique)."""
import importlib.util
from pathlib import Path

import pytest

import numeric.generated
from derive.codegen import generate
from derive.models import REGISTRY, derivation
from numeric import checks
from numeric import faults as fault_catalogue
from verifier import pipeline

MODELS = Path(__file__).parent / "data" / "models"


@pytest.fixture
def registered(tmp_path, monkeypatch):
    """Register the spec file ``name`` (the one registry line) and write its generated module
    where ``numeric.generated`` finds it (what ``python -m derive codegen`` does)."""
    monkeypatch.setattr(numeric.generated, "__path__", [*numeric.generated.__path__, str(tmp_path)])

    def register(name):
        loader = importlib.util.spec_from_file_location(f"new_model_{name}", MODELS / f"{name}.py")
        module = importlib.util.module_from_spec(loader)
        loader.loader.exec_module(module)
        monkeypatch.setitem(REGISTRY, name, module.spec)          # the one registry line
        (tmp_path / f"{name}.py").write_text(generate(derivation(name)))
        return name
    return register


@pytest.mark.parametrize("name", ["sigmoid_rnn", "peephole"])
def test_a_new_model_runs_through_every_stage(registered, name):
    registered(name)
    steps = [s for s in pipeline.plan(0, models=[name]) if not s[0].endswith(("/faults", "codegen-fresh"))]
    records = pipeline.run(steps)
    kinds = {r.kind for r in records}
    assert {"derivation", "proof", "check", "bound"} <= kinds, kinds
    assert {r.id for r in records} >= {f"{name}/jacobian", f"{name}/bound/product", f"{name}/derivation"}
    bad = [(r.id, r.details.get("error") or r.details.get("evidence") or r.details.get("detail")) for r in records
           if not r.ok]
    assert not bad, bad
    ids = [r.id for r in records]
    assert len(ids) == len(set(ids))
    # faults: generated for the new model with no hand edit; a sample checked here, all in the report
    found = fault_catalogue.faults(name)
    assert len(found) >= 10 and len({f.pattern for f in found}) >= 5
    params, x, y, init = fault_catalogue.check_data(name)
    spec = checks.spec_for(name, params)
    for fault in found[::max(1, len(found) // 10)]:
        results = checks.check(spec, fault_catalogue.inject(fault).loss_and_grads, params, x, y, init,
                               explain=False)
        for check in checks.CHECKS:
            assert {r.gradient for r in results if r.check == check and not r.ok} == set(fault.gradients), \
                (fault.id, check)


def test_report_ids_are_unique():
    ids = [step[0] for step in pipeline.plan(0)]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
