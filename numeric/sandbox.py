"""Run a user's ``loss_and_grads`` in a child process, and check what it returns.

``verify`` runs code it cannot trust to behave: a file may loop forever, call
``sys.exit(0)`` or ``os._exit(0)``, exhaust memory, crash in native code,
change its inputs in place, or return lists, strings or complex numbers.  None
of that may reach the verifier's own process, so the file never runs there:

* :class:`Sandbox` starts ``python -c BOOT`` (this module's :func:`_child`) in a
  session of its own, with an address-space limit (``RLIMIT_AS``), imports the
  file there and calls its ``loss_and_grads`` on the data the parent sends.
  Every wait (start, import, each call) has a timeout; on a timeout the child's
  stack is dumped (``faulthandler`` on SIGUSR1) to say where it hung, and its
  process group is killed.
* Both sides speak one frame format over two pipes of their own (not stdout,
  which the user's code may print to): 16 bytes (header length, data length),
  a JSON header of strings, numbers, lists and dicts, then the raw bytes of the
  arrays the header lists by name, dtype (float64, float32 or int64 only) and
  shape.  Nothing is pickled: only validated arrays, numbers and strings cross.
* :func:`numeric.answer.check_output` is the one definition of an acceptable
  answer.  The child applies it to what the function returned before sending;
  the parent applies it again to what it decoded (the user's code shares the
  child's process and could have changed the child's copy of that module).
* The child compares the inputs after each call with copies taken before it and
  names those the function changed in place.

Whatever the child does instead of answering becomes a
:class:`~derive.errors.UserCodeError` saying what happened and when ("during
import", "inside loss_and_grads").  The child's output goes to a temporary file
(``RLIMIT_FSIZE``, :data:`MAX_OUTPUT_MIB`), read for the stack of a crash or a
hang; on Linux the child dies with its parent.  POSIX only (sessions, rlimits,
signals).

This isolates the verifier from a file's mistakes; it is not a security boundary:
the child runs as the user, with the user's files and network.
"""
from __future__ import annotations

import ctypes
import errno
import faulthandler
import importlib.util
import json
import linecache
import math
import os
import re
import select
import signal
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

from derive.errors import UserCodeError
from numeric import answer

try:
    import resource
except ImportError:          # not POSIX: no memory limit
    resource = None

#: seconds allowed for importing the file and for each call of loss_and_grads
TIMEOUT = 60.0
#: the child's address-space limit in MiB (RLIMIT_AS); Python with NumPy maps ~150 MiB
MAX_MEMORY_MIB = 4096
MIN_MEMORY_MIB = 256
#: seconds allowed for the child to start (Python and NumPy), at least
START_TIMEOUT = 30.0
#: the largest file the child may write (RLIMIT_FSIZE), its captured output included
MAX_OUTPUT_MIB = 64

DURING_START = "while the child process started"
DURING_IMPORT = "during import"
DURING_CALL = "inside loss_and_grads"

ROOT = Path(__file__).resolve().parent.parent
BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); "
        "from numeric.sandbox import _child; _child(sys.argv[2:])")

WIRE_DTYPES = {"float64": np.dtype("<f8"), "float32": np.dtype("<f4"), "int64": np.dtype("<i8")}
_PREFIX = struct.Struct(">QQ")
_MAX_HEADER = 1 << 20


# ---------------------------------------------------------------------------
# The frame format (both sides)
# ---------------------------------------------------------------------------

class _Malformed(ValueError):
    pass


def encode(meta: dict, arrays: dict | None = None) -> bytes:
    """One frame: ``meta`` (JSON-able) and named arrays of a WIRE_DTYPES dtype."""
    listed, chunks = [], []
    for name, a in (arrays or {}).items():
        a = np.asarray(a)
        wire = next((w for w, d in WIRE_DTYPES.items() if a.dtype == d), None)
        if wire is None:
            raise TypeError(f"{name}: dtype {a.dtype} cannot be sent (only {', '.join(WIRE_DTYPES)})")
        listed.append([name, wire, list(a.shape)])
        chunks.append(np.ascontiguousarray(a, dtype=WIRE_DTYPES[wire]).tobytes())
    header = json.dumps({"meta": meta, "arrays": listed}).encode()
    data = b"".join(chunks)
    return _PREFIX.pack(len(header), len(data)) + header + data


