"""h0's gradient for one example only."""
from numeric.generated.rnn import loss_and_grads as correct


def loss_and_grads(params, x, y, h0=None):
    loss, grads = correct(params, x, y, h0)
    grads["h0"] = grads["h0"][0]
    return loss, grads
