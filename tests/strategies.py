"""Hypothesis strategies shared by the tests (one place for them).

Notes reader: random LaTeX made of the grammar's own pieces (so that it reaches
deep into the parser, not only its first error), random Markdown around it, and
raw bytes.
"""
from hypothesis import strategies as st

#: Pieces of LaTeX math, well formed and not: the fuzzers join them at random.
LATEX_PIECES = [
    "x", "h_t", "W", "h_{t-1}", "h^{(t)}", "h^{<t>}", "^T", "^\\top", "_", "^", "'", "{", "}", "(", ")",
    "[", "]", "|", "\\|", "\\left(", "\\right)", "\\left\\|", "\\right\\|", "\\left.", "\\right|", "+", "-",
    "=", "<", ">", "\\le", "\\cdot", "\\odot", "*", "/", ",", ";", ".", "&", "\\\\", "\\quad", "\\frac",
    "\\frac{a}{b}", "\\partial", "\\nabla_", "\\sum_{t=1}^{T}", "\\prod_", "\\max_z", "\\tanh", "\\sigma",
    "\\operatorname{softmax}", "\\text{ok}", "\\text{", "\\mathbf", "\\hat", "\\underbrace", "\\sqrt",
    "\\begin{bmatrix}", "\\end{bmatrix}", "\\begin{aligned}", "\\end{aligned}", "\\dots", "\\foo",
    "\\xrightarrow{f}", "\\stackrel{a}{=}", "\\langle", "\\rangle", "\\mid", "1", "23", "\\alpha",
    "#", "%", "$", "~", " ", "\n", "é", "\\", "\\substack{a\\\\b}", "\\lVert", "\\rVert",
]

latex_pieces = st.lists(st.sampled_from(LATEX_PIECES), max_size=40).map("".join)
latex_text = st.one_of(latex_pieces, st.text(max_size=80))

#: Pieces of Markdown (and of MyST / d2l / LaTeX notes) around formulas.
MARKDOWN_PIECES = [
    "$", "$$", "\n", "\n\n", "```", "```{math}\n", ":label: eq\n", ":::{math}\n", ":::", "    ",
    "> ", "- ", "1. ", "\\[", "\\]", "\\(", "\\)", "\\begin{align}", "\\end{align}", "(eq1)", "{eq}`a`",
    ":eqlabel:`x`", "(t)=\n", "# title", "text ", "---\n", "<div>", "\\input{x}", "\\newcommand{\\a}{\\a}",
    "%", "\\verb|", "{", "}", "\t", "\r\n", "\x00", "\ufeff",
]

markdown_text = st.one_of(
    st.lists(st.one_of(st.sampled_from(MARKDOWN_PIECES), latex_pieces), max_size=30).map("".join),
    st.text(max_size=200),
)
