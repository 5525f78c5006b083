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
