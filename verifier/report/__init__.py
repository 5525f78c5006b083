"""``python -m derive report``: run the pipeline and write reports/.

Markdown (:mod:`~verifier.report.markdown`), JSON, JUnit XML
(:mod:`~verifier.report.junit`) and a self-contained HTML page
(:mod:`~verifier.report.html`) with the figures (:mod:`~verifier.report.figures`).
Reports are a formatting layer over the result records: sorted keys, fixed
float formats, a versions block, no timestamps, so two runs with the same seed
write identical files.
"""
from __future__ import annotations

import json
import platform
from importlib.metadata import version
from pathlib import Path

import matplotlib
import mpmath
import numpy
import sympy

from verifier import pipeline
from verifier.report.figures import figures as draw
from verifier.report.html import render
from verifier.report.junit import junit
from verifier.report.markdown import markdown

__all__ = ["write", "versions"]


def versions() -> dict:
    """The versions a report depends on.  The BLAS is the one numpy was built with (name and
    version, the same for every install of one numpy wheel); the CPU kernel it picks at run
    time is not recorded, since it must not change the report."""
    blas = numpy.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    return {"python": platform.python_version(), "numpy": numpy.__version__, "sympy": sympy.__version__,
            "mpmath": mpmath.__version__, "autograd": version("autograd"),
            "matplotlib": matplotlib.__version__,
            "blas": f"{blas.get('name', 'unknown')} {blas.get('version', '')}".strip()}


def write(out_dir, *, seed: int = 0, jobs: int = 1, progress=None) -> int:
    """Write the reports; 0 when every record passes, 1 otherwise.  ``jobs`` and
    ``progress`` are :func:`verifier.pipeline.run`'s."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results = [r.as_dict() for r in pipeline.collect(seed=seed, jobs=jobs, progress=progress)]
    meta = {"seed": seed, "versions": versions()}
    (out / "report.json").write_text(json.dumps({"meta": meta, "results": results}, indent=2,
                                                sort_keys=True) + "\n")
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
