"""Numeric confirmation of the derived decay bounds (:mod:`derive.bounds`): trajectories.

The *actual* Jacobian products never come from the derived formulas: they are
the complex-step products ``d state(t) / d state(0)`` of the spec interpreter,
from the one complex-step Jacobian :func:`numeric.jacobians.jacobians` (one
batched pass; exact to rounding, no subtraction).  A second, independent
oracle, ``autograd.jacobian`` of one interpreted step, cross-checks it
(:func:`autograd_step_jacobian`).

The *bound* is evaluated from the derived :class:`~derive.bounds.StepBound`
with the interpreter's scalar compiler: ``sigma_max(P)`` from the parameters,
``gamma`` / ``sup|phi|`` from SymPy's exact values, and the per-step quantities
the walker left symbolic (``max|f|``, the gate values; ``max|1 - 1/alpha|``)
from the same forward pass.  The product bound over t steps is
``||B_t ... B_1||_2`` of the (nonnegative) matrices of block bounds, ``prod
beta_j`` for one state; everything is kept in logarithms.

Error model (:func:`tolerance`): the complex-step product is a forward-mode
sweep, so its error is at most ``SAFETY * N * u`` times the norm of the product
of the *absolute* Jacobians, which the same walker bounds with
``sigma_max(|P|)`` in place of ``sigma_max(P)``; relative to the bound that is
``SAFETY * N * u * A_t``, ``A_t = bound_abs(t) / bound(t) >= 1``.  ``N`` counts
the dependent operations (:func:`numeric.tolerances.dependence_path_length` plus
one state-sized product per step and the SVD of the norm).  A case violates
the bound when ``actual > bound * (1 + tolerance)``.

Which models are checked, where their bound is attained and which wrong bounds
must be caught is data of each spec (:class:`derive.spec.BoundCases`); this
module names no model.  The checks themselves (sweeps, the adversarial search,
the faults, gamma) are in :mod:`numeric.bound_checks`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import sympy as sp
from sympy import ImmutableMatrix, MatrixExpr, MatrixSymbol

from derive import bounds as dbounds
from derive.errors import UnknownModel
from derive.evaluate import as_float, explicit
from derive.jacobian import model_key, state_params
from derive.models import REGISTRY, get
from derive.spec import BoundFault, Equation
from numeric import interpret, tolerances
from numeric.jacobians import jacobians

__all__ = [
    "EPS", "SAFETY", "U", "models", "registered", "concrete", "symbolic", "cases_of", "Case", "state_size",
    "shape_of", "domain", "random_case",
    "Trajectory", "trajectory", "autograd_step_jacobian", "Evaluated", "evaluate", "tolerance", "ratios",
    "long_run", "DecayResult", "decay", "orthogonal", "symmetric_weight", "rest_case", "attaining_case",
    "decay_tolerance", "compile_scalar",
]

#: Complex step: a power of two (exact division), small enough that the
#: truncation term EPS^2 |f'''/f'| is far below rounding, large enough that
#: EPS * ||d state(t)/d state(0)|| stays a normal number for the sequences used.
EPS = 2.0 ** -60
SAFETY = 4.0
U = tolerances.UNIT_ROUNDOFF["float64"]

#: The interpreter's scalar SymPy -> array compiler (public as ``compile_scalar`` once renamed).
compile_scalar = getattr(interpret, "compile_scalar", None) or getattr(interpret, "_compile_scalar")
_NUMPY = interpret.get_backend("numpy")


# ---------------------------------------------------------------------------------------
# Models: the registry and the variants their specs ask the bounds to check
# ---------------------------------------------------------------------------------------

def _variants() -> dict:
    """label -> (registered name, spec options): every registered model, and the
    variants listed in its spec's :attr:`~derive.spec.BoundCases.variants`,
    labelled by the name the spec gives them.  Read from the registry as it is now
    (a model registered after import is included)."""
    key = tuple(sorted(REGISTRY.items(), key=lambda kv: kv[0]))
    if key not in _VARIANTS:
        _VARIANTS[key] = _variants_of(key)
    return _VARIANTS[key]


def _variants_of(registry) -> dict:
    out = {}
    for name, _ in registry:
        out[name] = (name, {})
        for options in get(name)().bounds.variants:
            label = get(name)(**options).name
            if label in out:
                raise ValueError(f"model {name!r}: variant {options} is named {label!r}, which is taken")
            out[label] = (name, dict(options))
    return out


_VARIANTS: dict = {}


def models() -> tuple:
    """Every model whose bounds are checked: the registry and the variants of its specs."""
    return tuple(_variants())


def registered(label: str) -> bool:
    """True for a registered model, False for a variant of one."""
    return label in REGISTRY


def _resolve(label: str):
    try:
        return _variants()[label]
    except KeyError:
        get(label)                            # the registry's error names the known models
        raise UnknownModel(f"unknown model {label!r}") from None


_CONCRETE: dict = {}


def concrete(label: str, n: int, m: int, K: int = 1):
    """The model ``label`` at sizes (n, m, K), built once per process."""
    key = (label, n, m, K)
    if key not in _CONCRETE:
        name, options = _resolve(label)
        _CONCRETE[key] = get(name)(n, m, K, **options)
    return _CONCRETE[key]


def symbolic(label: str):
    """The model ``label`` at symbolic sizes."""
    key = (label, None)
    if key not in _CONCRETE:
        name, options = _resolve(label)
        _CONCRETE[key] = get(name)(**options)
    return _CONCRETE[key]


def cases_of(label: str):
    """The spec's bound data (:class:`derive.spec.BoundCases`) of ``label``."""
    return symbolic(label).bounds


