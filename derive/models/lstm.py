"""LSTM (004_2bd5bd3ef5bc2048.txt, "Long Short-Term Memory"; 001_e1543032cbfbfdb6.txt, LSTM).

Goodfellow's letters (seed 004): g input gate, f forget gate, q output gate,
a new content, s memory state.  Seed 001 writes the same cell with biases and
a concatenation, W_f . [h(t-1), x(t)] + b_f = W_f h(t-1) + U_f x(t) + b_f:

    seed 001    i_t   f_t   C~_t       C_t   o_t   h_t
    here        g     f     tanh(a)    s     q     h

    g(t) = sigmoid(b_g + U_g x(t) + W_g h(t-1))
    f(t) = sigmoid(b_f + U_f x(t) + W_f h(t-1))
    a(t) = b + U x(t) + W h(t-1)
    q(t) = sigmoid(b_o + U_o x(t) + W_o h(t-1))
    s(t) = f(t) ⊙ s(t-1) + g(t) ⊙ tanh(a(t))
    h(t) = q(t) ⊙ tanh(s(t))
    o(t) = c + V h(t)

``biases=False`` is seed 004 exactly (no b_g, b_f, b, b_o).  The gate order
g, f, a, q is PyTorch's i, f, g, o (numeric/torch_layout.py).  The decay bound
is not attained (triangle inequality over the gate paths); its memory path
d s(t)/d s(t-1) = diag(f(t)) is a named statement.
"""
from sympy import HadamardProduct, MatrixSymbol

from derive.spec import BoundCases, BoundFault, Equation, Model, sigmoid, sizes, softmax_head, tanh

SOURCE = "004_2bd5bd3ef5bc2048.txt, Long Short-Term Memory; 001_e1543032cbfbfdb6.txt, LSTM"


def spec(n=None, m=None, K=None, *, biases=True) -> Model:
    if n is None:
        n, m, K = sizes("n m K")
    x, y = MatrixSymbol("x", m, 1), MatrixSymbol("y", K, 1)
    h_prev, s_prev = MatrixSymbol("h_prev", n, 1), MatrixSymbol("s_prev", n, 1)
    params, eqs = [], []
    for gate, suffix, phi, name in (("g", "_g", sigmoid, "input gate"),
                                    ("f", "_f", sigmoid, "forget gate"),
                                    ("a", "", None, "new content"),
                                    ("q", "_o", sigmoid, "output gate")):
        U, W = MatrixSymbol("U" + suffix, n, m), MatrixSymbol("W" + suffix, n, n)
        params += [U, W]
        pre = U * x + W * h_prev
        text = f"U{suffix} x(t) + W{suffix} h(t-1)"
        if biases:
            b = MatrixSymbol("b" + suffix, n, 1)
            params.append(b)
            pre, text = b + pre, f"b{suffix} + {text}"
        lhs = MatrixSymbol(gate, n, 1)
        eqs.append(Equation(lhs, phi(pre) if phi else pre,
                            f"{gate}(t) = sigmoid({text})" if phi else f"{gate}(t) = {text}"))
    g, f, a, q = (e.lhs for e in eqs)
    s, h, o = MatrixSymbol("s", n, 1), MatrixSymbol("h", n, 1), MatrixSymbol("o", K, 1)
    V, c = MatrixSymbol("V", K, n), MatrixSymbol("c", K, 1)
    eqs += [
        Equation(s, HadamardProduct(f, s_prev) + HadamardProduct(g, tanh(a)),
                 "s(t) = f(t) ⊙ s(t-1) + g(t) ⊙ tanh(a(t))"),
        Equation(h, HadamardProduct(q, tanh(s)), "h(t) = q(t) ⊙ tanh(s(t))"),
        Equation(o, c + V * h, "o(t) = c + V h(t)"),
    ]
    init = {p.name: "glorot" for p in params}
    init.update({p.name: "zeros" for p in params if p.name.startswith("b")})
    if biases:
        init["b_f"] = "ones"
    return Model(
        name="lstm" if biases else "lstm_nobias",
        title="LSTM" + ("" if biases else " without biases (seed 004)") +
              ", per-step softmax output, summed cross-entropy",
        source=SOURCE,
        sizes=(n, m, K),
        params=(*params, V, c),
        inputs=(x,),
        label=y,
        state={h_prev: "h", s_prev: "s"},
        equations=tuple(eqs),
        **softmax_head(o, y),
        outputs=("o",),
        init={**init, "V": "glorot", "c": "zeros"},
        notes=COVERS if biases else COVERS + " Without biases: seed 004's equations exactly.",
        bounds=BoundCases(faults=(BoundFault("lstm-forget-min", "max|f| replaced by min|f| in the memory path",
                                             replace=(("max|f|", f),), least=True),),
                          statements=("memory-path",)),
    )


COVERS = (
    "Covers 004_2bd5bd3ef5bc2048.txt (Long Short-Term Memory): input gate g(t), output gate q(t), "
    "forget gate f(t), new content a(t), memory update s(t) and hidden unit update h(t), with b_g = b_f "
    "= b = b_o = 0 (lstm.spec(biases=False)); and 001_e1543032cbfbfdb6.txt (LSTM): f_t = sigmoid(W_f . "
    "[h_(t-1), x_t] + b_f) is f(t) with W_f [h; x] = W_f h(t-1) + U_f x(t); i_t is g(t); C~_t = tanh(W_C . "
    "[h_(t-1), x_t] + b_C) is tanh(a(t)); C_t = f_t * C_(t-1) + i_t * C~_t is s(t); o_t is q(t); "
    "h_t = o_t * tanh(C_t) is h(t). Gate order g, f, a, q is PyTorch's i, f, g, o."
)
