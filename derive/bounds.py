"""Vanishing and exploding gradients: bounds on the derived one-step Jacobian.

Everything here is derived by SymPy from a :class:`~derive.spec.Model`; no
Jacobian and no bound is typed in.

1. ``gamma = sup |phi'|`` of an activation of :data:`derive.spec.ACTIVATIONS`
   (:func:`gamma`), by the one sup/inf engine :func:`derive.extrema.sup_abs`
   (ReLU's derivative is Heaviside: the sup is over both open half-lines; the
   point z = 0, where ReLU has no derivative, is left out and reported).
2. A bound on ``||J||_2`` of the one-step Jacobian of :mod:`derive.jacobian`
   (:func:`norm_bound`, :func:`step_bound`), by walking the derived expression
   with the norm rules of :data:`NORM_RULES` (triangle inequality,
   submultiplicativity, ``||diag(v)||_2 = max_i |v_i|``,
   ``max|u ⊙ v| <= max|u| max|v|``, ``|phi'(a_i)| <= gamma``).  Whatever the
   walker cannot bound a priori (a gate value, a time constant, the memory
   state) stays a named per-step quantity ``max|f|``, measured by the numeric
   side.  A block Jacobian is bounded by the 2-norm of its matrix of block
   bounds.  For the vanilla RNN the walker gives ``gamma * sigma_max(W)``;
   with submultiplicativity over t - k steps that is the seeds' product bound.
3. The named statements: the product bound's two readings
   (:func:`product_readings`), the linear case ``M^k = Q Lambda^k Q^T``
   (:func:`prove_eigen_power`), leaky units (:func:`leaky_statement`), a memory
   path ``d s(t)/d s(t-1) = diag(f)`` (:func:`memory_path`), skip connections of
   delay d (:func:`skip_path_bound`), gradient clipping (:func:`prove_clipping`).
   A model's spec says which apply (:attr:`derive.spec.BoundCases.statements`).
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp
from sympy import DiagMatrix, HadamardProduct, Identity, MatAdd, MatMul, MatrixSymbol, OneMatrix, \
    Transpose, ZeroMatrix
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from derive.errors import DerivationError
from derive.extrema import Extremum, sup_abs
from derive.jacobian import StepJacobian, function_name, model_key, one_step_jacobian, show
from derive.rules import derivative
from derive.spec import ACTIVATIONS, Model

__all__ = [
    "NORM_RULES", "gamma", "prove_sigmoid_forms", "NormBound", "StepBound", "norm_bound", "step_bound",
    "gammas", "product_readings", "prove_eigen_power", "leaky_statement", "memory_path", "skip_path_bound",
    "prove_clipping",
]

_z = sp.Symbol("z", real=True)

#: The norm facts the bound walker uses, in the order it may apply them
#: (each is a textbook property of the spectral norm; tests/test_bounds.py
#: checks each on random matrices and proves the diagonal ones by SymPy).
NORM_RULES = (
    "||A + B|| <= ||A|| + ||B|| (triangle inequality)",
    "||A B|| <= ||A|| ||B|| (submultiplicativity)",
    "||c A|| = |c| ||A||, ||A^T|| = ||A||, ||I|| = 1",
    "||diag(v)||_2 = max_i |v_i|",
    "max_i |(u ⊙ v)_i| <= max_i |u_i| max_i |v_i|",
    "max_i |phi(a_i)| <= sup_z |phi(z)| (gamma for phi = an activation's derivative)",
    "||[[A, B], [C, D]]||_2 <= ||[[||A||, ||B||], [||C||, ||D||]]||_2 (block matrices)",
)


# ---------------------------------------------------------------------------------------
# 1. gamma
# ---------------------------------------------------------------------------------------

def gamma(activation) -> Extremum:
    """``gamma = sup |phi'|`` for an activation name (a key of
    :data:`derive.spec.ACTIVATIONS`) or a one-variable ``Lambda``; ``phi'`` is
    SymPy's derivative, the sup is :func:`derive.extrema.sup_abs`."""
    f = ACTIVATIONS[activation] if isinstance(activation, str) else activation
    return sup_abs(derivative(f))


