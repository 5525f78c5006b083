"""Figures of the Jacobian bounds (matplotlib, Agg, no pyplot state).

``figures(seed)`` returns ``{file name: PNG bytes}``; the same seed gives the
same bytes (fixed size, dpi and style, no ``Software`` metadata, no dates).
Every curve is measured with :mod:`numeric.bounds` (complex-step products of
the spec interpreter) and every dashed line is the derived bound on the same
trajectory.
"""
from __future__ import annotations

import io

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from numeric import bounds as nb

__all__ = ["figures", "FIGSIZE", "DPI"]

FIGSIZE = (6.4, 4.0)
DPI = 100
_STYLE = {
    "font.family": "DejaVu Sans", "font.size": 9.0, "axes.grid": True, "grid.alpha": 0.3,
    "lines.linewidth": 1.4, "legend.fontsize": 7.5, "figure.dpi": DPI, "savefig.dpi": DPI,
    "path.simplify": False, "axes.prop_cycle": None,
}
_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
LOG10 = np.log(10.0)


def _figure():
    fig = Figure(figsize=FIGSIZE, dpi=DPI)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot(1, 1, 1)


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def _series(case):
    la, lb = nb.long_run(case)
    steps = np.arange(1, len(la) + 1)
    return steps, la / LOG10, lb / LOG10


def _decay_figure(seed: int) -> bytes:
    fig, ax = _figure()
    runs = [
        ("tanh, at rest", nb.attaining_case("rnn", seed=seed, T=60), _COLORS[0], "-"),
        ("tanh, driven", nb.rest_case("rnn", n=3, sigma=0.9, input_scale=1.0, T=60, seed=seed), _COLORS[0], ":"),
        ("sigmoid, at a = 0", nb.attaining_case("rnn_sigmoid", seed=seed, T=60), _COLORS[1], "-"),
        ("sigmoid, driven", nb.rest_case("rnn_sigmoid", n=3, sigma=0.9, input_scale=1.0, T=60, seed=seed),
         _COLORS[1], ":"),
    ]
    bounds_drawn = set()
    for label, case, color, style in runs:
        t, la, lb = _series(case)
        ax.plot(t, la, style, color=color, label=f"{label}: ||dh(t)/dh(k)||")
        key = label.split(",")[0]
        if key not in bounds_drawn:
            g = "1" if key == "tanh" else "1/4"
            ax.plot(t, lb, "--", color=color, alpha=0.8, linewidth=2.4,
                    label=f"{key} bound (gamma sigma)^(t-k), gamma = {g}")
            bounds_drawn.add(key)
    ax.set_xlabel("t - k")
    ax.set_ylabel("log10 ||d h(t) / d h(k)||_2")
    ax.set_title("Vanilla RNN, symmetric W with sigma_max(W) = 0.9")
    ax.legend(loc="lower left")
    return _png(fig)


def _leaky_figure(seed: int) -> bytes:
    fig, ax = _figure()
    for color, alpha in zip(_COLORS, (1.0, 2.0, 4.0, 8.0)):
        case = nb.rest_case("leaky", n=3, sigma=0.5, alpha=alpha, input_scale=1.0, T=60, seed=seed)
        t, la, lb = _series(case)
        ax.plot(t, la, "-", color=color, label=f"alpha = {alpha:g}: measured")
        ax.plot(t, lb, "--", color=color, alpha=0.8, label=f"alpha = {alpha:g}: bound")
    ax.set_xlabel("t - k")
    ax.set_ylabel("log10 ||d h(t) / d h(k)||_2")
    ax.set_title("Leaky units, sigma_max(W) = 0.5, tanh, inputs N(0, 1);\n"
                 "bound (1 - 1/alpha + gamma sigma/alpha)^(t-k)")
    ax.legend(loc="lower left", ncol=2)
    return _png(fig)


def _lstm_figure(seed: int) -> bytes:
    fig, ax = _figure()
    for color, (fb, name) in zip(_COLORS, ((6.0, "forget gate near 1"), (-6.0, "forget gate near 0"))):
        case = nb.lstm_case(fb, T=40, seed=seed)
        tr = nb.trajectory(case)
        n = nb._n(case.model)
        states = [new for _, new in case.model.state.items()]
        si = states.index("s")
        t = np.arange(1, len(case.x) + 1)
        full = np.array([np.linalg.norm(P, 2) for P in tr.products])
        mem = np.array([np.linalg.norm(P[si * n:(si + 1) * n, si * n:(si + 1) * n], 2) for P in tr.products])
        carousel = np.cumsum(np.log(np.max(np.abs(tr.values["f"]), axis=1))) / LOG10
        ev = nb.evaluate(tr)
        with np.errstate(divide="ignore"):
            ax.plot(t, np.log10(full), "-", color=color, label=f"{name}: ||d(h,s)(t)/d(h,s)(k)||")
            ax.plot(t, np.log10(mem), ":", color=color, label=f"{name}: ||d s(t)/d s(k)||")
        ax.plot(t, carousel, "-.", color=color, alpha=0.7, label=f"{name}: prod of max f (memory path only, not a bound)")
        ax.plot(t, ev.log_bound / LOG10, "--", color=color, alpha=0.8, label=f"{name}: bound ||B(t)...B(k+1)||")
    ax.set_xlabel("t - k")
    ax.set_ylabel("log10 norm")
    ax.set_title("LSTM, forget bias +6 / -6 (f ~ 0.998 / 0.002), small weights")
    ax.legend(loc="lower left", ncol=1)
    return _png(fig)


def figures(seed: int = 0) -> dict:
    """``{"decay_tanh_sigmoid.png", "leaky_alpha.png", "lstm_forget.png"}`` -> PNG
    bytes (the LSTM figure only when the lstm model is registered)."""
    style = dict(_STYLE)
    style.pop("axes.prop_cycle")
    out = {}
    with matplotlib.rc_context(rc=style):
        out["decay_tanh_sigmoid.png"] = _decay_figure(seed)
        if "leaky" in nb.models():
            out["leaky_alpha.png"] = _leaky_figure(seed)
        if "lstm" in nb.models():
            out["lstm_forget.png"] = _lstm_figure(seed)
    return out
