"""Named rewrites of a derivation into the program the generated module runs.

:func:`lower` turns a :class:`~derive.adjoint.Derivation` into a :class:`Plan`:
statements (:class:`Stmt`, ``targets = rhs`` with a SymPy matrix expression) in
the sections of the generated code, in the order they run.  :data:`PASSES`
rewrite the plan, each a small function ``Plan -> Plan``:

* :func:`hoist_input_projections` -- the input projections of every step, one
  matrix product before the time loop;
* :func:`stack_gates` -- every matrix that multiplies the same vector in the loop
  becomes one stacked product per step, forwards and in the carried adjoint;
* :func:`fuse_softmax` -- logsumexp and softmax of the same logits from one exp
  pass, labels by index (never one-hot);
* :func:`fold_forward_only_factors` -- local derivatives that read forward values
  only, computed for all steps before the backward loop;
* :func:`prune` -- aliases renamed, dead statements dropped.

The passes change how the derivation is computed, never what: the derivation
itself is not modified, and no pass reads or writes code text.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import sympy as sp
from sympy import HadamardProduct, MatAdd, MatMul, MatrixSymbol, Transpose, ZeroMatrix
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from derive import naming
from derive.adjoint import Derivation
from derive.spec import LogSumExp, Softmax
from derive.codegen.printer import (LogSumExpSoftmax, MinusOneHot, OneHot, Pick, RowStack, Summed,
                                    Total, ZerosLike)

#: the sections of a plan, in the order the generated code runs them
SECTIONS = ("setup", "forward_pre", "forward_loop", "forward_post", "loss", "factors",
            "backward_loop", "backward_after", "gradients")
FORWARD = ("forward_pre", "forward_loop", "forward_post")
BACKWARD = ("loss", "factors", "backward_loop", "backward_after", "gradients")


@dataclass(frozen=True)
class Stmt:
    """``targets = rhs``.  Several targets: views (or blocks) of ``rhs`` along ``axis``,
    or, with ``axis`` None, the values of a node that gives several (a pair)."""

    targets: tuple
    rhs: sp.Basic
    sources: tuple = ()       # the forward equations it comes from (a comment)
    note: str = ""            # what a pass made of it (a comment)
    axis: int = None

    @property
    def names(self) -> tuple:
        return tuple(t.name for t in self.targets)

    @property
    def reads(self) -> frozenset:
        return frozenset(s.name for s in self.rhs.atoms(MatrixSymbol))


@dataclass(frozen=True)
class Plan:
    """A derivation as the generated module computes it (see :data:`SECTIONS`)."""

    derivation: Derivation
    constants: frozenset      # names without a batch axis: parameters, stacked parameters
    setup: tuple = ()         # loop-invariant arrays, once per call (stacked weights)
    forward_pre: tuple = ()   # all steps at once, before the forward loop
    forward_loop: tuple = ()  # one step of the forward loop
    forward_post: tuple = ()  # all steps at once, after it
    loss: tuple = ()          # the loss and the adjoints of all steps before the backward loop
    factors: tuple = ()       # local derivatives for all steps, before the backward loop
    backward_loop: tuple = () # one step of the backward loop (last step first); carries last
    backward_after: tuple = ()
    gradients: tuple = ()
    grads: tuple = ()         # (variable, symbol holding its gradient), in GRADS order
    stored: frozenset = frozenset()   # loop values kept for every step, (tau, B, r)
    buffers: tuple = ()       # (array, its views): one (tau, B, rows) array filled block by block
    carries: frozenset = frozenset()  # adjoints handed from step t+1 to step t

    def replace(self, **changes) -> "Plan":
        return dataclasses.replace(self, **changes)

    def statements(self, sections=SECTIONS):
        return [st for s in sections for st in getattr(self, s)]

    def defined(self, sections=SECTIONS) -> set:
        return {n for st in self.statements(sections) for n in st.names}

    @property
    def views(self) -> dict:
        """view name -> the array it is a block of."""
        return {g.name: G.name for G, views in self.buffers for g in views}


def _sources(text: str) -> tuple:
    return tuple(s for s in text.split("; ") if s)


def _merge(*tuples) -> tuple:
    return tuple(dict.fromkeys(x for t in tuples for x in t))


def _substitute(plan: Plan, mapping: dict, sections=SECTIONS) -> Plan:
    return plan.replace(**{s: tuple(dataclasses.replace(st, rhs=st.rhs.xreplace(mapping))
                                    for st in getattr(plan, s)) for s in sections})


def _fresh(name: str, taken: set) -> str:
    out, k = name, 1
    while out in taken:
        k += 1
        out = f"{name}_{k}"
    return out


# -- lowering -------------------------------------------------------------------------------------
def lower(d: Derivation) -> Plan:
    """The derivation's assignments as statements, phase by phase (see :mod:`derive.adjoint`)."""
    M = d.model

    def stmts(assigns, phase):
        return tuple(Stmt((a.lhs,), a.rhs, _sources(a.source)) for a in assigns if a.phase == phase)

    order = {"param": 0, "initial": 1, "input": 2}
    gradients, grads = [], []
    for g in sorted(d.gradients, key=lambda g: order[g.kind]):
        if isinstance(g.rhs, ZeroMatrix):
            rhs = ZerosLike(g.wrt)
        else:
            rhs = Summed(g.rhs) if g.kind == "param" else g.rhs
        gradients.append(Stmt((g.lhs,), rhs, g.sources))
        grads.append((g.wrt.name, g.lhs))
    loss = Stmt((MatrixSymbol("loss", 1, 1),), Total(M.loss), (M.loss_text,))
    carries = tuple(Stmt((c.lhs,), c.rhs, _sources(c.source)) for c in d.carries)
    return Plan(
        derivation=d,
        constants=frozenset(p.name for p in M.params),
        forward_pre=stmts(d.forward, "pre"),
        forward_loop=stmts(d.forward, "loop"),
        forward_post=stmts(d.forward, "post"),
        loss=(loss, *stmts(d.backward, "post")),
        backward_loop=stmts(d.backward, "loop") + carries,
        backward_after=stmts(d.backward, "pre"),
        gradients=tuple(gradients),
        grads=tuple(grads),
        stored=frozenset(a.name for a in (*d.forward, *d.backward) if a.stored),
        carries=frozenset(c.name for c in d.carries),
    )


