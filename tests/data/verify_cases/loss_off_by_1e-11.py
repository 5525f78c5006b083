"""The loss off by 1e-11 relative: passed the old hard-coded 1e-10, not the error model."""
from numeric.generated.rnn import loss_and_grads as correct


def loss_and_grads(params, x, y, h0=None):
    loss, grads = correct(params, x, y, h0)
    return loss * (1 + 1e-11), grads
