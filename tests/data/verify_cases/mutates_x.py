"""Correct, then clears its input x in place."""
from numeric.generated.rnn import loss_and_grads as correct


def loss_and_grads(params, x, y, h0=None):
    loss, grads = correct(params, x, y, h0)
    x[:] = 0.0
    return loss, grads
