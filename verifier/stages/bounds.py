"""The decay-bound stage of the report: report.json entries of kind "bound".

Per activation of :data:`derive.spec.ACTIVATIONS`, gamma (SymPy, confirmed by
complex step); per model of :func:`numeric.trajectories.models` (the registry
and the variants its specs ask for), the derived one-step Jacobian (proven
against SymPy's jacobian, cross-checked complex step vs autograd) and the
product bound (sweep, adversarial search, decay rates); the named statements a
spec declares (:attr:`derive.spec.BoundCases.statements`); clipping; and every
bound fault a spec declares, which must be caught.  Deterministic for a seed.
"""
from __future__ import annotations

import math
from functools import partial

import numpy as np
import sympy as sp

from derive import bounds as dbounds
from derive.jacobian import LAYOUT, prove_jacobian
from derive.spec import ACTIVATIONS
from numeric.bound_checks import (TIGHT_GAP, activation_check, check_fault, faults, held, search, special_cases,
                                  sweep, sweep_trajectories, tight)
from numeric.trajectories import (SAFETY, U, Case, attaining_case, autograd_step_jacobian, cases_of, concrete,
                                  decay, decay_tolerance, evaluate, models, orthogonal, random_case, rest_case,
                                  state_size, symbolic, tolerance, trajectory)

__all__ = ["results", "plan", "entry", "statement", "gate_case", "STATEMENTS"]


def _fmt(x: float) -> float:
    return float(f"{float(x):.6g}")


def _status(ok: bool) -> str:
    return "pass" if ok else "fail"


def entry(id, model, status, cases, violations, max_ratio, statement, evidence, *, max_rel_error=None, **extra):
    """One report record of kind "bound"."""
    return {"id": id, "kind": "bound", "model": model, "status": status, "cases": int(cases),
            "violations": int(violations), "max_ratio": None if max_ratio is None else _fmt(max_ratio),
            "max_rel_error": None if max_rel_error is None else float(f"{float(max_rel_error):.3e}"),
            "statement": statement, "layout": LAYOUT, "evidence": evidence, **extra}


def statement(model: str) -> str:
    """The derived product bound of ``model`` as one line."""
    sb = dbounds.step_bound(symbolic(model))
    if len(sb.names) == 1:
        nb = sb.blocks[sb.names[0][0], sb.names[0][1]]
        beta = nb.expr
        values = ", ".join(f"{s} = {sup.value}" for s, sup in nb.sups)
        head = (f"||d h(t)/d h(k)||_2 <= prod_(j=k+1..t) beta(j), beta = {beta}" if nb.leaves else
                f"||d h(t)/d h(k)||_2 <= ({beta})^(t-k)")
        return head + (f" with {values}" if values else "") + "; J = " + "; ".join(sb.jacobian.lines())
    sups = {}
    for nb in sb.blocks.values():
        sups.update(dict(nb.sups))
    values = ", ".join(f"{s} = {sup.value}" for s, sup in sorted(sups.items(), key=lambda kv: kv[0].name))
    return (f"||d state(t)/d state(k)||_2 <= ||B(t) ... B(k+1)||_2, state = ({', '.join(n for n, _ in sb.names)}), "
            f"B = {sb.matrix().tolist()} (block bounds: ||J_ij||_2 <= B_ij; ||J||_2 <= ||B||_2) with {values}")


# ---------------------------------------------------------------------------------------
# gamma, per activation
# ---------------------------------------------------------------------------------------

def _gamma(id: str, act: str) -> dict:
    r = activation_check(act)
    g = r["gamma"]
    ok = r["violations"] == 0 and r["max_rel_error"] <= r["tolerance"]
    extra = f"; (1 + tanh(z/2))/2 = 1/(1 + exp(-z)) proven: {dbounds.prove_sigmoid_forms()}" \
        if act == "sigmoid" else ""
    return entry(id, "activation", _status(ok), r["cases"], r["violations"], r["max_ratio"],
                 f"gamma = sup_z |{act}'(z)| = {g.value}",
                 f"SymPy: {g}{extra}. Numeric: |{act}'(z)| by complex step through the interpreter's scalar "
                 f"compiler at {r['cases']} points in [-40, 40]: max |phi'|/gamma = {r['max_ratio']:.16g} at "
                 f"z = {r['argmax']:.3g} (attained; allowed rounding {r['tolerance']:.2e}).",
                 max_rel_error=r["max_rel_error"], gamma=str(g.value), gamma_float=float(g.value), activation=act)