# -- input projections ----------------------------------------------------------------------------
def _projection(st: Stmt, plan: Plan):
    """``(x, U, b or None)`` when ``st`` is ``a_in = U x (+ b)`` for a per-step input x."""
    inputs = {x.name for x in plan.derivation.model.inputs}
    if len(st.targets) != 1:
        return None
    terms = st.rhs.args if isinstance(st.rhs, MatAdd) else (st.rhs,)
    products = [t for t in terms if isinstance(t, MatMul) and len(t.args) == 2
                and all(isinstance(a, MatrixSymbol) for a in t.args)
                and t.args[0].name in plan.constants and t.args[1].name in inputs]
    biases = [t for t in terms if isinstance(t, MatrixSymbol) and t.name in plan.constants]
    if len(products) != 1 or len(terms) != 1 + len(biases) or len(biases) > 1:
        return None
    U, x = products[0].args
    return x, U, (biases[0] if biases else None)


def _project(members: list, plan: Plan, taken: set) -> list:
    """Statements computing the projections ``members`` (statements ``a_k_in = U_k x + b_k``
    with one x, all with or all without a bias) for all steps: one stacked product
    ``X = x @ [U_1; ...].T + [b_1; ...]`` and the views ``a_k_in`` of X."""
    if len(members) <= 1:
        return list(members)
    forms = [_projection(st, plan) for st in members]
    x = forms[0][0]
    U = RowStack(*(U for _, U, _ in forms))
    X = MatrixSymbol(_fresh(naming.projections(x.name), taken), U.shape[0], 1)
    taken.add(X.name)
    rhs = MatMul(U, x)
    if forms[0][2] is not None:
        rhs = MatAdd(rhs, RowStack(*(b for _, _, b in forms)))
    terms = ", ".join(f"{U.name} {x.name}(t)" + (f" + {b.name}" if b is not None else "")
                      for _, U, b in forms)
    return [Stmt((X,), rhs, _merge(*(st.sources for st in members)),
                 f"{terms} for all steps: one matrix product"),
            Stmt(tuple(st.targets[0] for st in members), X, axis=-1)]