def prove_sigmoid_forms() -> bool:
    """The logistic sigmoid of :data:`derive.spec.ACTIVATIONS` equals (1 + tanh(z/2)) / 2, by SymPy."""
    (z,) = ACTIVATIONS["sigmoid"].variables
    tanh_form = (1 + sp.tanh(z / 2)) / 2
    return sp.simplify((ACTIVATIONS["sigmoid"].expr - tanh_form).rewrite(sp.exp)) == 0


# ---------------------------------------------------------------------------------------
# 2. Norm bounds of the derived Jacobian
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class NormBound:
    """A scalar upper bound ``expr`` of ``||J||_2``.

    Its symbols are ``sigma_max(P)`` for a parameter matrix P (``sigmas``),
    ``gamma_<phi>`` / ``sup|phi|`` with exact values found by SymPy (``sups``),
    and ``max|v|`` for a vector v the walker cannot bound a priori, measured
    per step (``leaves``: symbol -> vector expression)."""

    expr: sp.Expr
    sigmas: tuple          # ((Symbol, parameter name), ...)
    sups: tuple            # ((Symbol, Extremum), ...)
    leaves: tuple          # ((Symbol, vector MatrixExpr), ...)

    def static(self) -> sp.Expr:
        """The bound with every sup replaced by its exact value."""
        return self.expr.xreplace({s: sup.value for s, sup in self.sups})

    def __str__(self) -> str:
        return str(self.expr)


class _Walker:
    def __init__(self, model: Model):
        self.params = {p.name for p in model.params}
        self.per_step = {s.name for s in (*model.inputs, *model.state)} | {eq.lhs.name for eq in model.equations}
        self.sigmas, self.sups, self.leaves = {}, {}, {}

    def per_step_quantity(self, e) -> bool:
        return any(s.name in self.per_step for s in e.atoms(MatrixSymbol))

    def matrix(self, e) -> sp.Expr:
        if isinstance(e, ZeroMatrix):
            return sp.S.Zero
        if isinstance(e, Identity):
            return sp.S.One
        if isinstance(e, MatAdd):
            return sp.Add(*(self.matrix(a) for a in e.args))
        if isinstance(e, MatMul):
            coeff, mats = e.as_coeff_matrices()
            return sp.Abs(coeff) * sp.Mul(*(self.matrix(a) for a in mats))
        if isinstance(e, DiagMatrix):
            return self.vector(e.args[0])
        if isinstance(e, Transpose):
            return self.matrix(e.arg)
        if isinstance(e, MatrixSymbol) and e.name in self.params:
            s = sp.Symbol(f"sigma_max({e.name})", positive=True)
            self.sigmas[s] = e.name
            return s
        raise DerivationError(f"no norm rule for {type(e).__name__} {show(e)}")

    def vector(self, v) -> sp.Expr:
        """An upper bound of max_i |v_i|."""
        if isinstance(v, HadamardProduct):
            return sp.Mul(*(self.vector(a) for a in v.args))
        if isinstance(v, OneMatrix):
            return sp.S.One
        if isinstance(v, ZeroMatrix):
            return sp.S.Zero
        if isinstance(v, MatMul):
            coeff, mats = v.as_coeff_matrices()
            if len(mats) == 1:
                return sp.Abs(coeff) * self.vector(mats[0])
        if isinstance(v, ElementwiseApplyFunction) and self.per_step_quantity(v.expr):
            f = v.function if isinstance(v.function, sp.Lambda) else sp.Lambda(_z, v.function(_z))
            sup = sup_abs(f)
            if sup.finite:
                name = function_name(f)
                label = (f"gamma_{name[:-1]}" if name and name.endswith("'") else
                         f"sup|{name}|" if name else f"sup|{f.expr}|")
                s = sp.Symbol(label, positive=True)
                self.sups[s] = sup
                return s
        s = sp.Symbol(f"max|{show(v)}|", nonnegative=True)
        self.leaves[s] = v
        return s


def norm_bound(J, model: Model) -> NormBound:
    """Walk a derived Jacobian (block) with :data:`NORM_RULES`."""
    w = _Walker(model)
    expr = w.matrix(J)
    order = lambda d: tuple(sorted(d.items(), key=lambda kv: kv[0].name))  # noqa: E731
    return NormBound(expr, order(w.sigmas), order(w.sups), order(w.leaves))


