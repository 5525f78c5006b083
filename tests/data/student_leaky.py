"""A student's own BPTT for the leaky-integration RNN (one time constant alpha >= 1
per hidden unit), written independently of the project with explicit loops over
time.  Every row is one example, so ``W h`` becomes ``h @ W.T``.  It is a *user
file* for `python -m derive verify leaky`, not project code.

    a = b + W h_prev + U x
    h = (1 - 1/alpha) * h_prev + (1/alpha) * tanh(a)
    o = c + V h,  loss = sum_t -log softmax(o)[y]
"""
import numpy as np


def loss_and_grads(params, x, y, h0=None):
    U, W, b, alpha = params["U"], params["W"], params["b"], params["alpha"]
    V, c = params["V"], params["c"]
    tau, B, m = x.shape
    n = W.shape[0]
    keep = 1 - 1 / alpha          # fraction of the old state kept, per unit
    rate = 1 / alpha              # fraction of the new value mixed in

    h = np.zeros((tau + 1, B, n))
    if h0 is not None:
        h[0] = h0
    tanh_a, probs = [], []
    loss = 0.0
    for t in range(tau):
        th = np.tanh(b + h[t] @ W.T + x[t] @ U.T)
        h[t + 1] = keep * h[t] + rate * th
        o = c + h[t + 1] @ V.T
        e = np.exp(o - o.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        loss -= np.log(p[np.arange(B), y[t]]).sum()
        tanh_a.append(th)
        probs.append(p)

    grads = {k: np.zeros_like(v) for k, v in params.items()}
    grads["x"] = np.zeros_like(x)
    dh_next = np.zeros((B, n))
    for t in reversed(range(tau)):
        th = tanh_a[t]
        do = probs[t].copy()
        do[np.arange(B), y[t]] -= 1
        grads["V"] += do.T @ h[t + 1]
        grads["c"] += do.sum(axis=0)

        dh = do @ V + dh_next
        # dh/dalpha = (h_prev - tanh(a)) / alpha**2
        grads["alpha"] += (dh * (h[t] - th)).sum(axis=0) / alpha ** 2
        da = dh * rate * (1 - th ** 2)
        grads["W"] += da.T @ h[t]
        grads["U"] += da.T @ x[t]
        grads["b"] += da.sum(axis=0)
        grads["x"][t] = da @ U
        dh_next = dh * keep + da @ W
    grads["h0"] = dh_next
    return loss, grads