# ---------------------------------------------------------------------------------------
# The Jacobian and the product bound, per model
# ---------------------------------------------------------------------------------------

def _jacobian(id: str, model: str, seed: int) -> dict:
    proofs = [prove_jacobian(concrete(model, n, m), seed=seed + i) for i, (n, m) in enumerate(((2, 1), (2, 2)))]
    # oracle cross-check: complex step vs autograd.jacobian, one step, 2 cases
    rng = np.random.default_rng(seed)
    worst, allowed = 0.0, 0.0
    for i in range(2):
        case = random_case(concrete(model, 3, 2), rng, 1, weight_scale=1.0, input_scale=1.0, state_scale=1.0)
        tr = trajectory(case)
        Ja = autograd_step_jacobian(case.model, case.params, case.x[0], case.state0)
        ev = evaluate(tr)
        diff = np.linalg.norm(tr.products[0] - Ja, 2) / max(np.linalg.norm(Ja, 2), 1e-300)
        worst = max(worst, diff)
        allowed = max(allowed, 2 * float(tolerance(tr, ev)[0]) * math.exp(ev.log_bound_abs[0] - tr.log_actual[0])
                      if np.isfinite(tr.log_actual[0]) else math.inf)
    ok = all(p["ok"] for p in proofs) and worst <= allowed
    sb = dbounds.step_bound(symbolic(model))
    return entry(id, model, _status(ok), sum(p["entries"] for p in proofs), 0, None,
                 "; ".join(sb.jacobian.lines()),
                 f"derived by reverse sweeps of the forward spec from a symbolic adjoint per next state "
                 f"(J^T G read as a linear map of G); equal to SymPy's jacobian of the explicit step at "
                 f"n = 2, m = 1, 2 (max abs difference {max(p['max_abs_diff'] for p in proofs):.1e} at 40 digits); "
                 f"complex step vs autograd.jacobian of one interpreted step: relative difference "
                 f"{worst:.2e} (allowed {allowed:.2e}).",
                 max_rel_error=max(p["max_abs_diff"] for p in proofs))


