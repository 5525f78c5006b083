"""The self-contained HTML report."""
from __future__ import annotations

import base64
import re

import pytest

from verifier.report import html

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16

RESULTS = [
    {"id": "rnn/bound/product", "kind": "bound", "model": "rnn", "status": "pass", "cases": 10, "violations": 0,
     "max_ratio": 0.999, "max_rel_error": None, "statement": "||J|| <= (gamma sigma)^(t-k)",
     "layout": "numerator", "evidence": "sweep <b>bold</b> & more", "decay": [{"rate": 0.9}]},
    {"id": "faults/x", "kind": "bound", "model": "rnn", "status": "fail", "cases": 3, "violations": 2,
     "max_ratio": 4.5, "max_rel_error": 1.5e-14, "statement": "s", "layout": "l", "evidence": "e"},
    {"id": "rnn/proof/a", "kind": "proof", "model": "rnn", "status": "error", "cases": 0, "max_rel_error": 0.0,
     "error": "ValueError: <script>alert(1)</script>"},
]
META = {"seed": 0, "versions": {"python": "3.11", "sympy": "1.14"}}


def test_render_is_deterministic_and_self_contained():
    a = html.render(RESULTS, META, {"b.png": PNG, "a.png": PNG})
    assert a == html.render(RESULTS, META, {"a.png": PNG, "b.png": PNG})
    assert a.startswith("<!DOCTYPE html>")
    assert not re.search(r"(src|href)=\"(https?:|//)", a)
    assert "<link" not in a and "<script" not in a
    assert a.count("data:image/png;base64,") == 2
    assert base64.b64encode(PNG).decode() in a
    assert a.index('id="a.png"') < a.index('id="b.png"')


def test_statuses_are_coloured_and_values_escaped():
    page = html.render(RESULTS, META, {})
    assert 'class="status pass"' in page and 'class="status fail"' in page and 'class="status error"' in page
    assert "&lt;script&gt;" in page and "<b>bold</b>" not in page
    assert "1.500e-14" in page and "0.999" in page
    for r in RESULTS:
        assert f'id="{r["id"]}"' in page


def test_figures_must_be_png():
    with pytest.raises(ValueError, match="PNG"):
        html.render(RESULTS, META, {"x.png": b"not a png"})
