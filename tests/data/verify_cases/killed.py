"""Killed by SIGKILL inside the call (as the out-of-memory killer would)."""
import os
import signal


def loss_and_grads(params, x, y, h0=None):
    os.kill(os.getpid(), signal.SIGKILL)
