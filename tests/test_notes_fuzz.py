"""Hostile input: every case ends in a tree or an error record, never a traceback,
and stays within the limits of verifier.notes.limits."""
import json

from hypothesis import given, strategies as st

from strategies import latex_text, markdown_text
from verifier.notes import parse_math, read, read_text
from verifier.notes import mathtree as mt
from verifier.notes.limits import MAX_FILE_BYTES, MAX_FORMULA_CHARS, MAX_NESTING_DEPTH
from verifier.notes.reader import decode


@given(latex_text)
def test_any_latex_gives_a_tree_or_an_error_record(latex):
    result = parse_math(latex)
    assert isinstance(result, (mt.Line, mt.ParseError))
    if isinstance(result, mt.ParseError):
        assert 0 <= result.column <= len(latex) and result.reason
    else:
        assert mt.depth(result) <= 4 * MAX_NESTING_DEPTH
        for node in mt.walk(result):
            assert 0 <= node.span[0] <= node.span[1] <= len(latex)
        mt.sexpr(result)


@given(markdown_text, st.sampled_from(["markdown", "latex", "notebook"]))
def test_any_text_in_any_kind_gives_records(text, kind):
    document = read_text(text, "fuzz", kind)
    for formula in document.formulas:
        assert formula.line >= 1 and formula.column >= 1 and formula.end_line >= formula.line
        for line in formula.lines:
            assert isinstance(parse_math(line.latex), (mt.Line, mt.ParseError))
            assert line.locate(len(line.latex))[0] >= 1
    for error in document.errors:
        assert error.reason


@given(st.binary(max_size=300))
def test_any_bytes_decode_or_are_refused(data):
    text, error = decode(data)
    assert isinstance(text, str) and isinstance(error, str)
    assert text or error or not data or data in (b"\xef\xbb\xbf",)


@given(st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=10)),
                    lambda inner: st.one_of(st.lists(inner, max_size=4),
                                            st.dictionaries(st.sampled_from(
                                                ["cells", "cell_type", "source", "nbformat", "metadata"]),
                                                inner, max_size=4)),
                    max_leaves=20))
def test_any_json_as_a_notebook_gives_records(value):
    document = read_text(json.dumps(value), "fuzz.ipynb", "notebook")
    assert document.errors or document.formulas == () or document.formulas


def test_deep_nesting_and_unbalanced_braces():
    for latex in ["{" * 10_000, "}" * 10_000, "(" * 5_000 + ")" * 5_000, "\\left(" * 100,
                  "x^{" * 3000 + "}" * 3000, "\\sqrt" * 3000, "-" * 5000 + "x", "|" * 4000]:
        result = parse_math(latex[:MAX_FORMULA_CHARS])
        assert isinstance(result, mt.ParseError), latex[:20]
    document = read_text("$$" + "{" * 10_000 + "$$\n" + "\\[" + "}" * 50 + "\\]", "deep.md")
    assert len(document.formulas) == 2
    document = read_text("{" * 10_000 + "$x$", "deep.tex", "latex")
    assert document.errors and "deeper" in document.errors[0].reason


def test_long_formulas_and_huge_files_are_refused_before_parsing(tmp_path):
    long_formula = "$$" + "x + " * MAX_FORMULA_CHARS + "$$"
    [formula] = read_text(long_formula, "long.md").formulas
    assert "longer than" in formula.error and formula.lines == ()
    huge = tmp_path / "huge.md"
    huge.write_bytes(b"$x$\n" * (MAX_FILE_BYTES // 4 + 1))
    [document] = read(huge)
    assert document.formulas == () and "more than" in document.errors[0].reason


def test_many_formulas_in_a_large_file_are_read():
    text = "".join(f"$x_{{{k}}} = {k}$\n\n" for k in range(3000))
    document = read_text(text, "many.md")
    assert len(document.formulas) == 3000 and document.formulas[-1].line == 5999
