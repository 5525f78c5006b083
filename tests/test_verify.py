"""`python -m derive verify MODEL PATH`: every model's independent student file passes,
single bugs are caught and located, and a file that misbehaves in any way found so far
(tests/data/verify_cases/, one small file per case) gets its exit code and a clear
message: never a false pass, a hang or a traceback."""
import ast
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from derive.errors import UserCodeError
from derive.models import REGISTRY
from numeric import answer, sandbox
from numeric.verify import OK, UNUSABLE, WRONG, verify
from verifier.cli import main

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"
CASES = DATA / "verify_cases"
GENERATED = ROOT / "numeric" / "generated"
STUDENTS = ("rnn", "lstm", "gru", "gru_cho", "leaky")
QUICK = ("--timeout", "1")                 # the hang cases: one second, not sixty


def student(model: str) -> Path:
    return DATA / f"student_{model}.py"


def run_cli(capsys, *argv) -> tuple:
    """(exit code, stdout + stderr) of `python -m derive verify ...`, in this process."""
    try:
        code = main(["verify", *map(str, argv)])
    except SystemExit as e:         # argparse refuses an option
        code = e.code
    out = capsys.readouterr()
    return code, out.out + out.err


# ---------------------------------------------------------------------------
# (1) one table: a file per case, its exit code and the message it must get
# ---------------------------------------------------------------------------

