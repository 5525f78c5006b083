"""A gradient given as an object array."""
import numpy as np

from numeric.generated.rnn import loss_and_grads as correct


def loss_and_grads(params, x, y, h0=None):
    loss, grads = correct(params, x, y, h0)
    grads["W"] = np.array(grads["W"], dtype=object)
    return loss, grads
