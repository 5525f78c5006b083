"""A gradient given as a string."""
from numeric.generated.rnn import loss_and_grads as correct


def loss_and_grads(params, x, y, h0=None):
    loss, grads = correct(params, x, y, h0)
    grads["W"] = str(grads["W"])
    return loss, grads
