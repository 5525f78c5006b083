"""The LaTeX math grammar: the trees of typical formulas of the notes, asserted
structurally, and the error records of what is outside it."""
import pytest

from verifier.notes import parse_math
from verifier.notes import mathtree as mt
from verifier.notes.limits import MAX_FORMULA_CHARS, MAX_NESTING_DEPTH
from verifier.notes.mathtree import sexpr


def tree(latex):
    result = parse_math(latex)
    assert isinstance(result, mt.Line), result
    return result


@pytest.mark.parametrize("latex, expected", [
    # BPTT gradient: binders nest, their bodies run to the end of the product
    (r"\frac{\partial L}{\partial W} = \sum_{t=1}^{T} \sum_{k=1}^{t} \frac{\partial L_t}{\partial h_t}"
     r" \left( \prod_{j=k+1}^{t} \frac{\partial h_j}{\partial h_{j-1}} \right) \frac{\partial h_k}{\partial W}",
     "(= (∂ L W) (sum_[t=1..T] (sum_[k=1..t] (* (∂ L_[t] h_[t]) ((prod_[j=(+ k 1)..t] "
     "(∂ h_[j] h_[(+ j (- 1))]))) (∂ h_[k] W)))))"),
    # LSTM cell and gate, with a concatenation
    (r"c_t = f_t \odot c_{t-1} + i_t \odot \tilde{c}_t",
     "(= c_[t] (+ (odot f_[t] c_[(+ t (- 1))]) (odot i_[t] tilde.c_[t])))"),
    (r"f_t = \sigma(W_f [h_{t-1}; x_t] + b_f)",
     "(= f_[t] (sigma (+ (* W_[f] (concat h_[(+ t (- 1))] x_[t])) b_[f])))"),
    (r"f_t = \sigma (W_f \cdot [h_{t-1}, x_t] + b_f)",
     "(= f_[t] (sigma (+ (cdot W_[f] (concat h_[(+ t (- 1))] x_[t])) b_[f])))"),
    # a norm bound with a product with limits
    (r"\left\| \frac{\partial h_t}{\partial h_k} \right\| \le \prod_{j=k+1}^{t} \|W^\top\| \,"
     r" \|\operatorname{diag}(\sigma'(z_j))\| \le (\gamma \lambda)^{t-k}",
     "(le (norm (∂ h_[t] h_[k])) (prod_[j=(+ k 1)..t] (* (norm (T W)) (norm (op.diag (sigma' z_[j])))))"
     " (^ ((* gamma lambda)) (+ t (- k))))"),
    (r"\rightarrow \leq \beta^{t-k}", "(chain _ to _ le (^ beta (+ t (- k))))"),
    # the vanilla RNN as the seeds write it: juxtaposition is a product
    (r"s_1 = \tanh(Wx_0 + Us_0)", "(= s_[1] (op.tanh (+ (* W x_[0]) (* U s_[0]))))"),
    (r"g \leftarrow \frac{gv}{\|g\|}", "(gets g (/ (* g v) (norm g)))"),
    # derivatives in every spelling, and the gradient
    (r"\partial L / \partial X = \frac{dL}{dX} = \nabla_{X} L", "(= (∂ L X) (d L X) (nabla_[X] L))"),
    (r"\nabla_{\mathbf{W}} L = \sum_t \mathbf{H}^{(t)} (\nabla_{\mathbf{h}^{(t)}} L) \mathbf{h}^{(t-1)T}",
     "(= (nabla_[bf.W] L) (sum_[t] (* (bf.H^[(t)] (nabla_[bf.h^[(t)]] L)) (T bf.h^[((+ t (- 1)))]))))"),
    # superscripts: indices, transposes, inverse, powers
    (r"\mathbf{h}^{(t-1)T} + W^\intercal + W^{T} + x^T + W^{-1} + \beta^{t-k} + h^{<t>}"
     r" + h^{\langle t \rangle} + a^{(i)<t>[1]} + h_i^{(t)} + W_{hh} + b^{(h)}",
     "(+ (T bf.h^[((+ t (- 1)))]) (T W) (T W) (T x) (^ W (- 1)) (^ beta (+ t (- k))) h^[<t>] h^[<t>]"
     " a^[(* (i) <t> [1])] h_[i]^[(t)] W_[(* h h)] b^[(h)])"),
    # functions
    (r"\exp(x) \log y \text{softmax}(o) \mathrm{diag}(v) f_\theta(h, x) f'(z) \sigma'",
     "(* (op.exp x) (op.log y) ('softmax' o) (op.diag v) (f_[theta] h x) (f' z) sigma')"),
    (r"\frac{\partial \ell}{\partial h} = \operatorname{diag}(1 - h^2) (W^\top \delta)",
     "(= (∂ ell h) (* (op.diag (+ 1 (- (^ h 2)))) ((* (T W) delta))))"),
    (r"W^T \text{diag}[f'(W s_{j-1} + U x_j)]",
     "(* (T W) ('diag' (f' (+ (* W s_[(+ j (- 1))]) (* U x_[j])))))"),
    # binders, absolute values and norms
    (r"\max_z |f(z)| \ge \sup_{z} g(z) \ge \min(a, b) \ge \|x\|_2 \ge \lVert x \rVert",
     "(ge (max_[z] (abs (f z))) (sup_[z] (g z)) (op.min a b) (norm_[2] x) (norm x))"),
    (r"\prod_{j < t \leq i} W", "(prod_[t][if (chain j < t le i)] W)"),
    # conditional probability: the bar inside the parentheses is "given"
    (r"P(x_t | x_1, \dots, x_{t-1}) = P(x_t | h_t)",
     "(= (P (given x_[t] (tuple, x_[1] dots x_[(+ t (- 1))]))) (P (given x_[t] h_[t])))"),
    # matrices
    (r"A = \begin{bmatrix} a & \dots & b \\ \vdots & \ddots & \vdots \\ c & \cdots & d \end{bmatrix}",
     "(= A (bmatrix (a dots b) (vdots ddots vdots) (c cdots d)))"),
    # asides, punctuation, underbrace, relations
    (r"h_t = \phi(W h_{t-1}) , \quad \text{for } t \ge 1.",
     "(= h_[t] (phi (* W h_[(+ t (- 1))]))) (aside (ge (* 'for' t) 1)) ,"),
    (r"h_t = \underbrace{W h_{t-1}}_{\text{recurrence}} + b", "(= h_[t] (+ (* W h_[(+ t (- 1))]) b))"),
    (r"a = b \approx c \le d \leq e < f > g \ge h \geq i \ne j \propto k \sim l \rightarrow m \leftarrow n \to o",
     "(chain a = b approx c le d le e < f > g ge h ge i ne j propto k sim l to m gets n to o)"),
    (r"\mathbf{h} \boldsymbol{x} \bm{W} \hat{y} \tilde{C} \alpha \sigma \tau \delta \Gamma",
     "(* bf.h bf.x bf.W hat.y tilde.C alpha sigma tau delta Gamma)"),
    (r"-x + (-y) - \sum_t a_t b_t + c \times d \cdot e \circ f * g",
     "(+ (- x) ((- y)) (- (sum_[t] (* a_[t] b_[t]))) (prod c times d cdot e circ f star g))"),
])
def test_typical_formulas_parse_to_these_trees(latex, expected):
    assert sexpr(tree(latex)) == expected


