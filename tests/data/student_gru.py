"""A student's own BPTT for the GRU in the PyTorch variant (reset gate applied
after the recurrent product, with its own bias b_h), written independently of the
project with explicit loops over time.  Every row is one example, so ``W h``
becomes ``h @ W.T``.  It is a *user file* for `python -m derive verify gru`.

    r  = sigmoid(b_r + U_r x + W_r h_prev)
    z  = sigmoid(b_z + U_z x + W_z h_prev)
    hc = tanh(b + U x + r * (W h_prev + b_h))
    h  = (1 - z) * hc + z * h_prev
    o  = c + V h,  loss = sum_t -log softmax(o)[y]
"""
import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def loss_and_grads(params, x, y, h0=None):
    U_r, W_r, b_r = params["U_r"], params["W_r"], params["b_r"]
    U_z, W_z, b_z = params["U_z"], params["W_z"], params["b_z"]
    U, W, b, b_h = params["U"], params["W"], params["b"], params["b_h"]
    V, c = params["V"], params["c"]
    tau, B, m = x.shape
    n = W.shape[0]

    h = np.zeros((tau + 1, B, n))
    if h0 is not None:
        h[0] = h0
    reset, update, cand, rec, probs = [], [], [], [], []
    loss = 0.0
    for t in range(tau):
        h_prev = h[t]
        r = sigmoid(b_r + x[t] @ U_r.T + h_prev @ W_r.T)
        z = sigmoid(b_z + x[t] @ U_z.T + h_prev @ W_z.T)
        wh = h_prev @ W.T + b_h               # recurrent part, gated by r afterwards
        hc = np.tanh(b + x[t] @ U.T + r * wh)
        h[t + 1] = (1 - z) * hc + z * h_prev
        o = c + h[t + 1] @ V.T
        e = np.exp(o - o.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        loss -= np.log(p[np.arange(B), y[t]]).sum()
        reset.append(r)
        update.append(z)
        cand.append(hc)
        rec.append(wh)
        probs.append(p)

    grads = {k: np.zeros_like(v) for k, v in params.items()}
    grads["x"] = np.zeros_like(x)
    dh_next = np.zeros((B, n))
    for t in reversed(range(tau)):
        r, z, hc, wh = reset[t], update[t], cand[t], rec[t]
        h_prev = h[t]

        do = probs[t].copy()
        do[np.arange(B), y[t]] -= 1
        grads["V"] += do.T @ h[t + 1]
        grads["c"] += do.sum(axis=0)

        dh = do @ V + dh_next
        dhc = dh * (1 - z)
        dz = dh * (h_prev - hc)
        da = dhc * (1 - hc ** 2)          # pre-activation of the candidate
        dr = da * wh
        dwh = da * r
        dz_r = dr * r * (1 - r)
        dz_z = dz * z * (1 - z)

        grads["U"] += da.T @ x[t]
        grads["b"] += da.sum(axis=0)
        grads["W"] += dwh.T @ h_prev
        grads["b_h"] += dwh.sum(axis=0)
        grads["W_r"] += dz_r.T @ h_prev
        grads["U_r"] += dz_r.T @ x[t]
        grads["b_r"] += dz_r.sum(axis=0)
        grads["W_z"] += dz_z.T @ h_prev
        grads["U_z"] += dz_z.T @ x[t]
        grads["b_z"] += dz_z.sum(axis=0)

        grads["x"][t] = da @ U + dz_r @ U_r + dz_z @ U_z
        dh_next = dh * z + dwh @ W + dz_r @ W_r + dz_z @ W_z
    grads["h0"] = dh_next
    return loss, grads