def decode(header: bytes, data: bytes) -> tuple:
    """(meta, {name: array}) of a frame; :class:`_Malformed` for anything unexpected."""
    try:
        head = json.loads(header.decode())
    except (UnicodeDecodeError, ValueError) as e:
        raise _Malformed(f"its header is not JSON ({e})") from None
    if not (isinstance(head, dict) and isinstance(head.get("meta"), dict)
            and isinstance(head.get("arrays"), list)):
        raise _Malformed("its header is not {meta, arrays}")
    arrays, offset = {}, 0
    for item in head["arrays"]:
        if not (isinstance(item, list) and len(item) == 3 and isinstance(item[0], str) and item[0] not in arrays
                and item[1] in WIRE_DTYPES and isinstance(item[2], list)
                and all(type(d) is int and d >= 0 for d in item[2])):
            raise _Malformed(f"it lists an array as {item!r:.80}")
        name, dtype, shape = item[0], WIRE_DTYPES[item[1]], tuple(item[2])
        count = math.prod(shape)
        if offset + count * dtype.itemsize > len(data):
            raise _Malformed(f"array {name!r} runs past the end of the data")
        arrays[name] = np.frombuffer(data, dtype, count, offset).reshape(shape).copy()
        offset += count * dtype.itemsize
    if offset != len(data):
        raise _Malformed(f"{len(data) - offset} bytes of data are not listed")
    return head["meta"], arrays


# ---------------------------------------------------------------------------
# Where in the user's code (both sides)
# ---------------------------------------------------------------------------

def _user_frame(frames, path: Path) -> str:
    """"  at FILE:LINE: source" for the most recent of ``frames`` ((filename, line),
    oldest first) in the user's file or its folder, else ""."""
    path = path.absolute()
    folder = path.parent
    for filename, line in reversed(list(frames)):
        file = Path(filename)
        if file.is_absolute() and (file == path or (file.is_relative_to(folder)
                                                    and "site-packages" not in file.parts)):
            source = linecache.getline(filename, line).strip()
            return f"\n  at {filename}:{line}" + (f": {source}" if source else "")
    return ""


def _at(e: BaseException, path: Path) -> str:
    """Where in the user's code ``e`` was raised (see :func:`_user_frame`)."""
    return _user_frame([(f.filename, f.lineno) for f in traceback.extract_tb(e.__traceback__)], path)


def _raised(e: BaseException, path: Path, hint: str = "") -> str:
    """"Type: message", ``hint``, and where in the user's code ``e`` was raised."""
    try:
        text = str(e)
    except BaseException:  # noqa: BLE001 - an exception of the file's whose __str__ fails
        text = "(its message cannot be printed)"
    if len(text) > 1000:
        text = f"{text[:1000]}... ({len(text) - 1000} more characters)"
    message = f"{type(e).__name__}: {text}" if text else type(e).__name__
    return message + hint + _at(e, path)


_DUMP_FRAME = re.compile(r'^\s*File "(.+)", line (\d+) in ', re.M)


def _dumped_frame(text: str, path: Path) -> str:
    """The user's frame in the last faulthandler dump of ``text`` (most recent call first)."""
    dump = text.rsplit("most recent call first", 1)
    if len(dump) < 2:
        return ""
    frames = [(m.group(1), int(m.group(2))) for m in _DUMP_FRAME.finditer(dump[1])]
    return _user_frame(reversed(frames), path)


# ---------------------------------------------------------------------------
# The parent
# ---------------------------------------------------------------------------