@dataclass(frozen=True)
class StepBound:
    """Per block of the one-step Jacobian, a :class:`NormBound`; the one-step
    bound is the 2-norm of the matrix of block bounds (one state: the bound)."""

    jacobian: StepJacobian
    blocks: dict             # (new, prev name) -> NormBound

    @property
    def names(self):
        return [(new, prev.name) for new, prev in self.jacobian.states]

    def matrix(self) -> sp.Matrix:
        names = self.names
        return sp.Matrix(len(names), len(names),
                         lambda i, j: self.blocks[(names[i][0], names[j][1])].expr)

    def scalar(self) -> sp.Expr:
        """The one-step bound as one expression (one state only)."""
        if len(self.names) != 1:
            raise ValueError("several states: the bound is the 2-norm of matrix()")
        return next(iter(self.blocks.values())).expr

    def symbols(self):
        sigmas, sups, leaves = {}, {}, {}
        for nb in self.blocks.values():
            sigmas.update(nb.sigmas)
            sups.update(nb.sups)
            leaves.update(nb.leaves)
        return sigmas, sups, leaves


_STEP_BOUNDS: dict = {}


def step_bound(model: Model) -> StepBound:
    """The derived Jacobian of ``model`` and a bound on each block (derived once
    per model and sizes in a process)."""
    key = model_key(model)
    if key not in _STEP_BOUNDS:
        sj = one_step_jacobian(model)
        _STEP_BOUNDS[key] = StepBound(sj, {k: norm_bound(J, model) for k, J in sj.blocks.items()})
    return _STEP_BOUNDS[key]


def gammas(model: Model) -> dict:
    """The activations whose ``gamma`` enters the derived bound of ``model``:
    name (a key of :data:`derive.spec.ACTIVATIONS`) -> :class:`~derive.extrema.Extremum`."""
    _, sups, _ = step_bound(model).symbols()
    return {s.name[len("gamma_"):]: sup for s, sup in sorted(sups.items(), key=lambda kv: kv[0].name)
            if s.name.startswith("gamma_")}


# ---------------------------------------------------------------------------------------
# 3. The product bound and its two readings
# ---------------------------------------------------------------------------------------

def product_readings() -> dict:
    """For a one-step bound beta >= 0 and t - k = k steps, ``||prod J|| <= beta^k``
    (submultiplicativity).  SymPy shows: beta < 1 => beta^k -> 0 (vanishing is
    guaranteed: sufficient); beta <= 1 => beta^k <= 1 for all k (so gradients
    that grow without bound need beta > 1: a necessary condition only)."""
    k = sp.Symbol("k", nonnegative=True, integer=True)
    e = sp.Symbol("epsilon", positive=True)
    e0 = sp.Symbol("epsilon", nonnegative=True)
    below = (1 / (1 + e)) ** k                     # beta = 1/(1+eps) < 1
    vanishing = sp.limit(below, k, sp.oo) == 0
    log_at_most_one = -k * sp.log(1 + e0)           # log(beta^k) for beta = 1/(1+eps), eps >= 0
    bounded = bool(log_at_most_one.is_nonpositive)
    above = (1 + e) ** k
    grows = sp.limit(above, k, sp.oo) == sp.oo
    return {
        "vanishing_sufficient": bool(vanishing),
        "bounded_when_beta_le_1": bounded,
        "bound_grows_when_beta_gt_1": bool(grows),
        "text": ("||d h(t)/d h(k)||_2 <= beta^(t-k) with beta = the one-step bound. "
                 "If beta < 1, beta^(t-k) -> 0: vanishing is certain (a sufficient condition). "
                 "If beta <= 1, beta^(t-k) <= 1 for every t - k: so exploding gradients need beta > 1 "
                 "(a necessary condition); beta > 1 lets the bound grow but does not make the "
                 "gradient grow."),
    }


# ---------------------------------------------------------------------------------------
# 4. The linear case: M^k = Q Lambda^k Q^T
# ---------------------------------------------------------------------------------------

def _cancel_orthogonal(factors: list, Q) -> list:
    """Apply Q^T Q = I to adjacent factors of a product (one rewrite pass)."""
    out = []
    for f in factors:
        if out and out[-1] == Q.T and f == Q:
            out.pop()
            continue
        out.append(f)
    return out


