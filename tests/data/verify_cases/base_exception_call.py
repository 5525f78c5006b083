"""Raises a BaseException that is not an Exception inside the call."""


class Stop(BaseException):
    pass


def loss_and_grads(params, x, y, h0=None):
    raise Stop("not an Exception")