# ---------------------------------------------------------------------------------------
# Cases and trajectories
# ---------------------------------------------------------------------------------------

@dataclass
class Case:
    """One trajectory to check: concrete model, parameters, inputs (T, m), initial states."""

    model: object
    params: dict
    x: np.ndarray
    state0: dict               # initial-state name (h0, s0, ...) -> (r,)
    label: str = ""

    def describe(self) -> str:
        p = ", ".join(f"sigma_max({k})={np.linalg.norm(v, 2):.3g}" for k, v in sorted(self.params.items())
                      if np.ndim(v) == 2 and v.shape[0] == v.shape[1])
        return f"{self.model.name} n={state_size(self.model)} T={len(self.x)} {self.label} {p}".strip()


def state_size(model) -> int:
    """n: the size of the first state."""
    return int(next(iter(model.state)).shape[0])


def shape_of(p) -> tuple:
    r, c = (int(d) for d in p.shape)
    return (r,) if c == 1 else (r, c)


def _columns(model) -> set:
    """Names of the column parameters (biases, time constants): one column in the
    symbolic spec, not a matrix that happens to have one column (U with m = 1)."""
    return {p.name for p in symbolic(model.name).params if p.shape[1] == 1}


def domain(model, name: str):
    """(low, high or None) of a parameter with a domain (a time constant), else None."""
    return model.domains.get(name)


