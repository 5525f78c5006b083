"""Ends the process inside the call."""
import sys


def loss_and_grads(params, x, y, h0=None):
    sys.exit(0)