TABLE = [
    # file (in tests/data/verify_cases), model, options, exit code, message
    # -- fooled before: complex numbers, exits, os._exit
    ("complex_grad_small.py", "rnn", (), 2, "grads['W']: expected dtype float64, got complex128"),
    ("complex_loss.py", "rnn", (), 2, "loss: expected a float64 value, got the numpy.complex128"),
    ("sys_exit_import.py", "rnn", (), 2, "the file called sys.exit(0) during import\n  at "),
    ("sys_exit_call.py", "rnn", (), 2, "loss_and_grads called sys.exit(0)\n  at "),
    ("os_exit_import.py", "rnn", (), 2, "the process exited with status 0 during import before answering (os._exit(0)?"),
    ("os_exit_call.py", "rnn", (), 2, "the process exited with status 0 inside loss_and_grads before answering"),
    # -- hung before
    ("hang_import.py", "rnn", QUICK, 2, "timed out after 1 s during import (--timeout 1)\n  at "),
    ("hang_call.py", "rnn", QUICK, 2, "timed out after 1 s inside loss_and_grads (--timeout 1)\n  at "),
    # -- raw tracebacks before
    ("loss_one_element.py", "rnn", (), 2, "loss: expected a scalar, got a 1-element array of shape (1,)"),
    ("not_python.txt", "rnn", (), 2, "not a Python file: expected a path ending in .py, got '.txt'"),
    ("student_rnn.py", "rnn", ("--seed", "-1"), 2, "argument --seed: expected an integer >= 0, got '-1'"),
    ("grad_string.py", "rnn", (), 2, "grads['W']: expected a numpy.ndarray of dtype float64 and shape (5, 5), "
                                     "got the str"),
    ("grad_object_array.py", "rnn", (), 2, "grads['W']: expected dtype float64, got object"),
    ("loss_none.py", "rnn", (), 2, "got None; did loss_and_grads forget to return it?"),
    ("keyboard_interrupt_call.py", "rnn", (), 2, "loss_and_grads raised KeyboardInterrupt\n  at "),
    ("keyboard_interrupt_import.py", "rnn", (), 2, "importing it raised KeyboardInterrupt\n  at "),
    ("base_exception_call.py", "rnn", (), 2, "loss_and_grads raised Stop: not an Exception\n  at "),
    ("huge_message.py", "rnn", (), 2, "xxxxxxxxxx... (999000 more characters)\n  at "),
    ("unprintable_exception.py", "rnn", (), 2, "loss_and_grads raised Unprintable: (its message cannot be "
                                                "printed)\n  at "),
    # -- accepted before
    ("grad_list.py", "rnn", (), 2, "grads['U']: expected a numpy.ndarray of dtype float64 and shape (5, 4), "
                                   "got a list (convert it with np.asarray)"),
    ("grad_extra_key.py", "rnn", (), 2, "grads: extra key(s) ['Z']; expected exactly the keys ['U', 'W', 'b', "
                                        "'V', 'c', 'h0', 'x']"),
    ("loss_string.py", "rnn", (), 2, "loss: expected a float (a Python float or a 0-d float64 array), "
                                     "got the str '12.5'"),
    ("loss_off_by_1e-11.py", "rnn", (), 1, "relative discrepancy 1e-11, allowed 1e-13"),
    # -- misleading before: inputs changed in place
    ("mutates_params.py", "rnn", (), 2, "loss_and_grads changed params['W'] in place; it must not modify its inputs"),
    ("mutates_x.py", "rnn", (), 2, "loss_and_grads changed x in place; it must not modify its inputs"),
    ("mutates_params_dict.py", "rnn", (), 2, "loss_and_grads removed params['b']; it must not modify its inputs"),
    # -- the process dies, or asks for too much
    ("killed.py", "rnn", (), 2, "killed by signal 9 (SIGKILL: out of memory (the system's OOM killer; --max-memory is 4096 MiB)"),
    ("segfault.py", "rnn", (), 2, "killed by signal 11 (SIGSEGV: a crash in native code) inside loss_and_grads\n"
                                  "  at "),
    ("memory_hog.py", "rnn", ("--max-memory", "512"), 2,
     "loss_and_grads raised MemoryError: Unable to allocate 1.00 GiB"),
    ("floods_output.py", "rnn", (), 2, "importing it raised OSError: [Errno 27] File too large (the file wrote "
                                       "more than 64 MiB: output or a file)\n  at "),
    ("forged_reply.py", "rnn", (), 2, "the child's answer during import is malformed"),
    ("tampered_child.py", "rnn", (), 2, "grads: missing key(s) ['h0']"),
    # -- more output the checks refuse
    ("grad_float32.py", "rnn", (), 2, "grads['U']: expected dtype float64, got float32 (the data given is float64"),
    ("grad_inf.py", "rnn", (), 2, "grads['V']: non-finite value inf at index (0, 1)"),
    ("loss_int.py", "rnn", (), 2, "loss: expected a float (a Python float or a 0-d float64 array), got the int 12"),
    ("loss_nan.py", "rnn", (), 2, "loss is not finite: nan"),
    ("returns_none.py", "rnn", (), 2, "loss_and_grads must return a tuple (loss, grads); got None"),
    ("returns_list.py", "rnn", (), 2, "must return a tuple (loss, grads); got a list of length 2"),
    # -- what already worked
    ("no_function.py", "rnn", (), 2, "defines no function loss_and_grads(params, x, y, h0=None)"),
    ("syntax_error.py", "rnn", (), 2, "syntax_error.py:4: syntax error"),
    ("wrong_shape.py", "rnn", (), 2, "grads['h0']: expected shape (3, 5), got (5,)"),
    ("missing_key.py", "rnn", (), 2, "grads: missing key(s) ['h0']"),
    ("nan_grad.py", "rnn", (), 2, "grads['h0']: non-finite value nan at index (0, 0)"),
    ("raises.py", "rnn", (), 2, "loss_and_grads raised ValueError: matmul"),
    ("import_error.py", "rnn", (), 2, "importing it raised ModuleNotFoundError: No module named "
                                      "'no_such_module_for_verify'\n  at "),
    ("swapped.py", "rnn", (), 2, "(did it return (grads, loss)?)"),
    ("a_directory.py", "rnn", (), 2, "a_directory.py: is a directory; expected a Python file"),
    ("no_such_file.py", "rnn", (), 2, "no_such_file.py: no such file"),
    ("student_rnn.py", "lstn", (), 2, "unknown model 'lstn'; known models: gru, gru_cho, leaky, lstm, rnn"),
    # -- options out of range
    ("student_rnn.py", "rnn", ("--timeout", "0"), 2, "argument --timeout: expected a number of seconds > 0, got '0'"),
    ("student_rnn.py", "rnn", ("--max-memory", "100"), 2, "argument --max-memory: expected an integer >= 256"),
    # -- accepted: other forms of a correct answer, and noise on stdout/stderr
    ("loss_python_float.py", "rnn", (), 0, "PASS"),
    ("loss_zero_d_array.py", "rnn", (), 0, "PASS"),
    ("prints_a_lot.py", "rnn", (), 0, "PASS"),
]


def _where(file: str) -> Path:
    return DATA / file if file.startswith("student_") else CASES / file


@pytest.mark.parametrize("file,model,options,code,message", TABLE,
                         ids=[f"{f}{''.join(o)}-{m}" for f, m, o, _, _ in TABLE])
def test_case(capsys, file, model, options, code, message):
    got, text = run_cli(capsys, model, _where(file), *options)
    assert (got, message in text) == (code, True), text
    assert "Traceback" not in text
    if code != OK:
        assert "PASS" not in text


def test_every_case_file_is_in_the_table():
    listed = {file for file, *_ in TABLE}
    assert {p.name for p in CASES.iterdir() if not p.name.startswith(("__", "."))} - listed == set()