def random_case(model, rng: np.random.Generator, T: int, *, weight_scale=None, input_scale=None,
                state_scale=None, bias_scale=None, alpha_max: float = 10.0, label: str = "") -> Case:
    """Random parameters, inputs and states; scales log-uniform from tiny to
    saturating unless given.  Parameters with a domain (time constants, ``>= 1``)
    are drawn in [low, alpha_max] (or their upper end), per unit."""
    ls = lambda lo, hi: float(np.exp(rng.uniform(np.log(lo), np.log(hi))))  # noqa: E731
    ws = weight_scale if weight_scale is not None else ls(1e-2, 4.0)
    xs = input_scale if input_scale is not None else ls(1e-3, 10.0)
    ss = state_scale if state_scale is not None else ls(1e-3, 3.0)
    bs = bias_scale if bias_scale is not None else ls(1e-3, 3.0)
    needed = set(state_params(model))
    columns = _columns(model)
    params = {}
    for p in model.params:
        shape = shape_of(p)
        if domain(model, p.name):
            lo, hi = domain(model, p.name)
            params[p.name] = lo + rng.uniform(0.0, (alpha_max if hi is None else hi) - lo, size=shape)
        elif p.name not in needed:
            params[p.name] = np.zeros(shape)
        elif p.name in columns:
            params[p.name] = rng.standard_normal(shape) * bs
        else:
            params[p.name] = rng.standard_normal(shape) * ws / np.sqrt(shape[1] if len(shape) == 2 else 1)
    m = int(model.inputs[0].shape[0])
    x = rng.standard_normal((T, m)) * xs
    state0 = {new + "0": rng.standard_normal(int(prev.shape[0])) * ss for prev, new in model.state.items()}
    return Case(model, params, x, state0, label)


@dataclass
class Trajectory:
    case: Case
    log_actual: np.ndarray     # (T,) log ||d state(t) / d state(0)||_2, t = 1..T
    products: np.ndarray       # (T, N, N) the products themselves
    values: dict               # name -> (T, r) real per-step values (states, intermediates, leaves)
    prev: dict                 # previous-state name -> (T, r) value entering step t


_AUGMENTED: dict = {}


def _augmented(model):
    """``model`` with one extra equation per per-step quantity of its bound and
    every equation kept as an output, so one forward pass yields them all."""
    key = model_key(model)
    if key in _AUGMENTED:
        return _AUGMENTED[key]
    _, _, leaves = dbounds.step_bound(model).symbols()
    per_step = {s.name for s in (*model.inputs, *model.state)} | {eq.lhs.name for eq in model.equations}
    eqs, names = list(model.equations), {}
    for i, (sym, expr) in enumerate(sorted(leaves.items(), key=lambda kv: kv[0].name)):
        if any(s.name in per_step for s in expr.atoms(MatrixSymbol)):
            lhs = MatrixSymbol(f"_leaf{i}", *expr.shape)
            eqs.append(Equation(lhs, expr, f"{sym.name}"))
            names[sym] = lhs.name
    aug = replace(model, equations=tuple(eqs), outputs=tuple(eq.lhs.name for eq in eqs))
    _AUGMENTED[key] = (aug, names)
    return _AUGMENTED[key]


def trajectory(case: Case) -> Trajectory:
    """The complex-step products ``d state(t) / d state(0)``, t = 1..T, and the
    per-step values of every quantity the bound needs, from one batched pass of
    :func:`numeric.jacobians.jacobians`."""
    model = case.model
    aug, _ = _augmented(model)
    states = list(model.state.items())
    init = {new + "0": np.asarray(case.state0[new + "0"], float)[None, :] for _, new in states}
    J = jacobians(aug, case.params, np.asarray(case.x, float)[:, None, :], init, step=EPS)
    products = np.concatenate([J.jacobians[new][:, 0] for _, new in states], axis=1)     # (T, N, N)
    norms = np.array([np.linalg.norm(P, 2) for P in products])
    with np.errstate(divide="ignore"):
        log_actual = np.log(norms)
    values = {k: v[:, 0, :] for k, v in J.values.items()}
    prev = {}
    for p, new in states:
        first = np.asarray(case.state0[new + "0"], dtype=float)[None, :]
        prev[p.name] = np.concatenate([first, values[new][:-1]], axis=0)
    return Trajectory(case, log_actual, products, values, prev)


