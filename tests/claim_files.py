"""Claims files for the claims tests: one claim written as TOML in a temporary directory."""
from __future__ import annotations

from pathlib import Path

HEAD = {"seed": "001_e1543032cbfbfdb6.txt", "section": "s", "line": 1, "text": "t"}
SAMPLE = dict(kind="sample", model="rnn", sizes={"n": 8, "m": 3, "K": 2}, tau=4, trials=5)
PARTS = [
    {"reading": "sigmoid", "statement": "dsigmoid(z) < 1"},
    {"reading": "tanh", "statement": "dtanh(z) < 1"},
]
H = 'define = { "H[t]" = "diag(1 - h[t]**2)" }'


def write_claim(tmp_path: Path, statement: str, *, cid="mutant", expect="fails", extra="",
                name="claims.toml", lead="# a claim file\n\n") -> tuple[Path, int, int]:
    """One rnn claim about seed 004 in a TOML file; returns (path, line of its id, line of its statement)."""
    text = lead + "\n".join([
        "[[claim]]",
        f'id = "{cid}"',
        'model = "rnn"',
        'seed = "004_2bd5bd3ef5bc2048.txt"',
        'section = "Back-Propagation Through Time (BPTT)"',
        "line = 124",
        "text = 'mutated'",
        f'expect = "{expect}"',
        extra,
        f"statement = '{statement}'" if '"' in statement else f'statement = "{statement}"',
        "",
    ])
    path = tmp_path / name
    path.write_text(text)
    lines = text.splitlines()
    id_line = next(i for i, s in enumerate(lines, 1) if s.startswith("id ="))
    st_line = next(i for i, s in enumerate(lines, 1) if s.startswith("statement ="))
    return path, id_line, st_line


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, dict):
        return "{ " + ", ".join(f'"{k}" = {toml_value(x)}' for k, x in v.items()) + " }"
    return "'" + v + "'" if '"' in v else '"' + v + '"'


def claim_file(tmp_path: Path, *, parts=(), name="claims.toml", **fields) -> Path:
    """One claim: ``fields`` (with HEAD's defaults) and optional [[claim.part]] tables."""
    lines = ["[[claim]]", 'id = "mutant"']
    for k, v in {**HEAD, **fields}.items():
        lines.append(f"{k} = {toml_value(v)}")
    for part in parts:
        lines += ["", "[[claim.part]]"] + [f"{k} = {toml_value(v)}" for k, v in part.items()]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def line_of(path: Path, prefix: str, *, last: bool = False) -> int:
    """The (first or last) line of ``path`` that starts with ``prefix``."""
    hits = [i for i, s in enumerate(path.read_text().splitlines(), 1) if s.startswith(prefix)]
    return hits[-1] if last else hits[0]
