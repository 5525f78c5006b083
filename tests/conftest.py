"""Shared pytest configuration: Hypothesis profiles, the ``slow`` opt-in, and
per-test hygiene for mpmath's global precision.

Hypothesis profiles (choose with ``HYPOTHESIS_PROFILE=<name>``):

* ``dev``      -- 25 examples, no deadline (the default on a developer machine);
* ``ci``       -- 15 examples, derandomized, no deadline (the default when ``CI`` is set);
* ``thorough`` -- 400 examples, no deadline (for a long local run).

Tests marked ``slow`` are skipped unless ``--run-slow`` is given or the
environment has ``RNN_DERIVE_SLOW=1``.

Nothing is seeded globally: tests that need randomness build their own
``numpy.random.default_rng(seed)``.
"""
from __future__ import annotations

import importlib
import os
import platform

import mpmath
import pytest
from hypothesis import HealthCheck, settings

# --------------------------------------------------------------------------
# Hypothesis profiles
# --------------------------------------------------------------------------

settings.register_profile("dev", max_examples=25, deadline=None)
settings.register_profile(
    "ci",
    max_examples=15,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", max_examples=400, deadline=None)


def _env_flag(name: str) -> bool:
    """True when the environment variable ``name`` is set to a true-ish value."""
    value = os.environ.get(name, "").strip().lower()
    return value not in ("", "0", "false", "no", "off")


def _default_profile() -> str:
    explicit = os.environ.get("HYPOTHESIS_PROFILE", "").strip()
    if explicit:
        return explicit
    return "ci" if _env_flag("CI") else "dev"


_PROFILE = _default_profile()
settings.load_profile(_PROFILE)

# --------------------------------------------------------------------------
# The ``slow`` opt-in
# --------------------------------------------------------------------------

_DEFAULT_DPS = 15


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-slow",
        action="store_true",
        default=False,
        help="run tests marked slow (also enabled by RNN_DERIVE_SLOW=1)",
    )


def _run_slow(config: pytest.Config) -> bool:
    return bool(config.getoption("--run-slow")) or os.environ.get("RNN_DERIVE_SLOW", "").strip() == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _run_slow(config):
        return
    skip_slow = pytest.mark.skip(reason="slow: opt in with --run-slow or RNN_DERIVE_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


# --------------------------------------------------------------------------
# Per-test hygiene
# --------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _reset_mpmath_precision():
    """Every test starts and ends with mpmath at its default 15 digits."""
    mpmath.mp.dps = _DEFAULT_DPS
    yield
    mpmath.mp.dps = _DEFAULT_DPS


# --------------------------------------------------------------------------
# Report header
# --------------------------------------------------------------------------

_HEADER_PACKAGES = ("numpy", "sympy", "mpmath", "autograd", "hypothesis")


def _version_of(name: str) -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version(name)
        except PackageNotFoundError:
            pass
        module = importlib.import_module(name)
        return str(getattr(module, "__version__", "unknown"))
    except Exception:  # a missing package must not break the header
        return "not installed"


def pytest_report_header(config: pytest.Config) -> list[str]:
    versions = [f"python {platform.python_version()}"]
    versions += [f"{name} {_version_of(name)}" for name in _HEADER_PACKAGES]
    return [
        "rnn-derive: " + ", ".join(versions),
        f"rnn-derive: hypothesis profile {_PROFILE!r}; slow tests "
        + ("enabled" if _run_slow(config) else "skipped (use --run-slow or RNN_DERIVE_SLOW=1)"),
    ]
