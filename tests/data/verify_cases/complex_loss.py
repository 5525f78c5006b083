"""A complex loss and complex gradients (+100j)."""
from numeric.generated.rnn import loss_and_grads as correct


def loss_and_grads(params, x, y, h0=None):
    loss, grads = correct(params, x, y, h0)
    return loss + 100j, {k: v + 100j for k, v in grads.items()}
