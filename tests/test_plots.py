"""Figures of the bounds: PNG bytes, identical for the same seed."""
from __future__ import annotations

import pytest

from numeric import bounds as nb
from verifier.report import figures as plots

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def figures():
    return plots.figures(seed=0)


def test_figures_are_pngs_with_the_expected_names(figures):
    expected = {"decay_tanh_sigmoid.png"}
    expected |= {"leaky_alpha.png"} if "leaky" in nb.models() else set()
    expected |= {"lstm_forget.png"} if "lstm" in nb.models() else set()
    assert set(figures) == expected
    for name, data in figures.items():
        assert data.startswith(PNG), name
        assert b"Software" not in data and b"matplotlib" not in data, name


def test_figures_are_byte_identical_across_calls(figures):
    again = plots.figures(seed=0)
    assert again == figures


def test_figure_size_is_fixed(figures):
    import struct

    for name, data in figures.items():
        width, height = struct.unpack(">II", data[16:24])        # IHDR
        assert (width, height) == (int(plots.FIGSIZE[0] * plots.DPI), int(plots.FIGSIZE[1] * plots.DPI)), name
