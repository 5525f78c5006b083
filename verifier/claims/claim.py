"""What a claim is once loaded: :class:`Claim` and its :class:`Part` statements."""
from __future__ import annotations

from dataclasses import dataclass, field

from verifier.claims.nodes import Node
from verifier.claims.source import Formula
from verifier.claims.walker import condition_holds

__all__ = ["Claim", "Part", "KINDS", "VERDICTS"]

KINDS = ("identity", "scalar", "sample")
VERDICTS = ("holds", "fails", "partial")


@dataclass(frozen=True)
class Part:
    """One statement of a claim: a case, or one reading of the notes."""

    reading: str
    statement: str
    model: str
    for_t: str | None
    aside: bool
    given: tuple            # ((name, draw text), ...) for identity claims
    draw: tuple             # ((name, draw text), ...) for sample claims
    formula: Formula = field(repr=False, compare=False, default=None)
    for_formula: Formula = field(repr=False, compare=False, default=None)
    free: tuple = ()        # free index variables, in INDEX_VARS order
    index: int = 0

    @property
    def tree(self) -> Node:
        """The statement's tree (:mod:`verifier.claims.nodes`)."""
        return self.formula.tree

    @property
    def free_t(self) -> bool:
        return bool(self.free)

    def assignments(self, tau: int) -> list:
        """Every assignment of the free index variables the statement is claimed for."""
        envs = [{}]
        for v in self.free:
            lo = 1 if v == "t" else 0
            envs = [{**e, v: x} for e in envs for x in range(lo, tau + 1)]
        if self.for_formula is None:
            return envs
        return [e for e in envs if condition_holds(self.for_formula, e, tau)]


@dataclass(frozen=True)
class Claim:
    id: str
    model: str
    seed: str
    section: str
    line: int                   # line of the formula in the seed file
    statement: str              # the statement, or the parts' statements joined by " ; "
    text: str                   # the formula as the seed writes it
    expect: str                 # "holds" | "fails" | "partial"
    notes: str
    define: dict                # name -> expression text, as written
    for_t: str | None           # the TOML ``for`` field
    path: str                   # the TOML file
    toml_line: int              # line of ``id = ...`` in the TOML file
    kind: str = "identity"
    parts: tuple = field(default=(), repr=False, compare=False)
    defines: dict = field(default_factory=dict, repr=False, compare=False)    # name -> walker.Define
    sizes: tuple = ()           # sample claims: ((size name, value), ...)
    tau: int | None = None      # sample claims
    trials: int | None = None   # sample claims

    @property
    def location(self) -> str:
        return f"{self.path}:{self.toml_line}"

    @property
    def source(self) -> str:
        return f'{self.seed}, "{self.section}", line {self.line}'

    # the first part, for claims with one statement
    @property
    def tree(self) -> Node:
        return self.parts[0].tree

    @property
    def formula(self) -> Formula:
        return self.parts[0].formula

    @property
    def free_t(self) -> bool:
        return self.parts[0].free_t

