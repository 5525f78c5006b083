"""The project's one exception hierarchy: one class per kind of failure.

Every error the project raises on purpose is a :class:`DeriveError`, so a caller
can catch them all, and each kind can be told apart:

    DeriveError
    ├── SpecError            a forward spec that is not well formed (ValueError)
    ├── UnknownModel         a model name not in the registry (ValueError)
    ├── DerivationError      the derivation cannot differentiate a node of a spec
    ├── CodegenError         the printer cannot print an expression as NumPy code
    ├── ProofError           a derived quantity disagrees with brute force
    ├── UnsupportedNode      the interpreter cannot evaluate a node (TypeError)
    ├── InputError           data given to a model does not fit its spec (ValueError)
    ├── GradientMismatch     a gradient disagrees with the oracles (AssertionError)
    ├── UserCodeError        a user's file for `verify` or its output cannot be used
    └── ClaimSyntaxError     a claim or a formula of the notes outside the grammar (ValueError)

The standard base classes in parentheses keep ``except ValueError`` working for
callers that know nothing of this module.  This module imports nothing, so the
runtime of the generated code can raise these without loading SymPy.
"""


class DeriveError(Exception):
    """Base class of the project's errors."""


class SpecError(DeriveError, ValueError):
    """A forward spec is not well formed (an undefined symbol, shapes that disagree)."""


class UnknownModel(DeriveError, ValueError):
    """A model name that is not in the registry; the message lists the known ones."""


class DerivationError(DeriveError):
    """A forward spec uses something the derivation engine cannot differentiate."""


class CodegenError(DeriveError):
    """The printer met an expression it cannot print as NumPy code."""


class ProofError(DeriveError):
    """A derived quantity disagrees with brute-force differentiation."""


class UnsupportedNode(DeriveError, TypeError):
    """The interpreter met a SymPy node (or a use of one) it cannot evaluate."""

    def __init__(self, node, reason: str = "no evaluation rule for this node"):
        self.node = node
        super().__init__(f"cannot interpret {type(node).__name__} node {node}: {reason}")


class InputError(DeriveError, ValueError):
    """Arrays given to a model (generated code or interpreter) do not fit its spec;
    the message names the argument and the expected shape, dtype or range."""


class GradientMismatch(DeriveError, AssertionError):
    """A gradient disagrees with the oracles beyond the error model's allowance.

    ``results`` holds the failing check records (what, where, how much, the seed)."""

    def __init__(self, message: str, results=()):
        super().__init__(message)
        self.results = tuple(results)


class UserCodeError(DeriveError):
    """A user's file given to ``verify`` cannot be used: it is not a readable Python file,
    importing or calling it fails, times out or ends its process, or what it returns is
    not a (loss, grads) pair of the expected types, dtypes, keys and shapes (exit 2)."""


class ClaimSyntaxError(DeriveError, ValueError):
    """A claim formula is not in the claims grammar; the message names file:line."""
