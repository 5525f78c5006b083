"""A student's own BPTT for the GRU of Cho et al. (reset gate applied to the
previous state before the recurrent product, no b_h), written independently of
the project with explicit loops over time.  Every row is one example, so ``W h``
becomes ``h @ W.T``.  It is a *user file* for `python -m derive verify gru_cho`.

    r  = sigmoid(b_r + U_r x + W_r h_prev)
    z  = sigmoid(b_z + U_z x + W_z h_prev)
    hc = tanh(b + U x + W (r * h_prev))
    h  = (1 - z) * hc + z * h_prev
    o  = c + V h,  loss = sum_t -log softmax(o)[y]
"""
import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def loss_and_grads(params, x, y, h0=None):
    U_r, W_r, b_r = params["U_r"], params["W_r"], params["b_r"]
    U_z, W_z, b_z = params["U_z"], params["W_z"], params["b_z"]
    U, W, b = params["U"], params["W"], params["b"]
    V, c = params["V"], params["c"]
    tau, B, m = x.shape
    n = W.shape[0]

    h = np.zeros((tau + 1, B, n))
    if h0 is not None:
        h[0] = h0
    reset, update, cand, probs = [], [], [], []
    loss = 0.0
    for t in range(tau):
        h_prev = h[t]
        r = sigmoid(b_r + x[t] @ U_r.T + h_prev @ W_r.T)
        z = sigmoid(b_z + x[t] @ U_z.T + h_prev @ W_z.T)
        hc = np.tanh(b + x[t] @ U.T + (r * h_prev) @ W.T)
        h[t + 1] = (1 - z) * hc + z * h_prev
        o = c + h[t + 1] @ V.T
        e = np.exp(o - o.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        loss -= np.log(p[np.arange(B), y[t]]).sum()
        reset.append(r)
        update.append(z)
        cand.append(hc)
        probs.append(p)

    grads = {k: np.zeros_like(v) for k, v in params.items()}
    grads["x"] = np.zeros_like(x)
    dh_next = np.zeros((B, n))
    for t in reversed(range(tau)):
        r, z, hc = reset[t], update[t], cand[t]
        h_prev = h[t]

        do = probs[t].copy()
        do[np.arange(B), y[t]] -= 1
        grads["V"] += do.T @ h[t + 1]
        grads["c"] += do.sum(axis=0)

        dh = do @ V + dh_next
        dhc = dh * (1 - z)
        dz = dh * (h_prev - hc)
        da = dhc * (1 - hc ** 2)          # pre-activation of the candidate
        d_rh = da @ W                     # adjoint of r * h_prev
        dr = d_rh * h_prev
        dz_r = dr * r * (1 - r)
        dz_z = dz * z * (1 - z)

        grads["U"] += da.T @ x[t]
        grads["b"] += da.sum(axis=0)
        grads["W"] += da.T @ (r * h_prev)
        grads["W_r"] += dz_r.T @ h_prev
        grads["U_r"] += dz_r.T @ x[t]
        grads["b_r"] += dz_r.sum(axis=0)
        grads["W_z"] += dz_z.T @ h_prev
        grads["U_z"] += dz_z.T @ x[t]
        grads["b_z"] += dz_z.sum(axis=0)

        grads["x"][t] = da @ U + dz_r @ U_r + dz_z @ U_z
        dh_next = dh * z + d_rh * r + dz_r @ W_r + dz_z @ W_z
    grads["h0"] = dh_next
    return loss, grads
