"""The code generator: a derivation printed as a NumPy module (``numeric/generated/<model>.py``).

Three parts, each one concern:

* :mod:`derive.codegen.passes` -- named rewrites of the derivation into the program
  the module runs (input projections hoisted, gates stacked, softmax fused,
  forward-only factors folded, aliases and dead statements pruned);
* :mod:`derive.codegen.printer` -- a SymPy-style printer (``_print_<Node>``) of one
  matrix expression as row-batch NumPy code, strict;
* :mod:`derive.codegen.module` -- the file: header, docstring, API tables, functions.

The output is deterministic: no dates, no hosts, no Dummy indices; a content hash
of the body sits in the header.
"""
from derive.adjoint import Derivation
from derive.codegen.module import HEADER, content_hash, pretty, render
from derive.codegen.passes import PASSES, plan

__all__ = ["HEADER", "PASSES", "content_hash", "generate", "plan", "pretty"]


def generate(d: Derivation) -> str:
    """The source text of ``numeric/generated/<model>.py``."""
    return render(plan(d))