def _check_path(path: Path) -> None:
    if path.is_dir():
        raise UserCodeError(f"{path}: is a directory; expected a Python file (.py) that defines loss_and_grads")
    if not path.exists():
        raise UserCodeError(f"{path}: no such file")
    if not path.is_file():
        raise UserCodeError(f"{path}: not a regular file; expected a Python file (.py)")
    if path.suffix != ".py":
        raise UserCodeError(f"{path}: not a Python file: expected a path ending in .py, got "
                            f"{repr(path.suffix) if path.suffix else 'no suffix'}")
    if not os.access(path, os.R_OK):
        raise UserCodeError(f"{path}: cannot be read")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class Sandbox:
    """A child process that has imported ``path`` and calls its ``loss_and_grads``.

    Use as a context manager; :meth:`call` sends one set of inputs and returns the
    checked ``(loss, grads)``.  Every failure raises :class:`UserCodeError`; once
    the child is gone, :attr:`failure` says why and later calls raise it again."""

    def __init__(self, path, *, timeout: float = TIMEOUT, max_memory: int = MAX_MEMORY_MIB):
        self.path = Path(path)
        self.timeout = float(timeout)
        self.max_memory = int(max_memory)
        self.failure = None
        self._proc = None

    def __enter__(self):
        _check_path(self.path)
        self._output = tempfile.TemporaryFile()
        request_read, self._request = os.pipe()
        self._reply, reply_write = os.pipe()
        env = dict(os.environ)
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env.setdefault(name, "1")      # small data; one thread keeps the child's memory map small
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", BOOT, str(ROOT), str(self.path.absolute()), str(request_read),
                 str(reply_write), str(self.max_memory), str(os.getpid())],
                stdin=subprocess.DEVNULL, stdout=self._output, stderr=self._output, env=env,
                pass_fds=(request_read, reply_write), start_new_session=True)
        finally:
            os.close(request_read)
            os.close(reply_write)
        try:
            self._expect("started", DURING_START, max(self.timeout, START_TIMEOUT))
            self._expect("ready", DURING_IMPORT, self.timeout)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        if self._proc is None:
            return
        for fd in (self._request, self._reply):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            self._proc.wait(timeout=1.0)        # the child exits when its request pipe closes
        except subprocess.TimeoutExpired:
            self._kill()
        self._output.close()
        self._proc = None

    # -- one call ----------------------------------------------------------------
    def call(self, params: dict, x, y, init: dict, expected: dict) -> tuple:
        """``loss_and_grads(params, x, y, **init)`` in the child: the checked
        ``(loss, grads)``; ``expected`` maps each gradient's key to its shape."""
        if self.failure:
            raise UserCodeError(self.failure)
        dtype = np.asarray(x).dtype
        meta = {"params": list(params), "init": list(init), "dtype": dtype.name,
                "expected": {k: list(shape) for k, shape in expected.items()}}
        arrays = {**{f"params/{k}": v for k, v in params.items()}, "x": x, "y": y,
                  **{f"init/{k}": v for k, v in init.items()}}
        self._send(encode(meta, arrays), DURING_CALL)
        size = sum(math.prod(shape) for shape in expected.values()) * dtype.itemsize
        reply, arrays = self._receive(DURING_CALL, self.timeout, size)
        if reply.get("status") == "error":
            raise UserCodeError(str(reply.get("message")))
        if reply.get("status") != "ok" or any(not name.startswith("grads/") for name in arrays):
            self._malformed(DURING_CALL, f"it is {str(reply)[:80]!r}")
        grads = {name[len("grads/"):]: value for name, value in arrays.items()}
        return answer.check_output((reply.get("loss"), grads), expected, dtype)

    # -- the pipes -----------------------------------------------------------------
    def _expect(self, status: str, phase: str, timeout: float) -> None:
        reply, _ = self._receive(phase, timeout, 0)
        if reply.get("status") == "error":
            self._fail(str(reply.get("message")))
        if reply.get("status") != status:
            self._malformed(phase, f"expected {status!r}, got {str(reply)[:80]!r}")

    def _send(self, frame: bytes, phase: str) -> None:
        deadline = time.monotonic() + self.timeout
        view = memoryview(frame)
        while view:
            left = deadline - time.monotonic()
            if left <= 0:
                self._timed_out(phase)
            _, writable, _ = select.select([], [self._request], [], min(left, 0.1))
            if not writable:
                if self._proc.poll() is not None:
                    self._ended(phase)
                continue
            try:
                view = view[os.write(self._request, view[:1 << 16]):]
            except BrokenPipeError:
                self._ended(phase)

    def _receive(self, phase: str, timeout: float, max_data: int) -> tuple:
        deadline = time.monotonic() + timeout
        header_size, data_size = _PREFIX.unpack(self._read(_PREFIX.size, deadline, phase))
        if header_size > _MAX_HEADER or data_size > max_data:
            self._malformed(phase, f"it announces {header_size} + {data_size} bytes")
        header = self._read(header_size, deadline, phase)
        data = self._read(data_size, deadline, phase)
        try:
            return decode(header, data)
        except _Malformed as e:
            self._malformed(phase, str(e))

    def _read(self, size: int, deadline: float, phase: str) -> bytes:
        buffer = bytearray()
        while len(buffer) < size:
            left = deadline - time.monotonic()
            if left <= 0:
                self._timed_out(phase)
            readable, _, _ = select.select([self._reply], [], [], min(left, 0.1))
            if readable:
                chunk = os.read(self._reply, min(size - len(buffer), 1 << 20))
                if not chunk:
                    self._ended(phase)
                buffer += chunk
            elif self._proc.poll() is not None:
                self._ended(phase)
        return bytes(buffer)

    # -- failures ----------------------------------------------------------------
    def _fail(self, message: str):
        self.failure = message
        self._kill()
        raise UserCodeError(message)

    def _kill(self) -> None:
        if self._proc.poll() is None:
            try:
                os.killpg(self._proc.pid, signal.SIGKILL)     # the child's own session and group
            except ProcessLookupError:
                pass
        self._proc.wait()

    def _output_text(self, start: int = 0) -> str:
        fd = self._output.fileno()
        end = os.fstat(fd).st_size
        start = max(start, end - (1 << 16))
        return os.pread(fd, end - start, start).decode(errors="replace")

    def _malformed(self, phase: str, what: str):
        self._fail(f"the child's answer {phase} is malformed: {what} (did the file write to its "
                   f"file descriptors or replace the verify child's code?)")

    def _ended(self, phase: str):
        try:
            code = self._proc.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            self._fail(f"the child process closed its reply pipe {phase} without answering")
        where = _dumped_frame(self._output_text(), self.path)
        if code >= 0:
            reason = (f"the process exited with status {code} {phase} before answering "
                      f"(os._exit({code})? sys.exit and exceptions are reported by name)")
        else:
            name = _signal_name(-code)
            why = {"SIGKILL": f"out of memory (the system's OOM killer; --max-memory is {self.max_memory} MiB) "
                              "or a kill from outside?",
                   "SIGSEGV": "a crash in native code", "SIGBUS": "a crash in native code",
                   "SIGABRT": "aborted", "SIGFPE": "a crash in native code", "SIGILL": "a crash in native code",
                   }.get(name, "")
            reason = f"the process was killed by signal {-code} ({name}{': ' + why if why else ''}) {phase}"
        if phase == DURING_START:
            tail = "\n".join(self._output_text().strip().splitlines()[-5:])
            where += f"\n  its output ended with:\n{tail}" if tail else ""
        self._fail(reason + where)

    def _timed_out(self, phase: str):
        where = ""
        if self._proc.poll() is None and hasattr(signal, "SIGUSR1"):
            start = os.fstat(self._output.fileno()).st_size
            os.kill(self._proc.pid, signal.SIGUSR1)        # faulthandler dumps the child's stack
            deadline = time.monotonic() + 3.0       # a loaded machine may take a while
            while time.monotonic() < deadline and "most recent call first" not in self._output_text(start):
                time.sleep(0.02)
            time.sleep(0.05)
            where = _dumped_frame(self._output_text(start), self.path)
        self._fail(f"timed out after {self.timeout:g} s {phase} (--timeout {self.timeout:g}){where}")


