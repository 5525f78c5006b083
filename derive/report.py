"""``python -m derive report``: derive, prove, check freshness, run the numeric
checks, confirm the decay bounds, decide the claims, and write reports/ (Markdown,
JSON, JUnit XML, and a self-contained HTML page with the figures).

Reports are a formatting layer over result records: sorted keys, fixed float
formats, a versions block, no timestamps, so two runs with the same seed write
identical files.
"""
from __future__ import annotations

import json
import platform
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from derive.adjoint import named_parts
from derive.codegen import generate, pretty
from derive.models import REGISTRY, derivation

PROOF_CASES = [((1, 1, 2), 1), ((2, 1, 2), 2), ((1, 3, 3), 3), ((3, 2, 2), 2)]
CHECK_CASES = [dict(B=3, tau=5, scale=1.0), dict(B=2, tau=8, scale=0.3), dict(B=4, tau=4, scale=3.0)]


def _rel(x) -> float:
    return float(f"{float(x):.3e}")


def _entry(id, kind, model, status, cases, max_rel_error, **extra):
    return {"id": id, "kind": kind, "model": model, "status": status, "cases": cases,
            "max_rel_error": _rel(max_rel_error), **extra}


def collect(*, seed: int = 0, generated_dir=None) -> list:
    """Every result record of the report, in a fixed order."""
    from numeric import checks
    from numeric.verify import make_data
    from derive.proof import prove

    results = []
    for name in sorted(REGISTRY):
        d = derivation(name)
        equations = [f"{eq.lhs.name} = {pretty(eq.rhs)}   (a named part of the forward pass)"
                     for eq in named_parts(d.model)]
        equations += [f"{a.name} = {pretty(a.rhs)}" for a in (*d.backward, *d.carries)]
        equations += [f"{g.lhs.name} = {'sum over t of ' if g.kind == 'param' else ''}{pretty(g.rhs)}"
                      for g in d.gradients]
        results.append(_entry(f"{name}/derivation", "derivation", name, "pass", len(equations), 0.0,
                              source=d.model.source, equations=equations, notes=d.model.notes,
                              forward=[eq.text for eq in d.model.equations] + [d.model.loss_text]))
        for sizes, tau in PROOF_CASES:
            try:
                proofs = prove(d, sizes, tau, seed=seed)
                ok = all(p.ok for p in proofs)
                results.append(_entry(f"{name}/proof/n{sizes[0]}-m{sizes[1]}-K{sizes[2]}-tau{tau}", "proof",
                                      name, "pass" if ok else "fail", sum(p.entries for p in proofs),
                                      max(p.max_rel_error for p in proofs), digits=110,
                                      failed=[p.wrt for p in proofs if not p.ok]))
            except Exception as e:  # noqa: BLE001 - reported as an error record
                results.append(_entry(f"{name}/proof/{sizes}-{tau}", "proof", name, "error", 0, 0.0,
                                      error=f"{type(e).__name__}: {e}"))
        path = (Path(generated_dir) if generated_dir else Path(__file__).resolve().parent.parent
                / "numeric" / "generated") / f"{name}.py"
        fresh = path.exists() and path.read_text() == generate(d)
        results.append(_entry(f"{name}/codegen-fresh", "check", name, "pass" if fresh else "fail", 1, 0.0,
                              detail="numeric/generated/%s.py %s" % (name, "is fresh" if fresh else
                                                                      "is stale: run python -m derive codegen")))
        per_check = {}
        for i, case in enumerate(CHECK_CASES):
            gen, params, x, y, init = make_data(name, seed=seed + i, B=case["B"], tau=case["tau"],
                                                scale=case["scale"])
            for r in checks.check(checks.spec_for(name, params), gen.loss_and_grads, params, x, y, init,
                                  seed=seed + i):
                per_check.setdefault((r.check, r.gradient), []).append(r)
        for (check, grad), rs in sorted(per_check.items()):
            results.append(_entry(f"{name}/check/{check}/{grad}", "check", name,
                                  "pass" if all(r.ok for r in rs) else "fail", len(rs),
                                  max(r.max_rel_error for r in rs),
                                  max_allowed=_rel(max(r.allowed for r in rs)),
                                  detail="" if all(r.ok for r in rs) else checks.report([r for r in rs if not r.ok])))
    from numeric import bounds
    results += bounds.results(seed=seed)
    results += _claims(seed)
    return results


def _claims(seed) -> list:
    try:
        from derive import claims
    except ImportError:
        return []
    out = []
    for claim in claims.catalogue():
        try:
            r = claims.check(claim, seed=seed)
            out.append(_entry(r.id, "claim", r.model or "scalar", r.status, r.cases, r.max_rel_error,
                              source=r.source, statement=r.statement, text=getattr(claim, "text", ""),
                              verdict=r.verdict, expected=r.expected,
                              evidence=r.evidence, claim_kind=r.kind, parts=[dict(p) for p in r.parts]))
        except Exception as e:  # noqa: BLE001
            out.append(_entry(claim.id, "claim", claim.model, "error", 0, 0.0, verdict="undecided",
                              error=f"{type(e).__name__}: {e}"))
    return out


def versions() -> dict:
    import autograd
    import mpmath
    import numpy
    import sympy
    from importlib.metadata import version

    return {"python": platform.python_version(), "numpy": numpy.__version__, "sympy": sympy.__version__,
            "mpmath": mpmath.__version__, "autograd": version("autograd") if autograd else ""}


