"""The network as LCE's converter should see it, and its float twin.

* :func:`lce_ready` - the model itself, or a copy where each zero-padded binary conv that
  LCE 0.16 would miscompute pads with +1 and the constant that zero padding implies is added
  at the residual ``Add`` it feeds (:class:`CorrectedAdd`); a ``GemmQuantConv2D`` becomes
  the ``QuantConv2D`` it equals.
* :func:`float_twin` - the FP stage of the same network (every quantizer removed).
* :func:`with_pad_values` - the same network padding its binary convs with another value.

Nested models (e.g. the uint8 preprocessing wrapper of :mod:`larq_adam.export.contract`)
are rebuilt layer by layer too.
"""
import math
from typing import Any, Callable, Dict, Optional, Set, Tuple

import larq as lq
import numpy as np
import tensorflow as tf

import larq_adam.layers  # noqa: F401  (registers the custom objects for loading/cloning)
from larq_adam.registry import register
from larq_adam.export.base import student
from larq_adam.layers import ChannelScale, GemmQuantConv2D
from larq_adam.models._common import quiet_larq
from larq_adam.quantized import is_fully_binary, walk
from larq_adam.errors import UnsupportedError

__all__ = ["CorrectedAdd", "lce_ready", "float_twin", "with_pad_values", "rebuild"]


def _convertible_class(layer: tf.keras.layers.Layer) -> type:
    """The class a converter should see: a :class:`GemmQuantConv2D` (a matrix product in
    the graph, a training-speed form) becomes the ``QuantConv2D`` it equals."""
    return lq.layers.QuantConv2D if isinstance(layer, GemmQuantConv2D) else layer.__class__


def rebuild(model: tf.keras.Model, clone_layer: Callable[[tf.keras.layers.Layer],
                                                         tf.keras.layers.Layer]
            ) -> tf.keras.Model:
    """A copy of ``model`` whose leaf layers are made by ``clone_layer`` (nested models
    are rebuilt the same way), with ``model``'s weights."""

    def clone(layer):
        if isinstance(layer, tf.keras.Model):
            return tf.keras.models.clone_model(layer, clone_function=clone)
        return clone_layer(layer)

    with lq.context.quantized_scope(False), quiet_larq():
        copy = tf.keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy


def _zero_padding_lce_miscomputes(layer: tf.keras.layers.Layer) -> bool:
    """True for a fully binary conv that LCE 0.16 converts to wrong numbers: "same"
    padding with ``pad_values=0`` on an input map smaller than the kernel (e.g. a 3x3 conv
    on 2x2, ReActNet-A's last block at 32 px; measured: max error 35-72 against Keras,
    while 3x3 and larger maps and ``pad_values=1`` are exact to 1e-4)."""
    if not (isinstance(layer, lq.layers.QuantConv2D) and is_fully_binary(layer)):
        return False
    if layer.padding != "same" or float(layer.pad_values) != 0.0:
        return False
    side = min(int(layer.input_shape[1]), int(layer.input_shape[2]))
    return side < max(layer.kernel_size)


@register(legacy_name=True)
class CorrectedAdd(tf.keras.layers.Add):
    """``Add`` plus a constant map: where the zero-padding correction of a binary conv
    (:func:`lce_ready`) enters the graph. It is applied after the residual addition, away
    from the ``LceBconv2d``: LCE 0.16 fuses a constant that directly follows a binary conv
    into the op's per-channel bias and then fails on a per-position constant."""

    def __init__(self, offset, **kwargs):
        super().__init__(**kwargs)
        self.offset = np.asarray(offset, dtype=np.float32)
        self._offset = tf.constant(self.offset)

    def _merge_function(self, inputs):
        return super()._merge_function(inputs) + self._offset

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "offset": self.offset.tolist()}


