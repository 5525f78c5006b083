"""A tanh RNN with a skip connection of delay d (004_2bd5bd3ef5bc2048.txt, "Skip connections").

    a(t) = b + W h(t-1) + W_skip h(t-d) + U x(t)
    h(t) = tanh(a(t))
    o(t) = c + V h(t)

h(t-d) is carried by a delay line of states lag2 .. lag<d>, lag_j(t) = h(t-j+1):
plain copies, so the model is an ordinary spec with d states (d = 2 by default).
Along the skip edges alone (W = 0) the gradient falls with tau/d, not tau: at rest
with a symmetric W_skip the bound (gamma sigma_max(W_skip))^(tau/d) is attained.
The bounds are also checked at d = 3.
"""
import sympy as sp
from sympy import MatrixSymbol

from derive.errors import SpecError
from derive.spec import Attaining, BoundCases, BoundFault, Equation, Model, sizes, softmax_head, tanh

SOURCE = "004_2bd5bd3ef5bc2048.txt, Skip connections"


def spec(n=None, m=None, K=None, *, d=2) -> Model:
    if not isinstance(d, int) or d < 2:
        raise SpecError(f"skip.spec: the delay d must be an integer >= 2, got {d!r}")
    if n is None:
        n, m, K = sizes("n m K")
    U, W, W_skip, b = (MatrixSymbol("U", n, m), MatrixSymbol("W", n, n), MatrixSymbol("W_skip", n, n),
                       MatrixSymbol("b", n, 1))
    V, c = MatrixSymbol("V", K, n), MatrixSymbol("c", K, 1)
    x, y = MatrixSymbol("x", m, 1), MatrixSymbol("y", K, 1)
    h_prev = MatrixSymbol("h_prev", n, 1)
    lags = [MatrixSymbol(f"lag{j}_prev", n, 1) for j in range(2, d + 1)]      # lag<j>_prev = h(t-j)
    a, h, o = MatrixSymbol("a", n, 1), MatrixSymbol("h", n, 1), MatrixSymbol("o", K, 1)
    equations = [Equation(a, b + W * h_prev + W_skip * lags[-1] + U * x,
                          f"a(t) = b + W h(t-1) + W_skip h(t-{d}) + U x(t)"),
                 Equation(h, tanh(a), "h(t) = tanh(a(t))")]
    for j, carried in zip(range(2, d + 1), [h_prev] + lags[:-1]):
        equations.append(Equation(MatrixSymbol(f"lag{j}", n, 1), carried, f"lag{j}(t) = h(t-{j - 1})"))
    equations.append(Equation(o, c + V * h, "o(t) = c + V h(t)"))
    bounds = BoundCases(
        attaining=Attaining("at rest, W = 0, sigma(W_skip) 0.8", 0.8, values=(("W", 0),)),
        faults=(BoundFault("skip-exponent", "exponent tau instead of tau/d on the skip path (one-step bound squared)",
                           replace=(("sigma_max(W_skip)", sp.Symbol("sigma_max(W_skip)") ** 2),)),),
        statements=("shortest-path",),
        variants=({"d": 3},))
    return Model(
        name="skip" if d == 2 else f"skip_d{d}",
        title=f"tanh RNN with a skip connection of delay {d}, per-step softmax output, summed cross-entropy",
        source=SOURCE,
        sizes=(n, m, K),
        params=(U, W, W_skip, b, V, c),
        inputs=(x,),
        label=y,
        state={h_prev: "h", **{lag: f"lag{j}" for j, lag in zip(range(2, d + 1), lags)}},
        equations=tuple(equations),
        **softmax_head(o, y),
        outputs=("o",),
        init={"U": "glorot", "W": "glorot", "W_skip": "glorot", "b": "zeros", "V": "glorot", "c": "zeros"},
        bounds=bounds,
    )
