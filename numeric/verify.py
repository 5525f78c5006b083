"""Check a user's own BPTT implementation against the derivation and the oracles.

``verify(model, path)`` runs the Python file at ``path`` in a child process
(:mod:`numeric.sandbox`: timeout, memory limit, strictly checked output),
calls its ``loss_and_grads(params, x, y, h0=...)`` with the API of the
generated modules on seeded random data, and compares the loss with the
generated code (within :func:`numeric.tolerances.float64_loss_tolerance`) and
every gradient with the three oracles (:mod:`numeric.checks`).  The user's code
never runs in this process.  It returns an exit code and a report: 0 all agree,
1 the loss or a gradient is wrong, 2 the file, its output or its process is
unusable (see :data:`EXIT_CODES`).
"""
from __future__ import annotations

import importlib

import numpy as np

from derive.errors import UserCodeError
from derive.models import REGISTRY
from numeric import runtime as rt
from numeric import checks, interpret, jacobians, sandbox, tolerances

OK, WRONG, UNUSABLE = 0, 1, 2
EXIT_CODES = {
    OK: "the loss and every gradient agree with the derivation and the oracles",
    WRONG: "the loss or a gradient is wrong (named, with the time step where it goes wrong)",
    UNUSABLE: "unusable: unknown model, bad option, no such file, not a .py file, an import error, "
              "bad output (type, dtype, keys, shape, non-finite), inputs changed in place, a timeout, "
              "the memory limit, sys.exit/os._exit, a crash",
}
ORACLE_NAMES = {"autograd": "autograd", "complex-step": "complex step", "mpmath": "mpmath",
                "mpmath-one-sided": "mpmath one-sided"}


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


def _in_child(box: sandbox.Sandbox, gen):
    """``loss_and_grads`` with the generated module's API, run by ``box``: the
    gradients must have exactly the keys ``gen.GRADS``, each shaped as its input."""
    (x_name,) = gen.INPUTS

    def loss_and_grads(params, x, y, **init):
        shapes = {**{k: np.shape(v) for k, v in params.items()}, **{k: np.shape(v) for k, v in init.items()},
                  x_name: np.shape(x)}
        return box.call(params, x, y, init, {k: shapes[k] for k in gen.GRADS})

    return loss_and_grads


def compare_loss(spec, loss: float, reference: float, params, x, y, init) -> tolerances.Comparison:
    """The file's loss against the generated code's, each within
    :func:`numeric.tolerances.float64_loss_tolerance` of the exact loss."""
    tau, batch = np.shape(x)[:2]
    (output,) = spec.outputs                      # the logits the loss's log-sum-exp is over
    logits = interpret.forward(spec, params, x, init)[output]
    terms = np.concatenate([rt.logsumexp(logits).ravel(), -rt.pick(logits, np.asarray(y)).ravel()])
    amplification = tolerances.recurrence_amplification(jacobians.step_jacobians(spec, params, x, init))
    bound = tolerances.float64_loss_tolerance(tolerances.dependence_path_length(spec, tau) + tau * batch,
                                              tolerances.sum_condition(terms), amplification=amplification)
    return tolerances.compare(loss, reference, bound, bound)      # the file's rounding and the generated code's


def _first_step(results) -> int | None:
    return min((r.time_step for r in results if r.time_step), default=None)


def mismatch_report(results, *, explain: bool = False) -> list:
    """Each wrong gradient once, with every oracle's verdict on one line (the one that
    goes wrong earliest first), then the worst entries of the first; with ``explain``,
    every failing comparison's error model and worst entries too."""
    by_gradient: dict = {}
    for r in results:
        by_gradient.setdefault(r.gradient, []).append(r)
    wrong = sorted((k for k, rs in by_gradient.items() if not all(r.ok for r in rs)),
                   key=lambda k: (_first_step(by_gradient[k]) or 10 ** 9, k == "x", k))
    lines = [f"{len(wrong)} of {len(by_gradient)} gradients disagree with the oracles "
             f"(relative error of each comparison):"]
    for k in wrong:
        rs = by_gradient[k]
        step = _first_step(rs)
        where = f"wrong {'at' if k == 'x' else 'from'} t={step}" if step else "wrong"
        verdicts = ", ".join(f"{ORACLE_NAMES.get(r.check, r.check)} {r.max_rel_error:.1e}"
                             + (" (agrees)" if r.ok else "") for r in rs)
        lines.append(f"  {k}: {where} -- {verdicts} (allowed ~{max(r.allowed for r in rs):.0e})")
    first = next((r for r in by_gradient[wrong[0]] if r.worst), None) if wrong else None
    if first is not None:
        step = _first_step(by_gradient[first.gradient])
        span = f" on the first {step} step(s)" if step and first.gradient != "x" else ""
        lines.append(f"worst entries of {first.gradient!r}{span} (indices 0-based):")
        lines.append(first.table())
    if explain:
        lines.append("the error model behind each allowance (and the other gradients' worst entries):")
        for k in wrong:
            failed = checks.failures(by_gradient[k])
            lines += [r.message(table=False) for r in failed]
            table = next((r for r in failed if r.worst), None)
            if table is not None and table is not first:
                lines.append(table.table())
    return lines