def _product(id: str, model: str, seed: int, trajectories: dict) -> dict:
    trajs = sweep_trajectories(model, seed=seed)
    trajectories[model] = trajs
    sw = sweep(model, trajectories=trajs)
    pairs = cases_of(model).held
    fixed = held(model) if pairs else None
    se = search(model, seed=seed, fixed=fixed, starts=2, iterations=200)
    se_free = search(model, seed=seed + 1, starts=2, iterations=200) if pairs else None
    max_ratio = max(sw.max_ratio, se.max_ratio, se_free.max_ratio if se_free else 0.0)
    violations = sw.violations + se.violations + (se_free.violations if se_free else 0)
    cases_n = sw.cases + se.evaluations + (se_free.evaluations if se_free else 0)
    attained = tight(model)
    rates = []
    if attained:
        at = attaining_case(model, seed=seed)
        d_at = decay(at)
        rates.append({"label": at.label, "steps": d_at.steps, "measured_rate": _fmt(d_at.measured_rate),
                      "bound_rate": _fmt(d_at.bound_rate), "allowed": float(f"{decay_tolerance(at):.3e}")})
    driven = random_case(concrete(model, 3, 1), np.random.default_rng(seed + 11), 120, weight_scale=1.0,
                         input_scale=1.0, state_scale=0.5, bias_scale=0.5, alpha_max=4.0, label="driven")
    d_dr = decay(driven)
    rates.append({"label": "driven (random weights of scale 1, inputs N(0, 1))", "steps": d_dr.steps,
                  "measured_rate": _fmt(d_dr.measured_rate), "bound_rate": _fmt(d_dr.bound_rate)})
    decay_ok = not attained or abs(d_at.ratio - 1) <= decay_tolerance(at)
    ok = (violations == 0 and decay_ok and d_dr.measured_rate <= d_dr.bound_rate * (1 + decay_tolerance(driven))
          and (not attained or se.max_ratio >= 1 - TIGHT_GAP))
    holding = "".join(f", {k} = {v:g} held" for k, v in pairs)
    ev = (f"sweep: {sw.trajectories} trajectories ({sw.trajectories - len(special_cases(model, seed=seed, T=1))} "
          f"random: n 2..5, weight scales 1e-2..4, input scales 1e-3..10; and the special cases: zero state and "
          f"input, sigma x orthogonal, time constants alternating 1 and 10; T = 12), {sw.cases} comparisons, "
          f"{sw.violations} violations, max actual/bound {sw.max_ratio:.6g} ({sw.worst}); largest rounding "
          f"allowance {sw.max_tolerance:.2e}. Adversarial search ((1+1)-ES, n = 2, T = 4{holding}): "
          f"{se.evaluations} evaluations, max actual/bound {se.max_ratio:.9g} ({se.best})"
          + (f"; free: {se_free.evaluations} evaluations, max {se_free.max_ratio:.6g}" if se_free else "")
          + ". Decay rates over 120 steps (exp of the fitted slope of log||.||, second half): "
          + "; ".join(f"{r['label']}: measured {r['measured_rate']:.6g}, bound {r['bound_rate']:.6g}" for r in rates)
          + (f". Attained: the search must reach 1 - {TIGHT_GAP:g} and the measured rate must equal the bound's "
             f"where it is attained." if attained else ". Not claimed tight (triangle inequality over gate paths)."))
    return entry(id, model, _status(ok), cases_n, violations, max_ratio,
                 statement(model), ev, tight=attained, search_max_ratio=_fmt(se.max_ratio), decay=rates)


# ---------------------------------------------------------------------------------------
# Named statements (declared by the specs)
# ---------------------------------------------------------------------------------------

def _readings(id: str, model: str, seed: int) -> dict:
    r = dbounds.product_readings()
    decays = []
    for label, sigma, xs in (("sigma 0.9, at rest", 0.9, 0.0), ("sigma 0.9, driven by N(0, 1) inputs", 0.9, 1.0),
                             ("sigma 1.5, no input, h(0) = 1e-3", 1.5, 0.0),
                             ("sigma 3, driven into saturation", 3.0, 1.0)):
        case = rest_case(model, sigma=sigma, input_scale=xs, state_scale=0.5 if sigma > 1 else 0.0,
                         T=120, seed=seed, label=label)
        if sigma > 1 and xs == 0.0:
            case.state0 = {k: np.full_like(v, 1e-3) for k, v in case.state0.items()}
        decays.append((decay(case, label=label), decay_tolerance(case)))
    tols = [t for _, t in decays]
    decays = [d for d, _ in decays]
    sat = decays[-1]
    ok = (r["vanishing_sufficient"] and r["bounded_when_beta_le_1"] and abs(decays[0].ratio - 1) <= tols[0]
          and all(d.measured_rate <= d.bound_rate * (1 + t) for d, t in zip(decays, tols))
          and sat.measured_rate < 1 < sat.bound_rate)
    text = "; ".join(f"{d.label}: measured rate {d.measured_rate:.6g} per step, bound rate {d.bound_rate:.6g}"
                     for d in decays)
    acts = ", ".join(dbounds.gammas(symbolic(model))) or "identity"
    return entry(id, model, _status(ok), sum(d.steps for d in decays), 0,
                 max(d.ratio for d in decays),
                 "gamma sigma_max(W) < 1 => ||d h(t)/d h(k)|| -> 0 (sufficient for vanishing); "
                 "exploding requires gamma sigma_max(W) > 1 (necessary, not sufficient)",
                 f"SymPy: beta < 1 => beta^k -> 0: {r['vanishing_sufficient']}; beta <= 1 => beta^k <= 1: "
                 f"{r['bounded_when_beta_le_1']}. Measured ({acts}, symmetric W, 120 steps, rate = exp(slope) of "
                 f"log||d h(t)/d h(0)|| over the second half): {text}. With sigma = 3 and saturating inputs the "
                 f"gradient still vanishes (rate {sat.measured_rate:.3g} < 1 < {sat.bound_rate:.3g}): "
                 f"gamma sigma > 1 does not make it explode.",
                 decay=[{"label": d.label, "measured_rate": _fmt(d.measured_rate), "bound_rate": _fmt(d.bound_rate)}
                        for d in decays])


