"""Crashes in native code inside the call."""
import ctypes


def loss_and_grads(params, x, y, h0=None):
    return ctypes.string_at(0)
