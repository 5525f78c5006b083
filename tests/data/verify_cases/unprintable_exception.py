"""Raises an exception whose message cannot be printed."""


class Unprintable(Exception):
    def __str__(self):
        raise RuntimeError("no str")


def loss_and_grads(params, x, y, h0=None):
    raise Unprintable()
