"""Asks for 1 GiB (run with --max-memory 512)."""
import numpy as np


def loss_and_grads(params, x, y, h0=None):
    return np.ones(1 << 27), {}