def _zero_padding_correction(layer: lq.layers.QuantConv2D) -> np.ndarray:
    """``conv(P, binary kernel)``: the output of the layer's convolution on a map that is 0
    inside and 1 on the "same"-padding border, shape ``(1, H_out, W_out, C_out)``. Since
    ``pad0(s) = pad1(s) - P``, the zero-padded conv equals the one-padded conv minus this;
    it depends only on the binary kernel (Eq. 2) and the output position."""
    h, w, cin = (int(d) for d in layer.input_shape[1:])
    pads = []
    for side, k, s in zip((h, w), layer.kernel_size, layer.strides):
        total = max((math.ceil(side / s) - 1) * s + k - side, 0)
        pads.append((total // 2, total - total // 2))
    border = np.pad(np.zeros((1, h, w, cin)), [(0, 0), *pads, (0, 0)], constant_values=1.0)
    kernel = layer.kernel_quantizer(tf.constant(layer.kernel.numpy()))
    out = tf.nn.conv2d(tf.constant(border, tf.float64), tf.cast(kernel, tf.float64),
                       strides=layer.strides, padding="VALID", dilations=layer.dilation_rate)
    return out.numpy()


def _only_consumer(layer: tf.keras.layers.Layer) -> Optional[tf.keras.layers.Layer]:
    consumers = [node.layer for node in layer.outbound_nodes]
    return consumers[0] if len(consumers) == 1 else None


def _carry_to_add(conv: tf.keras.layers.Layer, offset: np.ndarray
                  ) -> Tuple[tf.keras.layers.Layer, np.ndarray]:
    """Follow ``conv``'s output through per-channel affine layers (BatchNorm in inference,
    ``ChannelScale``) and crops to the ``Add`` it feeds; return that ``Add`` and
    ``offset`` as it must be added there."""
    layer = _only_consumer(conv)
    while layer is not None and not isinstance(layer, tf.keras.layers.Add):
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            gamma = layer.gamma.numpy() if layer.gamma is not None else 1.0
            offset = offset * gamma / np.sqrt(layer.moving_variance.numpy() + layer.epsilon)
        elif isinstance(layer, ChannelScale):
            offset = offset * layer.scale.numpy()
        elif isinstance(layer, tf.keras.layers.Cropping2D):
            (top, bottom), (left, right) = layer.cropping
            offset = offset[:, top:offset.shape[1] - bottom, left:offset.shape[2] - right]
        else:
            break
        layer = _only_consumer(layer)
    if not isinstance(layer, tf.keras.layers.Add):
        raise UnsupportedError(
            f"{conv.name!r}: a zero-padded binary conv on a map smaller than its kernel, "
            f"which LCE 0.16 miscomputes, is corrected only where its output reaches an Add "
            f"through BatchNorm/rescale/crop layers; build the model with pad_values=1.0")
    return layer, offset


def lce_ready(model: Any) -> tf.keras.Model:
    """The network as it is handed to LCE's converter: ``model`` itself, or a copy where
    each zero-padded binary conv that LCE 0.16 would miscompute
    (:func:`_zero_padding_lce_miscomputes`) is converted with ``pad_values=1`` (exact in
    LCE) and the constant that zero padding implies is added at the residual ``Add`` its
    output reaches (:class:`CorrectedAdd`); a :class:`GemmQuantConv2D` becomes the plain
    ``QuantConv2D`` it equals. The function is unchanged (``verify`` compares the file
    with ``model`` itself) and every binary conv (Eq. 1-2) stays one ``LceBconv2d``; each
    corrected conv costs at most one extra element-wise ADD."""
    net = student(model)
    one_padded: Set[int] = set()
    offsets: Dict[int, np.ndarray] = {}
    layers = list(walk(net))
    for layer in layers:
        if _zero_padding_lce_miscomputes(layer):
            add, offset = _carry_to_add(layer, -_zero_padding_correction(layer))
            one_padded.add(id(layer))
            offsets[id(add)] = offsets.get(id(add), 0.0) + offset
    if not one_padded and not any(isinstance(l, GemmQuantConv2D) for l in layers):
        return net

    def clone(layer):
        config = layer.get_config()
        if id(layer) in one_padded:
            config["pad_values"] = 1.0
        if id(layer) in offsets:
            return CorrectedAdd(offsets[id(layer)].astype(np.float32), **config)
        return _convertible_class(layer).from_config(config)

    return rebuild(net, clone)


def _clone_with(model: tf.keras.Model, edit: Callable[[tf.keras.layers.Layer, dict], dict]
                ) -> tf.keras.Model:
    """Rebuild ``model`` with each layer's config passed through ``edit``; copy weights."""
    return rebuild(model, lambda layer: _convertible_class(layer).from_config(
        edit(layer, dict(layer.get_config()))))


def float_twin(model: Any) -> tf.keras.Model:
    """The FP-stage twin of ``model``: the same layers and weights, every quantizer removed
    (no Eq. 1 / Eq. 2 binarization) and binary padding reset to 0 (the FP stage pads real
    activations with zeros)."""

    def edit(layer, config):
        if any(k.endswith("_quantizer") for k in config):
            for key in list(config):
                if key.endswith("_quantizer"):
                    config[key] = None
            if "pad_values" in config:
                config["pad_values"] = 0.0
        return config

    return _clone_with(student(model), edit)


def with_pad_values(model: Any, pad_values: float) -> tf.keras.Model:
    """A copy of ``model`` whose padded binary convolutions pad with ``pad_values``.

    ``pad_values=1.0`` is LCE's fast path and avoids the LCE 0.16 2x2 zero-padding bug, but
    it changes the network's function slightly (the reference pads the Eq. 1 binarized
    input with zeros): re-evaluate accuracy after using it.
    """

    def edit(layer, config):
        if "pad_values" in config and config.get("padding") == "same":
            config["pad_values"] = float(pad_values)
        return config

    return _clone_with(student(model), edit)
