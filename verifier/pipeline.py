"""The pipeline: every stage of the report as a plan of steps, run in a fixed order.

A step is ``(id, model, build)``: ``build()`` returns a list of
:class:`~verifier.records.Result`.  :func:`plan` lists the steps of every stage
(per model: derivation, proofs, freshness of the generated code, numeric checks,
injected faults, from :mod:`verifier.stages.models`; the decay bounds,
:mod:`verifier.stages.bounds`; the claims, :mod:`verifier.stages.claims`), and
:func:`run` runs them, in one process or spread over ``jobs`` processes, the
records always in plan order, so ``--jobs N`` writes the same bytes as ``--jobs 1``.
:mod:`verifier.report` formats what :func:`collect` returns.
"""
from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from itertools import groupby

from derive.errors import DeriveError
from derive.models import names
from verifier.records import Result, record
from verifier.stages import bounds as bound_stage
from verifier.stages import claims as claim_stage
from verifier.stages import models as model_stage

__all__ = ["plan", "run", "collect"]


def _bound_step(build, id: str) -> list:
    entry = build(id)
    fixed = ("id", "kind", "model", "status", "cases", "max_rel_error")
    return [Result(entry["id"], "fault" if entry["id"].startswith("faults/") else "bound", entry["model"],
                   entry["status"], entry["cases"], entry.get("max_rel_error"),
                   {k: v for k, v in entry.items() if k not in fixed})]


def plan(seed: int = 0, *, models=None) -> list:
    """Every step of the report, in order; ``models`` limits the per-model stages, the
    bounds and the claims to those models (the model-free steps run only without it)."""
    chosen = tuple(names()) if models is None else tuple(models)
    out = [step for name in chosen for step in model_stage.steps(name, seed)]
    out += [(id, model, partial(_bound_step, build, id)) for id, model, build in bound_stage.plan(seed)
            if models is None or any(model == m or model.startswith(m + "_") for m in chosen)]
    out += claim_stage.steps(seed, models=None if models is None else chosen)
    return out


def _run_step(step) -> list:
    id, model, build = step
    try:
        return build()
    except DeriveError as e:      # a stage that cannot decide reports it; other exceptions are bugs
        return [record(id, "check", model, False, error=e)]


def _run_group(group: list) -> list:
    return [_run_step(step) for step in group]


def run(steps: list, *, jobs: int = 1, progress=None) -> list:
    """The records of ``steps`` in order.  ``jobs > 1`` spreads the steps over a pool of
    processes, a model's steps kept together (they share its cached derivation);
    ``progress`` (a text stream) gets a line per step with its time."""
    groups = [list(g) for _, g in groupby(steps, key=lambda s: s[1])]
    started = time.perf_counter()
    done = []

    def report(group, records, seconds):
        if progress is not None:
            print(f"[{time.perf_counter() - started:6.1f} s] {group[0][1]}: {len(group)} step(s), "
                  f"{sum(map(len, records))} record(s) in {seconds:.1f} s", file=progress, flush=True)

    if jobs <= 1:
        for group in groups:
            t = time.perf_counter()
            records = _run_group(group)
            report(group, records, time.perf_counter() - t)
            done.append(records)
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            for group, records in zip(groups, pool.map(_run_group, groups)):
                report(group, records, 0.0)
                done.append(records)
    return [r for records in done for step_records in records for r in step_records]


def collect(*, seed: int = 0, models=None, jobs: int = 1, progress=None) -> list:
    """Every result record of the report, in a fixed order."""
    return run(plan(seed, models=models), jobs=jobs, progress=progress)
