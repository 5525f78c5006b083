"""Smoke tests of numeric.bench.  Speed is never asserted: only structure."""
from __future__ import annotations

import types

import numpy as np
import pytest

from numeric import bench
from numeric.generated import rnn

KEYS = {"model", "shape", "dtype", "repeats", "generated_s", "floor_s", "autograd_s",
        "generated_over_floor", "autograd_over_generated",
        "floor_products", "threadpool", "env"}


def test_run_rows_and_table():
    rows = bench.run(B=2, n=3, m=4, K=5, tau=3, repeats=1)
    assert isinstance(rows, list) and len(rows) == 1
    row = rows[0]
    assert set(row) == KEYS
    assert row["model"] == "rnn"
    assert row["shape"] == "B=2 tau=3 n=3 m=4 K=5"
    for key in ("generated_s", "floor_s", "autograd_s"):
        assert isinstance(row[key], float) and row[key] > 0
    assert row["generated_over_floor"] == pytest.approx(row["generated_s"] / row["floor_s"])
    assert row["autograd_over_generated"] == pytest.approx(row["autograd_s"] / row["generated_s"])
    assert row["floor_products"] and all(isinstance(p, str) for p in row["floor_products"])
    assert isinstance(row["threadpool"], str) and isinstance(row["env"], dict)
    assert set(row["env"]) <= {"OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"}

    table = bench.format_table(rows)
    for r in rows:
        assert r["model"] in table


def test_format_table_mentions_every_model():
    rows = bench.run(B=2, n=3, m=4, K=5, tau=3, repeats=1)
    fake = [dict(rows[0], model="other_model")]
    table = bench.format_table(rows + fake)
    assert "rnn" in table and "other_model" in table


def test_trace_records_products_with_layout_and_aliasing():
    """The tracer sees ``@`` on traced inputs and on arrays derived from them,
    keeps transposed views transposed, and maps slices of one buffer to it."""
    def loss_and_grads(params, x, y, h0=None):
        W = params["W"]
        a = x.reshape(-1, x.shape[-1]) @ W.T          # (6, 3) @ (3, 3).T
        h = np.empty((3, 2, 3))
        for t in range(3):
            h[t] = np.tanh(a[2 * t:2 * t + 2])
        g = (a + 1.0).T @ a                           # derived @ derived
        return float(g.sum()), {"W": h[1] @ W}         # slice of a fresh buffer @ param

    module = types.SimpleNamespace(loss_and_grads=loss_and_grads)
    x = np.ones((3, 2, 3))
    products, sizes = bench.trace_products(module, {"W": np.eye(3)}, x, None, {})
    assert [(p[0][2], p[1][2], p[2]) for p in products] == [
        ((6, 3), (3, 3), (6, 3)), ((3, 6), (6, 3), (3, 3)), ((2, 3), (3, 3), (2, 3))]
    w_buffer = products[0][1][0]
    assert products[2][1][0] == w_buffer             # W (transposed or not) is one buffer
    assert products[0][1][3][0] < products[0][1][3][1]   # W.T is an F-ordered view
    assert products[2][0][1] == 2 * 3 * 8            # h[1]: offset one step into h
    assert bench.describe_products(products)[0] == "1 x (6,3)@(3,3).T"
    bench.floor_runner(products, sizes)()            # the replay runs


def test_trace_records_dot_and_refuses_other_products():
    W = {"W": np.eye(3)}
    x = np.ones((1, 2, 3))

    def with_dot(params, x, y):
        return 0.0, {"W": x[0].dot(params["W"]) + np.dot(x[0], params["W"].T)}

    products, _ = bench.trace_products(types.SimpleNamespace(loss_and_grads=with_dot), W, x, None, {})
    assert bench.describe_products(products) == ["1 x (2,3)@(3,3)", "1 x (2,3)@(3,3).T"]

    def with_einsum(params, x, y):
        return 0.0, {"W": np.einsum("bi,ij->bj", x[0], params["W"])}

    with pytest.raises(ValueError, match="einsum"):
        bench.trace_products(types.SimpleNamespace(loss_and_grads=with_einsum), W, x, None, {})
