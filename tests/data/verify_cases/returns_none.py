"""Returns nothing."""


def loss_and_grads(params, x, y, h0=None):
    pass