def _eigen(id: str, model: str, seed: int) -> dict:
    p = dbounds.prove_eigen_power()
    rng = np.random.default_rng(seed)
    cases, worst, excess = 0, 0.0, 0.0
    for i in range(20):
        n = int(rng.integers(2, 6))
        Q = orthogonal(n, rng)
        lam = rng.uniform(-1.3, 1.3, n)
        M = (Q * lam) @ Q.T
        v = rng.standard_normal(n)
        for k in (1, 2, 5, 10, 20, 40):
            comp = Q.T @ (np.linalg.matrix_power(M, k) @ v)
            want = lam ** k * (Q.T @ v)
            scale = np.max(np.abs(lam)) ** k * np.linalg.norm(v) + 1e-300
            err = float(np.max(np.abs(comp - want)) / scale)
            # M = fl(Q Lambda Q^T) is off by ~n^2 u ||M||; k products and the projection add
            # n-term dot products each: error <= SAFETY (k + 2) n^2 u relative to max|lambda|^k ||v||
            allowed = SAFETY * (k + 2) * n * n * U
            worst, excess = max(worst, err), max(excess, err / allowed)
            cases += n
    tol = SAFETY * (40 + 2) * 25 * U
    ok = all(v for k, v in p.items() if isinstance(v, bool)) and excess <= 1.0
    return entry(id, model, _status(ok), cases, 0, None,
                 "M = Q Lambda Q^T, Q^T Q = I => M^k = Q Lambda^k Q^T; the component along eigenvector q_i "
                 "is lambda_i^k (q_i^T v): decays if |lambda_i| < 1, grows if |lambda_i| > 1",
                 f"SymPy induction: base {p['base']}, step {p['step']} ({p['step_text']}); explicit 2x2 with a "
                 f"rotation and symbolic k: {p['explicit_2x2']}; components: {p['components']}; "
                 f"(1+e)^-k -> 0: {p['decays_below_1']}, (1+e)^k -> oo: {p['grows_above_1']}. Numeric: 20 "
                 f"random symmetric M (n 2..5, eigenvalues in [-1.3, 1.3]), k up to 40: components of M^k v "
                 f"(matrix_power) against lambda^k (q^T v), max error {worst:.2e} relative to "
                 f"max|lambda|^k ||v|| (allowed SAFETY (k + 2) n^2 u, at most {tol:.2e}).", max_rel_error=worst)


def _vanilla_of(bound) -> list:
    """The registered one-state models whose derived bound equals ``bound``."""
    out = []
    for other in models():
        sb = dbounds.step_bound(symbolic(other))
        if len(sb.names) == 1 and sp.simplify(sb.scalar() - bound) == 0:
            out.append(other)
    return out


