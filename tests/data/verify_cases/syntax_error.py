"""A syntax error on line 4."""


def loss_and_grads(params, x, y, h0=None:
    return 0.0, {}
