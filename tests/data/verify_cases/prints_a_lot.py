"""Correct, but prints to stdout and stderr: the protocol does not mind."""
import sys

from numeric.generated.rnn import loss_and_grads as correct


def loss_and_grads(params, x, y, h0=None):
    print("loss_and_grads called" * 100)
    print("\x00\xff" * 1000, file=sys.stderr)
    return correct(params, x, y, h0)