# ---------------------------------------------------------------------------
# The child
# ---------------------------------------------------------------------------

def _send_blocking(fd: int, meta: dict, arrays: dict | None = None) -> None:
    view = memoryview(encode(meta, arrays))
    while view:
        view = view[os.write(fd, view):]


def _send_error(fd: int, message: str, limit: int = 4000) -> None:
    """A refusal, cut to ``limit`` characters (an exception's message may be huge)."""
    cut = message if len(message) <= limit else f"{message[:limit]}... ({len(message) - limit} more characters)"
    _send_blocking(fd, {"status": "error", "message": cut})


def _read_blocking(fd: int, size: int) -> bytes | None:
    buffer = bytearray()
    while len(buffer) < size:
        chunk = os.read(fd, size - len(buffer))
        if not chunk:
            return None
        buffer += chunk
    return bytes(buffer)


def _limit_hint(e: BaseException, limit_mib: int) -> str:
    if isinstance(e, MemoryError):
        return f" (the memory limit is {limit_mib} MiB; --max-memory raises it)"
    if isinstance(e, OSError) and e.errno == errno.EFBIG:
        return f" (the file wrote more than {MAX_OUTPUT_MIB} MiB: output or a file)"
    return ""


def _import(path: Path, limit_mib: int):
    sys.path.insert(0, str(path.parent))     # the file's own helper modules import, as with python PATH
    name = f"_verify_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UserCodeError(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
        fn = getattr(module, "loss_and_grads", None)
    except SyntaxError as e:
        raise UserCodeError(f"{e.filename}:{e.lineno}: syntax error: {e.msg}") from None
    except SystemExit as e:
        raise UserCodeError(f"the file called sys.exit({e.code!r}) {DURING_IMPORT}{_at(e, path)}") from None
    except BaseException as e:  # noqa: BLE001 - anything the file does is reported, KeyboardInterrupt too
        raise UserCodeError(f"{path}: importing it raised {_raised(e, path, _limit_hint(e, limit_mib))}"
                            ) from None
    if not callable(fn):
        raise UserCodeError(f"{path}: defines no function loss_and_grads(params, x, y, h0=None)")
    return fn


