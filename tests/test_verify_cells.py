"""`verify` on the gated and leaky cells (lstm, gru, gru_cho, leaky): independent
student implementations pass, realistic single bugs are caught and located, every
generated module passes its own verify, and wrong models or APIs are reported
cleanly (exit 2, no traceback)."""
import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from verifier.cli import main
from derive.models import REGISTRY
from numeric.verify import OK, UNUSABLE, WRONG, verify

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"
GENERATED = ROOT / "numeric" / "generated"
CELLS = ("lstm", "gru", "gru_cho", "leaky")


def student(model: str) -> Path:
    return DATA / f"student_{model}.py"


def variant(tmp_path, model: str, old: str, new: str) -> Path:
    """The student file of ``model`` with ``old`` replaced by ``new`` (exactly one occurrence)."""
    text = student(model).read_text()
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {student(model).name}"
    path = tmp_path / f"student_{model}.py"
    path.write_text(text.replace(old, new))
    return path


# ---------------------------------------------------------------------------
# (1) the independent student implementations pass
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("model", CELLS)
def test_student_file_is_independent_of_the_project(model):
    tree = ast.parse(student(model).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert imported == {"numpy"}
    assert not any(isinstance(node, ast.ImportFrom) and node.level for node in ast.walk(tree))


@pytest.mark.parametrize("seed", [0, 11])
@pytest.mark.parametrize("model", CELLS)
def test_student_file_passes(model, seed):
    code, text = verify(model, student(model), seed=seed)
    assert code == OK, text
    assert "PASS" in text
    assert text.count("comparisons agree") == 3, text   # three weight scales


# ---------------------------------------------------------------------------
# (2) one realistic bug per line: exit 1, the gradient and the first wrong step named
# ---------------------------------------------------------------------------

BUGS = [
    # memory carry without the forget gate: dL/ds(t-1) = dL/ds(t), not dL/ds(t) * f(t);
    # invisible on one step except through s0, wrong from the second step on
    pytest.param("lstm", "ds_next = ds * f", "ds_next = ds", "W_f", 2, id="lstm-forget-carry-dropped"),
    pytest.param("lstm", "ds_next = ds * f", "ds_next = ds", "s0", 1, id="lstm-forget-carry-dropped-s0"),
    # recurrent gate weights transposed (square, so the shape still fits)
    pytest.param("lstm", 'grads["W" + name] += dz.T @ h_prev', 'grads["W" + name] += h_prev.T @ dz',
                 "W_o", 1, id="lstm-transposed-gate-weights"),
    # PyTorch GRU differentiated as if the reset gate acted on h_prev (Cho placement)
    pytest.param("gru", "dwh @ W + dz_r", "(da @ W) * r + dz_r", "h0", 1, id="gru-cho-carry"),
    pytest.param("gru", "dwh @ W + dz_r", "(da @ W) * r + dz_r", "U", 2, id="gru-cho-carry-U"),
    pytest.param("gru", 'grads["W"] += dwh.T @ h_prev', 'grads["W"] += da.T @ (r * h_prev)', "W", 1,
                 id="gru-cho-W"),
    # Cho GRU: candidate weight gradient transposed
    pytest.param("gru_cho", 'grads["W"] += da.T @ (r * h_prev)', 'grads["W"] += (r * h_prev).T @ da',
                 "W", 1, id="gru_cho-transposed-W"),
    # Cho GRU: update-gate sign flipped (dh/dz = h_prev - hc)
    pytest.param("gru_cho", "dz = dh * (h_prev - hc)", "dz = dh * (hc - h_prev)", "W_z", 1,
                 id="gru_cho-update-sign"),
    # leaky: 1/alpha forgotten on the tanh path
    pytest.param("leaky", "da = dh * rate * (1 - th ** 2)", "da = dh * (1 - th ** 2)", "U", 1,
                 id="leaky-missing-rate"),
    # leaky: d(1/alpha)/dalpha taken as -1/alpha instead of -1/alpha**2
    pytest.param("leaky", "/ alpha ** 2", "/ alpha", "alpha", 1, id="leaky-alpha-power"),
]


@pytest.mark.parametrize("model,old,new,gradient,step", BUGS)
def test_wrong_gradient_is_named_with_its_time_step(tmp_path, model, old, new, gradient, step):
    path = variant(tmp_path, model, old, new)
    code, text = verify(model, path)
    assert code == WRONG, text
    assert "FAILED" in text and "PASS" not in text
    # shown in full, or (after checks.SHOWN_GRADIENTS gradients) named with its first step
    assert (f"{model}: gradient {gradient!r} DISAGREES with autograd from time step t={step}:" in text
            or f"{gradient!r} (from t={step})" in text), text
    assert f"reproduce: python -m derive verify {model} {path}" in text
    # never a whole matrix: each worst-entries table has at most 5 rows, one table per gradient
    tables = re.split(r"^\s+index\s+expected\s+got$", text, flags=re.M)[1:]
    assert tables
    for table in tables:
        rows = [line for line in table.splitlines()[1:] if line.startswith("    (")]
        assert 1 <= len(rows) <= 5
    named = re.findall(r"gradient '(\w+)' DISAGREES with autograd", text)
    assert len(tables) == len(named) == len(set(named))


# ---------------------------------------------------------------------------
# (3) every generated module passes its own verify
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("model", sorted(REGISTRY))
def test_generated_module_passes_verify(model):
    code, text = verify(model, GENERATED / f"{model}.py")
    assert code == OK, text
    assert "PASS" in text


# ---------------------------------------------------------------------------
# (4) wrong model or wrong API: exit 2 and a clear message, not a traceback
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("model,file,message", [
    ("gru", "lstm", "loss_and_grads raised KeyError: 'U_g'"),
    ("lstm", "gru", "unexpected keyword argument 's0'"),
    ("gru_cho", "gru", "loss_and_grads raised KeyError: 'b_h'"),
    ("rnn", "leaky", "loss_and_grads raised KeyError: 'alpha'"),
])
def test_file_with_the_wrong_api_is_unusable(model, file, message):
    code, text = verify(model, student(file))
    assert code == UNUSABLE, text
    assert message in text
    assert "Traceback" not in text


def test_unknown_model_on_the_command_line(capsys):
    code = main(["verify", "lstn", str(student("lstm"))])
    out = capsys.readouterr()
    text = out.out + out.err
    assert code == UNUSABLE
    assert "unknown model 'lstn'" in text and "lstm" in text.split("known models:")[1]
    assert "Traceback" not in text


def test_unknown_model_in_the_function():
    code, text = verify("lstn", student("lstm"))
    assert code == UNUSABLE and "unknown model 'lstn'" in text


def test_cli_smoke():
    proc = subprocess.run([sys.executable, "-m", "derive", "verify", "leaky", str(student("leaky"))],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-1] == "PASS: every gradient agrees with the derivation and the oracles"
    assert "Traceback" not in proc.stderr
