"""`python -m derive verify rnn PATH` on correct, wrong and unusable user files."""
from pathlib import Path

import pytest

from verifier.cli import main

STUDENT = Path(__file__).parent / "data" / "student_rnn.py"


def run(capsys, *args):
    code = main(["verify", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out + out.err


def variant(tmp_path, old, new, name="student.py"):
    text = STUDENT.read_text()
    assert text.count(old) == 1
    path = tmp_path / name
    path.write_text(text.replace(old, new))
    return path


def test_independent_implementation_passes(capsys):
    code, text = run(capsys, "rnn", STUDENT)
    assert code == 0 and "PASS" in text


@pytest.mark.parametrize("old,new,gradient", [
    ('g["W"] += da.T @ h[t]', 'g["W"] += h[t].T @ da', "W"),                       # transposed
    ('g["W"] += da.T @ h[t]', 'g["W"] += da.T @ h[t + 1]', "W"),                   # shifted time index
    ("da = dh * (1 - h[t + 1] ** 2)", "da = dh * (1 - h[t] ** 2)", "U"),          # tanh' at the wrong step
    ('g["c"] += do.sum(axis=0)', 'g["c"] += 1.001 * do.sum(axis=0)', "c"),         # scaled
])
def test_wrong_gradient_is_named(tmp_path, capsys, old, new, gradient):
    code, text = run(capsys, "rnn", variant(tmp_path, old, new))
    assert code == 1
    assert f"gradient {gradient!r} DISAGREES" in text
    assert "expected" in text and "reproduce: python -m derive verify rnn" in text
    assert "time step t=" in text
    assert len(text.splitlines()) < 80, "never a whole matrix"


@pytest.mark.parametrize("old,new,message", [
    ("def loss_and_grads(", "def loss_and_gradients(", "defines no function loss_and_grads"),
    ('g["h0"] = dh_next', 'g["h0"] = dh_next * np.nan', "grads['h0']: non-finite value"),
    ('g["h0"] = dh_next', 'g["h0"] = dh_next[0]', "grads['h0']: expected shape"),
    ('g["h0"] = dh_next', 'pass', "grads is missing keys ['h0']"),
    ("    tau, B, m = x.shape", "    tau, B, m = x.shape\n    raise RuntimeError('boom')", "raised RuntimeError: boom"),
    ("import numpy as np", "import numpy as np\ndef (:", "student.py:5: syntax error"),
])
def test_unusable_file_gets_a_clear_message(tmp_path, capsys, old, new, message):
    code, text = run(capsys, "rnn", variant(tmp_path, old, new))
    assert code == 2
    assert message in text
    assert "Traceback" not in text


def test_missing_file_and_unknown_model(tmp_path, capsys):
    code, text = run(capsys, "rnn", tmp_path / "nope.py")
    assert code == 2 and "no such file" in text
    code, text = run(capsys, "no-such-model", STUDENT)
    assert code == 2 and "unknown model 'no-such-model'" in text


def test_runtime_errors_and_swapped_returns_are_explained(tmp_path):
    from numeric.verify import UNUSABLE, verify
    raising = tmp_path / "raising.py"
    raising.write_text("def loss_and_grads(params, x, y, h0=None):\n    return x[0] @ params['U']\n")
    code, text = verify("rnn", raising)
    assert code == UNUSABLE and f"at {raising}:2:" in text
    swapped = tmp_path / "swapped.py"
    swapped.write_text("def loss_and_grads(params, x, y, h0=None):\n    return {}, 1.0\n")
    code, text = verify("rnn", swapped)
    assert code == UNUSABLE and "did it return (grads, loss)?" in text
    code, text = verify("rnn", tmp_path)
    assert code == UNUSABLE and "is a directory" in text


def test_a_helper_module_next_to_the_file_imports(tmp_path, monkeypatch):
    from numeric.verify import verify
    (tmp_path / "my_helpers.py").write_text(STUDENT.read_text())
    main = tmp_path / "main.py"
    main.write_text("from my_helpers import loss_and_grads\n")
    monkeypatch.chdir("/")
    code, text = verify("rnn", main)
    assert code == 0, text
