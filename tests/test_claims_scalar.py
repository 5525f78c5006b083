"""Scalar claims: statements about activations of one real variable, decided exactly by SymPy
through the one sup/inf engine (derive.extrema).  Every statement is shown to flip."""
from __future__ import annotations

import pytest
import sympy as sp
from claim_files import claim_file

from derive.extrema import supremum
from derive.rules import derivative
from derive.spec import ACTIVATIONS
from verifier.claims import check, load


def scalar(tmp_path, statement, expect="holds", **extra):
    [claim] = load(claim_file(tmp_path, kind="scalar", expect=expect, statement=statement, **extra))
    return check(claim)


@pytest.mark.parametrize("statement, verdict", [
    ("dsigmoid(z) < 1", "holds"),
    ("dsigmoid(z) < 1/5", "fails"),             # sup sigmoid' = 1/4 at z = 0
    ("dtanh(z) <= 1", "holds"),
    ("dtanh(z) < 1", "fails"),                  # the sup 1 is attained at z = 0
    ("abs(tanh(z)) < 1", "holds"),              # the sup 1 is not attained
    ("abs(tanh(z)) < 99/100", "fails"),
    ("sup(dsigmoid(z)) == 1/4", "holds"),
    ("sup(dsigmoid(z)) == 1/3", "fails"),
    ("4 * sup(dsigmoid(z)) == sup(dtanh(z))", "holds"),
    ("sup(dsigmoid(z)) < sup(dtanh(z))", "holds"),
    ("sup(dtanh(z)) < sup(dsigmoid(z))", "fails"),
    ("max(dtanh(z)) == 1", "holds"),
    ("max(abs(tanh(z))) == 1", "fails"),        # a max that is not attained does not exist
    ("inf(dtanh(z)) == 0", "holds"),
    ("dtanh(z) > 0", "holds"),                  # the inf 0 is not attained
    ("dtanh(z) >= 1/2", "fails"),
    ("dsigmoid(z) <= dtanh(z)", "fails"),       # saturated units: sigmoid' > tanh' for |z| > 1.66
    ("dtanh(z) == 1 - tanh(z)**2", "holds"),
    ("dtanh(z) == 1 - tanh(z)**3", "fails"),
    ("drelu(z) >= 0", "holds"),
    ("drelu(z) >= 1", "fails"),
    ("sup(drelu(z)) == 1", "holds"),
    ("relu(z) >= z", "holds"),
    ("relu(z) <= z", "fails"),
])
def test_scalar_claims_decide_and_flip(tmp_path, statement, verdict):
    result = scalar(tmp_path, statement, expect=verdict)
    assert (result.verdict, result.status) == (verdict, "pass"), result.evidence
    assert result.evidence.startswith("SymPy")
    if verdict == "fails" and "max(" not in statement:
        assert "counterexample: z = " in result.evidence or " > " in result.evidence or " < " in result.evidence, \
            result.evidence


def test_scalar_sup_is_found_not_typed(tmp_path):
    evidence = scalar(tmp_path, "sup(dsigmoid(z)) < sup(dtanh(z))").evidence
    assert "sup of dsigmoid(z) over z = 1/4, attained at z = 0" in evidence
    assert "sup of dtanh(z) over z = 1, attained at z = 0" in evidence
    evidence = scalar(tmp_path, "dtanh(z) < 1", expect="fails").evidence
    assert "counterexample: z = 0: dtanh(z) = 1, not < 1" in evidence
    evidence = scalar(tmp_path, "max(abs(tanh(z))) == 1", expect="fails").evidence
    assert "max(abs(tanh(z))) does not exist: the sup 1 is approached as z -> oo and not attained" in evidence


def test_scalar_crossing_of_sigmoid_and_tanh_derivatives():
    """SymPy's critical points of sigmoid' - tanh' come from a polynomial in u = exp(z)."""
    z = sp.Symbol("z", real=True)
    gap = derivative(ACTIVATIONS["sigmoid"])(z) - derivative(ACTIVATIONS["tanh"])(z)
    e = supremum(gap, z, sp.S.Reals)
    assert e.attained and abs(float(e.value) - 0.0438713443812133) < 1e-14
    assert abs(abs(float(e.where)) - 2.401712415) < 1e-8


def test_scalar_domain_flips_a_verdict(tmp_path):
    assert scalar(tmp_path, "drelu(z) == 1", **{"for": "z > 0"}).verdict == "holds"
    assert scalar(tmp_path, "drelu(z) == 1", expect="fails", **{"for": "z > -1"}).verdict == "fails"
    assert scalar(tmp_path, "dsigmoid(z) <= dtanh(z)", **{"for": "-1 <= z <= 1"}).verdict == "holds"
    assert scalar(tmp_path, "dsigmoid(z) <= dtanh(z)", expect="fails", **{"for": "0 <= z <= 2"}).verdict == "fails"
