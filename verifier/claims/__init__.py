"""Claims: what the course notes say about gradients, decay and initialisation, decided.

A claim is a statement the course notes make, e.g. ``grad_o[t] == yhat[t] - y[t]``
or "f = tanh or sigmoid so f' < 1", kept as data in ``verifier/claims/catalogue/*.toml``
(one file per seed file).  A claim never computes anything: the checker
evaluates it with the *true* values of every quantity it names and decides it.

Kinds
-----
Each claim has a ``kind`` (default ``"identity"``); each kind is one decision
procedure, and each can fail (``tests/test_claims_identity.py``,
``tests/test_claims_scalar.py`` and ``tests/test_claims_sample.py`` flip a verdict for
each by mutating a claim):

``identity``
    ``lhs == rhs`` (or a chain) about one model's unrolled computation:
    forward values, BPTT gradients from the derivation, Jacobians.  Decided by
    an identity test at ``points`` random rational points with ``digits``
    significant digits at small sizes, then in float64 at larger sizes against
    a 30-digit reference (tolerance ``50 eps (1 + magnitude)``).  At the
    random points a Jacobian is the derivative of the unrolled composite,
    independent of the chain rule: the complex step at ``digits + 10`` digits
    (step ``10^-(digits/2)``, no subtraction, so exact to the working
    precision), or SymPy's derivative of the composite for a model that is
    not analytic (ReLU); at the float64 point it is carried forward step by
    step, SymPy differentiating each equation (forward mode).
``scalar``
    a statement about functions of one real variable ``z`` (activations and
    their derivatives): ``dtanh(z) < 1`` (for every real ``z``, or those the
    ``for`` field allows, e.g. ``for = "z > 0"``), ``sup(dsigmoid(z)) <
    sup(dtanh(z))``.  Decided exactly by SymPy (:mod:`derive.extrema`): suprema and infima from the
    critical points (``solveset``, or the real roots of a polynomial in
    ``u = exp(z)``), the values at the ends of each piece of a piecewise
    function and the limits at its open ends; a strict inequality whose
    supremum is attained fails at the point where it is attained.
``sample``
    an inequality between scalars about random draws of a model's weights and
    inputs (random initialisation, echo-state scaling): ``norm2(W) < 1``,
    ``frac(abs(W) < 1) > 1/2``.  Decided by measurement: ``trials`` seeded
    draws (NumPy ``default_rng([seed, crc32(id), part, trial])``), the
    model's forward pass in float64 (:mod:`numeric.interpret`), Jacobians by
    the complex step (of states and outputs with respect to states and
    inputs); it holds when no case violates it, and the evidence gives
    the cases tried, the range of each side and the largest ratio.  Measured
    in float64, sides within ``1e-12 (|lhs| + |rhs|)`` of each other count as
    equal, so ``<`` and ``<=`` differ only beyond rounding.

Parts and verdicts
------------------
A claim is one ``statement`` or several ``[[claim.part]]`` tables, each with a
``reading`` (which case or which reading of the notes it is: "f = tanh",
"numerator layout") and its own ``statement``; a part may override ``model``,
``for``, ``given`` and ``draw``.  Each part is decided on its own.  The claim's
verdict is ``holds`` when every part holds, ``fails`` when every part fails, and
``partial`` (holds only in part) when some hold and some fail; ``undecided``
when a part cannot be decided.  A part with ``aside = true`` is decided and
reported in the evidence but does not count: it says how a formula fares under
another layout convention or another naming of the matrices, or with a typo
corrected.  A claim's ``expect`` is the verdict the catalogue expects (holds,
fails or partial); the result's status is ``pass`` when the verdict is the
expected one, so a seed's own error is reported without failing the run.

The expression grammar (identity and sample claims)
---------------------------------------------------
A formula is a Python-like expression read by the lark grammar
``verifier/claims/grammar.lark`` (:mod:`.grammar`) into the nodes of :mod:`.nodes`;
nothing is ever evaluated by Python or by SymPy's parser.  What a formula may say:

* names from the model's vocabulary.  For ``rnn``: per-step ``x a h o yhat y``
  (``y`` one-hot, ``yhat = softmax(o)``, an alias the model declares), parameters ``U W b V c``, the initial
  state ``h0``, and ``grad_<name>``, the TOTAL derivative of the summed loss
  with respect to ``<name>``: per step ``grad_x grad_a grad_h grad_o``,
  constant ``grad_U grad_W grad_b grad_V grad_c grad_h0``;
* time indices on per-step names, ``h[t]``, ``h[t-1]``, ``grad_h[t+1]``,
  ``h[tau]``, ``o[1]``: integer arithmetic with ``+ -`` on the index variables
  ``t k i j``, ``tau`` and integer literals.  Indices run over ``1..tau``;
  ``h[0]`` is ``h0`` and ``grad_h[0]`` is ``grad_h0``;
* integer literals and rational constants ``1/4``; ``+ - *`` (``*`` and a
  scalar ``+``/``-`` act elementwise), ``@``, ``.T``, ``**`` with an integer
  literal or an index expression as exponent (elementwise);
* functions: ``diag(v)``; elementwise ``tanh sigmoid relu abs`` and the
  derivatives ``dtanh dsigmoid drelu`` (SymPy's derivatives of the activations
  of :data:`derive.spec.ACTIVATIONS`, never typed in); ``softmax(v)``;
  ``ones(n)`` and ``eye(n)`` (``n`` a size name); ``vec(M)`` (columns stacked);
  ``norm2(M)`` (largest singular value) and ``rho(M)`` (spectral radius), both
  scalars; ``dominance(M)`` (``min_i |M_ii| - sum_{j != i} |M_ij|``: >= 0 when
  ``M`` is diagonally dominant by rows); ``mpow(M, e)`` (matrix power,
  ``e`` an index expression >= 0); ``frac(A < B)`` (the fraction of entries
  where an elementwise comparison holds; sample claims);
* calculus, in numerator layout (rows follow the numerator):
  ``jac(A[i], B[j])`` is the Jacobian of the per-step quantity ``A`` at step
  ``i`` with respect to the state or input ``B`` at step ``j`` (``B[0]`` is the
  initial state), through every path of the unrolled forward pass (``B`` is
  made a free variable where it is computed and everything after it is
  recomputed); ``jac(A[i], P)`` is the total Jacobian with respect to the
  parameter ``P`` (``vec(P)``, columns stacked) and ``pjac(A[i], P)`` the
  immediate one (the previous states held fixed); ``grad(L[t], X)`` is the
  gradient (shaped like ``X``) of the loss of step ``t`` alone with respect to
  a parameter, an initial state or a per-step quantity ``X[k]``, from the
  derivation run backwards with the other steps' losses masked
  (``grad(L, X)`` is the total ``grad_X``);
* binders: ``sum_t(e)`` (t = 1..tau), ``max_t(e)`` (of a scalar),
  ``sum(k, lo, hi, e)`` (k = lo..hi) and ``prod(j, first, last, e)``, the matrix
  product with its factors in the order written: ``j = first`` leftmost,
  stepping by +1 or -1 to ``j = last``;
* a statement is ``lhs == rhs`` (identity; a chain compares every side with
  the first) or one comparison ``< <= >= >`` of two scalars (sample).  Free
  index variables must hold for every value (t in 1..tau, the others in
  0..tau), narrowed by ``for``, e.g. ``for = "0 <= k < t"``;
* ``define`` names helper quantities so that the statement reads like the
  notes: ``define = { "H[t]" = "diag(1 - h[t]**2)" }`` (per step, the key's
  index is the parameter) or ``{ S = "sum_t(h[t])" }`` (constant);
* ``given`` (identity) fixes quantities before the run: ``given = { b =
  "zeros()", W = "identity()" }`` (``zeros() ones() identity() full(c)``);
  ``draw`` (sample) says how to draw them: ``normal(mu, sigma)``,
  ``uniform(lo, hi)``, ``glorot()``, ``orthogonal()``, ``radius(D, r)`` and
  ``norm(D, s)`` (a draw rescaled to spectral radius ``r`` or spectral norm
  ``s``) and the deterministic ones.  Parameters not given keep their random
  values (identity) or are drawn by the model's initialiser (sample, as
  ``init_params`` of the generated module draws them); inputs are standard
  normal and initial states zero in sample claims.

The scalar grammar
------------------
Expressions in the real variable ``z``: integer literals, ``+ - * / **``,
``tanh sigmoid relu exp log abs`` and ``dtanh dsigmoid drelu``, and
``sup(e) inf(e)`` (over z in the domain) and ``max(e) min(e)`` (the same, but
only when attained).  ``relu`` is SymPy's ``Max(0, z)``; its derivative is
``Heaviside(z)`` with SymPy's value 1/2 at the kink.

Anything outside the grammars raises :class:`~derive.errors.ClaimSyntaxError`
naming ``file:line`` of the field in the TOML file, the offending token and its
column in the formula.

Modules
-------
:mod:`.nodes` (the AST), :mod:`.grammar` (lark), :mod:`.source` (locations and
errors), :mod:`.loader` (tomlkit), :mod:`.vocabulary`, :mod:`.walker` and
:mod:`.backends` (the meaning of a formula), :mod:`.draws`, one decider per kind
(:mod:`.identity`, :mod:`.scalar`, :mod:`.sample`) and :mod:`.verdicts`.
"""
from __future__ import annotations