def markdown(results, meta, figures=()) -> str:
    lines = ["# rnn-derive report", ""]
    lines += [f"- {k}: {v}" for k, v in sorted(meta.items()) if k != "versions"]
    lines += ["- versions: " + ", ".join(f"{k} {v}" for k, v in sorted(meta["versions"].items())), ""]
    counts = {}
    for r in results:
        counts.setdefault(r["status"], 0)
        counts[r["status"]] += 1
    lines += ["**" + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) + "**", ""]
    for r in results:
        if r["kind"] == "derivation":
            lines += [f"## {r['model']}: derivation", "", f"From {r['source']}, forward equations:", "", "```"]
            lines += r["forward"] + ["```", ""]
            if r.get("notes"):
                lines += [r["notes"], ""]
            lines += ["Derived by SymPy (backpropagation through time, step t):", "",
                      "```"] + r["equations"] + ["```", ""]
    for kind, title in (("proof", "Proofs (derived = brute-force SymPy differentiation, 110 digits)"),
                        ("check", "Numeric checks (generated code against autograd, complex step, mpmath)")):
        lines += [f"## {title}", "", "| id | status | cases | max rel error |", "|---|---|---|---|"]
        lines += [f"| {r['id']} | {r['status']} | {r['cases']} | {r['max_rel_error']:.3e} |"
                  for r in results if r["kind"] == kind]
        lines += [""]
    bound_rows = [r for r in results if r["kind"] == "bound"]
    if bound_rows:
        lines += ["## Decay bounds (derived from the specs, confirmed numerically)", "",
                  "Jacobians in numerator layout: J[i, j] = d h_i(t) / d h_j(t-1).", "",
                  "| id | status | cases | violations | max ratio actual/bound | statement |",
                  "|---|---|---|---|---|---|"]
        for r in bound_rows:
            ratio = r.get("max_ratio")
            ratio = "" if ratio is None else f"{ratio:.4g}"
            statement = str(r.get("statement", "")).replace("|", "\\|").replace("\n", " ")
            lines += [f"| {r['id']} | {r['status']} | {r['cases']} | {r.get('violations', '')} | {ratio} | "
                      f"{statement} |"]
        lines += [""]
    if figures:
        lines += ["## Figures", ""] + [f"![{name}]({name})" for name in sorted(figures)] + [""]
        lines += ["The HTML report (report.html) holds the same figures inline.", ""]
    claims = [r for r in results if r["kind"] == "claim"]
    if claims:
        lines += ["## Claims of the course notes", "",
                  "| id | source | verdict | expected | status |", "|---|---|---|---|---|"]
        lines += [f"| {r['id']} | {r.get('source', '')} | {r['verdict']} | {r.get('expected', '')} | "
                  f"{r['status']} |" for r in claims]
        lines += [""]
        for r in claims:
            parts = [p for p in (r.get("parts") or ()) if p.get("reading")]
            text = f" The notes write: `{r['text']}`." if r.get("text") else ""
            if len(parts) > 1:      # the evidence is the parts': one line each
                lines += [f"- **{r['id']}** ({r.get('source', '')}): {r['verdict']}.{text}"]
                for part in parts:
                    aside = " (aside)" if part.get("aside") else ""
                    lines += [f"  - {part['reading']}{aside}: {part.get('verdict', '')}. "
                              f"{part.get('evidence', '')}"]
            else:
                lines += [f"- **{r['id']}** `{r.get('statement', '')}`: {r['verdict']}.{text} "
                          f"{r.get('evidence', r.get('error', ''))}"]
        lines += [""]
    failures = [r for r in results if r["status"] != "pass"]
    if failures:
        lines += ["## Failures", ""]
        for r in failures:
            lines += [f"### {r['id']}", "", "```", r.get("detail") or r.get("error") or str(r), "```", ""]
    return "\n".join(lines)


def junit(results) -> str:
    tests = len(results)
    failures = sum(r["status"] == "fail" for r in results)
    errors = sum(r["status"] == "error" for r in results)
    lines = ['<?xml version="1.0" encoding="utf-8"?>',
             f'<testsuite name="rnn-derive" tests="{tests}" failures="{failures}" errors="{errors}">']
    for r in results:
        head = f'  <testcase classname={quoteattr(r["model"] + "." + r["kind"])} name={quoteattr(r["id"])}'
        if r["status"] == "pass":
            lines.append(head + "/>")
        else:
            tag = "failure" if r["status"] == "fail" else "error"
            text = r.get("detail") or r.get("error") or r.get("evidence") or ""
            lines += [head + ">", f'    <{tag} message={quoteattr(r["id"])}>{escape(text)}</{tag}>',
                      "  </testcase>"]
    lines.append("</testsuite>")
    return "\n".join(lines) + "\n"


def write(out_dir, *, seed: int = 0) -> int:
    """Write the reports; 0 when every record passes, 1 otherwise."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results = collect(seed=seed)
    meta = {"seed": seed, "versions": versions()}
    (out / "report.json").write_text(json.dumps({"meta": meta, "results": results}, indent=2,
                                                sort_keys=True) + "\n")
    from numeric.plots import figures as draw
    from derive.html import render
    figures = draw(seed=seed)
    for name, png in sorted(figures.items()):
        (out / name).write_bytes(png)
    (out / "report.md").write_text(markdown(results, meta, figures) + "\n")
    (out / "report.xml").write_text(junit(results))
    (out / "report.html").write_text(render(results, meta, figures))
    bad = [r for r in results if r["status"] != "pass"]
    print(f"wrote {out / 'report.md'}, report.json, report.xml, report.html and {len(figures)} figures: "
          f"{len(results)} results, {len(bad)} not passing")
    for r in bad:
        print(f"  {r['status']}: {r['id']}")
    return 1 if bad else 0
