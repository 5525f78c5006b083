"""Linear RNN (002_43f2f9f4d98fad2e.txt): the vanilla spec with the identity activation.

    a(t) = b + W h(t-1) + U x(t),   h(t) = a(t),   o(t) = c + V h(t)

The decay bound sigma_max(W) is attained at rest with a symmetric W; seed 004's
eigen-decomposition statement (M^k = Q Lambda^k Q^T) is about this recurrence.
"""
from derive.models import rnn
from derive.spec import Attaining, BoundCases

BOUNDS = BoundCases(attaining=Attaining("at rest, sigma 0.9", 0.9), statements=("eigen",))


def spec(n=None, m=None, K=None):
    return rnn.spec(n, m, K, phi="identity", name="rnn_linear", bounds=BOUNDS,
                    title="Linear RNN (identity activation), per-step softmax output, summed cross-entropy",
                    source="002_43f2f9f4d98fad2e.txt, linear recurrence",
                    init={"U": "glorot", "W": "orthogonal", "b": "zeros", "V": "glorot", "c": "zeros"})
