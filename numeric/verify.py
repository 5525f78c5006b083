"""Check a user's own BPTT implementation against the derivation and the oracles.

``verify(model, path)`` imports the Python file at ``path`` (the user asked us
to run it), calls its ``loss_and_grads(params, x, y, h0=...)`` with the API of
the generated modules on seeded random data, and compares loss and gradients
with the generated code and the three oracles.  It returns an exit code and a
report: 0 all agree, 1 a gradient is wrong, 2 the file or its output is unusable.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
import traceback
from pathlib import Path

import numpy as np

from derive.models import REGISTRY
from numeric import checks

OK, WRONG, UNUSABLE = 0, 1, 2


def _load(path: Path):
    if path.is_dir():
        raise _Unusable(f"{path}: is a directory; expected a Python file that defines loss_and_grads")
    if not path.is_file():
        raise _Unusable(f"{path}: no such file")
    spec = importlib.util.spec_from_file_location(f"_verify_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    folder = str(path.resolve().parent)          # the file's own helper modules import, as with python PATH
    sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        raise _Unusable(f"{e.filename}:{e.lineno}: syntax error: {e.msg}") from None
    except Exception as e:  # noqa: BLE001 - any error in the user's module is reported, not raised
        raise _Unusable(f"{path}: importing it raised {type(e).__name__}: {e}\n{_where(e, path)}") from None
    finally:
        if folder in sys.path:
            sys.path.remove(folder)
    fn = getattr(module, "loss_and_grads", None)
    if not callable(fn):
        raise _Unusable(f"{path}: defines no function loss_and_grads(params, x, y, h0=None)")
    return fn


def _where(e: BaseException, path: Path) -> str:
    frames = [f for f in traceback.extract_tb(e.__traceback__) if Path(f.filename) == path]
    return f"  at {path}:{frames[-1].lineno}: {frames[-1].line}" if frames else ""


class _Unusable(Exception):
    pass


def make_data(model: str, *, seed: int, sizes=None, B: int = 3, tau: int = 5, scale: float = 1.0):
    """Seeded test data for ``model``: params, x, y, initial states."""
    gen = importlib.import_module(f"numeric.generated.{model}")
    rng = np.random.default_rng(seed)
    sizes = sizes or {s: int(v) for s, v in zip(gen.SIZES, rng.integers(2, 6, len(gen.SIZES)))}
    params = gen.init_params(*(sizes[s] for s in gen.SIZES), seed=seed)
    params = {k: scale * (v + 0.2 * rng.standard_normal(v.shape)) for k, v in params.items()}
    for k, (low, high) in getattr(gen, "DOMAINS", {}).items():   # e.g. alpha >= 1: spread over [low, low + 4]
        params[k] = low + rng.uniform(0, (high - low) if high is not None else 4, params[k].shape)
    dims = {**sizes, "tau": tau, "B": B}
    x = {k: rng.standard_normal(tuple(dims[d] for d in v)) for k, v in gen.INPUTS.items()}
    init = {k: 0.5 * rng.standard_normal(tuple(dims[d] for d in v)) for k, v in gen.STATES.items()}
    K = params[next(k for k, v in gen.PARAMS.items() if "K" in v)].shape[list(
        next(v for v in gen.PARAMS.values() if "K" in v)).index("K")]
    y = rng.integers(0, K, (tau, B))
    (xname, xval), = x.items()
    return gen, params, xval, y, init


def _call(fn, params, x, y, init, expected: dict):
    try:
        out = fn({k: v.copy() for k, v in params.items()}, x.copy(), y.copy(),
                 **{k: v.copy() for k, v in init.items()})
    except Exception as e:  # noqa: BLE001
        path = Path(fn.__code__.co_filename) if hasattr(fn, "__code__") else None
        where = f"\n{_where(e, path)}" if path is not None and _where(e, path) else ""
        raise _Unusable(f"loss_and_grads raised {type(e).__name__}: {e}{where}") from None
    if not (isinstance(out, tuple) and len(out) == 2):
        raise _Unusable("loss_and_grads must return a pair (loss, grads); got "
                        f"{type(out).__name__}" + (f" of length {len(out)}" if isinstance(out, tuple) else ""))
    if not isinstance(out[1], dict):
        raise _Unusable(f"loss_and_grads must return (loss, grads) with grads a dict; its second item is "
                        f"a {type(out[1]).__name__}" + (" (did it return (grads, loss)?)"
                                                        if isinstance(out[0], dict) else ""))
    loss, grads = out
    missing = sorted(set(expected) - set(grads))
    if missing:
        raise _Unusable(f"grads is missing keys {missing}; expected keys {sorted(expected)}")
    for k, want in expected.items():
        g = np.asarray(grads[k])
        if g.shape != want.shape:
            raise _Unusable(f"grads[{k!r}]: expected shape {want.shape}, got {g.shape}")
        if not np.all(np.isfinite(g)):
            bad = tuple(int(i) for i in np.argwhere(~np.isfinite(g))[0])
            raise _Unusable(f"grads[{k!r}]: non-finite value {g[bad]} at index {bad}")
    if not np.isfinite(float(loss)):
        raise _Unusable(f"loss is not finite: {loss}")
    return float(loss), grads


def verify(model: str, path, *, seed: int = 0, cases: int = 3) -> tuple:
    """(exit code, report text)."""
    path = Path(path)
    lines = [f"verify {model} {path} (seed {seed})"]
    if model not in REGISTRY:
        lines.append(f"error: unknown model {model!r}; known models: {', '.join(sorted(REGISTRY))}")
        return UNUSABLE, "\n".join(lines)
    try:
        fn = _load(path)
        for case in range(cases):
            s = seed + case
            scale = (1.0, 0.3, 3.0)[case % 3]   # moderate, near-linear, saturated tanh
            gen, params, x, y, init = make_data(model, seed=s, scale=scale)
            loss_ref, grads_ref = gen.loss_and_grads(params, x, y, **init)
            loss, _ = _call(fn, params, x, y, init, grads_ref)
            if abs(loss - loss_ref) > 1e-10 * max(1.0, abs(loss_ref)):
                lines.append(f"case {case} (seed {s}, weight scale {scale}): loss {float(loss)!r} differs from "
                             f"the {model!r} model's {float(loss_ref)!r}: either the loss is not the sum over "
                             f"time steps and batch of -log softmax(o(t))[y(t)], or the file implements a "
                             f"different model than {model!r} (known: {', '.join(sorted(REGISTRY))})")
                lines.append(f"reproduce: python -m derive verify {model} {path} --seed {seed}")
                return WRONG, "\n".join(lines)
            results = checks.check(checks.spec_for(model, params), fn, params, x, y, init, seed=s)
            bad = checks.failures(results)
            if bad:
                lines.append(f"case {case} (seed {s}, weight scale {scale}): FAILED")
                lines.append(checks.report(bad))
                lines.append(f"reproduce: python -m derive verify {model} {path} --seed {seed}")
                return WRONG, "\n".join(lines)
            lines.append(f"case {case} (seed {s}, weight scale {scale}): {checks.summary(results)}")
    except _Unusable as e:
        lines.append(f"error: {e}")
        return UNUSABLE, "\n".join(lines)
    lines.append("PASS: every gradient agrees with the derivation and the oracles")
    return OK, "\n".join(lines)
