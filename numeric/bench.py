"""Timing of the generated gradient code against a matmul floor and autograd.

For each model (``numeric.generated.<name>``) :func:`run` times, at float64,
best of ``repeats`` after one warm-up (``time.perf_counter``, garbage
collection off while timing, as :mod:`timeit` does; the three are timed in
interleaved rounds so background load affects them alike):

1. ``generated`` -- the generated ``loss_and_grads``;
2. ``floor`` -- the same matrix products done alone in NumPy: the products
   ``loss_and_grads`` performs, with the same shapes, operand layouts
   (transposed views stay transposed views) and aliasing (per-step products
   read slices of one shared buffer, as the generated loops do), in the same
   order, into preallocated outputs.  Nothing else runs, so this is what the
   generated code would cost if everything but the BLAS calls were free;
3. ``autograd`` -- reverse mode by ``autograd`` of the same loss:
   :func:`numeric.oracles.autograd_grads`, which differentiates the spec
   interpreter's forward pass.

The floor's product list is not hard-coded: :func:`trace_products` runs
``loss_and_grads`` once on inputs of an ``ndarray`` subclass that records
every ``matmul`` (operator ``@`` included; ``np.dot``/``.dot`` on 2-D
operands too) and keeps every ufunc/array-function result in the subclass.
Other product functions (einsum, tensordot, ...) make it raise.  The one
thing it cannot see is a product of two arrays that were both allocated
fresh (``np.empty``/``np.zeros``) and filled by item assignment -- no such
product exists in the generated code today, and the table prints the traced
list so it can be checked by eye.

Speed is reported, never asserted.
"""
from __future__ import annotations

import gc
import importlib
import os
import time
from typing import Callable

import numpy as np

from derive.models import get
from numeric import oracles

__all__ = ["run", "format_table", "trace_products", "floor_runner",
           "threadpool_info", "blas_env", "best_times"]

DTYPE = np.float64
ENV_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


# ---------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------

def best_times(functions: dict, repeats: int) -> dict:
    """Best wall time of each ``functions[k]()`` over ``repeats`` runs, after
    one warm-up of each.  The runs are interleaved (one of each per round), so
    load from other processes on a shared machine hits all of them alike and
    the ratios stay meaningful."""
    for fn in functions.values():
        fn()
    best = {k: float("inf") for k in functions}
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(max(1, repeats)):
            for k, fn in functions.items():
                start = time.perf_counter()
                fn()
                best[k] = min(best[k], time.perf_counter() - start)
    finally:
        if enabled:
            gc.enable()
    return best


# ---------------------------------------------------------------------------
# The floor: trace the products, replay them alone
# ---------------------------------------------------------------------------

def _owner(a: np.ndarray) -> np.ndarray:
    """The array that owns ``a``'s memory (the end of the ``.base`` chain)."""
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


class _Tracer:
    """Records matmul operands as (buffer index, byte offset, shape, strides)."""

    def __init__(self):
        self.owners: list = []        # kept alive so id() stays unique while tracing
        self.index: dict = {}         # id(owner) -> buffer index
        self.sizes: list = []         # buffer index -> size in bytes
        self.products: list = []      # [(operand, operand, out shape)]
        self.unsupported: list = []   # products the floor cannot replay as matmuls

    def operand(self, a: np.ndarray) -> tuple:
        a = np.asarray(a).view(np.ndarray)
        owner = _owner(a)
        key = id(owner)
        if key not in self.index:
            self.index[key] = len(self.owners)
            self.owners.append(owner)
            self.sizes.append(owner.nbytes)
        offset = a.__array_interface__["data"][0] - owner.__array_interface__["data"][0]
        return self.index[key], offset, a.shape, a.strides, a.dtype

    def record(self, left, right, out_shape):
        self.products.append((self.operand(left), self.operand(right), tuple(out_shape)))