def _timescale(id: str, model: str, seed: int) -> dict:
    st = dbounds.leaky_statement(symbolic(model))
    a = st["param"]
    rows, worst, tol = [], 0.0, 0.0
    for alpha in (1.0, 2.0, 4.0, 8.0):
        case = rest_case(model, sigma=0.5, timescale=alpha, T=150, seed=seed, label=f"{a}={alpha:g}")
        d = decay(case)
        tol = max(tol, decay_tolerance(case))
        beta = float(st["uniform_rho"].subs({st["alpha"]: alpha, st["rho"]: 0.5}))
        ts_pred = float(st["timescale"].subs({st["alpha"]: alpha, st["rho"]: 0.5}))
        ts_meas = -1.0 / math.log(d.measured_rate)
        rows.append((alpha, beta, d.measured_rate, ts_pred, ts_meas))
        worst = max(worst, abs(d.measured_rate - beta) / beta)
    same = [m for m in _vanilla_of(st["at_alpha_1"]) if m != model]
    ok = worst <= tol and bool(same)
    text = "; ".join(f"{a} {x:g}: predicted rate {b:.6g}, measured {m:.6g}, time scale {tp:.4g} vs {tm:.4g} steps"
                     for x, b, m, tp, tm in rows)
    return entry(id, model, _status(ok), 4 * 150, 0, max(r[2] / r[1] for r in rows),
                 f"per unit: {st['per_unit_text']}; common {a}: beta({a}) = {st['uniform']} = "
                 f"1 - (1 - rho)/{a} with rho = gamma sigma_max(W); {a} = 1 gives {st['at_alpha_1']} (the "
                 f"bound of {', '.join(same) or 'no other model'}); time scale (steps for the bound to fall by e) "
                 f"T_e = {st['timescale']}, ~ {st['timescale_large_alpha']} for large {a}",
                 f"Measured at rest (x = 0, b = 0, h(0) = 0, symmetric W with sigma_max = 0.5, 150 steps): "
                 f"{text}. At rest phi'(0) = gamma and J = (1 - 1/{a}) I + W/{a}, so the rate equals the "
                 f"bound; relative difference {worst:.2e} (allowed {tol:.2e}).",
                 max_rel_error=worst, timescales=[{"alpha": x, "predicted_rate": _fmt(b), "measured_rate": _fmt(m),
                                                   "predicted_steps": _fmt(tp), "measured_steps": _fmt(tm)}
                                                  for x, b, m, tp, tm in rows], rounding_allowance=tol)


def gate_case(model: str, bias: float, *, T: int = 60, n: int = 3, seed: int = 0, weight_scale: float = 0.1,
              label: str = "") -> Case:
    """A case of a model with a memory path (:func:`derive.bounds.memory_path`)
    whose gate is held near sigmoid(bias): its biases set to ``bias``, small
    weights, moderate inputs."""
    rng = np.random.default_rng(seed)
    case = random_case(concrete(model, n, 1), rng, T, weight_scale=weight_scale, input_scale=0.5, state_scale=0.5,
                       bias_scale=0.1, label=label)
    for name in dbounds.memory_path(symbolic(model))["gate_biases"]:
        case.params[name] = np.full(n, float(bias))
    return case


def _memory_path(id: str, model: str, seed: int) -> dict:
    mp = dbounds.memory_path(symbolic(model))
    s, f = mp["state"], mp["gate"]
    cases, worst, rows = 0, 0.0, []
    rng = np.random.default_rng(seed)
    for i in range(20):
        case = random_case(concrete(model, int(rng.integers(2, 5)), 2), rng, 1)
        tr = trajectory(case)
        n = state_size(case.model)
        si = list(case.model.state.values()).index(s)
        Jss = tr.products[0][si * n:(si + 1) * n, si * n:(si + 1) * n]
        gate = tr.values[f][0]
        worst = max(worst, float(np.max(np.abs(Jss - np.diag(gate))) / max(np.max(np.abs(gate)), 1e-300)))
        cases += n * n
    tol = SAFETY * 16 * U
    for bias in (6.0, -6.0):
        d = decay(gate_case(model, bias, seed=seed, label=f"{f} bias {bias:+g}"))
        rows.append((bias, d.measured_rate, d.bound_rate))
    ok = mp["is_diag_gate"] and worst <= tol
    return entry(id, model, _status(ok), cases, 0, None,
                 f"d {s}(t)/d {s}(t-1) = {mp['text']} (derived): along the memory path "
                 f"||prod_j diag({f}(j))||_2 = max_i prod_j {f}_i(j) <= prod_j max|{f}(j)|; full one-step block bound "
                 f"B = {mp['matrix'].tolist()}",
                 f"The block d {s}/d {mp['prev']} of the derived Jacobian is {mp['text']}: {mp['is_diag_gate']}. "
                 f"Numeric: the complex-step one-step Jacobian's ({s}, {s}) block against diag({f}(t)) from the "
                 f"forward pass on 20 random cases: max error {worst:.2e} relative to max {f} (allowed {tol:.2e}). "
                 + "; ".join(f"{f} bias {b:+g}: measured rate of the full state's Jacobian product "
                             f"{m:.4g} per step, bound rate {r:.4g}" for b, m, r in rows),
                 max_rel_error=worst)


