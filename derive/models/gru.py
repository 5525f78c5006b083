"""GRU, the variant PyTorch implements (nn.GRU): the reset gate scales the recurrent
product *and its bias*, r ⊙ (W h(t-1) + b_h).

    r(t)  = sigmoid(b_r + U_r x(t) + W_r h(t-1))          reset gate
    z(t)  = sigmoid(b_z + U_z x(t) + W_z h(t-1))          update gate
    hc(t) = tanh(b + U x(t) + r(t) ⊙ (W h(t-1) + b_h))    candidate (PyTorch's n)
    h(t)  = (1 - z(t)) ⊙ hc(t) + z(t) ⊙ h(t-1)
    o(t)  = c + V h(t)

Cho et al. (2014) apply the reset gate to the state before the product:
derive/models/gru_cho.py.  Gate order r, z, candidate is PyTorch's r, z, n.
"""
import functools

from sympy import HadamardProduct, MatrixSymbol

from derive.spec import Equation, Model, ones, sigmoid, sizes, softmax_head, tanh

SOURCE = "PyTorch nn.GRU (Cho et al. 2014 with the reset gate after the recurrent product)"


def spec(n=None, m=None, K=None, *, cho=False) -> Model:
    if n is None:
        n, m, K = sizes("n m K")
    x, y = MatrixSymbol("x", m, 1), MatrixSymbol("y", K, 1)
    h_prev = MatrixSymbol("h_prev", n, 1)
    P = {}
    for name, rows, cols in (("U_r", n, m), ("W_r", n, n), ("b_r", n, 1),
                             ("U_z", n, m), ("W_z", n, n), ("b_z", n, 1),
                             ("U", n, m), ("W", n, n), ("b", n, 1), ("b_h", n, 1)):
        if not (cho and name == "b_h"):
            P[name] = MatrixSymbol(name, rows, cols)
    V, c = MatrixSymbol("V", K, n), MatrixSymbol("c", K, 1)
    r, z, hc, h, o = (MatrixSymbol(s, n, 1) for s in ("r", "z", "hc", "h", "o"))
    o = MatrixSymbol("o", K, 1)
    if cho:
        cand = Equation(hc, tanh(P["b"] + P["U"] * x + P["W"] * HadamardProduct(r, h_prev)),
                        "hc(t) = tanh(b + U x(t) + W (r(t) ⊙ h(t-1)))")
    else:
        cand = Equation(hc, tanh(P["b"] + P["U"] * x + HadamardProduct(r, P["W"] * h_prev + P["b_h"])),
                        "hc(t) = tanh(b + U x(t) + r(t) ⊙ (W h(t-1) + b_h))")
    equations = (
        Equation(r, sigmoid(P["b_r"] + P["U_r"] * x + P["W_r"] * h_prev),
                 "r(t) = sigmoid(b_r + U_r x(t) + W_r h(t-1))"),
        Equation(z, sigmoid(P["b_z"] + P["U_z"] * x + P["W_z"] * h_prev),
                 "z(t) = sigmoid(b_z + U_z x(t) + W_z h(t-1))"),
        cand,
        Equation(h, HadamardProduct(ones(n) - z, hc) + HadamardProduct(z, h_prev),
                 "h(t) = (1 - z(t)) ⊙ hc(t) + z(t) ⊙ h(t-1)"),
        Equation(o, c + V * h, "o(t) = c + V h(t)"),
    )
    init = {k: ("zeros" if k.startswith("b") else "glorot") for k in P}
    return Model(
        name="gru_cho" if cho else "gru",
        title=("GRU, Cho et al. 2014 (reset gate before the recurrent product)" if cho else
               "GRU, PyTorch variant (reset gate after the recurrent product and its bias)") +
              ", per-step softmax output, summed cross-entropy",
        source="Cho et al. 2014, eqs. 5-8" if cho else SOURCE,
        sizes=(n, m, K),
        params=(*P.values(), V, c),
        inputs=(x,),
        label=y,
        state={h_prev: "h"},
        equations=equations,
        **softmax_head(o, y),
        outputs=("o",),
        init={**init, "V": "glorot", "c": "zeros"},
    )


#: A classic mistake, as data for numeric/faults.py (the ``variant`` pattern): the reset
#: gate's adjoint taken through Cho's candidate, W (r(t) ⊙ h(t-1)), in this GRU.
CONFUSIONS = (
    {"id": "cho", "equation": "hc", "of": "r", "variant": functools.partial(spec, cho=True),
     "description": "dL/dr taken through Cho's candidate hc(t) = tanh(b + U x(t) + W (r(t) ⊙ h(t-1))), "
                    "(W^T (dL/dhc ⊙ tanh'(.))) ⊙ h(t-1), instead of this GRU's dL/da_hc ⊙ (W h(t-1) + b_h)"},
)
