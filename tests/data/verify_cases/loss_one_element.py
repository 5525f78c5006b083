"""The loss as a 1-element array."""
import numpy as np

from numeric.generated.rnn import loss_and_grads as correct


def loss_and_grads(params, x, y, h0=None):
    loss, grads = correct(params, x, y, h0)
    return np.array([loss]), grads