def _shortest_path(id: str, model: str, seed: int) -> dict:
    p = dbounds.skip_path_bound(symbolic(model))
    d = p["d"]
    zero = tuple((name, 0) for name in p["one_step_params"])       # only the skip edges: the shortest path
    sigmas, sups, _ = dbounds.step_bound(symbolic(model)).symbols()
    gammas = {s: sup.value for s, sup in sups.items()}
    rng = np.random.default_rng(seed + d)
    cases = violations = 0
    best = 0.0
    for i in range(25):
        n = int(rng.integers(2, 4))
        case = random_case(concrete(model, n, 1), rng, 4 * d)
        for name, _ in zero:
            case.params[name] = np.zeros_like(case.params[name])
        tr = trajectory(case)
        sig = float(p["beta_d"].xreplace({**gammas, **{s: np.linalg.norm(case.params[k], 2)
                                                        for s, k in sigmas.items()}}))
        tol = tolerance(tr, evaluate(tr))
        for t in range(1, 4 * d + 1):
            actual = np.linalg.norm(tr.products[t - 1][:n, :n], 2)
            bound = sig ** (t / d) if t % d == 0 else 0.0
            cases += 1
            violations += int(actual > bound * (1 + tol[t - 1]))
            if bound > 0:
                best = max(best, actual / bound)
    rc = rest_case(model, n=3, sigma=0.8, T=8 * d, seed=seed, label="at rest", values=zero)
    tr = trajectory(rc)
    Phh = [np.linalg.norm(P[:3, :3], 2) for P in tr.products]
    rest_ratio = Phh[-1] / float(p["beta_d"].xreplace({**gammas, **{s: 0.8 for s in sigmas}})) ** 8
    rest_tol = float(tolerance(tr, evaluate(tr))[-1])
    ok = p["power_is_scaled_identity"] and violations == 0 and abs(rest_ratio - 1) <= rest_tol
    one, delayed = ", ".join(p["one_step_params"]), ", ".join(p["delay_params"])
    return entry(id, model, _status(ok), cases, violations, max(best, rest_ratio),
                 p["text"],
                 f"SymPy: with the one-step edge removed B^{d} = {p['B_d_only_skip'].tolist()} = beta_d I: "
                 f"{p['power_is_scaled_identity']}. Numeric ({one} = 0, random {delayed}, inputs, states; "
                 f"complex-step d h(t)/d h(0)): {cases} comparisons, {violations} violations, max actual/bound "
                 f"{best:.6g}; at rest with symmetric {delayed} (sigma 0.8) the bound is attained after {8 * d} steps: "
                 f"ratio {rest_ratio:.12g}. The decay per step is beta_d^(1/{d}), i.e. the bound falls with tau/{d}, "
                 f"not tau.")


#: statement key (:attr:`derive.spec.BoundCases.statements`) -> entry builder (id, model, seed) -> entry;
#: "decay-figure" selects figures only (verifier/report/figures.py).
STATEMENTS = {"readings": _readings, "eigen": _eigen, "timescale": _timescale, "memory-path": _memory_path,
              "shortest-path": _shortest_path}


