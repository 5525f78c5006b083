"""Figures of the Jacobian bounds (matplotlib, Agg, no pyplot state).

``figures(seed)`` returns ``{file name: PNG bytes}``; the same seed gives the
same bytes (fixed size, dpi and style, no ``Software`` metadata, no dates).
Every curve is measured with :mod:`numeric.trajectories` (complex-step products
of the spec interpreter) and every dashed line is the derived bound on the same
trajectory.  Which models are drawn is data of their specs
(:attr:`derive.spec.BoundCases.statements`: "decay-figure", "timescale",
"memory-path").
"""
from __future__ import annotations

import io

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from derive import bounds as dbounds
from numeric import trajectories as tj
from verifier.stages.bounds import gate_case

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
    la, lb = tj.long_run(case)
    steps = np.arange(1, len(la) + 1)
    return steps, la / LOG10, lb / LOG10


def _with(statement: str) -> list:
    return [m for m in tj.models() if statement in tj.cases_of(m).statements]


def _decay_figure(models: list, seed: int) -> bytes:
    fig, ax = _figure()
    sigmas = set()
    for color, model in zip(_COLORS, models):
        (act, g), = dbounds.gammas(tj.symbolic(model)).items()
        at = tj.attaining_case(model, seed=seed, T=60)
        sigmas.add(tj.cases_of(model).attaining.sigma)
        driven = tj.rest_case(model, n=3, sigma=0.9, input_scale=1.0, T=60, seed=seed)
        for i, (label, case, style) in enumerate(((at.label.split(",")[0], at, "-"), ("driven", driven, ":"))):
            t, la, lb = _series(case)
            ax.plot(t, la, style, color=color, label=f"{act}, {label}: ||dh(t)/dh(k)||")
            if i == 0:
                ax.plot(t, lb, "--", color=color, alpha=0.8, linewidth=2.4,
                        label=f"{act} bound (gamma sigma)^(t-k), gamma = {g.value}")
    ax.set_xlabel("t - k")
    ax.set_ylabel("log10 ||d h(t) / d h(k)||_2")
    ax.set_title(f"{', '.join(models)}: symmetric W with sigma_max(W) = {', '.join(f'{s:g}' for s in sorted(sigmas))}")
    ax.legend(loc="lower left")
    return _png(fig)


def _timescale_figure(model: str, seed: int) -> bytes:
    fig, ax = _figure()
    a = dbounds.leaky_statement(tj.symbolic(model))["param"]
    for color, alpha in zip(_COLORS, (1.0, 2.0, 4.0, 8.0)):
        case = tj.rest_case(model, n=3, sigma=0.5, timescale=alpha, input_scale=1.0, T=60, seed=seed)
        t, la, lb = _series(case)
        ax.plot(t, la, "-", color=color, label=f"{a} = {alpha:g}: measured")
        ax.plot(t, lb, "--", color=color, alpha=0.8, label=f"{a} = {alpha:g}: bound")
    ax.set_xlabel("t - k")
    ax.set_ylabel("log10 ||d h(t) / d h(k)||_2")
    ax.set_title(f"{model}: sigma_max(W) = 0.5, inputs N(0, 1);\n"
                 f"bound (1 - 1/{a} + gamma sigma/{a})^(t-k)")
    ax.legend(loc="lower left", ncol=2)
    return _png(fig)


def _memory_path_figure(model: str, seed: int) -> bytes:
    fig, ax = _figure()
    mp = dbounds.memory_path(tj.symbolic(model))
    s, f = mp["state"], mp["gate"]
    for color, (bias, name) in zip(_COLORS, ((6.0, f"{f} near 1"), (-6.0, f"{f} near 0"))):
        case = gate_case(model, bias, T=40, seed=seed)
        tr = tj.trajectory(case)
        n = tj.state_size(case.model)
        states = list(case.model.state.values())
        si = states.index(s)
        t = np.arange(1, len(case.x) + 1)
        full = np.array([np.linalg.norm(P, 2) for P in tr.products])
        mem = np.array([np.linalg.norm(P[si * n:(si + 1) * n, si * n:(si + 1) * n], 2) for P in tr.products])
        carousel = np.cumsum(np.log(np.max(np.abs(tr.values[f]), axis=1))) / LOG10
        ev = tj.evaluate(tr)
        every = ",".join(states)
        with np.errstate(divide="ignore"):
            ax.plot(t, np.log10(full), "-", color=color, label=f"{name}: ||d({every})(t)/d({every})(k)||")
            ax.plot(t, np.log10(mem), ":", color=color, label=f"{name}: ||d {s}(t)/d {s}(k)||")
        ax.plot(t, carousel, "-.", color=color, alpha=0.7,
                label=f"{name}: prod of max {f} (memory path only, not a bound)")
        ax.plot(t, ev.log_bound / LOG10, "--", color=color, alpha=0.8, label=f"{name}: bound ||B(t)...B(k+1)||")
    ax.set_xlabel("t - k")
    ax.set_ylabel("log10 norm")
    ax.set_title(f"{model}, bias of gate {f} +6 / -6 ({f} ~ 0.998 / 0.002), small weights")
    ax.legend(loc="lower left", ncol=1)
    return _png(fig)


def figures(seed: int = 0) -> dict:
    """File name -> PNG bytes: ``decay_<activations>.png`` (the models whose spec
    lists "decay-figure"), ``<model>_<time constant>.png`` per "timescale" model and
    ``<model>_memory_path.png`` per "memory-path" model."""
    style = dict(_STYLE)
    style.pop("axes.prop_cycle")
    out = {}
    with matplotlib.rc_context(rc=style):
        decay = _with("decay-figure")
        if decay:
            acts = [a for m in decay for a in dbounds.gammas(tj.symbolic(m))]
            out[f"decay_{'_'.join(acts)}.png"] = _decay_figure(decay, seed)
        for model in _with("timescale"):
            out[f"{model}_{dbounds.leaky_statement(tj.symbolic(model))['param']}.png"] = _timescale_figure(model, seed)
        for model in _with("memory-path"):
            out[f"{model}_memory_path.png"] = _memory_path_figure(model, seed)
    return out