def prove_eigen_power() -> dict:
    """``M = Q Lambda Q^T`` with ``Q^T Q = I`` implies ``M^k = Q Lambda^k Q^T``
    for every integer k >= 1, by induction with SymPy's matrix algebra
    (symbolic sizes and symbolic k), checked at 2 x 2 with a rotation Q,
    symbolic eigenvalues and symbolic k.  Also: the component of M^k v along
    eigenvector q_i is lambda_i^k (q_i^T v), so it decays for |lambda_i| < 1
    and grows for |lambda_i| > 1."""
    n = sp.Symbol("n", integer=True, positive=True)
    k = sp.Symbol("k", integer=True, positive=True)
    Q, L = MatrixSymbol("Q", n, n), MatrixSymbol("Lambda", n, n)
    M = Q * L * Q.T
    claim = lambda j: Q * L ** j * Q.T  # noqa: E731
    base = sp.simplify(claim(1) - M) == ZeroMatrix(n, n) or claim(1) == M
    # step: M^(k+1) = M^k M = (Q L^k Q^T)(Q L Q^T), then Q^T Q = I and L^k L = L^(k+1)
    factors = _cancel_orthogonal([*claim(k).args, *M.args], Q)
    stepped = MatMul(*factors).doit()
    step = stepped == claim(k + 1)
    # explicit 2 x 2: rotation Q, diagonal Lambda, symbolic k
    th = sp.Symbol("theta", real=True)
    l1, l2 = sp.symbols("lambda1 lambda2", positive=True)
    Qe = sp.Matrix([[sp.cos(th), -sp.sin(th)], [sp.sin(th), sp.cos(th)]])
    Le = lambda j: sp.diag(l1 ** j, l2 ** j)  # noqa: E731
    lhs = (Qe * Le(k) * Qe.T) * (Qe * Le(1) * Qe.T)
    explicit = sp.simplify(lhs - Qe * Le(k + 1) * Qe.T) == sp.zeros(2, 2)
    orth = sp.simplify(Qe.T * Qe - sp.eye(2)) == sp.eye(2) * 0
    # components: q_i^T M^k v = lambda_i^k q_i^T v
    v = sp.Matrix(sp.symbols("v1 v2", real=True))
    comp = [sp.simplify((Qe[:, i].T * (Qe * Le(k) * Qe.T) * v)[0] - [l1, l2][i] ** k * (Qe[:, i].T * v)[0])
            for i in range(2)]
    e = sp.Symbol("epsilon", positive=True)
    decays = sp.limit((1 / (1 + e)) ** k, k, sp.oo) == 0
    grows = sp.limit((1 + e) ** k, k, sp.oo) == sp.oo
    return {
        "base": bool(base), "step": bool(step), "explicit_2x2": bool(explicit), "orthogonal": bool(orth),
        "components": all(c == 0 for c in comp), "decays_below_1": bool(decays), "grows_above_1": bool(grows),
        "step_text": f"M^(k+1) = {MatMul(claim(k), M)} = {MatMul(*factors)} = {stepped} (Q^T Q = I)",
        "text": ("M = Q Lambda Q^T, Q^T Q = I  =>  M^k = Q Lambda^k Q^T (induction on k); "
                 "q_i^T M^k v = lambda_i^k q_i^T v: the component along an eigenvector with "
                 "|lambda_i| < 1 decays like |lambda_i|^k -> 0, with |lambda_i| > 1 it grows like "
                 "|lambda_i|^k -> oo (when q_i^T v != 0); the largest |lambda| dominates."),
    }


# ---------------------------------------------------------------------------------------
# 5. Leaky units
# ---------------------------------------------------------------------------------------

