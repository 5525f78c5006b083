"""`python -m derive report` writes deterministic reports with the required fields."""
import json

from derive.models import REGISTRY
from verifier.report import write


def test_report_is_complete_and_deterministic(tmp_path):
    assert write(tmp_path / "a", seed=0) == 0
    assert write(tmp_path / "b", seed=0) == 0
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert {"report.md", "report.json", "report.xml", "report.html"} <= set(names)
    assert any(n.endswith(".png") for n in names)
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    data = json.loads((tmp_path / "a" / "report.json").read_text())
    ids = [r["id"] for r in data["results"]]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    kinds = {r["kind"] for r in data["results"]}
    assert {"derivation", "proof", "check", "claim", "bound"} <= kinds
    for model in REGISTRY:      # every cell: derivation, proofs, freshness and checks
        mine = {r["kind"] for r in data["results"] if r["model"] == model}
        assert {"derivation", "proof", "check"} <= mine, model
    for r in data["results"]:
        assert {"id", "kind", "model", "status", "cases", "max_rel_error"} <= set(r)
        if r["kind"] == "claim":
            assert r["verdict"] in {"holds", "fails", "partial", "undecided"} and r["source"]
        if r["kind"] == "bound" and not r["id"].startswith("faults/"):   # an injected fault must violate
            assert {"violations", "max_ratio"} <= set(r) and r["violations"] == 0, r["id"]
    md = (tmp_path / "a" / "report.md").read_text()
    assert all(f"]({n})" in md for n in names if n.endswith(".png"))
