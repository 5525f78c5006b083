"""A peephole LSTM (Gers and Schmidhuber, 2000), written as a new model would be:
one forward spec, nothing else.  The gates also read the memory state through
per-unit weights: the input and forget gates s(t-1), the output gate s(t).
Used by tests/test_adding_a_model.py; it is not registered in the project."""
from sympy import HadamardProduct, MatrixSymbol

from derive.spec import Equation, Model, sigmoid, sizes, softmax_head, tanh


def spec(n=None, m=None, K=None) -> Model:
    if n is None:
        n, m, K = sizes("n m K")
    x, y = MatrixSymbol("x", m, 1), MatrixSymbol("y", K, 1)
    h_prev, s_prev = MatrixSymbol("h_prev", n, 1), MatrixSymbol("s_prev", n, 1)
    P = {name: MatrixSymbol(name, *shape) for name, shape in (
        ("U_g", (n, m)), ("W_g", (n, n)), ("p_g", (n, 1)), ("b_g", (n, 1)),
        ("U_f", (n, m)), ("W_f", (n, n)), ("p_f", (n, 1)), ("b_f", (n, 1)),
        ("U", (n, m)), ("W", (n, n)), ("b", (n, 1)),
        ("U_o", (n, m)), ("W_o", (n, n)), ("p_o", (n, 1)), ("b_o", (n, 1)),
        ("V", (K, n)), ("c", (K, 1)))}
    g, f, s, q, h, o = (MatrixSymbol(k, n, 1) for k in ("g", "f", "s", "q", "h", "o"))
    o = MatrixSymbol("o", K, 1)

    def gate(k, peek):
        return sigmoid(P["b" + k] + P["U" + k] * x + P["W" + k] * h_prev + HadamardProduct(P["p" + k], peek))

    equations = (
        Equation(g, gate("_g", s_prev), "g(t) = sigmoid(b_g + U_g x(t) + W_g h(t-1) + p_g ⊙ s(t-1))"),
        Equation(f, gate("_f", s_prev), "f(t) = sigmoid(b_f + U_f x(t) + W_f h(t-1) + p_f ⊙ s(t-1))"),
        Equation(s, HadamardProduct(f, s_prev) + HadamardProduct(g, tanh(P["b"] + P["U"] * x + P["W"] * h_prev)),
                 "s(t) = f(t) ⊙ s(t-1) + g(t) ⊙ tanh(b + U x(t) + W h(t-1))"),
        Equation(q, gate("_o", s), "q(t) = sigmoid(b_o + U_o x(t) + W_o h(t-1) + p_o ⊙ s(t))"),
        Equation(h, HadamardProduct(q, tanh(s)), "h(t) = q(t) ⊙ tanh(s(t))"),
        Equation(o, P["c"] + P["V"] * h, "o(t) = c + V h(t)"),
    )
    return Model(name="peephole", title="Peephole LSTM", source="Gers and Schmidhuber 2000",
                 sizes=(n, m, K), params=tuple(P.values()), inputs=(x,), label=y,
                 state={h_prev: "h", s_prev: "s"}, equations=equations, outputs=("o",),
                 init={k: ("zeros" if k[0] in "bpc" else "glorot") for k in P}, **softmax_head(o, y))
