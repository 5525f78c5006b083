"""Correct, but one gradient is complex (+1e-3j)."""
from numeric.generated.rnn import loss_and_grads as correct


def loss_and_grads(params, x, y, h0=None):
    loss, grads = correct(params, x, y, h0)
    grads["W"] = grads["W"] + 1e-3j
    return loss, grads