def autograd_step_jacobian(model, params: dict, x_t: np.ndarray, state: dict) -> np.ndarray:
    """``d state(t) / d state(t-1)`` by ``autograd.jacobian`` of one interpreted step
    (an oracle independent of the complex step)."""
    import autograd
    import autograd.numpy as anp

    states = list(model.state.items())
    sizes_ = [int(p.shape[0]) for p, _ in states]

    def step(v):
        init, off = {}, 0
        for (p, new), r in zip(states, sizes_):
            init[new + "0"] = anp.reshape(v[off:off + r], (1, r))
            off += r
        out = interpret.forward(model, params, np.asarray(x_t, float)[None, None, :], init, backend="autograd")
        return anp.concatenate([anp.reshape(out[new][0, 0], (-1,)) for _, new in states])

    v0 = np.concatenate([np.asarray(state[new + "0"], float) for _, new in states])
    return autograd.jacobian(step)(v0)


# ---------------------------------------------------------------------------------------
# The bound, evaluated along a trajectory
# ---------------------------------------------------------------------------------------

_COMPILED: dict = {}


def _compiled(expr, variables: tuple):
    """The bound expression as an array function of its symbols' values."""
    key = (expr, variables)
    if key not in _COMPILED:
        _COMPILED[key] = compile_scalar(expr, variables)
    return _COMPILED[key]


def _sizes(model) -> dict:
    """Size symbol of the spec -> the concrete size of ``model`` (for expressions of
    the spec's bound data, written at symbolic sizes)."""
    return {k: int(v) for k, v in zip(symbolic(model.name).sizes, model.sizes) if isinstance(k, sp.Symbol)}


def _as_matrices(model, values: dict) -> dict:
    """Arrays by name -> explicit SymPy matrices by name, for :func:`derive.evaluate.explicit`."""
    out = {}
    for s in (*model.params, *model.state):
        name = s.name if s in model.params else model.state[s] + "0"
        if name in values:
            out[name] = ImmutableMatrix(np.asarray(values[name], float).reshape(int(s.shape[0]), -1).tolist())
    return out


_PARAM_LEAVES: dict = {}


def _param_leaf(expr, case: Case, least: bool = False) -> float:
    """max |v| (min with ``least``) of a vector expression of parameters only
    (e.g. 1 - 1/alpha), by the one evaluator :func:`derive.evaluate.explicit`."""
    names = sorted(s.name for s in expr.atoms(MatrixSymbol))
    key = (expr, least, tuple(np.asarray(case.params[k], float).tobytes() for k in names))
    if key not in _PARAM_LEAVES:
        env = _as_matrices(case.model, case.params)
        value = np.abs(as_float(explicit(expr, env, sizes=_sizes(case.model), digits=20)))
        _PARAM_LEAVES[key] = float(np.min(value) if least else np.max(value))
    return _PARAM_LEAVES[key]


@dataclass
class Evaluated:
    log_bound: np.ndarray      # (T,) log of the product bound after t = 1..T steps
    log_bound_abs: np.ndarray  # the same with sigma_max(|P|): the error model's amplification
    log_step: np.ndarray       # (T,) log of the one-step bound at each step (2-norm of B_t)


def _named(expr, env: dict):
    """``expr`` (a fault's scalar expression, symbols by name) in the bound's own symbols."""
    by_name = {s.name: s for s in env}
    missing = {s.name for s in expr.free_symbols} - set(by_name)
    if missing:
        raise KeyError(f"bound fault: {sorted(missing)} are not symbols of the bound ({', '.join(sorted(by_name))})")
    return expr.xreplace({s: by_name[s.name] for s in expr.free_symbols})


def _replacement(traj: Trajectory, value, env: dict, least: bool):
    """The value of a :class:`derive.spec.BoundFault` replacement on ``traj``."""
    if isinstance(value, MatrixExpr):
        if isinstance(value, MatrixSymbol) and value.name in traj.values:
            v = np.abs(traj.values[value.name])
            return np.min(v, axis=1) if least else np.max(v, axis=1)
        params = {p.name for p in traj.case.model.params}
        if {s.name for s in value.atoms(MatrixSymbol)} <= params:
            return _param_leaf(value, traj.case, least)
        raise ValueError(f"bound fault: cannot measure {value} (a per-step quantity or a parameter expression)")
    expr = _named(sp.sympify(value), env)
    variables = tuple(sorted(expr.free_symbols, key=lambda s: s.name))
    return _compiled(expr, variables)(_NUMPY, *(env[s] for s in variables))


