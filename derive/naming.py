"""Every name the derivation and the generated code invent, in one place."""


def adjoint(name: str) -> str:
    """Total derivative of the loss with respect to ``name``: ``dL_dW``."""
    return f"dL_d{name}"


def direct(name: str) -> str:
    """The part of ``dL_d<name>`` that flows through the same step's outputs."""
    return f"dL_d{name}_direct"


def carry(state: str) -> str:
    """``dL/d state(t)`` through step t+1, handed back to step t (zero after the last step)."""
    return f"dL_d{state}_carry"


def hoisted(name: str) -> str:
    """The part of ``name``'s right side that does not depend on the state."""
    return f"{name}_in"


def initial(state: str) -> str:
    """The initial value of a state: ``h0``."""
    return f"{state}0"


def previous(state: str) -> str:
    """The spec's symbol for the state of the step before: ``h_prev``."""
    return f"{state}_prev"


def preactivation(name: str) -> str:
    """The argument of an activation that is a whole equation: ``g = sigmoid(a_g)``."""
    return f"a_{name}"


def applied(function: str, arg: str) -> str:
    """An activation applied inside a larger right side: ``tanh_s`` in ``h = q ⊙ tanh_s``."""
    return f"{function}_{arg}"


def operand(name: str, k: int) -> str:
    """The k-th compound operand of an elementwise product in equation ``name``."""
    return f"{name}_{k}"


# -- names of the generated code (derive/codegen/passes.py) ------------------------------------
def adjoint_of(name: str):
    """The name whose adjoint ``name`` is (``dL_da_q`` -> ``a_q``), or None."""
    return name[len("dL_d"):] if name.startswith("dL_d") else None


def projections(vector: str) -> str:
    """The input projections ``U_k x(t) + b_k`` of every step, stacked: ``proj_x``."""
    return f"proj_{vector}"


def stack(vector: str) -> str:
    """The matrices that multiply ``vector`` in the time loop, stacked by rows: ``W_h_prev_stack``."""
    return f"W_{vector}_stack"


def stack_adjoint(vector: str) -> str:
    """The adjoints of the stacked products ``W_k vector``, one array: ``dL_dh_prev_stack``."""
    return f"dL_d{vector}_stack"


def product(matrix: str, vector: str) -> str:
    """One block of a stacked product: ``W_r_h_prev`` = ``W_r h_prev``."""
    return f"{matrix}_{vector}"


def local_derivative(of: str, wrt: str) -> str:
    """A local derivative computed for all steps before the backward loop: ``dh_da``."""
    return f"d{of}_d{wrt}"