import time
from pathlib import Path

from derive.errors import DeriveError

from verifier.claims import identity, loader, sample, scalar
from verifier.claims.claim import KINDS, VERDICTS, Claim, Part
from verifier.claims.verdicts import ClaimResult, error_result, result
from verifier.claims.vocabulary import FUNCTIONS, Vocabulary, vocabulary

__all__ = ["Claim", "ClaimResult", "Part", "Vocabulary", "catalogue", "check", "load", "vocabulary", "CLAIMS_DIR",
           "KINDS", "VERDICTS", "FUNCTIONS"]

CLAIMS_DIR = Path(__file__).resolve().parent / "catalogue"


def load(path) -> list:
    """The claims of one TOML file (``[[claim]]`` tables), in file order."""
    return loader.load(path)


def catalogue(directory=None) -> list:
    """Every claim of every ``*.toml`` file in ``directory`` (default :data:`CLAIMS_DIR`), sorted by id."""
    return loader.catalogue(CLAIMS_DIR if directory is None else directory)


def check(claim: Claim, *, sizes=(2, 3, 2), tau=3, seed=0, digits=60, points=3,
          float_sizes=(5, 4, 3), float_tau=6, trials=None) -> ClaimResult:
    """Decide ``claim``: each part by its kind's procedure, then the verdict over the parts.

    A claim that cannot be decided for a reason the project knows (a time index beyond
    the ``tau`` it is checked at, a function SymPy finds no critical points of) is an
    ``undecided`` result with status ``error`` and the error as evidence."""
    start = time.perf_counter()
    try:
        outcomes = []
        for part in claim.parts:
            if claim.kind == "identity":
                outcomes.append(identity.decide(claim, part, sizes=sizes, tau=tau, seed=seed, digits=digits,
                                                points=points, float_sizes=float_sizes, float_tau=float_tau))
            elif claim.kind == "sample":
                outcomes.append(sample.decide(claim, part, seed=seed, trials=trials))
            else:
                outcomes.append(scalar.decide(claim, part))
    except DeriveError as e:
        return error_result(claim, e, time.perf_counter() - start)
    return result(claim, outcomes, time.perf_counter() - start)
