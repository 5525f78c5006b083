"""Writes junk into every inherited file descriptor while it is imported."""
import os

for fd in range(3, 64):
    try:
        os.write(fd, b"\xff" * 64)
    except OSError:
        pass


def loss_and_grads(params, x, y, h0=None):
    raise AssertionError("never called")
