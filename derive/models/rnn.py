"""Vanilla RNN, design pattern I (004_2bd5bd3ef5bc2048.txt, "Design Pattern I").

    a(t)    = b + W h(t-1) + U x(t)
    h(t)    = phi(a(t))                     phi = tanh here; ReLU and identity variants below
    o(t)    = c + V h(t)
    yhat(t) = softmax(o(t))
    L(t)    = -log yhat(t)[y(t)]  =  logsumexp(o(t)) - y(t)^T o(t)   (y one-hot)

This file is the whole model.  Everything else (adjoints, BPTT, code, checks)
is derived from it.  ``rnn_relu``, ``rnn_linear`` and ``rnn_sigmoid`` are this spec
with another activation (and, for ReLU, the identity-initialised recurrent matrix).

``BOUNDS``: the decay bound gamma sigma_max(W) is attained at rest (x = 0, b = 0,
h = 0, where tanh' = gamma = 1) with a symmetric W; the faults a bound check must catch.
"""
import sympy as sp
from sympy import MatrixSymbol

from derive.spec import Attaining, BoundCases, BoundFault, Equation, Model, activation, sizes, softmax_head

SOURCE = "004_2bd5bd3ef5bc2048.txt, Design Pattern I"

BOUNDS = BoundCases(
    attaining=Attaining("at rest, sigma 0.9", 0.9),
    faults=(BoundFault("wrong-gamma-tanh", "gamma of tanh taken as 1/4 (sigmoid's)",
                       replace=(("gamma_tanh", sp.Rational(1, 4)),)),
            BoundFault("exponent-minus-one", "(gamma sigma)^(t-k-1) instead of ^(t-k)", shift=-1),
            BoundFault("exponent-plus-one", "(gamma sigma)^(t-k+1) instead of ^(t-k)", shift=1)),
    statements=("readings", "decay-figure"),
)


def spec(n=None, m=None, K=None, *, phi="tanh", name="rnn", title=None, source=SOURCE,
         init=None, bounds=BOUNDS) -> Model:
    if n is None:
        n, m, K = sizes("n m K")
    U, W, b = MatrixSymbol("U", n, m), MatrixSymbol("W", n, n), MatrixSymbol("b", n, 1)
    V, c = MatrixSymbol("V", K, n), MatrixSymbol("c", K, 1)
    x, y = MatrixSymbol("x", m, 1), MatrixSymbol("y", K, 1)
    h_prev = MatrixSymbol("h_prev", n, 1)
    a, h, o = MatrixSymbol("a", n, 1), MatrixSymbol("h", n, 1), MatrixSymbol("o", K, 1)
    return Model(
        name=name,
        title=title or "Vanilla RNN (tanh), per-step softmax output, summed cross-entropy",
        source=source,
        sizes=(n, m, K),
        params=(U, W, b, V, c),
        inputs=(x,),
        label=y,
        state={h_prev: "h"},
        equations=(
            Equation(a, b + W * h_prev + U * x, "a(t) = b + W h(t-1) + U x(t)"),
            Equation(h, activation(phi, a), f"h(t) = {phi}(a(t))" if phi != "identity" else "h(t) = a(t)"),
            Equation(o, c + V * h, "o(t) = c + V h(t)"),
        ),
        **softmax_head(o, y),
        outputs=("o",),
        init=init or {"U": "glorot", "W": "glorot", "b": "zeros", "V": "glorot", "c": "zeros"},
        bounds=bounds,
    )
