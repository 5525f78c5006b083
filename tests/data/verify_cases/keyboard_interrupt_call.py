"""Raises KeyboardInterrupt inside the call."""


def loss_and_grads(params, x, y, h0=None):
    raise KeyboardInterrupt