def hoist_input_projections(plan: Plan) -> Plan:
    """The input projections ``a_k_in = U_k x(t) + b_k`` (the state-free parts that
    :func:`derive.adjoint._hoist` splits off and gives the ``pre`` phase) of every
    step, stacked: one matrix product per input before the time loop,
    ``x @ [U_1; U_2; ...].T + [b_1; b_2; ...]``, whose column blocks are the ``a_k_in``."""
    groups: dict = {}
    rest = []
    for st in plan.forward_pre:
        form = _projection(st, plan)
        if form is None:
            rest.append(st)
        else:
            groups.setdefault((form[0].name, form[2] is None), []).append(st)
    taken = plan.defined() | plan.constants
    out = [s for members in groups.values() for s in _project(members, plan, taken)]
    return plan.replace(forward_pre=tuple(out + rest))


# -- stacked gates --------------------------------------------------------------------------------
def _shared_vectors(plan: Plan) -> dict:
    """vector -> the parameters ``P`` of the products ``P v`` in the forward loop, when
    two or more multiply the same ``v``."""
    groups: dict = {}
    for st in plan.forward_loop:
        for node in sp.preorder_traversal(st.rhs):
            if isinstance(node, MatMul) and len(node.args) == 2 \
                    and all(isinstance(a, MatrixSymbol) for a in node.args) \
                    and node.args[0].name in plan.constants and node.args[1].name not in plan.constants:
                members = groups.setdefault(node.args[1], [])
                if node.args[0] not in members:
                    members.append(node.args[0])
    return {v: tuple(Ps) for v, Ps in groups.items() if len(Ps) > 1}


def _gate_members(plan: Plan, v, Ps):
    """``[(a_k = P_k v + a_k_in, a_k_in = U_k x + b_k), ...]``, one per ``P_k``, when every
    ``a_k_in`` is an input projection (one input, all with or all without a bias), else None."""
    found = []
    for P in Ps:
        product, hit = MatMul(P, v), None
        for st in plan.forward_loop:
            if len(st.targets) != 1 or not isinstance(st.rhs, MatAdd) or len(st.rhs.args) != 2 \
                    or product not in st.rhs.args:
                continue
            other = next(a for a in st.rhs.args if a != product)
            a = next((a for a in plan.derivation.forward if a.lhs == other and a.phase == "pre"), None)
            if a is not None:
                projection = Stmt((a.lhs,), a.rhs, _sources(a.source))
                if _projection(projection, plan) is not None:
                    hit = (st, projection)
        if hit is None:
            return None
        found.append(hit)
    forms = [_projection(p, plan) for _, p in found]
    return found if len({(x.name, b is None) for x, _, b in forms}) == 1 else None


def _fuse_gates(plan: Plan, v, Ps, S):
    """``a_k = P_k v + a_k_in`` for every k: the pre-activations of all gates as one
    array per step, ``v @ S.T + X[t]``, where X stacks the projections ``a_k_in`` in
    the same order (taken out of the stacks :func:`hoist_input_projections` made,
    which are rebuilt without them).  None when the gates do not have that form."""
    members = _gate_members(plan, v, Ps)
    if members is None:
        return None
    mine = {p.names[0] for _, p in members}
    regroup = [st for st in plan.forward_pre if st.axis is not None and mine & set(st.names)]
    dropped = mine | {st.rhs.name for st in regroup}
    kept = [st for st in plan.forward_pre if st not in regroup and not set(st.names) & dropped]
    taken = (plan.defined() - dropped) | plan.constants
    pre = _project([p for _, p in members], plan, taken)
    for st in regroup:
        others = [plan.derivation.assign(n) for n in st.names if n not in mine]
        pre += _project([Stmt((a.lhs,), a.rhs, _sources(a.source)) for a in others], plan, taken)
    targets = tuple(st.targets[0] for st, _ in members)
    fused = Stmt(targets, MatAdd(MatMul(S, v), pre[0].targets[0]),
                 _merge(*(st.sources for st, _ in members)),
                 f"{', '.join(t.name for t in targets)}: the pre-activations of every gate, "
                 "one matrix product", axis=-1)
    loop = [st for st in plan.forward_loop if all(st is not m for m, _ in members)]
    loop.insert(min(plan.forward_loop.index(m) for m, _ in members), fused)
    return plan.replace(forward_pre=tuple(pre + kept), forward_loop=tuple(loop))


