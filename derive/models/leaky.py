"""Leaky units (004_2bd5bd3ef5bc2048.txt, "Leaky units"), with a per-unit time constant alpha >= 1.

    a(t) = b + W h(t-1) + U x(t)
    h(t) = (1 - 1/alpha) ⊙ h(t-1) + (1/alpha) ⊙ tanh(a(t))
    o(t) = c + V h(t)

alpha = 1 is the vanilla RNN; the seed writes the update without b, which is
b = 0.  alpha is a parameter: its gradient is derived like any other.
The decay bound (1 - 1/alpha) + gamma sigma_max(W) / alpha is attained at rest
with a symmetric W and a common alpha (alpha = 3 here, also held in the search).
"""
import sympy as sp
from sympy import HadamardProduct, MatrixSymbol

from derive.spec import (Attaining, BoundCases, BoundFault, Equation, Model, elementwise, ones, sizes,
                         softmax_head, tanh)

SOURCE = "004_2bd5bd3ef5bc2048.txt, Leaky units"


def spec(n=None, m=None, K=None) -> Model:
    if n is None:
        n, m, K = sizes("n m K")
    U, W, b = MatrixSymbol("U", n, m), MatrixSymbol("W", n, n), MatrixSymbol("b", n, 1)
    alpha = MatrixSymbol("alpha", n, 1)
    V, c = MatrixSymbol("V", K, n), MatrixSymbol("c", K, 1)
    x, y = MatrixSymbol("x", m, 1), MatrixSymbol("y", K, 1)
    h_prev = MatrixSymbol("h_prev", n, 1)
    a, h, o = MatrixSymbol("a", n, 1), MatrixSymbol("h", n, 1), MatrixSymbol("o", K, 1)
    z = sp.Symbol("z", positive=True)
    keep = elementwise(sp.Lambda(z, 1 - 1 / z), alpha)      # 1 - 1/alpha
    rate = elementwise(sp.Lambda(z, 1 / z), alpha)          # 1/alpha
    gamma, sigma = sp.Symbol("gamma_tanh"), sp.Symbol("sigma_max(W)")   # symbols of the derived bound
    held = (("alpha", 3),)
    bounds = BoundCases(
        attaining=Attaining("at rest, sigma 0.5, alpha 3", 0.5, values=held), held=held,
        faults=(BoundFault("missing-1/alpha-recurrent",
                           "(1 - 1/alpha) + gamma sigma (the 1/alpha of the W term dropped)",
                           replace=(("max|1/alpha|", 1),), held=held, expected="tightness"),
                BoundFault("missing-1/alpha-leak",
                           "(alpha - 1) + gamma sigma / alpha (1 - 1/alpha written 1 - alpha)",
                           replace=(("max|1 - 1/alpha|", ones(n) - alpha),), held=held, expected="tightness"),
                BoundFault("leaky-worst-unit", "max_i [(1 - 1/alpha_i) + gamma sigma / alpha_i] (per-unit reading)",
                           step=keep + gamma * sigma * rate)),
        statements=("timescale",))
    return Model(
        name="leaky",
        title="Leaky-unit RNN (per-unit time constants alpha), per-step softmax output, summed cross-entropy",
        source=SOURCE,
        sizes=(n, m, K),
        params=(U, W, b, alpha, V, c),
        inputs=(x,),
        label=y,
        state={h_prev: "h"},
        equations=(
            Equation(a, b + W * h_prev + U * x, "a(t) = b + W h(t-1) + U x(t)"),
            Equation(h, HadamardProduct(keep, h_prev) + HadamardProduct(rate, tanh(a)),
                     "h(t) = (1 - 1/alpha) ⊙ h(t-1) + (1/alpha) ⊙ tanh(a(t))"),
            Equation(o, c + V * h, "o(t) = c + V h(t)"),
        ),
        **softmax_head(o, y),
        outputs=("o",),
        init={"U": "glorot", "W": "glorot", "b": "zeros", "alpha": "timescales", "V": "glorot", "c": "zeros"},
        domains={"alpha": (1, None)},
        bounds=bounds,
    )
