"""`python -m derive report` writes deterministic reports with the required fields."""
import json

from derive.report import write


def test_report_is_complete_and_deterministic(tmp_path):
    assert write(tmp_path / "a", seed=0) == 0
    assert write(tmp_path / "b", seed=0) == 0
    for name in ("report.md", "report.json", "report.xml"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    data = json.loads((tmp_path / "a" / "report.json").read_text())
    kinds = {r["kind"] for r in data["results"]}
    assert {"derivation", "proof", "check", "claim"} <= kinds
    for r in data["results"]:
        assert {"id", "kind", "model", "status", "cases", "max_rel_error"} <= set(r)
        if r["kind"] == "claim":
            assert r["verdict"] in {"holds", "fails", "undecided"} and r["source"]
