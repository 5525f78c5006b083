"""Figures of the bounds: PNG bytes, identical for the same seed; which models
are drawn is data of their specs."""
from __future__ import annotations

import struct

import pytest

from verifier.report import figures as plots

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def figures():
    return plots.figures(seed=0)


def test_figures_are_pngs_with_the_expected_names(figures):
    # decay-figure: rnn (tanh) and rnn_sigmoid; timescale: leaky (alpha); memory-path: lstm
    assert set(figures) == {"decay_tanh_sigmoid.png", "leaky_alpha.png", "lstm_memory_path.png"}
    for name, data in figures.items():
        assert data.startswith(PNG), name
        assert b"Software" not in data and b"matplotlib" not in data, name


def test_figures_are_byte_identical_across_calls(figures):
    again = plots.figures(seed=0)
    assert again == figures


def test_figures_depend_on_the_seed(figures):
    other = plots.figures(seed=1)
    assert set(other) == set(figures)
    assert other["decay_tanh_sigmoid.png"] != figures["decay_tanh_sigmoid.png"]


def test_figure_size_is_fixed(figures):
    for name, data in figures.items():
        width, height = struct.unpack(">II", data[16:24])        # IHDR
        assert (width, height) == (int(plots.FIGSIZE[0] * plots.DPI), int(plots.FIGSIZE[1] * plots.DPI)), name
