"""A function run eagerly for its first calls and through one ``tf.function`` after them.

Tracing and optimising a graph costs about five eager runs of it (0.3 s eager against 1.4 s
for the first traced call of a ReActNet-A x0.125 forward pass on 64 images, 2 CPU cores),
so a measurement made only once or twice per ``fit`` (an epoch-end statistic, BN
re-estimation over a few batches) is cheaper never traced. The caller passes the index of
the call (an epoch, a batch number), so the mode is a function of that index: a resumed
``fit`` runs epoch 3 the way the uninterrupted one did.
"""
from typing import Any, Callable

import tensorflow as tf

__all__ = ["EagerFirst"]


class EagerFirst:
    """``fn`` eagerly while ``index < eager``, else through one ``tf.function`` of it
    (``function_options``: ``tf.function``'s, e.g. ``reduce_retracing=True``)."""

    def __init__(self, fn: Callable[..., Any], *, eager: int, **function_options: Any):
        self._fn = fn
        self._eager = int(eager)
        self._traced = tf.function(fn, **function_options)

    def __call__(self, index: int, *args: Any) -> Any:
        return (self._fn if index < self._eager else self._traced)(*args)
