"""The model registry: one forward spec per model, registered by name.

A new model is one module here with a ``spec(...)`` function and one line in
:data:`REGISTRY`.  Everything else (derivation, proof, generated code, checks,
faults, bounds, report) iterates over the registry and needs no other edit.
"""
import functools

from derive.adjoint import Derivation, derive
from derive.errors import UnknownModel
from derive.models import gru, gru_cho, leaky, lstm, rnn, rnn_linear, rnn_relu, rnn_sigmoid, skip

REGISTRY = {
    "rnn": rnn.spec,
    "rnn_relu": rnn_relu.spec,
    "rnn_linear": rnn_linear.spec,
    "rnn_sigmoid": rnn_sigmoid.spec,
    "leaky": leaky.spec,
    "lstm": lstm.spec,
    "gru": gru.spec,
    "gru_cho": gru_cho.spec,
    "skip": skip.spec,
}


def names() -> tuple:
    """The registered model names, sorted."""
    return tuple(sorted(REGISTRY))


def get(name: str):
    """The spec function registered as ``name``: the one place an unknown name is
    refused (:class:`~derive.errors.UnknownModel`, naming the known models)."""
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise UnknownModel(f"unknown model {name!r}; known models: {', '.join(names())}") from None


@functools.lru_cache(maxsize=None)
def derivation(name: str, sizes: tuple = None) -> Derivation:
    """The derivation of model ``name`` at ``sizes`` (symbolic when None), derived once per process."""
    spec = get(name)
    return derive(spec(*sizes) if sizes else spec())