def _split_products(plan: Plan, v, Ps, S) -> Plan:
    """``P_k v`` for every k from one product ``v @ S.T`` per step, split into blocks."""
    names = {MatMul(P, v): MatrixSymbol(naming.product(P.name, v.name), P.shape[0], 1) for P in Ps}
    stmt = Stmt(tuple(names.values()), MatMul(S, v),
                note=f"{', '.join(f'{P.name} {v.name}' for P in Ps)}: one matrix product", axis=-1)
    loop = [dataclasses.replace(st, rhs=st.rhs.xreplace(names)) for st in plan.forward_loop]
    first = next(i for i, st in enumerate(loop) if st.reads & {s.name for s in names.values()})
    loop.insert(first, stmt)
    return plan.replace(forward_loop=tuple(loop))


def _stack_adjoints(plan: Plan, v, Ps, S) -> Plan:
    """The carried adjoint's terms ``P_1^T g_1 + ... + P_k^T g_k`` as one product per step,
    ``G[t] @ S``, with the ``g_k`` views of one array G; and the gradients that read
    every ``g_k`` the same way as one product (``sum_outer(G, v)`` split by rows)."""
    views = plan.views
    loop = list(plan.backward_loop)
    for i, st in enumerate(loop):
        if not isinstance(st.rhs, MatAdd):
            continue
        terms = {}
        for term in st.rhs.args:
            if isinstance(term, MatMul) and len(term.args) == 2 and isinstance(term.args[0], Transpose) \
                    and term.args[0].arg in Ps and isinstance(term.args[1], MatrixSymbol):
                terms[term.args[0].arg] = term
        gs = tuple(terms[P].args[1] for P in Ps if P in terms)
        if len(gs) != len(Ps) or len(set(gs)) != len(gs) \
                or not all(g.name in plan.stored and g.name not in views for g in gs):
            continue
        G = MatrixSymbol(naming.stack_adjoint(v.name), S.shape[0], 1)
        rest = [t for t in st.rhs.args if t not in terms.values()]
        loop[i] = dataclasses.replace(
            st, rhs=MatAdd(MatMul(Transpose(S), G), *rest),
            note=f"{' + '.join(f'{P.name}^T {g.name}' for P, g in zip(Ps, gs))}: one matrix "
                 f"product, the adjoints are views of one array {G.name}")
        plan = plan.replace(backward_loop=tuple(loop), buffers=plan.buffers + ((G, gs),))
        return _stack_gradients(plan, G, gs)
    return plan


def _stack_gradients(plan: Plan, G, gs) -> Plan:
    """Gradients that read each of ``gs`` (the views of G) in the same way, as one:
    ``sum(g_k w^T)`` for every k -> ``sum(G w^T)`` split by rows; ``sum(g_k)`` ->
    ``sum(G)`` split; ``Q_1^T g_1 + ... + Q_k^T g_k`` inside a sum -> ``Q^T G``."""
    slot = {g: k for k, g in enumerate(gs)}
    families: dict = {}                   # w (None: a bias) -> {k: statement}
    for st in plan.gradients:
        arg = st.rhs.args[0] if isinstance(st.rhs, Summed) else None
        if arg in slot:
            families.setdefault(None, {})[slot[arg]] = st
        elif isinstance(arg, MatMul) and len(arg.args) == 2 and arg.args[0] in slot \
                and isinstance(arg.args[1], Transpose):
            families.setdefault(arg.args[1].arg, {})[slot[arg.args[0]]] = st
    out = list(plan.gradients)
    for w, members in families.items():
        if len(members) != len(gs):
            continue
        ordered = [members[k] for k in range(len(gs))]
        rhs = Summed(G if w is None else MatMul(G, Transpose(w)))
        names = ", ".join(st.names[0] for st in ordered)
        how = "one sum over steps and examples" if w is None else "one matrix product"
        fused = Stmt(tuple(st.targets[0] for st in ordered), rhs, _merge(*(st.sources for st in ordered)),
                     f"{names}: {how}, split by rows", axis=0)
        first = min(out.index(st) for st in ordered)
        out = [st for st in out if all(st is not m for m in ordered)]
        out.insert(first, fused)
    for i, st in enumerate(out):           # sum_k Q_k^T g_k as one product
        if not isinstance(st.rhs, MatAdd):
            continue
        terms = {}
        for term in st.rhs.args:
            if isinstance(term, MatMul) and len(term.args) == 2 and isinstance(term.args[0], Transpose) \
                    and term.args[1] in slot:
                terms[slot[term.args[1]]] = term
        if len(terms) == len(gs):
            Qs = [terms[k].args[0].arg for k in range(len(gs))]
            rest = [t for t in st.rhs.args if t not in terms.values()]
            stacked = MatMul(Transpose(RowStack(*Qs)), G)
            note = (f"{st.names[0]}: {' + '.join(f'{Q.name}^T {g.name}' for Q, g in zip(Qs, gs))} "
                    "as one matrix product")
            out[i] = dataclasses.replace(st, rhs=MatAdd(stacked, *rest) if rest else stacked, note=note)
    return plan.replace(gradients=tuple(out))


