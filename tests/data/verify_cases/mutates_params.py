"""Correct, then takes an SGD step on its input params in place."""
from numeric.generated.rnn import loss_and_grads as correct


def loss_and_grads(params, x, y, h0=None):
    loss, grads = correct(params, x, y, h0)
    params["W"] -= 0.1 * grads["W"]
    return loss, grads
