"""The layers and the weight quantizer of the paper's BNNs, serialisable Keras objects.

* :class:`MeanScaledSign` - Eq. 2's weight binarizer: ``mean(|W|) * sign(W)`` per output
  channel; the scale carries no gradient and the gradient to ``W`` is that of
  ``clip(W, -1, 1)`` (not scaled by the mean, unlike Larq's ``magnitude_aware_sign``).
* :class:`LearnableBias` - ReActNet's per-channel learnable shift (the ``RSign`` shift and
  the shifts in ``RPReLU``). Its bias is stored 4-D, ``(1, 1, 1, C)``, like the reference's
  ``(1, C, 1, 1)`` parameter, so the reference's weight-decay rule "every 4-D parameter"
  picks it up.
* :class:`RPReLU` - shift, per-channel PReLU (slope initialised to 0.25), shift.
* :class:`ChannelScale` - StrongBaseline's learned per-channel rescale of a binary conv's
  output (a variable of shape ``(C,)``).
* :class:`RSign` - learnable shift then sign (Eq. 1) with the ApproxSign gradient, for use
  on its own. Inside the models the same pattern is a :class:`LearnableBias` followed by a
  ``QuantConv2D`` whose ``input_quantizer`` binarizes: that form converts to LCE binary ops.
"""
from typing import Optional

import larq as lq
import tensorflow as tf

__all__ = [
    "MeanScaledSign", "LearnableBias", "RPReLU", "RSign", "ChannelScale", "mean_scaled_sign"
]


def _sign(x: tf.Tensor) -> tf.Tensor:
    """Eq. 1: +1 for x >= 0, -1 otherwise (Larq's sign, which LCE recognises)."""
    return lq.math.sign(x)


def mean_scaled_sign(w: tf.Tensor) -> tf.Tensor:
    """Eq. 2: ``mean(|W|) * sign(W)``, the mean taken per output channel (last axis).

    Gradient: ``dy * 1[|W| <= 1]`` - the straight-through estimator of ``clip(W, -1, 1)``,
    independent of the scale (the reference computes the scale with ``.detach()`` and uses
    the clip STE for the sign alone).

    >>> w = tf.constant([[0.5, -2.0], [-0.5, 0.0]])
    >>> mean_scaled_sign(w).numpy().tolist()
    [[0.5, -1.0], [-0.5, 1.0]]
    """

    @tf.custom_gradient
    def _call(x):
        axes = list(range(len(x.shape) - 1))
        scale = tf.reduce_mean(tf.abs(x), axis=axes, keepdims=True)

        def grad(dy):
            return dy * tf.cast(tf.abs(x) <= 1.0, dy.dtype)

        return scale * _sign(x), grad

    return _call(w)


@lq.utils.register_alias("mean_scaled_sign")
@lq.utils.register_keras_custom_object
class MeanScaledSign(lq.quantizers.Quantizer):
    """Eq. 2 kernel quantizer; see :func:`mean_scaled_sign`.

    Example:
        >>> layer = lq.layers.QuantConv2D(8, 3, kernel_quantizer=MeanScaledSign())
    """

    precision = 1

    def call(self, inputs):
        return mean_scaled_sign(inputs)

    def get_config(self):
        return super().get_config()


def _channels(input_shape) -> int:
    channels = tf.TensorShape(input_shape)[-1]
    if channels is None:
        raise ValueError("the channel (last) dimension of the input must be known")
    return int(channels)


@lq.utils.register_keras_custom_object
class LearnableBias(tf.keras.layers.Layer):
    """``x + b`` with a learnable per-channel ``b`` (ReActNet's ``LearnableBias``).

    Args:
        bias_initializer: initial value of ``b`` (zeros, as the reference).
    """

    def __init__(self, bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.bias_initializer = tf.keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        self.bias = self.add_weight(
            name="bias",
            shape=(1, 1, 1, _channels(input_shape)),
            initializer=self.bias_initializer,
            trainable=True,
        )
        super().build(input_shape)

    def call(self, inputs):
        if inputs.shape.rank == 4:
            return inputs + self.bias
        return inputs + tf.reshape(self.bias, (-1,))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "bias_initializer": tf.keras.initializers.serialize(self.bias_initializer),
        }


