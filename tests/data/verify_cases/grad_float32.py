"""Gradients computed in float32 from float64 data."""
import numpy as np

from numeric.generated.rnn import loss_and_grads as correct


def loss_and_grads(params, x, y, h0=None):
    loss, grads = correct(params, x, y, h0)
    return loss, {k: v.astype(np.float32) for k, v in grads.items()}
