"""rnn-derive: derive BPTT gradients from forward specs, generate NumPy code, check it, report.

codegen writes numeric/generated/<model>.py; report derives, proves, checks, bounds and decides
the course notes' claims, writing reports/; verify checks your own loss_and_grads; bench times
the generated code against the matrix-product floor and autograd."""
from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

from derive.codegen import generate
from derive.models import REGISTRY, derivation
from numeric import sandbox
from numeric.bench import format_table, run
from numeric.verify import EXIT_CODES, UNUSABLE, verify
from verifier.report import write

ROOT = Path(__file__).resolve().parent.parent
GENERATED = ROOT / "numeric" / "generated"


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _codegen(args) -> int:
    stale = []
    for name in sorted(REGISTRY):
        text = generate(derivation(name))
        path = GENERATED / f"{name}.py"
        current = path.read_text() if path.exists() else None
        if args.check:
            if current != text:
                stale.append(path)
        elif current != text:
            path.write_text(text)
            print(f"wrote {_shown(path)}")
        else:
            print(f"unchanged {_shown(path)}")
    if stale:
        for p in stale:
            print(f"stale: {_shown(p)} differs from what `python -m derive codegen` writes",
                  file=sys.stderr)
        return 1
    if args.check:
        print("generated code is fresh")
    return 0


def _verify(args) -> int:
    if args.model not in REGISTRY:
        print(f"error: unknown model {args.model!r}; known models: {', '.join(sorted(REGISTRY))}",
              file=sys.stderr)
        return UNUSABLE
    code, text = verify(args.model, args.path, seed=args.seed, timeout=args.timeout,
                        max_memory=args.max_memory, explain=args.explain)
    print(text, file=sys.stdout if code == 0 else sys.stderr)
    return code


_VERIFY_TEXT = """\
Check your own loss_and_grads(params, x, y, h0=None[, s0=None]) against the derivation of MODEL
and three oracles (autograd, complex step, 50-digit mpmath) on seeded float64 data at three
weight scales.  The file runs in a child process with a timeout and a memory limit; it must
return (loss, grads): loss a float (or a 0-d float64 array), grads a dict of float64 numpy
arrays with exactly the keys and shapes of the parameters, the initial states and x, all
finite, and must not change its inputs."""


def _verify_epilog() -> str:
    codes = "\n".join(textwrap.fill(text, 90, initial_indent=f"  {code}  ", subsequent_indent="     ")
                      for code, text in EXIT_CODES.items())
    return f"models: {', '.join(sorted(REGISTRY))}\n\nexit codes:\n{codes}"


def _number(kind, low, expected: str, *, strict: bool = False):
    """An argparse type: ``kind`` at least ``low`` (above it when ``strict``)."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if value < low or (strict and value == low) or value != value:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value
    return parse


def _report(args) -> int:
    return write(args.out, seed=args.seed, jobs=args.jobs, progress=None if args.quiet else sys.stderr)


def _bench(args) -> int:
    unknown = [m for m in args.models if m not in REGISTRY]
    if unknown:
        print(f"error: unknown model(s) {unknown}; known models: {', '.join(sorted(REGISTRY))}",
              file=sys.stderr)
        return 2
    print(format_table(run(tuple(args.models), repeats=args.repeats)))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m derive", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("codegen", help="write the derivations as numeric/generated/<model>.py")
    p.add_argument("--check", action="store_true", help="exit 1 if a committed file is stale")
    p.set_defaults(run=_codegen)
    p = sub.add_parser("verify", help="check a file's loss_and_grads against the derivation and oracles",
                       description=_VERIFY_TEXT, epilog=_verify_epilog(),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help=f"model name, one of: {', '.join(sorted(REGISTRY))}")
    p.add_argument("path", help="a Python file (.py) that defines loss_and_grads(params, x, y, h0=None)")
    p.add_argument("--seed", type=_number(int, 0, "an integer >= 0"), default=0, metavar="N",
                   help="seed of the random test data, an integer >= 0 (default 0)")
    p.add_argument("--timeout", type=_number(float, 0, "a number of seconds > 0", strict=True),
                   default=sandbox.TIMEOUT, metavar="SECONDS",
                   help=f"limit on importing the file and on each call of loss_and_grads, > 0 "
                        f"(default {sandbox.TIMEOUT:g})")
    low, default = sandbox.MIN_MEMORY_MIB, sandbox.MAX_MEMORY_MIB
    p.add_argument("--max-memory", type=_number(int, low, f"an integer >= {low}"), default=default, metavar="MIB",
                   help=f"address-space limit of the process running the file, in MiB, >= {low} "
                        f"(default {default} = {default // 1024} GiB)")
    p.add_argument("--explain", action="store_true",
                   help="on a mismatch, show the error model behind each allowed difference")
    p.set_defaults(run=_verify)
    p = sub.add_parser("report", help="derive, prove, check and write reports/")
    p.add_argument("--out", default=str(ROOT / "reports"), help="output folder (default reports/)")
    p.add_argument("--seed", type=_number(int, 0, "an integer >= 0"), default=0, metavar="N",
                   help="seed of the numeric checks and proofs, an integer >= 0 (default 0)")
    p.add_argument("--jobs", type=_number(int, 1, "an integer >= 1"), default=1, metavar="N",
                   help="processes the models' stages are spread over, >= 1 (default 1; the report "
                        "is the same bytes for every N)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(run=_report)
    p = sub.add_parser("bench", help="time loss_and_grads against the matmul floor and autograd")
    p.add_argument("models", nargs="*", default=sorted(REGISTRY),
                   help=f"models to time (default: all: {', '.join(sorted(REGISTRY))})")
    p.add_argument("--repeats", type=_number(int, 1, "an integer >= 1"), default=5, metavar="R",
                   help="timed rounds, best of R, >= 1 (default 5)")
    p.set_defaults(run=_bench)
    args = parser.parse_args(argv)
    return args.run(args)