def stack_gates(plan: Plan) -> Plan:
    """Every matrix that multiplies the same vector in the loop (the four LSTM gates'
    ``W_k h(t-1)``) is stacked, ``S = [W_1; W_2; ...]``: one product per step forwards
    (``h_prev @ S.T``, with the gates' input projections added in one go when they are
    stacked the same way) and one in the carried adjoint (``G[t] @ S``)."""
    for v, Ps in _shared_vectors(plan).items():
        S = MatrixSymbol(naming.stack(v.name), sum((P.shape[0] for P in Ps), sp.S.Zero), Ps[0].shape[1])
        plan = plan.replace(
            setup=plan.setup + (Stmt((S,), RowStack(*Ps),
                                     note=f"every matrix that multiplies {v.name} in the loop, stacked"),),
            constants=plan.constants | {S.name})
        plan = _fuse_gates(plan, v, Ps, S) or _split_products(plan, v, Ps, S)
        plan = _stack_adjoints(plan, v, Ps, S)
    return plan


# -- softmax, log-sum-exp and labels -------------------------------------------------------------
def _by_index(e, y):
    """``e`` with the one-hot label ``y`` read by index: ``y^T v`` -> ``Pick(v, y)``,
    ``v - y`` -> ``MinusOneHot(v, y)``; any other use -> ``OneHot(y)``."""
    if e == y:
        return OneHot(y)
    if not isinstance(e, sp.MatrixExpr) or not e.has(y):
        return e
    if isinstance(e, MatAdd):
        minus = [a for a in e.args if isinstance(a, MatMul) and a.args == (-1, y)]
        if minus:
            rest = [_by_index(a, y) for a in e.args if a is not minus[0]]
            return MinusOneHot(MatAdd(*rest) if len(rest) > 1 else rest[0], y)
    if isinstance(e, MatMul):
        coeff, mats = e.as_coeff_matrices()
        if len(mats) == 2 and mats[0] == Transpose(y):
            picked = Pick(_by_index(mats[1], y), y)
            return picked if coeff == 1 else MatMul(coeff, picked)
    return e.func(*(_by_index(a, y) if isinstance(a, sp.MatrixExpr) else a for a in e.args))


