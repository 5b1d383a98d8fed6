"""One way the package registers its Keras objects for saving and loading: as
``larq_adam>ClassName`` (``tf.keras.utils.register_keras_serializable(package="larq_adam")``).

The layers and the quantizer of :mod:`larq_adam.layers`, :class:`~larq_adam.export.CorrectedAdd`
and :class:`~larq_adam.export.contract.Preprocess` were registered under their bare class
name before; ``legacy_name=True`` also keeps that name, so an ``.h5`` file saved then still
loads (its configs name ``"RSign"``, not ``"larq_adam>RSign"``)."""
from typing import Callable, Optional, TypeVar, Union

import tensorflow as tf

__all__ = ["PACKAGE", "register"]

PACKAGE = "larq_adam"
T = TypeVar("T", bound=type)


def register(cls: Optional[T] = None, *, legacy_name: bool = False
             ) -> Union[T, Callable[[T], T]]:
    """Register ``cls`` as ``larq_adam>Name`` (``@register`` or ``@register(...)``); with
    ``legacy_name`` also as ``Name``, which files saved before this registration carry."""
    def apply(klass: T) -> T:
        klass = tf.keras.utils.register_keras_serializable(package=PACKAGE)(klass)
        if legacy_name:
            tf.keras.utils.get_custom_objects().setdefault(klass.__name__, klass)
        return klass

    return apply if cls is None else apply(cls)
