"""Which layers of a model are binary: the one layer walker and the one notion of "binary".

Two words, kept apart everywhere in the package:

* **binarizable** - a Larq quantized conv/dense layer (:data:`BINARIZABLE_TYPES`). By the
  project's convention these are the layers binarized in the BNN stage, and they are the same
  layers in every stage (FP, BA, BW keep ``None`` quantizers where the stage is real). The
  paper's analysis (Sec. 3.3, Eq. 3-7) measures their *latent* weights in every stage.
* **fully binary** - a binarizable layer whose input *and* weight quantizers are both 1-bit
  (Eq. 1 activations with Eq. 2 or sign weights). Only these count as binary MACs (Table 3's
  BOPs) and only these should become ``LceBconv2d`` ops in a Larq Compute Engine file.
"""
from typing import Any, Iterator, List

import larq as lq
import tensorflow as tf

from larq_adam import keras_internals
from larq_adam.errors import WrongTypeError

__all__ = [
    "BINARIZABLE_TYPES",
    "walk",
    "is_binary_quantizer",
    "is_fully_binary",
    "binarizable_layers",
    "fully_binary_layers",
]

#: The layers binarized in the BNN stage (in every stage the same Larq classes, with ``None``
#: quantizers where the stage keeps them real).
BINARIZABLE_TYPES = (
    lq.layers.QuantConv1D,
    lq.layers.QuantConv2D,
    lq.layers.QuantConv3D,
    lq.layers.QuantDepthwiseConv2D,
    lq.layers.QuantDense,
)

_ONE_BIT_FUNCTIONS = ("ste_sign", "approx_sign", "swish_sign", "magnitude_aware_sign",
                      "mean_scaled_sign")


def _children(layer: tf.keras.layers.Layer) -> List[tf.keras.layers.Layer]:
    children = getattr(layer, "layers", None)
    if children is None:  # a composite custom layer: its directly tracked sub-layers
        children = keras_internals.direct_sublayers(layer)
    return list(children)


def walk(model: tf.keras.layers.Layer) -> Iterator[tf.keras.layers.Layer]:
    """Every leaf layer under ``model`` once, in layer order (topological for functional
    models), nested models and composite layers expanded in place; Larq quantized layers are
    leaves."""
    seen = set()

    def visit(layer: tf.keras.layers.Layer) -> Iterator[tf.keras.layers.Layer]:
        for child in _children(layer):
            if id(child) in seen:
                continue
            seen.add(id(child))
            if isinstance(child, BINARIZABLE_TYPES):
                yield child
                continue
            grandchildren = _children(child)
            if grandchildren:
                yield from visit(child)
            else:
                yield child

    if isinstance(model, BINARIZABLE_TYPES):
        yield model
        return
    yield from visit(model)


def is_binary_quantizer(quantizer: Any) -> bool:
    """True for a 1-bit quantizer (Larq's ``precision == 1`` or a named sign function)."""
    if quantizer is None:
        return False
    precision = getattr(quantizer, "precision", None)
    if precision is not None:
        return precision == 1
    return getattr(quantizer, "__name__", "") in _ONE_BIT_FUNCTIONS


def is_fully_binary(layer: tf.keras.layers.Layer) -> bool:
    """True when ``layer`` is binarizable and both its input and weight quantizers are 1-bit
    (a binary MAC in Table 3; an ``LceBconv2d`` after conversion)."""
    if not isinstance(layer, BINARIZABLE_TYPES):
        return False
    weight_q = getattr(layer, "kernel_quantizer", None)
    if weight_q is None:
        weight_q = getattr(layer, "depthwise_quantizer", None)
    return is_binary_quantizer(getattr(layer, "input_quantizer", None)) and \
        is_binary_quantizer(weight_q)


def _check_model(model: Any, what: str) -> None:
    if not isinstance(model, tf.keras.layers.Layer):
        raise WrongTypeError(f"{what} expects a Keras model or layer, got {type(model).__name__}; "
                        f"pass the tf.keras.Model whose binarized layers you want")


def binarizable_layers(model: tf.keras.layers.Layer, *, trainable_only: bool = False
                       ) -> List[tf.keras.layers.Layer]:
    """The binarizable layers of ``model`` (Sec. 3.3: "the binarized layers"), nested ones
    included, in :func:`walk` order; ``trainable_only`` skips frozen ones (a distillation
    teacher)."""
    _check_model(model, "binarizable_layers")
    return [layer for layer in walk(model) if isinstance(layer, BINARIZABLE_TYPES)
            and (layer.trainable or not trainable_only)]


def fully_binary_layers(model: tf.keras.layers.Layer) -> List[tf.keras.layers.Layer]:
    """The fully binary layers of ``model`` (1-bit inputs and weights), in :func:`walk` order:
    Table 3's binary MACs, and the layers that must become binary ops in an LCE file."""
    _check_model(model, "fully_binary_layers")
    return [layer for layer in walk(model) if is_fully_binary(layer)]