def leaky_statement(model: Model) -> dict:
    """The derived one-step bound of a leaky-unit model, for per-unit time
    constants and for a common one, and the time scale it implies.  The time
    constants are the parameters with a domain ``alpha >= low``
    (:attr:`~derive.spec.Model.domains`).

    Per unit: the walker gives ``max|1 - 1/alpha| + gamma max|1/alpha| sigma_max(W)``;
    with every alpha_i >= 1 that is ``(1 - 1/alpha_max) + gamma sigma_max(W) / alpha_min``
    (the leak of the slowest unit plus the recurrent term of the fastest; the
    per-unit maximum of (1 - 1/alpha_i) + gamma sigma / alpha_i is NOT a bound:
    units mix through W).  For a common alpha: ``(1 - 1/alpha) + gamma sigma / alpha``."""
    sb = step_bound(model)
    nb = next(iter(sb.blocks.values()))
    if len(model.domains) != 1:
        raise DerivationError(f"leaky bound of {model.name!r}: expected one time-constant parameter "
                              f"with a domain, got {sorted(model.domains)}")
    ((name, (low, _)),) = model.domains.items()
    alpha = sp.Symbol(name, positive=True)
    eps = sp.Symbol("epsilon", nonnegative=True)           # alpha = low + eps >= low
    uniform = {}
    for s, leaf in nb.leaves:
        if isinstance(leaf, ElementwiseApplyFunction) and {x.name for x in leaf.expr.atoms(MatrixSymbol)} == {name}:
            (v,) = leaf.function.variables
            value = sp.Abs(leaf.function.expr.xreplace({v: low + eps}))
            uniform[s] = sp.simplify(value).xreplace({eps: alpha - low})
        else:
            raise DerivationError(f"leaky bound: unexpected per-step quantity {s}")
    beta = sp.simplify(nb.expr.xreplace(uniform))
    g = [s for s, _ in nb.sups]
    sigma = [s for s, _ in nb.sigmas]
    rho = sp.Symbol("rho", positive=True)                 # gamma * sigma_max(W)
    beta_rho = sp.simplify(beta.xreplace({g[0]: rho / sigma[0]}))
    at_one = sp.simplify(beta.subs(alpha, 1))
    timescale = -1 / sp.log(beta_rho)
    u = sp.Symbol("u", positive=True)
    series = sp.series(timescale.subs(alpha, 1 / u), u, 0, 1).removeO()
    series = sp.Add(*(sp.simplify(series.coeff(u, p)) * u ** p for p in (-1, 0)))
    return {
        "per_unit": nb.expr,
        "per_unit_text": (f"{nb.expr}, and with every {name}_i >= {low}: (1 - 1/{name}_max) + "
                          f"{g[0]} * {sigma[0]} / {name}_min"),
        "uniform": beta, "uniform_rho": beta_rho, "at_alpha_1": at_one,
        "timescale": timescale, "timescale_large_alpha": sp.simplify(series.subs(u, 1 / alpha)),
        "gamma": g[0], "sigma": sigma[0], "alpha": alpha, "rho": rho, "param": name,
    }


# ---------------------------------------------------------------------------------------
# 6. A memory path (the LSTM's constant error carousel)
# ---------------------------------------------------------------------------------------

def memory_path(model: Model) -> dict:
    """The state whose derived self-block ``d s(t)/d s(t-1)`` is exactly
    ``diag(f(t))`` for a gate ``f`` (an equation of the step): the constant error
    carousel of the LSTM.  Returns the state, the gate, the gate's column
    parameters (its biases), the block and its bound, and the matrix of block
    bounds; a model without such a state is a :class:`DerivationError`."""
    sb = step_bound(model)
    gates = {eq.lhs.name for eq in model.equations}
    for prev, new in model.state.items():
        J = sb.jacobian.blocks[(new, prev.name)]
        gate = J.args[0] if isinstance(J, DiagMatrix) else None
        if isinstance(gate, MatrixSymbol) and gate.name in gates:
            biases = tuple(p.name for p in model.params
                           if p.shape[1] == 1 and p in model.equation(gate.name).rhs.atoms(MatrixSymbol))
            return {"state": new, "prev": prev.name, "gate": gate.name, "gate_biases": biases, "block": J,
                    "text": show(J), "is_diag_gate": True, "bound": sb.blocks[(new, prev.name)].expr,
                    "matrix": sb.matrix()}
    raise DerivationError(f"model {model.name!r}: no state s with d s(t)/d s(t-1) = diag(gate) "
                          f"(derived blocks: {'; '.join(sb.jacobian.lines())})")


# ---------------------------------------------------------------------------------------
# 7. Skip connections of delay d
# ---------------------------------------------------------------------------------------

