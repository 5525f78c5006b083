"""A student's own BPTT for the LSTM, written independently of the project
(explicit loops over time, textbook gate equations with column vectors per
example; here every row is one example, so ``W h`` becomes ``h @ W.T``).
It is a *user file* for `python -m derive verify lstm`, not project code.

    g = sigmoid(b_g + U_g x + W_g h_prev)      input gate
    f = sigmoid(b_f + U_f x + W_f h_prev)      forget gate
    a = b + U x + W h_prev                     candidate pre-activation
    q = sigmoid(b_o + U_o x + W_o h_prev)      output gate
    s = f * s_prev + g * tanh(a)               memory cell
    h = q * tanh(s)
    o = c + V h,  loss = sum_t -log softmax(o)[y]
"""
import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def loss_and_grads(params, x, y, h0=None, s0=None):
    U_g, W_g, b_g = params["U_g"], params["W_g"], params["b_g"]
    U_f, W_f, b_f = params["U_f"], params["W_f"], params["b_f"]
    U, W, b = params["U"], params["W"], params["b"]
    U_o, W_o, b_o = params["U_o"], params["W_o"], params["b_o"]
    V, c = params["V"], params["c"]
    tau, B, m = x.shape
    n = W.shape[0]

    # h[t + 1] and s[t + 1] are the states after step t; h[0], s[0] the initial ones
    h = np.zeros((tau + 1, B, n))
    s = np.zeros((tau + 1, B, n))
    if h0 is not None:
        h[0] = h0
    if s0 is not None:
        s[0] = s0
    gate_g, gate_f, gate_q = [], [], []
    tanh_a, tanh_s, probs = [], [], []
    loss = 0.0
    for t in range(tau):
        h_prev, s_prev = h[t], s[t]
        g = sigmoid(b_g + x[t] @ U_g.T + h_prev @ W_g.T)
        f = sigmoid(b_f + x[t] @ U_f.T + h_prev @ W_f.T)
        ta = np.tanh(b + x[t] @ U.T + h_prev @ W.T)
        q = sigmoid(b_o + x[t] @ U_o.T + h_prev @ W_o.T)
        s[t + 1] = f * s_prev + g * ta
        ts = np.tanh(s[t + 1])
        h[t + 1] = q * ts
        o = c + h[t + 1] @ V.T
        e = np.exp(o - o.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        loss -= np.log(p[np.arange(B), y[t]]).sum()
        gate_g.append(g)
        gate_f.append(f)
        gate_q.append(q)
        tanh_a.append(ta)
        tanh_s.append(ts)
        probs.append(p)

    grads = {k: np.zeros_like(v) for k, v in params.items()}
    grads["x"] = np.zeros_like(x)
    dh_next = np.zeros((B, n))   # dL/dh(t) through step t+1
    ds_next = np.zeros((B, n))   # dL/ds(t) through step t+1
    for t in reversed(range(tau)):
        g, f, q = gate_g[t], gate_f[t], gate_q[t]
        ta, ts = tanh_a[t], tanh_s[t]
        h_prev, s_prev = h[t], s[t]

        do = probs[t].copy()
        do[np.arange(B), y[t]] -= 1
        grads["V"] += do.T @ h[t + 1]
        grads["c"] += do.sum(axis=0)

        dh = do @ V + dh_next
        dq = dh * ts
        ds = dh * q * (1 - ts ** 2) + ds_next
        dg = ds * ta
        df = ds * s_prev
        dta = ds * g

        # through the nonlinearities to the pre-activations
        dz_g = dg * g * (1 - g)
        dz_f = df * f * (1 - f)
        dz_a = dta * (1 - ta ** 2)
        dz_q = dq * q * (1 - q)

        for name, dz in (("_g", dz_g), ("_f", dz_f), ("", dz_a), ("_o", dz_q)):
            grads["W" + name] += dz.T @ h_prev
            grads["U" + name] += dz.T @ x[t]
            grads["b" + name] += dz.sum(axis=0)

        grads["x"][t] = dz_g @ U_g + dz_f @ U_f + dz_a @ U + dz_q @ U_o
        dh_next = dz_g @ W_g + dz_f @ W_f + dz_a @ W + dz_q @ W_o
        ds_next = ds * f
    grads["h0"] = dh_next
    grads["s0"] = ds_next
    return loss, grads
