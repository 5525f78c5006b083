"""Forgets to return the loss."""
from numeric.generated.rnn import loss_and_grads as correct


def loss_and_grads(params, x, y, h0=None):
    _, grads = correct(params, x, y, h0)
    return None, grads
