"""Vanilla RNN with sigmoid units (004_2bd5bd3ef5bc2048.txt, "Design Pattern I", with phi = sigmoid).

    a(t) = b + W h(t-1) + U x(t),   h(t) = sigmoid(a(t)),   o(t) = c + V h(t)

The vanilla spec with the logistic sigmoid.  Its decay bound gamma sigma_max(W)
with gamma = 1/4 is attained at the fixed point a = 0 (h = sigmoid(0) = 1/2,
b = -W h), where sigmoid' = 1/4, with a symmetric W.
"""
import sympy as sp
from sympy import MatrixSymbol, OneMatrix

from derive.models import rnn
from derive.spec import Attaining, BoundCases, BoundFault, sizes


def spec(n=None, m=None, K=None):
    if n is None:
        n, m, K = sizes("n m K")
    W, half = MatrixSymbol("W", n, n), OneMatrix(n, 1) / 2
    bounds = BoundCases(
        attaining=Attaining("fixed point a = 0, sigma 0.9", 0.9,
                            values=(("h0", sp.Rational(1, 2)), ("b", -W * half))),
        faults=(BoundFault("wrong-gamma-sigmoid", "gamma of sigmoid taken as 1 (tanh's)",
                           replace=(("gamma_sigmoid", 1),), expected="tightness"),),
        statements=("decay-figure",))
    return rnn.spec(n, m, K, phi="sigmoid", name="rnn_sigmoid", bounds=bounds,
                    title="Vanilla RNN (sigmoid), per-step softmax output, summed cross-entropy",
                    source="004_2bd5bd3ef5bc2048.txt, Design Pattern I (sigmoid units)")
