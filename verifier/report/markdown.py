"""report.md: the result records as Markdown, for people.

It opens with a one-screen summary (models, proofs, checks, faults caught,
bounds, and the verdicts on the course notes' claims per seed with the seed
errors found), then the claims, the bounds, the proofs and checks, and the
derivations last.  A formatting layer only: it reads the records
:mod:`verifier.pipeline` collects and never computes anything; the same records
give the same bytes.
"""
from __future__ import annotations

from collections import Counter

__all__ = ["markdown", "summary"]


def _of(results, kind):
    return [r for r in results if r["kind"] == kind]


def _is_fault(r) -> bool:
    return r["kind"] == "fault" or r["id"].startswith("faults/")


def _count(rs, key="status") -> str:
    c = Counter(r[key] for r in rs)
    return ", ".join(f"{v} {k}" for k, v in sorted(c.items()))


def _seed_of(r) -> str:
    source = str(r.get("source", ""))
    return source.split("_", 1)[0] if source[:3].isdigit() else "scalar"


def summary(results) -> list:
    """The report's first screen, as Markdown lines."""
    models = sorted({r["model"] for r in _of(results, "derivation")})
    proofs, checks = _of(results, "proof"), _of(results, "check")
    faults = [r for r in results if _is_fault(r)]
    bounds = [r for r in _of(results, "bound") if not _is_fault(r)]
    claims = _of(results, "claim")
    bad = [r for r in results if r["status"] != "pass"]
    lines = ["## Summary", ""]
    lines.append(f"- **Models** ({len(models)}): {', '.join(models)}.")
    lines.append(f"- **Proofs** against brute-force SymPy differentiation: {len(proofs)} "
                 f"({_count(proofs)}), {sum(r['cases'] for r in proofs)} gradient entries.")
    lines.append(f"- **Checks** of the generated code against autograd, the complex step and mpmath: "
                 f"{len(checks)} ({_count(checks)}), {sum(r['cases'] for r in checks)} comparisons.")
    if faults:
        caught = sum(r["status"] == "pass" for r in faults)
        lines.append(f"- **Faults** injected: {len(faults)}, caught {caught}.")
    if bounds:
        violations = sum(int(r.get("violations") or 0) for r in bounds)
        lines.append(f"- **Bounds** derived from the specs: {len(bounds)} statements, "
                     f"{sum(r['cases'] for r in bounds)} cases, {violations} violations ({_count(bounds)}).")
    if claims:
        lines.append(f"- **Claims of the course notes**: {len(claims)} decided "
                     f"({_count(claims, 'verdict')}); as the catalogue expects: "
                     f"{sum(r['status'] == 'pass' for r in claims)}.")
        lines += ["", "| seed | holds | fails | partial | undecided |", "|---|---|---|---|---|"]
        for seed in sorted({_seed_of(r) for r in claims}):
            c = Counter(r["verdict"] for r in claims if _seed_of(r) == seed)
            lines.append(f"| {seed} | {c['holds']} | {c['fails']} | {c['partial']} | {c['undecided']} |")
        errata = [r for r in claims if r["verdict"] in ("fails", "partial")]
        if errata:
            lines += ["", "Errors found in the notes (a formula that fails, or holds only in part):", ""]
            lines += [f"- `{r['id']}` ({r['verdict']}): `{r.get('statement', '')}`" for r in errata]
    lines += ["", f"**{len(results)} results: {_count(results)}.**"
              + ("" if not bad else " Not passing: " + ", ".join(f"`{r['id']}`" for r in bad) + "."), ""]
    return lines


def _claims(claims) -> list:
    lines = ["## Claims of the course notes", "",
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
                lines += [f"  - {part['reading']}{aside}: {part.get('verdict', '')}. {part.get('evidence', '')}"]
        else:
            lines += [f"- **{r['id']}** `{r.get('statement', '')}`: {r['verdict']}.{text} "
                      f"{r.get('evidence', r.get('error', ''))}"]
    return lines + [""]


def _bounds(rows) -> list:
    lines = ["## Decay bounds (derived from the specs, confirmed numerically)", "",
             "Jacobians in numerator layout: J[i, j] = d h_i(t) / d h_j(t-1).", "",
             "| id | status | cases | violations | max ratio actual/bound | statement |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        ratio = r.get("max_ratio")
        ratio = "" if ratio is None else f"{ratio:.4g}"
        statement = str(r.get("statement", "")).replace("|", "\\|").replace("\n", " ")
        status = ("caught" if r["status"] == "pass" else "NOT CAUGHT") if _is_fault(r) else r["status"]
        lines += [f"| {r['id']} | {status} | {r['cases']} | {r.get('violations', '')} | {ratio} | {statement} |"]
    return lines + [""]


def _table(title, rows) -> list:
    lines = [f"## {title}", "", "| id | status | cases | max rel error |", "|---|---|---|---|"]
    for r in rows:
        rel = r.get("max_rel_error")
        lines.append(f"| {r['id']} | {r['status']} | {r['cases']} | {'' if rel is None else f'{rel:.0e}'} |")
    return lines + [""]


def _derivations(rows) -> list:
    lines = []
    for r in rows:
        lines += [f"## {r['model']}: derivation", "", f"From {r['source']}, forward equations:", "", "```"]
        lines += r["forward"] + ["```", ""]
        if r.get("notes"):
            lines += [r["notes"], ""]
        lines += ["Derived by SymPy (backpropagation through time, step t):", "", "```"] + r["equations"] + ["```", ""]
    return lines


def markdown(results, meta, figures=()) -> str:
    lines = ["# rnn-derive report", ""]
    lines += summary(results)
    claims = _of(results, "claim")
    if claims:
        lines += _claims(claims)
    bound_rows = [r for r in results if r["kind"] in ("bound", "fault")]
    if bound_rows:
        lines += _bounds(bound_rows)
    if figures:
        lines += ["## Figures", ""] + [f"![{name}]({name})" for name in sorted(figures)] + [""]
        lines += ["The HTML report (report.html) holds the same figures inline.", ""]
    lines += _table("Proofs (derived = brute-force SymPy differentiation, 110 digits)", _of(results, "proof"))
    lines += _table("Numeric checks (generated code against autograd, complex step, mpmath; errors as the "
                    "power of ten at or above them)", _of(results, "check"))
    lines += _derivations(_of(results, "derivation"))
    failures = [r for r in results if r["status"] != "pass"]
    if failures:
        lines += ["## Failures", ""]
        for r in failures:
            lines += [f"### {r['id']}", "", "```", r.get("detail") or r.get("error") or str(r), "```", ""]
    lines += ["## Run", ""]
    lines += [f"- {k}: {v}" for k, v in sorted(meta.items()) if k != "versions"]
    lines += ["- versions: " + ", ".join(f"{k} {v}" for k, v in sorted(meta["versions"].items())), ""]
    return "\n".join(lines)
