"""The symbolic-size derivation equals brute-force differentiation of the unrolled loss."""
import dataclasses

import pytest
import sympy as sp

from derive.models import REGISTRY, derivation
from derive.proof import prove

# (n, m, K), tau: every size from 1 to 3 appears; the larger ones behind the slow marker.
CASES = [((1, 1, 2), 1), ((2, 1, 2), 2), ((1, 3, 3), 3), ((3, 2, 2), 2)]
SLOW_CASES = [((3, 3, 3), 3), ((2, 3, 2), 3)]


@pytest.mark.parametrize("sizes,tau", CASES)
def test_rnn_derivation_is_proven(sizes, tau):
    results = prove(derivation("rnn"), sizes, tau, seed=1)
    assert {r.wrt for r in results} == {"U", "W", "b", "V", "c", "h0", "x"}
    for r in results:
        assert r.ok, f"{r.wrt} at sizes {r.sizes}: max rel error {r.max_rel_error:.3e} > {r.tolerance:.0e}"


@pytest.mark.slow
@pytest.mark.parametrize("sizes,tau", SLOW_CASES)
def test_rnn_derivation_is_proven_larger(sizes, tau):
    assert all(r.ok for r in prove(derivation("rnn"), sizes, tau, seed=2))


CELLS = sorted(set(REGISTRY) - {"rnn"})
# every cell: a size-1 case and a mixed one in CI; all of CASES + SLOW_CASES behind the marker
CELL_CASES = [((1, 1, 2), 2), ((2, 3, 2), 3)]


@pytest.mark.parametrize("model", CELLS)
@pytest.mark.parametrize("sizes,tau", CELL_CASES)
def test_cell_derivation_is_proven(model, sizes, tau):
    d = derivation(model)
    results = prove(d, sizes, tau, seed=1)
    assert {r.wrt for r in results} == {g.wrt.name for g in d.gradients}
    for r in results:
        assert r.ok, f"{model} {r.wrt} at sizes {r.sizes}: max rel error {r.max_rel_error:.3e} > {r.tolerance:.0e}"


@pytest.mark.slow
@pytest.mark.parametrize("model", CELLS)
@pytest.mark.parametrize("sizes,tau", CASES + SLOW_CASES)
def test_cell_derivation_is_proven_everywhere(model, sizes, tau):
    assert all(r.ok for r in prove(derivation(model), sizes, tau, seed=2))


def test_lstm_of_seed_004_without_biases_is_proven():
    """Seed 004 writes the LSTM without biases: the same spec with biases=False."""
    from derive.adjoint import derive
    from derive.models import lstm
    d = derive(lstm.spec(biases=False))
    assert not any(p.name.startswith("b") for p in d.model.params)
    assert all(r.ok for r in prove(d, (2, 2, 2), 2, seed=5))


def _with_gradient(d, name, rhs):
    grads = tuple(dataclasses.replace(g, rhs=rhs(g)) if g.wrt.name == name else g for g in d.gradients)
    return dataclasses.replace(d, gradients=grads)


def _sym(d, name):
    return next(s for a in (*d.forward, *d.backward) for s in a.rhs.atoms(sp.MatrixSymbol) | {a.lhs}
                if s.name == name)


FAULTS = {
    # shifted time index: h(t) where h(t-1) belongs
    "W uses h(t)": ("W", lambda d, g: _sym(d, "dL_da") * _sym(d, "h").T),
    "V sign flipped": ("V", lambda d, g: sp.MatMul(-1, g.rhs)),
    "b scaled": ("b", lambda d, g: sp.MatMul(sp.Rational(1001, 1000), g.rhs)),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_proof_catches_a_wrong_gradient(fault):
    name, rhs = FAULTS[fault]
    d = derivation("rnn")
    bad = _with_gradient(d, name, lambda g: rhs(d, g))
    results = {r.wrt: r for r in prove(bad, (2, 2, 2), 2, seed=3)}
    assert not results[name].ok
    assert all(r.ok for k, r in results.items() if k != name)


def test_proof_catches_a_wrong_adjoint():
    """tanh' replaced by the derivative of the logistic sigmoid, h (1 - h)."""
    d = derivation("rnn")
    dL_da = d.assign("dL_da")
    h, dL_dh = _sym(d, "h"), _sym(d, "dL_dh")
    from derive.spec import elementwise
    w = sp.Dummy("w")
    wrong = sp.HadamardProduct(dL_dh, elementwise(sp.Lambda(w, w * (1 - w)), h))
    backward = tuple(dataclasses.replace(a, rhs=wrong) if a is dL_da else a for a in d.backward)
    results = prove(dataclasses.replace(d, backward=backward), (2, 1, 2), 2, seed=4)
    assert not any(r.ok for r in results if r.wrt in {"U", "W", "b", "h0", "x"})