def test_the_located_line_is_the_files():
    """Where a case says "at", it names the file and line of the culprit."""
    for file, lines in [("hang_call.py", (5, 6)), ("hang_import.py", (2, 3)), ("segfault.py", (6,)),
                        ("sys_exit_call.py", (6,)), ("keyboard_interrupt_call.py", (5,)), ("raises.py", (6,))]:
        code, text = verify("rnn", CASES / file, timeout=1)     # a loop is caught on either of its lines
        assert code == UNUSABLE and any(f"  at {CASES / file}:{line}: " in text for line in lines), text


# ---------------------------------------------------------------------------
# (2) the independent student implementations pass
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("model", STUDENTS)
def test_student_file_is_independent_of_the_project(model):
    tree = ast.parse(student(model).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert imported == {"numpy"}
    assert not any(isinstance(node, ast.ImportFrom) and node.level for node in ast.walk(tree))


@pytest.mark.parametrize("seed", [0, 11])
@pytest.mark.parametrize("model", STUDENTS)
def test_student_file_passes(model, seed):
    code, text = verify(model, student(model), seed=seed)
    assert code == OK, text
    assert text.splitlines()[-1] == "PASS: every gradient agrees with the derivation and the oracles"
    assert text.count("loss agrees") == text.count("comparisons agree") == 3, text   # three weight scales


@pytest.mark.parametrize("model", sorted(REGISTRY))
def test_generated_module_passes_verify(model):
    code, text = verify(model, GENERATED / f"{model}.py")
    assert code == OK, text


def test_a_helper_module_next_to_the_file_imports(tmp_path, monkeypatch):
    (tmp_path / "my_helpers.py").write_text(student("rnn").read_text())
    entry = tmp_path / "main.py"
    entry.write_text("from my_helpers import loss_and_grads\n")
    monkeypatch.chdir("/")
    code, text = verify("rnn", entry)
    assert code == OK, text


# ---------------------------------------------------------------------------
# (3) one realistic bug per line: exit 1, the gradient and the first wrong step named
# ---------------------------------------------------------------------------

def variant(tmp_path, model: str, old: str, new: str) -> Path:
    """The student file of ``model`` with ``old`` replaced by ``new`` (exactly one occurrence)."""
    text = student(model).read_text()
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {student(model).name}"
    path = tmp_path / f"student_{model}.py"
    path.write_text(text.replace(old, new))
    return path


BUGS = [
    pytest.param("rnn", 'g["W"] += da.T @ h[t]', 'g["W"] += h[t].T @ da', "W", 1, id="rnn-transposed"),
    pytest.param("rnn", 'g["W"] += da.T @ h[t]', 'g["W"] += da.T @ h[t + 1]', "W", 1, id="rnn-shifted-time"),
    pytest.param("rnn", "da = dh * (1 - h[t + 1] ** 2)", "da = dh * (1 - h[t] ** 2)", "U", 1,
                 id="rnn-tanh-derivative-at-the-wrong-step"),
    pytest.param("rnn", 'g["c"] += do.sum(axis=0)', 'g["c"] += 1.001 * do.sum(axis=0)', "c", 1, id="rnn-scaled"),
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
    pytest.param("gru_cho", 'grads["W"] += da.T @ (r * h_prev)', 'grads["W"] += (r * h_prev).T @ da',
                 "W", 1, id="gru_cho-transposed-W"),
    pytest.param("gru_cho", "dz = dh * (h_prev - hc)", "dz = dh * (hc - h_prev)", "W_z", 1,
                 id="gru_cho-update-sign"),
    pytest.param("leaky", "da = dh * rate * (1 - th ** 2)", "da = dh * (1 - th ** 2)", "U", 1,
                 id="leaky-missing-rate"),
    pytest.param("leaky", "/ alpha ** 2", "/ alpha", "alpha", 1, id="leaky-alpha-power"),
]


@pytest.mark.parametrize("model,old,new,gradient,step", BUGS)
def test_wrong_gradient_is_named_with_its_time_step(tmp_path, model, old, new, gradient, step):
    path = variant(tmp_path, model, old, new)
    code, text = verify(model, path)
    assert code == WRONG, text
    assert "FAILED" in text and "PASS" not in text and "Traceback" not in text
    # each wrong gradient once, all its oracles on one line
    named = re.findall(r"^  (\w+): wrong (?:from|at) t=\d+ -- autograd [-+.e\d]+(?: \(agrees\))?, "
                       r"complex step [-+.e\d]+(?: \(agrees\))?, mpmath [-+.e\d]+(?: \(agrees\))? "
                       r"\(allowed ~[-+.e\d]+\)$", text, flags=re.M)
    assert gradient in named and len(named) == len(set(named)), text
    assert f"  {gradient}: wrong from t={step} -- " in text, text
    # the worst-entries table once, never a whole matrix
    assert len(re.findall(r"^\s+index\s+expected\s+got$", text, flags=re.M)) == 1
    rows = [line for line in text.splitlines() if line.startswith("    (")]
    assert 1 <= len(rows) <= 5
    assert "safety * N * u" not in text                   # the error model waits for --explain
    assert f"reproduce: python -m derive verify {model} {path}" in text


def test_explain_adds_the_error_model(tmp_path):
    path = variant(tmp_path, "rnn", 'g["W"] += da.T @ h[t]', 'g["W"] += h[t].T @ da')
    code, plain = verify("rnn", path)
    code_explained, text = verify("rnn", path, explain=True)
    assert code == code_explained == WRONG
    assert text.startswith(plain.rsplit("\nreproduce", 1)[0])
    assert "gradient 'W' DISAGREES with autograd from time step t=1" in text
    assert "safety * N * u * kappa * A (safety=4, N=" in text


def test_a_wrong_loss_is_caught_within_the_error_model(tmp_path):
    """The loss's tolerance comes from tolerances.float64_loss_tolerance (not 1e-10):
    a relative error of 1e-11 fails, and --explain shows the terms."""
    code, text = verify("rnn", CASES / "loss_off_by_1e-11.py", explain=True)
    assert code == WRONG
    assert "floating-point loss: " in text and "safety * N * u * kappa * A" in text


# ---------------------------------------------------------------------------
# (4) wrong model or wrong API: exit 2 and a clear message
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


def test_the_function_refuses_a_negative_seed_and_an_unknown_model():
    assert verify("rnn", student("rnn"), seed=-1)[0] == UNUSABLE
    code, text = verify("lstn", student("lstm"))
    assert code == UNUSABLE and "unknown model 'lstn'" in text


# ---------------------------------------------------------------------------
# (5) the sandbox's parts
# ---------------------------------------------------------------------------

def test_the_frame_format_round_trips_and_refuses_what_it_does_not_list():
    arrays = {"a": np.arange(6.0).reshape(2, 3), "y": np.arange(4), "s": np.float32([1.5])}
    frame = sandbox.encode({"status": "ok", "loss": 0.1}, arrays)
    header_size, data_size = sandbox._PREFIX.unpack(frame[:16])
    header, data = frame[16:16 + header_size], frame[16 + header_size:]
    meta, back = sandbox.decode(header, data)
    assert meta == {"status": "ok", "loss": 0.1}
    assert all(np.array_equal(back[k], v) and back[k].dtype == v.dtype for k, v in arrays.items())
    with pytest.raises(TypeError):
        sandbox.encode({}, {"c": np.zeros(2, complex)})
    for bad_header, bad_data in [(b"\xff", data), (b"[]", data), (header, data + b"\0"), (header, data[:-1]),
                                 (header.replace(b'"float64"', b'"object"'), data)]:
        with pytest.raises(ValueError):
            sandbox.decode(bad_header, bad_data)


def test_check_output_accepts_exactly_the_declared_answer():
    grads = {"W": np.zeros((2, 2))}
    for loss in (1.5, np.float64(1.5), np.array(1.5)):
        assert answer.check_output((loss, grads), {"W": (2, 2)}, np.float64)[0] == 1.5
    for out in [(np.float32(1.5), grads), (True, grads), (1.5, {"W": np.zeros((2, 2), np.float32)}),
                (1.5, {"W": np.zeros((2, 2)).view(np.ma.MaskedArray)}), (1.5, {"W": np.zeros((2, 2)), 3: np.zeros(1)})]:
        with pytest.raises(UserCodeError):
            answer.check_output(out, {"W": (2, 2)}, np.float64)


# ---------------------------------------------------------------------------
# (6) the command line
# ---------------------------------------------------------------------------

def test_help_lists_the_models_the_exit_codes_and_the_ranges(capsys):
    with pytest.raises(SystemExit):
        main(["verify", "--help"])
    text = capsys.readouterr().out
    assert all(name in text for name in REGISTRY)
    assert re.search(r"^  0  .*agree", text, flags=re.M) and re.search(r"^  1  .*wrong", text, flags=re.M)
    assert re.search(r"^  2  unusable", text, flags=re.M)
    assert "an integer >= 0" in text and "> 0 (default 60)" in text and ">= 256 (default 4096" in text


def test_cli_smoke():
    proc = subprocess.run([sys.executable, "-m", "derive", "verify", "leaky", str(student("leaky"))],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-1] == "PASS: every gradient agrees with the derivation and the oracles"
    assert "Traceback" not in proc.stderr