def skip_path_bound(model: Model) -> dict:
    """For a model whose first state h(t) reads h(t-d) through a delay line of
    d - 1 copied states (:mod:`derive.models.skip`): the matrix B of derived block
    bounds (beta_1 on the one-step edge h(t-1) -> h(t), beta_d on the skip edge,
    1 on each copy).  With the one-step edge removed B^d equals beta_d I (SymPy),
    so the shortest path from h(t-tau) to h(t) (tau/d skip edges) is bounded by
    beta_d^(tau/d); the general growth rate is the largest root of the
    characteristic polynomial of B."""
    sb = step_bound(model)
    B = sb.matrix()
    names = sb.names
    d = len(names)
    copies = all(B[i, k] == (1 if k == i - 1 else 0) for i in range(1, d) for k in range(d))
    skips = [k for k in range(1, d) if B[0, k] != 0]
    if d < 2 or not copies or skips != [d - 1]:
        raise DerivationError(f"model {model.name!r}: expected {names[0][0]} and a delay line of copies with "
                              f"one skip edge from its last state, got block bounds {B.tolist()}")
    j = d - 1
    one_step = sb.blocks[(names[0][0], names[0][1])]
    skip = sb.blocks[(names[0][0], names[j][1])]
    b1, bd = one_step.expr, skip.expr
    only_skip = B.xreplace({s: 0 for s, _ in one_step.sigmas})
    Bd = sp.simplify(only_skip ** d)
    power_is_scaled_identity = sp.simplify(Bd - bd * sp.eye(d)) == sp.zeros(d, d)
    lam = sp.Symbol("lambda")
    charpoly = sp.factor(B.charpoly(lam).as_expr())
    return {"B": B, "B_d_only_skip": Bd, "power_is_scaled_identity": bool(power_is_scaled_identity),
            "beta_1": b1, "beta_d": bd, "charpoly": charpoly, "d": d,
            "one_step_params": tuple(p for _, p in one_step.sigmas), "delay_params": tuple(p for _, p in skip.sigmas),
            "text": (f"shortest path (tau/d skip edges): ||d h(t)/d h(t-tau)||_2 <= ({bd})^(tau/{d}) "
                     f"for d | tau; per-step rate ({bd})^(1/{d}). All paths: ||.|| <= (B^tau)[h, h] "
                     f"with B = {B.tolist()}, growth rate the largest root of {charpoly} = 0.")}


# ---------------------------------------------------------------------------------------
# 8. Gradient clipping
# ---------------------------------------------------------------------------------------

def prove_clipping(max_size: int = 4) -> dict:
    """``g <- g v / ||g||`` when ``||g|| > v``: the new norm is ``min(||g||, v)``
    and the direction is kept, by SymPy for explicit sizes 1..max_size and for
    symbolic size (with ``N = ||g||`` and homogeneity ``||c g|| = |c| ||g||``)."""
    v = sp.Symbol("v", positive=True)
    ok_norm, ok_dir = [], []
    for n in range(1, max_size + 1):
        g = sp.Matrix(sp.symbols(f"g1:{n + 1}", real=True))
        norm = sp.sqrt(sum(x ** 2 for x in g))
        clipped = g * v / norm
        new = sp.sqrt(sp.simplify(sum(x ** 2 for x in clipped)))
        ok_norm.append(sp.simplify(new - v) == 0)
        cosine = sp.simplify((clipped.T * g)[0] / (new * norm))
        ok_dir.append(cosine == 1)
    N = sp.Symbol("N", positive=True)                    # ||g|| > v > 0
    scale = v / N
    homogeneous = sp.Abs(scale) * N
    symbolic = sp.simplify(homogeneous - v) == 0
    # min(||g||, v) = v exactly when ||g|| > v: N = v + e with e > 0
    e = sp.Symbol("e", positive=True)
    is_min = sp.Min(v + e, v) == v
    return {"norm_is_v": all(ok_norm), "direction_kept": all(ok_dir), "symbolic_size": bool(symbolic),
            "min": bool(is_min), "sizes": max_size, "scale_positive": bool(scale.is_positive),
            "text": ("if ||g|| > v: g' = (v/||g||) g has ||g'|| = (v/||g||) ||g|| = v = min(||g||, v) and "
                     "the same direction (a positive multiple of g, cosine 1); if ||g|| <= v, g is unchanged "
                     "and ||g|| = min(||g||, v).")}
