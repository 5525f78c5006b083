"""ReLU RNN with the identity-initialised recurrent matrix (001_e1543032cbfbfdb6.txt).

    a(t) = b + W h(t-1) + U x(t),   h(t) = max(0, a(t)),   o(t) = c + V h(t)

The vanilla spec with phi = ReLU; W starts as the identity and b at zero, so
at initialisation the state is carried unchanged (Le, Jaitly and Hinton's IRNN).
The decay bound gamma sigma_max(W) is attained in the positive orthant (W = 0.9 I, b = 0.1).
"""
import sympy as sp
from sympy import Identity

from derive.models import rnn
from derive.spec import Attaining, BoundCases, BoundFault, sizes


def spec(n=None, m=None, K=None):
    if n is None:
        n, m, K = sizes("n m K")
    bounds = BoundCases(
        attaining=Attaining("positive orthant, W = 0.9 I, b = 0.1", 0.9,
                            values=(("W", sp.Rational(9, 10) * Identity(n)), ("b", sp.Rational(1, 10)))),
        faults=(BoundFault("wrong-gamma-relu", "gamma of ReLU taken as Heaviside(0) = 1/2",
                           replace=(("gamma_relu", sp.Rational(1, 2)),)),))
    return rnn.spec(n, m, K, phi="relu", name="rnn_relu", bounds=bounds,
                    title="ReLU RNN, identity-initialised, per-step softmax output, summed cross-entropy",
                    source="001_e1543032cbfbfdb6.txt, identity-initialised ReLU RNN",
                    init={"U": "glorot", "W": "identity", "b": "zeros", "V": "glorot", "c": "zeros"})