def _symbol_values(traj: Trajectory, fault: BoundFault, absolute: bool) -> dict:
    case = traj.case
    model = case.model
    sigmas, sups, leaves = dbounds.step_bound(model).symbols()
    _, names = _augmented(model)
    env = {}
    for s, pname in sigmas.items():
        P = np.asarray(case.params[pname], float)
        env[s] = float(np.linalg.norm(np.abs(P) if absolute else P, 2))
    for s, sup in sups.items():
        env[s] = float(sup.value)
    for s, expr in leaves.items():
        if s in names:
            env[s] = np.max(np.abs(traj.values[names[s]]), axis=1)          # (T,)
        else:
            env[s] = _param_leaf(expr, case)
    if fault is not None:
        original = dict(env)
        by_name = {k.name: k for k in env}
        for name, value in fault.replace:
            if name not in by_name:
                raise KeyError(f"bound fault {fault.id!r}: no symbol {name!r} in the bound of {model.name} "
                               f"({', '.join(sorted(by_name))})")
            env[by_name[name]] = _replacement(traj, value, original, fault.least)
    return env


def _log_products(Bs: np.ndarray):
    """log ||B_t ... B_1||_2 for t = 1..T, B nonnegative, with rescaling."""
    T, S, _ = Bs.shape
    out = np.empty(T)
    M, logc = np.eye(S), 0.0
    for t in range(T):
        M = Bs[t] @ M
        c = np.max(M)
        if c == 0 or not np.isfinite(c):
            out[t:] = -np.inf if c == 0 else np.inf
            break
        M, logc = M / c, logc + math.log(c)
        out[t] = logc + math.log(np.linalg.norm(M, 2))
    return out


def _step_matrices(traj: Trajectory, env: dict) -> np.ndarray:
    sb = dbounds.step_bound(traj.case.model)
    names = sb.names
    T = len(traj.case.x)
    variables = tuple(sorted(env, key=lambda s: s.name))
    values = [env[s] for s in variables]
    Bs = np.zeros((T, len(names), len(names)))
    for i, (new, _) in enumerate(names):
        for j, (_, prev) in enumerate(names):
            Bs[:, i, j] = np.broadcast_to(_compiled(sb.blocks[(new, prev)].expr, variables)(_NUMPY, *values), (T,))
    return Bs


def _fault_steps(traj: Trajectory, fault: BoundFault, absolute: bool) -> np.ndarray:
    """The (T, S, S) one-step block bounds, with ``fault`` applied."""
    if fault is not None and fault.step is not None and not absolute:
        env = _symbol_values(traj, None, False)
        scalars = {s for s in fault.step.free_symbols if isinstance(s, sp.Symbol)}
        named = {s: _named(s, env) for s in scalars}
        step = fault.step.xreplace({s: sp.Float(float(env[named[s]])) for s in scalars})
        return np.full((len(traj.case.x), 1, 1), _param_leaf(step, traj.case))
    return _step_matrices(traj, _symbol_values(traj, fault, absolute))


def evaluate(traj: Trajectory, fault: BoundFault = None) -> Evaluated:
    """The derived product bound along ``traj`` (optionally with a fault injected)."""
    Bs = _fault_steps(traj, fault, False)
    log_bound = _log_products(Bs)
    log_abs = _log_products(_fault_steps(traj, fault, True))
    if fault is not None and fault.step is not None:      # keep the error model's amplification
        log_abs = log_bound + (log_abs - _log_products(_fault_steps(traj, None, False)))
    log_step = np.array([math.log(max(np.linalg.norm(B, 2), 1e-300)) for B in Bs])
    if fault is not None and fault.shift:
        log_bound = log_bound + fault.shift * log_step
        log_abs = log_abs + fault.shift * log_step
    return Evaluated(log_bound, log_abs, log_step)


