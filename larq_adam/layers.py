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
* :class:`BatchNorm` - Keras ``BatchNormalization`` with the training statistics of
  PyTorch's ``BatchNorm2d`` (biased batch variance to normalise, unbiased to update the
  moving variance, in every dtype), optionally over a leading window of the map only
  (``stats_crop``), for the stride-2 convs that compute one extra row/column.
* :class:`RSign` - learnable shift then sign (Eq. 1) with the ApproxSign gradient, for use
  on its own. Inside the models the same pattern is a :class:`LearnableBias` followed by a
  ``QuantConv2D`` whose ``input_quantizer`` binarizes: that form converts to LCE binary ops.
"""
from typing import Optional, Sequence

import larq as lq
import tensorflow as tf

from larq_adam.registry import register
from larq_adam import keras_internals
from larq_adam.errors import UserInputError

__all__ = [
    "MeanScaledSign", "LearnableBias", "RPReLU", "RSign", "ChannelScale", "BatchNorm",
    "GemmQuantConv2D", "mean_scaled_sign"
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
@register(legacy_name=True)
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
        raise UserInputError("the channel (last) dimension of the input must be known")
    return int(channels)


@register(legacy_name=True)
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


@register(legacy_name=True)
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


@register(legacy_name=True)
class RSign(LearnableBias):
    """ReActNet's RSign: ``sign(x + b)`` (Eq. 1) with the ApproxSign gradient.

    For a model that should convert to LCE binary ops, use a :class:`LearnableBias`
    followed by ``QuantConv2D(input_quantizer="approx_sign")`` instead (same function).
    """

    def call(self, inputs):
        return lq.quantizers.approx_sign(super().call(inputs))


@register(legacy_name=True)
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


@register(legacy_name=True)
class BatchNorm(tf.keras.layers.BatchNormalization):
    """``BatchNormalization`` (last axis) computing PyTorch's ``BatchNorm2d`` in training.

    In training the batch mean and the biased batch variance normalise the input and the
    moving statistics are updated with the batch mean and the *unbiased* variance, as
    ``BatchNorm2d`` does; Keras' fused kernel does the same in float32, and this layer does
    it in every dtype (float64 included). Inference is Keras' own (so converters fuse it
    into the preceding convolution).

    Args:
        stats_crop: ``(rows, cols)`` at the bottom and right of the map that the batch
            statistics leave out. A stride-2 3x3 conv padded symmetrically by appending one
            row and column (see ``larq_adam.models._common.binary_conv``) computes one extra
            output row/column that is cropped after this layer; the batch statistics must
            cover exactly the reference's output positions, or training diverges from the
            reference network from the first stride-2 block on.
        **kwargs: ``BatchNormalization``'s arguments.
    """

    def __init__(self, stats_crop: Sequence[int] = (0, 0), **kwargs):
        unsupported = [k for k in ("renorm", "virtual_batch_size", "adjustment") if kwargs.get(k)]
        if unsupported:
            raise UserInputError(f"BatchNorm does not support {unsupported}; use "
                             "tf.keras.layers.BatchNormalization for them")
        super().__init__(**kwargs)
        self.stats_crop = tuple(int(c) for c in stats_crop)
        if len(self.stats_crop) != 2 or min(self.stats_crop) < 0:
            raise UserInputError(f"stats_crop must be two non-negative ints, got {stats_crop!r}")

    def _reference_training(self) -> bool:
        return any(self.stats_crop) or not self.fused

    def call(self, inputs, training=None):
        # BatchNormalization's own hook (Keras' learning phase resolved); see keras_internals
        training = self._get_training_value(training)
        if not self._reference_training() or keras_internals.constant_value(training) is False:
            return super().call(inputs, training=training)
        return keras_internals.smart_cond(
            training,
            lambda: self._train(inputs),
            lambda: super(BatchNorm, self).call(inputs, training=False),
        )

    def _train(self, inputs: tf.Tensor) -> tf.Tensor:
        rows, cols = self.stats_crop
        window = inputs[:, : tf.shape(inputs)[1] - rows, : tf.shape(inputs)[2] - cols, :]
        window = tf.cast(window, self.moving_mean.dtype)
        mean, variance = tf.nn.moments(window, axes=[0, 1, 2])
        count = tf.cast(tf.size(window) // tf.size(mean), variance.dtype)
        unbiased = variance * count / tf.maximum(count - 1.0, 1.0)
        decay = 1.0 - float(self.momentum)  # a Python float: exact in float64 too
        for variable, value in ((self.moving_mean, mean), (self.moving_variance, unbiased)):
            self.add_update(variable.assign_sub((variable - value) * decay))
        scale = tf.math.rsqrt(variance + self.epsilon)
        if self.gamma is not None:
            scale *= tf.cast(self.gamma, scale.dtype)
        y = (tf.cast(inputs, scale.dtype) - mean) * scale
        if self.beta is not None:
            y += tf.cast(self.beta, y.dtype)
        return tf.cast(y, inputs.dtype)

    def get_config(self):
        return {**super().get_config(), "stats_crop": list(self.stats_crop)}


@register(legacy_name=True)
class GemmQuantConv2D(lq.layers.QuantConv2D):
    """Larq's ``QuantConv2D`` computed as one matrix product of the input's patches, for
    stride-1 convs on maps smaller than the kernel (ReActNet-A's last 3x3 conv runs on 2x2
    maps at 32 px). There the padded border dominates and the library conv kernels are
    slow (measured on 2 CPU cores, batch 64, 1024 channels, forward + backward: 340-380 ms
    as ``tf.nn.conv2d``, 680 ms in PyTorch, 100-107 ms as this product), while on 4x4 and
    larger maps the library kernels win. Same function, weights and config as
    ``QuantConv2D``; the exporter rebuilds it as a plain ``QuantConv2D`` so LCE still sees a
    convolution (``larq_adam.export``).
    """

    def convolution_op(self, inputs, kernel):
        kh, kw = self.kernel_size
        if tuple(self.strides) != (1, 1) or tuple(self.dilation_rate) != (1, 1) \
                or self.data_format != "channels_last":
            return super().convolution_op(inputs, kernel)
        if self.padding == "same":  # TF's "same" at stride 1; Larq pads itself otherwise
            inputs = tf.pad(inputs, [[0, 0], [(kh - 1) // 2, kh // 2],
                                     [(kw - 1) // 2, kw // 2], [0, 0]])
        h, w = inputs.shape[1] - kh + 1, inputs.shape[2] - kw + 1
        patches = tf.concat([inputs[:, i:i + h, j:j + w, :]
                             for i in range(kh) for j in range(kw)], axis=-1)
        flat = tf.reshape(kernel, (-1, kernel.shape[-1]))
        out = tf.matmul(tf.reshape(patches, (-1, flat.shape[0])), flat)
        return tf.reshape(out, (-1, h, w, kernel.shape[-1]))