# ---------------------------------------------------------------------------------------
# Clipping, faults, and the whole stage
# ---------------------------------------------------------------------------------------

def _clipping(id: str, seed: int) -> dict:
    p = dbounds.prove_clipping()
    rng = np.random.default_rng(seed)
    cases, worst_norm, worst_dir = 0, 0.0, 0.0
    for i in range(500):
        n = int(rng.integers(1, 50))
        g = rng.standard_normal(n) * 10.0 ** rng.uniform(-4, 4)
        v = 10.0 ** rng.uniform(-3, 3)
        norm = np.linalg.norm(g)
        clipped = g * v / norm if norm > v else g
        new = np.linalg.norm(clipped)
        worst_norm = max(worst_norm, abs(new - min(norm, v)) / min(norm, v))
        worst_dir = max(worst_dir, abs(1 - float(clipped @ g / (new * norm))))
        cases += 1
    tol = SAFETY * (2 * 50 + 4) * U
    ok = p["norm_is_v"] and p["direction_kept"] and p["symbolic_size"] and max(worst_norm, worst_dir) <= tol
    return entry(id, "any", _status(ok), cases, 0, None,
                 "if ||g|| > v: g <- g v/||g||; then ||g|| = min(||g||, v) and g keeps its direction",
                 f"SymPy: sizes 1..{p['sizes']}: norm = v: {p['norm_is_v']}, cosine 1: {p['direction_kept']}; "
                 f"symbolic size via ||c g|| = |c| ||g||: {p['symbolic_size']}. {p['text']} Numeric: {cases} "
                 f"random g (n 1..49, scales 1e-4..1e4) and v (1e-3..1e3): max relative norm error "
                 f"{worst_norm:.2e}, max 1 - cosine {worst_dir:.2e} (allowed {tol:.2e}).",
                 max_rel_error=max(worst_norm, worst_dir))


def _fault(id: str, model: str, fault, seed: int, trajectories: dict) -> dict:
    fr = check_fault(model, fault, seed=seed, trajectories=trajectories)
    return entry(id, model, _status(fr.caught), fr.sweep.cases + fr.search.evaluations,
                 fr.sweep.violations + fr.search.violations, max(fr.sweep.max_ratio, fr.search.max_ratio),
                 f"injected: {fault.description}",
                 f"caught by {fr.how}" if fr.caught else "NOT caught by the sweep or the search",
                 expected=fault.expected)


def plan(seed: int = 0) -> list:
    """The stage's entries in order, ``[(id, model, build), ...]``; ``build(id)``
    returns the entry.  The one place a report id is made."""
    trajectories = {}        # each model's sweep, reused by its faults
    out = [(f"gamma/{act}", "activation", partial(_gamma, act=act)) for act in ACTIVATIONS]
    for model in models():
        out += [(f"{model}/jacobian", model, partial(_jacobian, model=model, seed=seed)),
                (f"{model}/bound/product", model, partial(_product, model=model, seed=seed,
                                                          trajectories=trajectories))]
    for key, build in STATEMENTS.items():
        out += [(f"{model}/bound/{key}", model, partial(build, model=model, seed=seed))
                for model in models() if key in cases_of(model).statements]
    out.append(("clipping/norm", "any", partial(_clipping, seed=seed)))
    out += [(f"faults/{fault.id}", model, partial(_fault, model=model, fault=fault, seed=seed,
                                                  trajectories=trajectories)) for model, fault in faults()]
    return out


def results(seed: int = 0, *, steps: list = None) -> list:
    """report.json entries (kind "bound") of ``steps`` (default :func:`plan`),
    deterministic for a seed; a step that raises is an entry with status "error"."""
    out = []
    for id, model, build in plan(seed) if steps is None else steps:
        try:
            out.append(build(id))
        except Exception as e:  # noqa: BLE001 - reported as an error record
            out.append(entry(id, model, "error", 0, 0, None, "", f"{type(e).__name__}: {e}"))
    return out