def verify(model: str, path, *, seed: int = 0, cases: int = 3, timeout: float = sandbox.TIMEOUT,
           max_memory: int = sandbox.MAX_MEMORY_MIB, explain: bool = False) -> tuple:
    """(exit code, report text).  ``timeout`` (s) bounds the import and each call,
    ``max_memory`` (MiB) the child's address space; ``explain`` adds the error model."""
    lines = [f"verify {model} {path} (seed {seed})"]
    reproduce = f"reproduce: python -m derive verify {model} {path} --seed {seed}"
    if model not in REGISTRY:
        lines.append(f"error: unknown model {model!r}; known models: {', '.join(sorted(REGISTRY))}")
        return UNUSABLE, "\n".join(lines)
    for wrong, what in [(type(seed) is not int or seed < 0, f"seed must be an integer >= 0, got {seed!r}"),
                        (not timeout > 0, f"timeout must be > 0 seconds, got {timeout!r}"),
                        (not max_memory >= sandbox.MIN_MEMORY_MIB,
                         f"max_memory must be >= {sandbox.MIN_MEMORY_MIB} MiB, got {max_memory!r}")]:
        if wrong:
            lines.append(f"error: {what}")
            return UNUSABLE, "\n".join(lines)
    try:
        with sandbox.Sandbox(path, timeout=timeout, max_memory=max_memory) as box:
            for case in range(cases):
                s = seed + case
                scale = (1.0, 0.3, 3.0)[case % 3]   # moderate, near-linear, saturated tanh
                head = f"case {case} (seed {s}, weight scale {scale})"
                gen, params, x, y, init = make_data(model, seed=s, scale=scale)
                loss_and_grads = _in_child(box, gen)
                loss_ref, _ = gen.loss_and_grads(params, x, y, **init)
                loss, _ = loss_and_grads(params, x, y, **init)
                spec = checks.spec_for(model, params)
                loss_check = compare_loss(spec, loss, loss_ref, params, x, y, init)
                if not loss_check.ok:
                    lines.append(f"{head}: loss {loss!r} differs from the {model!r} model's {float(loss_ref)!r}: "
                                 f"relative discrepancy {loss_check.discrepancy:.2g}, allowed "
                                 f"{loss_check.allowed:.2g}; either the loss is not the sum over time steps and "
                                 f"batch of -log softmax(o(t))[y(t)], or the file implements a different model "
                                 f"than {model!r} (known: {', '.join(sorted(REGISTRY))})")
                    if explain:
                        lines.append(str(loss_check))
                    lines.append(reproduce)
                    return WRONG, "\n".join(lines)
                results = checks.check(spec, loss_and_grads, params, x, y, init, seed=s)
                if checks.failures(results):
                    lines.append(f"{head}: FAILED")
                    lines += mismatch_report(results, explain=explain)
                    if box.failure:
                        lines.append(f"(locating the time step stopped: {box.failure})")
                    lines.append(reproduce + ("" if explain else "  (add --explain for the error model)"))
                    return WRONG, "\n".join(lines)
                lines.append(f"{head}: loss agrees ({loss_check.discrepancy:.1g} of {loss_check.allowed:.1g}); "
                             f"{checks.summary(results)}")
    except UserCodeError as e:
        lines.append(f"error: {e}")
        return UNUSABLE, "\n".join(lines)
    lines.append("PASS: every gradient agrees with the derivation and the oracles")
    return OK, "\n".join(lines)