def tolerance(traj: Trajectory, ev: Evaluated) -> np.ndarray:
    """Relative rounding allowance of ``actual <= bound`` at t = 1..T:
    ``SAFETY * N_t * u * A_t`` (see the module docstring)."""
    model = traj.case.model
    T = len(traj.case.x)
    n_state = sum(int(p.shape[0]) for p in model.state)
    t = np.arange(1, T + 1)
    path = np.array([tolerances.dependence_path_length(model, k) for k in t]) + t * n_state + n_state
    amplification = np.exp(np.clip(ev.log_bound_abs - ev.log_bound, 0.0, 700.0))
    return SAFETY * path * U * amplification


def ratios(traj: Trajectory, ev: Evaluated):
    """(log ratio actual/bound per t, log(1 + tolerance) per t)."""
    with np.errstate(invalid="ignore"):
        lr = traj.log_actual - ev.log_bound
    lr = np.where(np.isnan(lr), -np.inf, lr)
    return lr, np.log1p(tolerance(traj, ev))


# ---------------------------------------------------------------------------------------
# Long runs and decay rates
# ---------------------------------------------------------------------------------------

def long_run(case: Case, *, segment: int = 25, fault: BoundFault = None):
    """log ||d state(t)/d state(0)|| and the log product bound for a long
    sequence, chained over segments (each a complex-step pass from the true
    state at its start) with rescaling, so nothing underflows."""
    T = len(case.x)
    state = {k: np.asarray(v, float) for k, v in case.state0.items()}
    M, logc = None, 0.0                 # d state(start)/d state(0) = exp(logc) M
    S = len(case.model.state)
    Bprod, logb = np.eye(S), 0.0        # B(start) ... B(1) = exp(logb) Bprod
    log_actual, log_bound = np.empty(T), np.empty(T)
    for start in range(0, T, segment):
        seg = Case(case.model, case.params, case.x[start:start + segment], state, case.label)
        tr = trajectory(seg)
        Bs = _fault_steps(tr, fault, False)
        cur = Bprod
        for t in range(len(seg.x)):
            P = tr.products[t] if M is None else tr.products[t] @ M
            nrm = np.linalg.norm(P, 2)
            log_actual[start + t] = logc + (math.log(nrm) if nrm > 0 else -np.inf)
            cur = Bs[t] @ cur
            nb = np.linalg.norm(cur, 2)
            log_bound[start + t] = logb + (math.log(nb) if nb > 0 else -np.inf)
        c = np.max(np.abs(P)) or 1.0
        M, logc = P / c, logc + math.log(c)
        cb = np.max(cur) or 1.0
        Bprod, logb = cur / cb, logb + math.log(cb)
        state = {new + "0": tr.values[new][-1] for _, new in case.model.state.items()}
    return log_actual, log_bound


@dataclass
class DecayResult:
    label: str
    steps: int
    measured_rate: float       # exp(slope of log ||P_t||), fitted over the second half
    bound_rate: float          # exp(slope of the log bound) over the same steps
    ratio: float               # measured / bound rate
    log_actual: np.ndarray
    log_bound: np.ndarray


def _slope(y: np.ndarray) -> float:
    t = np.arange(len(y), dtype=float)
    half = len(y) // 2
    tt, yy = t[half:], y[half:]
    ok = np.isfinite(yy)
    if ok.sum() < 2:
        return -np.inf
    return float(np.polyfit(tt[ok], yy[ok], 1)[0])


def decay(case: Case, *, fault: BoundFault = None, label: str = "") -> DecayResult:
    la, lb = long_run(case, fault=fault)
    measured, bound = math.exp(_slope(la)), math.exp(_slope(lb))
    return DecayResult(label or case.label, len(case.x), measured, bound, measured / bound, la, lb)