def test_juxtaposition_is_recorded_and_operators_are_named():
    product = tree(r"Wx_0").body
    assert isinstance(product, mt.Product) and product.juxtaposed and product.ops == ("juxt",)
    assert [f.name for f in product.factors] == ["W", "x"] and product.factors[1].sub.text == "0"
    assert not tree(r"a \cdot b").body.juxtaposed


def test_symbols_keep_font_accent_primes_and_scripts():
    symbol = tree(r"\hat{\boldsymbol{y}}_w^{(t)}").body
    assert (symbol.name, symbol.font, symbol.accent, symbol.primes) == ("y", "bf", "hat", 0)
    assert symbol.sub.name == "w" and isinstance(symbol.sup, mt.Group) and symbol.sup.body.name == "t"
    assert tree(r"\sigma''").body.primes == 2


def test_binder_fields():
    binder = tree(r"\sum_{k=t+1}^{\tau} x_k").body
    assert (binder.op, binder.index.name, sexpr(binder.lower), binder.upper.name) == ("sum", "k", "(+ t 1)", "tau")
    assert binder.body.name == "x"


def test_inverse_and_transpose_nodes():
    assert tree("W^{-1}").body.is_inverse and not tree("W^{2}").body.is_inverse
    assert isinstance(tree(r"(h)^\top").body, mt.Transpose)


def test_continuation_and_chain_parts():
    chain = tree(r"= b").body
    assert chain.continuation and chain.parts[0] is None and chain.parts[1].name == "b"
    assert not tree(r"a = b").body.continuation


def test_every_node_has_a_span_inside_the_formula_and_its_children_inside_it():
    latex = r"\nabla_{\mathbf{h}^{(t)}} L = \left( \frac{\partial \mathbf{h}^{(t+1)}}{\partial \mathbf{h}^{(t)}} \right)^T (\nabla L)"
    root = tree(latex)
    for node in mt.walk(root):
        start, end = node.span
        assert 0 <= start <= end <= len(latex), node
        for child in mt.children(node):
            assert start <= child.span[0] and child.span[1] <= end, (node, child)
    gradient = root.body.parts[0]
    assert latex[slice(*gradient.span)] == r"\nabla_{\mathbf{h}^{(t)}} L"
    assert latex[slice(*gradient.wrt.span)] == r"\mathbf{h}^{(t)}"


@pytest.mark.parametrize("latex, reason, token", [
    (r"a = \foo b", "unknown command", r"\foo"),
    (r"a = (b", "ends too early", ""),
    (r"a = b}", "unbalanced }", "}"),
    (r"W_x^{(1]}", "is closed with ]", "]"),
    (r"\frac{a}{b} \\ c", "line break", "\\\\"),
    (r"a # b", "unexpected character", "#"),
    (r"\begin{pmatrix} a \end{bmatrix}", "is closed by", r"\end{bmatrix}"),
    ("rac{\\partial m{h}}{\\partial x}", "lost the \\f of \\frac", "rac{"),
    (r"x = \text{open", "is not closed", r"\text"),
])
def test_outside_the_grammar_is_an_error_record_with_token_and_column(latex, reason, token):
    error = parse_math(latex)
    assert isinstance(error, mt.ParseError) and reason in error.reason, error
    assert error.token == token
    assert error.column == (latex.index(token) if token else len(latex))


def test_limits_are_error_records():
    assert "longer than" in parse_math("x+" * MAX_FORMULA_CHARS).reason
    deep = "(" * (MAX_NESTING_DEPTH + 1) + "x" + ")" * (MAX_NESTING_DEPTH + 1)
    assert "nested deeper" in parse_math(deep).reason
    ok = "(" * (MAX_NESTING_DEPTH - 1) + "x" + ")" * (MAX_NESTING_DEPTH - 1)
    assert isinstance(parse_math(ok), mt.Line)
    binders = r"\sum_i " * (4 * MAX_NESTING_DEPTH) + "x"
    assert "nested deeper" in parse_math(binders).reason
