"""The layers point one way: verifier (application) -> numeric -> derive (symbolic core).

The contract lives in pyproject.toml ([tool.importlinter]); import-linter checks
every import, direct or through a chain.  A second test refuses imports of the
project's own modules placed inside functions, the usual way to hide a cycle.
"""
import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("derive", "numeric", "verifier")


def test_the_layer_contract_is_kept(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True) == 0, \
        "a layer contract of pyproject.toml is broken: run `lint-imports` to see the import chain"


def test_the_contract_can_fail(tmp_path):
    """The same contract, on a copy of the tree where the core imports the numeric side."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("generated", "__pycache__", "*.toml"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    rules = tmp_path / "derive" / "rules.py"
    rules.write_text(rules.read_text() + "\nimport numeric.tolerances  # noqa\n")
    done = subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import lint_imports; "
                           "sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True, no_logo=True))"],
                          cwd=tmp_path, capture_output=True, text=True, env={"PYTHONPATH": str(tmp_path)})
    assert done.returncode != 0
    assert "derive.rules -> numeric.tolerances" in done.stdout


def _function_local_imports(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom) and inner.level == 0 and inner.module:
                    names = [inner.module]
                elif isinstance(inner, ast.Import):
                    names = [a.name for a in inner.names]
                else:
                    continue
                for name in names:
                    if name.split(".")[0] in PACKAGES:
                        yield f"{path.relative_to(ROOT)}:{inner.lineno}: {name}"


@pytest.mark.parametrize("package", PACKAGES)
def test_no_project_import_hides_inside_a_function(package):
    found = [hit for path in sorted((ROOT / package).rglob("*.py")) if "generated" not in path.parts
             for hit in _function_local_imports(path)]
    assert not found, "imports of the project's modules inside functions:\n" + "\n".join(found)
