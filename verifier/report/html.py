"""A self-contained HTML page of the report: one file, no external assets.

``render(results, meta, figures)`` formats the same result records as
``report.json`` (see :mod:`derive.report`) as a table with status colours,
with the figures inlined as base64 PNG data URIs.  Everything is escaped; the
output depends only on its arguments (sorted keys, fixed float formats, no
dates), so the same inputs give the same bytes.
"""
from __future__ import annotations

import base64
import html
import json

__all__ = ["render"]

_COLOURS = {"pass": "#1a7f37", "fail": "#cf222e", "error": "#9a6700"}
_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em; color: #1f2328; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
table { border-collapse: collapse; width: 100%; font-size: 0.85em; }
th, td { border: 1px solid #d0d7de; padding: 0.3em 0.5em; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.status { font-weight: bold; color: #fff; border-radius: 3px; padding: 0.05em 0.4em; }
.pass { background: #1a7f37; } .fail { background: #cf222e; } .error { background: #9a6700; }
details { max-width: 60em; } summary { cursor: pointer; }
pre { white-space: pre-wrap; font-size: 0.9em; background: #f6f8fa; padding: 0.5em; margin: 0.3em 0; }
figure { display: inline-block; margin: 0.5em 1em 1em 0; } figcaption { font-size: 0.85em; color: #57606a; }
img { max-width: 100%; border: 1px solid #d0d7de; }
ul.meta { font-size: 0.9em; }
"""

_COLUMNS = ("id", "kind", "model", "status", "cases", "violations", "max_ratio", "max_rel_error")
_SHOWN = set(_COLUMNS)


#: section titles, as in report.md
_TITLES = {
    "derivation": "Derivations",
    "proof": "Proofs (derived = brute-force SymPy differentiation, 110 digits)",
    "check": "Numeric checks (generated code against autograd, complex step, mpmath)",
    "bound": "Decay bounds (derived from the specs, confirmed numerically)",
    "claim": "Claims of the course notes",
}


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _number(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.6g}" if 1e-3 <= abs(value) < 1e6 or value == 0 else f"{value:.3e}"
    return _e(value)


def _detail(record: dict) -> str:
    """Everything of a record that is not in a column, in sorted key order."""
    rest = {k: v for k, v in sorted(record.items()) if k not in _SHOWN}
    if not rest:
        return ""
    parts = []
    for key, value in rest.items():
        if value in ("", None, [], {}):
            continue
        if isinstance(value, str):
            text = value
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            text = "\n".join(value)                     # equations, forward equations
        elif key == "parts" and all(isinstance(v, dict) for v in value):
            text = "\n".join(f"{p.get('reading', '')}{' (aside)' if p.get('aside') else ''}: "
                             f"{p.get('verdict', '')}. {p.get('evidence', '')}" for p in value)
        else:
            text = json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False)
        parts.append(f"<b>{_e(key)}</b><pre>{_e(text)}</pre>")
    summary = record.get("statement") or record.get("detail") or record.get("error") or "details"
    summary = summary if len(summary) <= 140 else summary[:137] + "..."
    return f"<details><summary>{_e(summary)}</summary>{''.join(parts)}</details>"


def _row(record: dict) -> str:
    status = str(record.get("status", ""))
    cells = [f"<td>{_e(record.get('id', ''))}</td>", f"<td>{_e(record.get('kind', ''))}</td>",
             f"<td>{_e(record.get('model', ''))}</td>",
             f"<td><span class=\"status {_e(status) if status in _COLOURS else 'error'}\">{_e(status)}</span></td>"]
    for key in ("cases", "violations", "max_ratio", "max_rel_error"):
        cells.append(f"<td class=\"num\">{_number(record.get(key))}</td>")
    cells.append(f"<td>{_detail(record)}</td>")
    return f"<tr id=\"{_e(record.get('id', ''))}\">{''.join(cells)}</tr>"


def _meta(meta: dict) -> str:
    items = []
    for key, value in sorted(meta.items()):
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in sorted(value.items()))
        items.append(f"<li><b>{_e(key)}</b>: {_e(value)}</li>")
    return f"<ul class=\"meta\">{''.join(items)}</ul>"


def _figures(figures: dict) -> str:
    out = []
    for name, png in sorted(figures.items()):
        if not isinstance(png, (bytes, bytearray)) or not bytes(png[:8]) == b"\x89PNG\r\n\x1a\n":
            raise ValueError(f"figure {name!r}: expected PNG bytes")
        data = base64.b64encode(bytes(png)).decode("ascii")
        out.append(f"<figure id=\"{_e(name)}\"><img alt=\"{_e(name)}\" src=\"data:image/png;base64,{data}\">"
                   f"<figcaption>{_e(name)}</figcaption></figure>")
    return "".join(out)


def render(results: list, meta: dict, figures: dict) -> str:
    """The whole report as one HTML document (a string)."""
    counts = {}
    for r in results:
        counts[r.get("status", "")] = counts.get(r.get("status", ""), 0) + 1
    summary = ", ".join(f"<span class=\"status {_e(k) if k in _COLOURS else 'error'}\">{_e(v)} {_e(k)}</span>"
                        for k, v in sorted(counts.items()))
    kinds = []
    for r in results:
        if r.get("kind") not in kinds:
            kinds.append(r.get("kind"))
    sections = []
    head = "".join(f"<th>{_e(c)}</th>" for c in _COLUMNS) + "<th>statement, evidence</th>"
    for kind in kinds:
        rows = "".join(_row(r) for r in results if r.get("kind") == kind)
        title = _TITLES.get(kind, str(kind))
        sections.append(f"<h2>{_e(title)}</h2><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
    figs = f"<h2>Figures</h2>{_figures(figures)}" if figures else ""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>rnn-derive report</title><style>{_CSS}</style></head><body>"
            f"<h1>rnn-derive report</h1>{_meta(meta)}<p>{summary or 'no results'}</p>{figs}{''.join(sections)}"
            "</body></html>\n")