def decay_tolerance(case: Case) -> float:
    """Allowed |measured rate / bound rate - 1| on an attaining trajectory: the
    relative rounding of the products, SAFETY * N * u (N as in :func:`tolerance`)."""
    model, T = case.model, len(case.x)
    n_state = sum(int(p.shape[0]) for p in model.state)
    return SAFETY * (tolerances.dependence_path_length(model, T) + T * n_state + n_state) * U


# ---------------------------------------------------------------------------------------
# Cases at rest, and where a bound is attained
# ---------------------------------------------------------------------------------------

def orthogonal(n: int, rng) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def symmetric_weight(n: int, sigma: float, rng) -> np.ndarray:
    """A symmetric matrix with top eigenvalue sigma (= sigma_max), others in (0, sigma)."""
    Q = orthogonal(n, rng)
    lam = sigma * np.concatenate([[1.0], rng.uniform(0.2, 0.9, n - 1)])
    return (Q * lam) @ Q.T


def _set_values(case: Case, values) -> None:
    """Apply ``((name, number or matrix expression), ...)`` to the parameters and
    initial states of ``case``, in order (an expression sees what is set so far)."""
    model = case.model
    for name, value in values:
        target = case.params if name in case.params else case.state0
        if name not in target:
            raise KeyError(f"{model.name}: no parameter or initial state {name!r} "
                           f"({', '.join(sorted({**case.params, **case.state0}))})")
        shape = np.shape(target[name])
        if isinstance(value, MatrixExpr):
            env = _as_matrices(model, {**case.params, **case.state0})
            target[name] = as_float(explicit(value, env, sizes=_sizes(model))).reshape(shape)
        else:
            target[name] = np.full(shape, float(value))


def rest_case(model: str, *, n: int = 4, m: int = 1, T: int = 200, sigma: float = 0.9, timescale=None,
              input_scale: float = 0.0, bias=0.0, state_scale: float = 0.0, seed: int = 0,
              values: tuple = (), label: str = "") -> Case:
    """A trajectory at rest (x = 0, biases ``bias``, state 0 unless scaled) with
    symmetric recurrent matrices of top eigenvalue sigma, time constants
    ``timescale`` (a number or per unit) when given, then ``values``
    (``((name, number or matrix expression), ...)``, as in
    :class:`derive.spec.Attaining`)."""
    rng = np.random.default_rng(seed)
    spec = concrete(model, n, m)
    case = random_case(spec, rng, T, weight_scale=1.0, input_scale=1.0, state_scale=1.0, bias_scale=1.0)
    for p in spec.params:
        if p.name not in state_params(spec):
            continue
        shape = shape_of(p)
        if len(shape) == 2 and shape[0] == shape[1] == n:
            case.params[p.name] = symmetric_weight(n, sigma, rng)
        elif p.name in _columns(spec) and not domain(spec, p.name):
            case.params[p.name] = np.full(shape, float(bias))
    if timescale is not None:
        for name in spec.domains:
            case.params[name] = (np.full(n, float(timescale)) if np.ndim(timescale) == 0
                                 else np.asarray(timescale, float))
    case.x = rng.standard_normal((T, m)) * input_scale
    case.state0 = {k: rng.standard_normal(v.shape) * state_scale for k, v in case.state0.items()}
    _set_values(case, values)
    case.label = label
    return case


def attaining_case(model: str, *, seed: int = 0, T: int = 120) -> Case:
    """A long trajectory on which the per-step bound of ``model`` is attained, as
    its spec declares (:class:`derive.spec.Attaining`); None when it declares none."""
    at = cases_of(model).attaining
    if at is None:
        return None
    return rest_case(model, n=3, sigma=at.sigma, T=T, seed=seed, values=at.values, label=at.label)