class _Traced(np.ndarray):
    """An ndarray whose ufunc and array-function results stay _Traced, and
    whose matmuls are reported to the active tracer."""

    tracer: _Tracer | None = None

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        plain = tuple(i.view(np.ndarray) if isinstance(i, _Traced) else i for i in inputs)
        if "out" in kwargs:
            kwargs["out"] = tuple(o.view(np.ndarray) if isinstance(o, _Traced) else o
                                  for o in kwargs["out"])
        result = getattr(ufunc, method)(*plain, **kwargs)
        if ufunc is np.matmul and method == "__call__" and _Traced.tracer is not None:
            _Traced.tracer.record(plain[0], plain[1], np.shape(result))
        return _wrap(result)

    def __array_function__(self, func, types, args, kwargs):
        result = super().__array_function__(func, types, args, kwargs)
        tracer = _Traced.tracer
        if tracer is not None and func in _PRODUCT_FUNCTIONS:
            if func is np.dot and all(np.ndim(a) == 2 for a in args[:2]):
                tracer.record(args[0], args[1], np.shape(result))   # 2-D dot is matmul
            else:
                tracer.unsupported.append(func.__name__)
        return _wrap(result)

    def dot(self, other, out=None):
        """The method form, routed through np.dot so that it is traced."""
        return np.dot(self, other, out=out)


#: Products other than matmul: np.dot on 2-D operands is recorded as a matmul,
#: the rest make the floor underivable (trace_products raises).
_PRODUCT_FUNCTIONS = {np.dot, np.inner, np.vdot, np.outer, np.tensordot, np.einsum,
                      np.kron, np.linalg.multi_dot}


def _wrap(result):
    if isinstance(result, tuple):
        return tuple(_wrap(r) for r in result)
    if type(result) is np.ndarray:
        return result.view(_Traced)
    return result


def trace_products(module, params: dict, x: np.ndarray, y: np.ndarray, states: dict) -> tuple:
    """Run ``module.loss_and_grads(params, x, y, **states)`` once and return
    ``(products, buffer_sizes)``: every matrix product it performs, in order,
    as ``(left, right, out_shape)`` with each operand
    ``(buffer, byte_offset, shape, strides, dtype)``.  ``states`` are the
    initial states, passed explicitly so that they are traced too."""
    tracer = _Tracer()
    traced = {k: np.asarray(v).view(_Traced) for k, v in params.items()}
    traced_states = {k: np.asarray(v).view(_Traced) for k, v in states.items()}
    previous, _Traced.tracer = _Traced.tracer, tracer
    try:
        module.loss_and_grads(traced, x.view(_Traced), y, **traced_states)
    finally:
        _Traced.tracer = previous
    if tracer.unsupported:
        raise ValueError(f"cannot derive the matmul floor: loss_and_grads uses "
                         f"{sorted(set(tracer.unsupported))}, which the floor does not replay")
    return tracer.products, tracer.sizes