@lq.utils.register_keras_custom_object
class RPReLU(tf.keras.layers.Layer):
    """ReActNet's RPReLU: ``prelu(x + b1) + b2`` with per-channel ``b1``, ``b2`` and slope.

    The slope starts at 0.25 (PyTorch's ``PReLU`` default); the shifts at zero and are
    stored 4-D like :class:`LearnableBias`. The PReLU is written as Keras' ``PReLU``,
    ``relu(x) + (-alpha) * relu(-x)`` with the slope shaped ``(1, 1, C)``: the form the
    TFLite converter turns into its PRELU op.
    """

    def __init__(self, alpha_initializer=0.25, **kwargs):
        super().__init__(**kwargs)
        if isinstance(alpha_initializer, (int, float)):
            alpha_initializer = tf.keras.initializers.Constant(float(alpha_initializer))
        self.alpha_initializer = tf.keras.initializers.get(alpha_initializer)

    def build(self, input_shape):
        c = _channels(input_shape)
        self.shift_x = self.add_weight(name="shift_x", shape=(1, 1, 1, c), initializer="zeros")
        self.alpha = self.add_weight(name="alpha", shape=(c,), initializer=self.alpha_initializer)
        self.shift_y = self.add_weight(name="shift_y", shape=(1, 1, 1, c), initializer="zeros")
        super().build(input_shape)

    def call(self, inputs):
        x = inputs + self.shift_x
        # Keras PReLU's exact form, slope shaped (1, 1, C): the TFLite converter turns it
        # into one PRELU op (written as relu(x) - alpha * relu(-x) it stays 5 float ops).
        alpha = tf.reshape(self.alpha, (1, 1, -1))
        x = tf.nn.relu(x) + (-alpha) * tf.nn.relu(-x)
        return x + self.shift_y

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "alpha_initializer": tf.keras.initializers.serialize(self.alpha_initializer),
        }


@lq.utils.register_keras_custom_object
class RSign(LearnableBias):
    """ReActNet's RSign: ``sign(x + b)`` (Eq. 1) with the ApproxSign gradient.

    For a model that should convert to LCE binary ops, use a :class:`LearnableBias`
    followed by ``QuantConv2D(input_quantizer="approx_sign")`` instead (same function).
    """

    def call(self, inputs):
        return lq.quantizers.approx_sign(super().call(inputs))


@lq.utils.register_keras_custom_object
class ChannelScale(tf.keras.layers.Layer):
    """``x * s`` with a learned per-channel scale ``s`` (shape ``(C,)``, initialised to 1).

    StrongBaseline's learned rescale of the binary convolution's output (Real-to-Binary,
    Martinez et al. 2020, after XNOR-Net++), kept per output channel so the model does not
    depend on the input size. It is a variable, not a constant: LCE mis-fuses a constant
    4-D multiply that follows a binary convolution (DESIGN.md). Its rank is 1, so the
    reference's weight-decay rule (4-D parameters only) leaves it alone, like BN's gamma.
    """

    def __init__(self, scale_initializer="ones", **kwargs):
        super().__init__(**kwargs)
        self.scale_initializer = tf.keras.initializers.get(scale_initializer)

    def build(self, input_shape):
        self.scale = self.add_weight(
            name="scale",
            shape=(_channels(input_shape),),
            initializer=self.scale_initializer,
            trainable=True,
        )
        super().build(input_shape)

    def call(self, inputs):
        return inputs * self.scale

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "scale_initializer": tf.keras.initializers.serialize(self.scale_initializer),
        }
