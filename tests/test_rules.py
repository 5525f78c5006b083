"""Each primitive VJP rule of derive/rules.py, proven by SymPy on explicit symbolic matrices.

For a node y = op(X1, ..., Xk) and a symbolic adjoint G, the scalar
L = sum(G ⊙ y) has dL/dXi = rule(y, G)[i]: SymPy differentiates L entry by
entry and the difference with the rule simplifies to exactly zero.
"""
import pytest
import sympy as sp
from sympy import HadamardPower, HadamardProduct, MatrixSymbol, Transpose

from derive.rules import RULES, rule_for
from derive.spec import LogSumExp, Softmax, elementwise

A, B, C = MatrixSymbol("A", 2, 3), MatrixSymbol("B", 3, 2), MatrixSymbol("C", 2, 2)
A2 = MatrixSymbol("A2", 2, 3)
v = MatrixSymbol("v", 3, 1)
z = sp.Dummy("z")

NODES = {
    "add": (A + A2, [A, A2]),
    "matmul": (A * B, [A, B]),
    "matmul3": (A * B * C, [A, B, C]),
    "matmul_coeff": (sp.MatMul(-3, A, B), [A, B]),
    "transpose": (Transpose(A), [A]),
    "hadamard": (HadamardProduct(A, A2), [A, A2]),
    "hadamard_power": (HadamardPower(A, 3), [A]),
    "tanh": (elementwise(sp.tanh, A), [A]),
    "sigmoid": (elementwise(sp.Lambda(z, 1 / (1 + sp.exp(-z))), A), [A]),
    "logsumexp": (LogSumExp(v), [v]),
    "softmax": (Softmax(v), [v]),
}


def rule_contributions(node, G):
    out = {}
    for child, adj in rule_for(node)(node, G):
        out.setdefault(child, []).append(adj)
    return out


def assert_rule(node, leaves, rules=RULES):
    G = MatrixSymbol("G", *node.shape)
    y = node.as_explicit()
    L = sum(sp.Matrix(G)[i, j] * y[i, j] for i in range(y.shape[0]) for j in range(y.shape[1]))
    contributions = {}
    for child, adj in rule_for(node, rules)(node, G):
        contributions[child] = adj
    for X in leaves:
        got = sp.Matrix(contributions[X].as_explicit())
        want = sp.Matrix(X.shape[0], X.shape[1], lambda i, j: sp.diff(L, X[i, j]))
        diff = (want - got).applyfunc(lambda e: sp.simplify(e.rewrite(sp.exp)))
        assert diff == sp.zeros(*X.shape), f"rule for {type(node).__name__} wrong w.r.t. {X}: {diff}"


@pytest.mark.parametrize("name", sorted(NODES))
def test_rule_is_proven_by_sympy(name):
    node, leaves = NODES[name]
    assert_rule(node, leaves)


def test_every_rule_has_a_proof():
    proven = {next(t for t in type(node).__mro__ if t in RULES) for node, _ in NODES.values()}
    assert proven == set(RULES)


@pytest.mark.parametrize("fault", ["transposed", "sign", "scaled"])
def test_a_wrong_rule_is_caught(fault):
    """The proof above can fail: a wrong matrix-product rule is rejected."""
    def wrong(e, G):
        (X, Y) = e.args
        if fault == "transposed":
            return [(X, G * Y), (Y, X.T * G)]        # Y where Y^T belongs
        if fault == "sign":
            return [(X, -G * Y.T), (Y, X.T * G)]
        return [(X, sp.Rational(1001, 1000) * G * Y.T), (Y, X.T * G)]
    rules = {**RULES, sp.MatMul: wrong}
    with pytest.raises(AssertionError):
        assert_rule(MatrixSymbol("P", 2, 2) * MatrixSymbol("Q", 2, 2),
                    [MatrixSymbol("P", 2, 2), MatrixSymbol("Q", 2, 2)], rules)