def _inputs(params: dict, x, y, init: dict) -> dict:
    return {**{f"params[{k!r}]": v for k, v in params.items()}, "x": x, "y": y, **init}


def _changed(before: dict, params: dict, x, y, init: dict) -> str:
    """What the call changed of its inputs (their copies ``before`` it), or ""."""
    now = _inputs(params, x, y, init)
    changed = [name for name, old in before.items()
               if name in now and not (isinstance(now[name], np.ndarray) and now[name].shape == old.shape
                                       and now[name].dtype == old.dtype and np.array_equal(now[name], old))]
    removed = [name for name in before if name not in now]
    added = [name for name in now if name not in before]
    parts = [f"{verb} {', '.join(names)}{where}" for verb, names, where in
             [("changed", changed, " in place"), ("removed", removed, ""), ("added", added, "")] if names]
    if not parts:
        return ""
    copy = f"{changed[0]}.copy()" if changed else "dict(params)"
    return f"loss_and_grads {' and '.join(parts)}; it must not modify its inputs (work on a copy, e.g. {copy})"


def _answer(fn, meta: dict, arrays: dict, path: Path, limit_mib: int) -> tuple:
    params = {k: arrays[f"params/{k}"] for k in meta["params"]}
    init = {k: arrays[f"init/{k}"] for k in meta["init"]}
    x, y = arrays["x"], arrays["y"]
    before = {name: v.copy() for name, v in _inputs(params, x, y, init).items()}
    try:
        out = fn(params, x, y, **init)
    except SystemExit as e:
        raise UserCodeError(f"loss_and_grads called sys.exit({e.code!r}){_at(e, path)}") from None
    except BaseException as e:  # noqa: BLE001 - KeyboardInterrupt too: it is the file's, not the user's
        raise UserCodeError(f"loss_and_grads raised {_raised(e, path, _limit_hint(e, limit_mib))}") from None
    changed = _changed(before, params, x, y, init)
    if changed:
        raise UserCodeError(changed)
    return answer.check_output(out, {k: tuple(v) for k, v in meta["expected"].items()}, meta["dtype"])


def _limit(parent: int, limit_mib: int) -> None:
    """The child's limits: address space and file size; on Linux it dies with its parent
    (a verify killed from outside leaves no child running the user's code)."""
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)      # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        os._exit(1)
    if resource is None:
        return
    for kind, size in ((resource.RLIMIT_AS, limit_mib << 20), (resource.RLIMIT_FSIZE, MAX_OUTPUT_MIB << 20)):
        hard = resource.getrlimit(kind)[1]
        size = size if hard == resource.RLIM_INFINITY else min(size, hard)
        resource.setrlimit(kind, (size, size))


def _child(argv) -> None:
    """The child's main loop: import the file, then answer calls until the request pipe closes."""
    path, request, reply, limit_mib = Path(argv[0]), int(argv[1]), int(argv[2]), int(argv[3])
    sys.argv = [str(path)]
    sys.dont_write_bytecode = True                 # leave no __pycache__ next to the user's file
    faulthandler.enable(all_threads=True)          # a crash in native code shows the user's line
    if hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, all_threads=True)    # the parent's "where are you?"
    _limit(int(argv[4]), limit_mib)
    _send_blocking(reply, {"status": "started"})
    try:
        fn = _import(path, limit_mib)
    except UserCodeError as e:
        _send_error(reply, str(e))
        os._exit(0)
    _send_blocking(reply, {"status": "ready"})
    while True:
        prefix = _read_blocking(request, _PREFIX.size)
        if prefix is None:
            os._exit(0)                             # the parent is done: skip the file's atexit hooks
        header_size, data_size = _PREFIX.unpack(prefix)
        meta, arrays = decode(_read_blocking(request, header_size), _read_blocking(request, data_size))
        try:
            loss, grads = _answer(fn, meta, arrays, path, limit_mib)
        except UserCodeError as e:
            _send_error(reply, str(e))
            continue
        except BaseException as e:  # noqa: BLE001 - e.g. an output object whose methods raise
            _send_error(reply, f"the output of loss_and_grads cannot be checked: {_raised(e, path)}")
            continue
        _send_blocking(reply, {"status": "ok", "loss": loss}, {f"grads/{k}": v for k, v in grads.items()})
