"""A student's own BPTT for the vanilla RNN, written independently of the project
(explicit loops, column-vector textbook formulas of 004_2bd5bd3ef5bc2048.txt).
It is a *user file* for `python -m derive verify rnn`, not project code."""
import numpy as np


def loss_and_grads(params, x, y, h0=None):
    U, W, b, V, c = (params[k] for k in "UWbVc")
    tau, B, m = x.shape
    n = W.shape[0]
    h = np.zeros((tau + 1, B, n)) if h0 is None else np.concatenate([h0[None], np.zeros((tau, B, n))])
    yhat = []
    loss = 0.0
    for t in range(tau):
        h[t + 1] = np.tanh(b + h[t] @ W.T + x[t] @ U.T)
        o = c + h[t + 1] @ V.T
        e = np.exp(o - o.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        loss -= np.log(p[np.arange(B), y[t]]).sum()
        yhat.append(p)
    g = {k: np.zeros_like(v) for k, v in params.items()}
    g["x"] = np.zeros_like(x)
    dh_next = np.zeros((B, n))
    for t in reversed(range(tau)):
        do = yhat[t].copy()
        do[np.arange(B), y[t]] -= 1
        g["V"] += do.T @ h[t + 1]
        g["c"] += do.sum(axis=0)
        dh = do @ V + dh_next
        da = dh * (1 - h[t + 1] ** 2)
        g["W"] += da.T @ h[t]
        g["U"] += da.T @ x[t]
        g["b"] += da.sum(axis=0)
        g["x"][t] = da @ U
        dh_next = da @ W
    g["h0"] = dh_next
    return loss, g
