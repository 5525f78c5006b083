"""report.md: the result records as Markdown, for people.

A formatting layer only: it reads the records :mod:`verifier.pipeline` collects
and never computes anything; the same records give the same bytes.
"""
from __future__ import annotations

__all__ = ["markdown"]


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
