"""Raises with a message of a million characters, from an exception whose repr fails."""


class Odd(Exception):
    def __repr__(self):
        raise RuntimeError("no repr")


def loss_and_grads(params, x, y, h0=None):
    raise Odd("x" * 1_000_000)
