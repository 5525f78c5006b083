"""The model registry: one forward spec per model, registered by name.

A new model is one module here with a ``spec(...)`` function and one line below.
"""
import functools

from derive.models import gru, gru_cho, leaky, lstm, rnn, rnn_linear, rnn_relu

REGISTRY = {
    "rnn": rnn.spec,
    "rnn_relu": rnn_relu.spec,
    "rnn_linear": rnn_linear.spec,
    "leaky": leaky.spec,
    "lstm": lstm.spec,
    "gru": gru.spec,
    "gru_cho": gru_cho.spec,
}


def get(name: str):
    """The spec function registered as ``name``; ValueError naming the choices."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(sorted(REGISTRY))}") from None


@functools.lru_cache(maxsize=None)
def derivation(name: str, sizes: tuple = None):
    """The derivation of model ``name`` at ``sizes`` (symbolic when None), derived once per process."""
    from derive.adjoint import derive

    spec = get(name)
    return derive(spec(*sizes) if sizes else spec())
