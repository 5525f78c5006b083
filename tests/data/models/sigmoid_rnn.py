"""A vanilla RNN with sigmoid units, written from scratch as a new model would be.
Used by tests/test_adding_a_model.py; it is not registered in the project."""
from sympy import MatrixSymbol

from derive.spec import Equation, Model, sigmoid, sizes, softmax_head


def spec(n=None, m=None, K=None) -> Model:
    if n is None:
        n, m, K = sizes("n m K")
    U, W, b = MatrixSymbol("U", n, m), MatrixSymbol("W", n, n), MatrixSymbol("b", n, 1)
    V, c = MatrixSymbol("V", K, n), MatrixSymbol("c", K, 1)
    x, y, h_prev = MatrixSymbol("x", m, 1), MatrixSymbol("y", K, 1), MatrixSymbol("h_prev", n, 1)
    a, h, o = MatrixSymbol("a", n, 1), MatrixSymbol("h", n, 1), MatrixSymbol("o", K, 1)
    return Model(name="sigmoid_rnn", title="Sigmoid RNN", source="a test of adding a model",
                 sizes=(n, m, K), params=(U, W, b, V, c), inputs=(x,), label=y, state={h_prev: "h"},
                 equations=(Equation(a, b + W * h_prev + U * x, "a(t) = b + W h(t-1) + U x(t)"),
                            Equation(h, sigmoid(a), "h(t) = sigmoid(a(t))"),
                            Equation(o, c + V * h, "o(t) = c + V h(t)")),
                 outputs=("o",), init={"U": "glorot", "W": "glorot", "b": "zeros", "V": "glorot", "c": "zeros"},
                 **softmax_head(o, y))