def floor_runner(products: list, sizes: list, *, seed: int = 0) -> Callable[[], None]:
    """A function that performs exactly ``products`` (as traced) and nothing
    else: operands are views with the traced offsets/strides into one
    preallocated, randomly filled buffer per traced buffer; outputs go into
    preallocated arrays (one per output shape)."""
    rng = np.random.default_rng(seed)
    buffers = {}

    def view(spec):
        index, offset, shape, strides, dtype = spec
        if index not in buffers:
            count = -(-sizes[index] // np.dtype(dtype).itemsize)
            buffers[index] = (0.1 * rng.standard_normal(count)).astype(dtype)
        return np.ndarray(shape, dtype=dtype, buffer=buffers[index], offset=offset,
                          strides=strides)

    outs, calls = {}, []
    for left, right, out_shape in products:
        a, b = view(left), view(right)
        dtype = np.result_type(a, b)
        out = outs.setdefault((out_shape, dtype.str), np.empty(out_shape, dtype=dtype))
        calls.append((a, b, out))
    matmul = np.matmul

    def floor():
        for a, b, out in calls:
            matmul(a, b, out=out)

    return floor


def _describe_operand(spec) -> str:
    _, _, shape, strides, dtype = spec
    text = "(" + ",".join(str(s) for s in shape) + ")"
    if len(shape) == 2 and shape[0] > 1 and shape[1] > 1 and strides[0] < strides[1]:
        text = "(" + ",".join(str(s) for s in shape[::-1]) + ").T"   # a transposed view
    return text


def describe_products(products: list) -> list:
    """Runs of identical products as ``"N x (r,k)@(k,c)"`` strings, in order."""
    runs = []
    for left, right, _ in products:
        text = f"{_describe_operand(left)}@{_describe_operand(right)}"
        if runs and runs[-1][1] == text:
            runs[-1][0] += 1
        else:
            runs.append([1, text])
    return [f"{count} x {text}" for count, text in runs]


# ---------------------------------------------------------------------------
# autograd
# ---------------------------------------------------------------------------

def _autograd_for(name: str, module, sizes: dict):
    """``grads_fn(params, x, y)``: the autograd oracle on the spec interpreter at ``sizes``."""
    model = get(name)(*(sizes[s] for s in module.SIZES))
    return lambda p, x, y: oracles.autograd_grads(model, p, x, y)


# ---------------------------------------------------------------------------
# Environment
# ---------------------------------------------------------------------------

def threadpool_info() -> str:
    """numpy's BLAS thread pool(s) by threadpoolctl, or a note that it is absent."""
    try:
        from threadpoolctl import threadpool_info as info
    except ImportError:
        return "threadpoolctl not installed"
    pools = [p for p in info() if p.get("user_api") == "blas"]
    if not pools:
        return "threadpoolctl: no BLAS pool found"
    return "; ".join(f"{p.get('internal_api')} {p.get('version')} "
                     f"threads={p.get('num_threads')} arch={p.get('architecture')} "
                     f"({os.path.basename(str(p.get('filepath', '')))})" for p in pools)


def blas_env() -> dict:
    """The OpenBLAS tuning variables that are set (read only, never changed)."""
    return {k: os.environ[k] for k in ENV_VARS if k in os.environ}


# ---------------------------------------------------------------------------
# The benchmark
# ---------------------------------------------------------------------------

def run(models=("rnn",), *, B=32, n=256, m=256, K=256, tau=100, repeats=5, seed=0) -> list:
    """Time generated ``loss_and_grads``, its matmul floor and autograd for each
    model; one dict per model (see :func:`format_table`)."""
    sizes = {"n": n, "m": m, "K": K}
    pools, env = threadpool_info(), blas_env()
    rows = []
    for name in models:
        module = importlib.import_module(f"numeric.generated.{name}")
        params = module.init_params(*(sizes[s] for s in module.SIZES), seed=seed, dtype=DTYPE)
        rng = np.random.default_rng(seed)
        dims = {**sizes, "tau": tau, "B": B}
        x = rng.standard_normal(tuple(dims[d] for d in module.INPUTS["x"])).astype(DTYPE)
        y = rng.integers(0, sizes["K"], size=(tau, B))

        states = {k: np.zeros(tuple(dims[d] for d in v), dtype=DTYPE)
                  for k, v in getattr(module, "STATES", {}).items()}
        products, buffers = trace_products(module, params, x, y, states)
        floor = floor_runner(products, buffers, seed=seed)
        autograd_fn = _autograd_for(name, module, sizes)

        best = best_times({"generated": lambda: module.loss_and_grads(params, x, y),
                           "floor": floor,
                           "autograd": lambda: autograd_fn(params, x, y)}, repeats)
        generated_s, floor_s, autograd_s = best["generated"], best["floor"], best["autograd"]
        rows.append({
            "model": name,
            "shape": f"B={B} tau={tau} n={n} m={m} K={K}",
            "dtype": np.dtype(DTYPE).name,
            "repeats": repeats,
            "generated_s": generated_s,
            "floor_s": floor_s,
            "autograd_s": autograd_s,
            "generated_over_floor": generated_s / floor_s,
            "autograd_over_generated": autograd_s / generated_s,
            "floor_products": describe_products(products),
            "threadpool": pools,
            "env": env,
        })
    return rows


def format_table(rows) -> str:
    """A plain-text table of :func:`run`'s rows, then per-model notes."""
    header = ("model", "shape", "generated ms", "floor ms", "autograd ms",
              "gen/floor", "autograd/gen")
    body = [(r["model"], r["shape"], f"{1e3 * r['generated_s']:.2f}", f"{1e3 * r['floor_s']:.2f}",
             f"{1e3 * r['autograd_s']:.2f}", f"{r['generated_over_floor']:.2f}",
             f"{r['autograd_over_generated']:.1f}") for r in rows]
    widths = [max(len(str(line[i])) for line in (header, *body)) for i in range(len(header))]

    def line(cells):
        return "  ".join(str(c).ljust(w) if i < 2 else str(c).rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    out = [line(header), line(["-" * w for w in widths]), *(line(b) for b in body)]
    if rows:
        r0 = rows[0]
        out.append("")
        out.append(f"{r0['dtype']}, best of {r0['repeats']} interleaved rounds after one warm-up")
        out.append(f"BLAS threadpool: {r0['threadpool']}")
        env = ", ".join(f"{k}={v}" for k, v in r0["env"].items()) or "none set"
        out.append(f"OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE: {env}")
    for r in rows:
        out.append("")
        out.append(f"[{r['model']}] floor products (traced, in order): "
                   + "; ".join(r["floor_products"]))
    return "\n".join(out)