def fuse_softmax(plan: Plan) -> Plan:
    """logsumexp(v) and softmax(v) of the same logits from one exp pass
    (``rt.logsumexp_softmax``), and the labels read by index: ``y^T o`` is the logit at
    the label, ``softmax(o) - y`` subtracts one there (in place when nothing else reads
    the softmax), never a one-hot array."""
    nodes = {(type(n), n.arg) for st in plan.loss for n in sp.preorder_traversal(st.rhs)
             if isinstance(n, (LogSumExp, Softmax))}
    shared = sorted((v for T, v in nodes if T is LogSumExp and (Softmax, v) in nodes
                     and isinstance(v, MatrixSymbol)), key=sp.default_sort_key)
    loss = list(plan.loss)
    for v in shared:
        pair = (MatrixSymbol(naming.applied("logsumexp", v.name), 1, 1),
                MatrixSymbol(naming.applied("softmax", v.name), *v.shape))
        mapping = {LogSumExp(v): pair[0], Softmax(v): pair[1]}
        loss = [dataclasses.replace(st, rhs=st.rhs.xreplace(mapping)) for st in loss]
        loss.insert(0, Stmt(pair, LogSumExpSoftmax(v), loss[0].sources,
                            f"logsumexp({v.name}) and softmax({v.name}) from one exp pass"))
    y = plan.derivation.model.label
    plan = plan.replace(loss=tuple(loss))
    plan = plan.replace(**{s: tuple(dataclasses.replace(st, rhs=_by_index(st.rhs, y))
                                    for st in getattr(plan, s)) for s in SECTIONS})
    reads: dict = {}
    for st in plan.statements():
        for n in sp.preorder_traversal(st.rhs):
            if isinstance(n, MatrixSymbol):
                reads[n] = reads.get(n, 0) + 1
    once = {n: MinusOneHot(n.args[0], y, sp.true) for st in plan.statements()
            for n in sp.preorder_traversal(st.rhs)
            if isinstance(n, MinusOneHot) and isinstance(n.args[0], MatrixSymbol)
            and reads[n.args[0]] == 1 and n.args[0].name not in plan.defined(FORWARD)}
    return _substitute(plan, once)


# -- forward-only factors --------------------------------------------------------------------------
def _hadamard_args(e) -> list:
    if isinstance(e, HadamardProduct):
        return [x for a in e.args for x in _hadamard_args(a)]
    return [e]


def _names(e) -> set:
    return {s.name for s in e.atoms(MatrixSymbol)}


def fold_forward_only_factors(plan: Plan) -> Plan:
    """Fewer, larger operations in the backward loop.

    1. An adjoint read once, inside the loop, that is an elementwise product
       (``dL_dq = dL_dh ⊙ tanh_s``) is substituted into its one use.
    2. In every elementwise product, the factors that read forward values only are
       multiplied together for all steps before the loop and named after the local
       derivative they are: ``dL_da_q = dL_dh ⊙ tanh_s ⊙ q (1 - q)`` becomes
       ``dL_da_q = dL_dh ⊙ dh_da_q[t]`` with ``dh_da_q = tanh_s ⊙ q (1 - q)``."""
    d = plan.derivation
    carries = plan.carries
    loop = [st for st in plan.backward_loop if st.names[0] not in carries]
    kept = [st for st in plan.backward_loop if st.names[0] in carries]
    outside = set().union(*(st.reads for st in plan.statements(("backward_after", "gradients"))))
    uses: dict = {}
    for st in plan.backward_loop:
        for n in sp.preorder_traversal(st.rhs):
            if isinstance(n, MatrixSymbol):
                uses[n.name] = uses.get(n.name, 0) + 1
    inline = {st.targets[0]: st.rhs for st in loop if len(st.targets) == 1 and st.axis is None
              and st.names[0] not in plan.stored and uses.get(st.names[0]) == 1
              and st.names[0] not in outside and isinstance(st.rhs, HadamardProduct)}

    def substitute(e):
        while e.atoms(MatrixSymbol) & set(inline):
            e = e.xreplace(inline)
        return e

    forward = plan.defined(FORWARD)
    stored = ({n for n in forward if n in plan.stored}
              | plan.defined(("forward_pre", "forward_post")) | {p.name for p, *_ in d.states})
    producers = {}
    for a in d.forward:
        if isinstance(a.rhs, ElementwiseApplyFunction) and isinstance(a.rhs.expr, MatrixSymbol):
            producers.setdefault(a.name, (a.name, a.rhs.expr.name))
            producers.setdefault(a.rhs.expr.name, (a.name, a.rhs.expr.name))
    factors, by_expr = {}, {}
    taken = plan.defined() | plan.constants

    def forward_only(e):
        return bool(_names(e)) and _names(e) <= stored | plan.constants

    def name_for(group, adjoint, target):
        key = group[0] if len(group) == 1 else HadamardProduct(*group)
        if key not in by_expr:
            if len(group) == 1 and isinstance(key, ElementwiseApplyFunction) \
                    and getattr(key.expr, "name", None) in producers:
                name = naming.local_derivative(*producers[key.expr.name])
            else:
                name = naming.local_derivative(naming.adjoint_of(adjoint), naming.adjoint_of(target))
            name = _fresh(name, taken | set(factors))
            factors[name] = key
            by_expr[key] = MatrixSymbol(name, *key.shape)
        return by_expr[key]

    def fold(e, target):
        if isinstance(e, HadamardProduct):
            args = _hadamard_args(e)
            fwd = [a for a in args if forward_only(a)]
            rest = [a for a in args if not forward_only(a)]
            per_step = any(_names(a) & stored for a in fwd)     # else it has no time axis
            worth = per_step and (len(fwd) > 1 or (len(fwd) == 1 and not isinstance(fwd[0], MatrixSymbol)))
            if len(rest) == 1 and isinstance(rest[0], MatrixSymbol) and naming.adjoint_of(rest[0].name) \
                    and worth:
                return HadamardProduct(rest[0], name_for(fwd, rest[0].name, target))
            return HadamardProduct(*(fold(a, target) for a in args))
        if isinstance(e, (MatAdd, MatMul)) and e.args:
            return e.func(*(fold(a, target) if isinstance(a, sp.MatrixExpr) else a for a in e.args))
        return e

    new_loop = [dataclasses.replace(st, rhs=fold(substitute(st.rhs), st.names[0]))
                for st in loop if not (len(st.targets) == 1 and st.targets[0] in inline)]
    new_carries = [dataclasses.replace(st, rhs=fold(substitute(st.rhs), st.names[0])) for st in kept]
    note = "local derivatives that read forward values only, for every step before the loop"
    statements = tuple(Stmt((by_expr[key],), key, note=note if i == 0 else "")
                       for i, key in enumerate(factors.values()))
    return plan.replace(factors=plan.factors + statements,
                        backward_loop=tuple(new_loop + new_carries))


