"""Misnames the function."""
from numeric.generated.rnn import loss_and_grads as correct


def loss_and_gradients(params, x, y, h0=None):
    return correct(params, x, y, h0)
