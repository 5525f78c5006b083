"""report.xml: one JUnit testcase per result record, for CI dashboards."""
from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

__all__ = ["junit"]


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
