"""One exception class per kind of failure, so that callers can tell them apart."""


class DeriveError(Exception):
    """Base class of the project's errors."""


class DerivationError(DeriveError):
    """A forward spec uses something the derivation engine cannot differentiate."""


class CodegenError(DeriveError):
    """The printer met an expression it cannot print as NumPy code."""


class ProofError(DeriveError):
    """A derived quantity disagrees with brute-force differentiation."""


class ClaimSyntaxError(DeriveError, ValueError):
    """A claim formula is not in the claims grammar; the message names file:line."""
