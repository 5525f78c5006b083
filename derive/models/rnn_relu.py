"""ReLU RNN with the identity-initialised recurrent matrix (001_e1543032cbfbfdb6.txt).

    a(t) = b + W h(t-1) + U x(t),   h(t) = max(0, a(t)),   o(t) = c + V h(t)

The vanilla spec with phi = ReLU; W starts as the identity and b at zero, so
at initialisation the state is carried unchanged (Le, Jaitly and Hinton's IRNN).
"""
from derive.models import rnn


def spec(n=None, m=None, K=None):
    return rnn.spec(n, m, K, phi="relu", name="rnn_relu",
                    title="ReLU RNN, identity-initialised, per-step softmax output, summed cross-entropy",
                    source="001_e1543032cbfbfdb6.txt, identity-initialised ReLU RNN",
                    init={"U": "glorot", "W": "identity", "b": "zeros", "V": "glorot", "c": "zeros"})
