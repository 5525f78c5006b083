"""rnn-derive: derive BPTT gradients from forward specs, generate NumPy code, check it, report.

codegen writes numeric/generated/<model>.py; report derives, proves, checks, bounds and decides
the course notes' claims, writing reports/; verify checks your own loss_and_grads; bench times
the generated code against the matrix-product floor and autograd."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from derive.codegen import generate
from derive.models import REGISTRY, derivation
from numeric.bench import format_table, run
from numeric.verify import UNUSABLE, verify
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
    code, text = verify(args.model, args.path, seed=args.seed)
    print(text, file=sys.stdout if code == 0 else sys.stderr)
    return code


def _report(args) -> int:
    return write(args.out, seed=args.seed)


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
    p = sub.add_parser("verify", help="check a file's loss_and_grads against the derivation and oracles")
    p.add_argument("model", help="model name, e.g. rnn")
    p.add_argument("path", help="a Python file that defines loss_and_grads(params, x, y, h0=None)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random test data (default 0)")
    p.set_defaults(run=_verify)
    p = sub.add_parser("report", help="derive, prove, check and write reports/")
    p.add_argument("--out", default=str(ROOT / "reports"), help="output folder (default reports/)")
    p.add_argument("--seed", type=int, default=0, help="seed of the numeric checks and proofs (default 0)")
    p.set_defaults(run=_report)
    p = sub.add_parser("bench", help="time loss_and_grads against the matmul floor and autograd")
    p.add_argument("models", nargs="*", default=["rnn", "lstm", "gru"],
                   help="models to time (default: rnn lstm gru)")
    p.add_argument("--repeats", type=int, default=5)
    p.set_defaults(run=_bench)
    args = parser.parse_args(argv)
    return args.run(args)