# -- aliases and dead statements -----------------------------------------------------------------
def prune(plan: Plan) -> Plan:
    """Rename aliases and drop dead statements.  An adjoint that only repeats another
    (``dL_dh0 = dL_dh_carry``, ``dL_da = dL_dh`` for the identity activation) is not
    copied: its readers read the other.  Inside the backward loop a carried adjoint is
    never renamed either way: it holds step t+1's value until the end of step t.  A statement whose values nobody reads (the
    views of a projection stacked into the gates) is dropped."""
    views = plan.views
    for section in ("backward_loop", "backward_after", "gradients"):
        for st in getattr(plan, section):
            if st.axis is None and len(st.targets) == 1 and isinstance(st.rhs, MatrixSymbol) \
                    and st.names[0] not in views and st.rhs.name not in views \
                    and (section != "backward_loop" or not {st.rhs.name, st.names[0]} & set(plan.carries)):
                target, source = st.targets[0], st.rhs
                stored = plan.stored | ({source.name} if target.name in plan.stored else set())
                plan = _substitute(plan.replace(**{section: tuple(s for s in getattr(plan, section)
                                                                  if s is not st)},
                                                stored=stored - {target.name},
                                                grads=tuple((w, source if g == target else g)
                                                            for w, g in plan.grads)),
                                   {target: source})
                return prune(plan)
    M = plan.derivation.model
    live = ({g.name for _, g in plan.grads} | {"loss"} | set(plan.carries)
            | set(M.state.values()) | set(M.outputs))
    while True:
        reads = set(live)
        for st in plan.statements():
            reads |= st.reads
        reads |= {g.name for G, gs in plan.buffers if G.name in reads for g in gs}
        sections = {s: tuple(st for st in getattr(plan, s) if set(st.names) & reads) for s in SECTIONS}
        if all(sections[s] == getattr(plan, s) for s in SECTIONS):
            return plan
        plan = plan.replace(**sections)


#: the passes, in the order :func:`plan` applies them
PASSES = (hoist_input_projections, stack_gates, fuse_softmax, fold_forward_only_factors, prune)


def plan(d: Derivation, passes=PASSES) -> Plan:
    """The derivation lowered to a :class:`Plan` and rewritten by ``passes``."""
    out = lower(d)
    for rewrite in passes:
        out = rewrite(out)
    return out
