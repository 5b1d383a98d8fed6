"""StrongBaseline (Real-to-Binary, Martinez et al. 2020, Sec. 4.1), the ResNet-18 BNN the
paper uses for all its analysis (Tables 1, 4, 5) and Table 2-3's "StrongBaseline".

Layout after larq-zoo's ``StrongBaselineNetFactory`` (``literature/real_to_bin_nets.py``)::

    stem: 7x7/2 conv -> BN -> PReLU -> 3x3/2 max-pool     (small images: 3x3/1 conv, no pool)
    8 blocks at 64, 64, 128, 128, 256, 256, 512, 512 channels (downsampling at the first of
    128/256/512), each two half-blocks with their own skip:
        BN -> sign -> binary 3x3 conv -> learned per-channel rescale -> PReLU -> + shortcut
        shortcut = identity, or AvgPool 2x2 -> real 1x1 conv -> BN when downsampling
    global average pool -> real Dense (logits)

Differences from larq-zoo (DESIGN.md, "StrongBaseline"): the binary weights follow Eq. 2
(:class:`larq_adam.layers.MeanScaledSign`, not ``ste_sign``), the latent weights are not
clipped (no ``weight_clip``), the rescale is per output channel (:class:`ChannelScale`)
instead of XNOR-Net++'s H x W x C factors, BN uses PyTorch's defaults, the binary 3x3
convs pad symmetrically (PyTorch) and return logits. Table 3: 1.68e9 BOPs; the real
layers' MACs are 1.38e8 (see ``count_ops``).
"""
from typing import Optional, Sequence

import tensorflow as tf

from larq_adam.layers import ChannelScale
from larq_adam.models import _common
from larq_adam.stages import StageLike
from larq_adam.errors import UserInputError

FAMILY = "strong_baseline"
BLOCK_WIDTHS = (64, 64, 128, 128, 256, 256, 512, 512)


def strong_baseline(
    stage: StageLike = "bnn",
    input_shape: Sequence[int] = (224, 224, 3),
    num_classes: int = 1000,
    width: float = 1.0,
    pad_values: float = 0.0,
    small_input: Optional[bool] = None,
    symmetric_padding: bool = True,
    name: str = "strong_baseline",
) -> tf.keras.Model:
    """StrongBaseline in binarization ``stage`` (Martinez et al. 2020; Table 3).

    Args:
        stage: "fp", "ba", "bw" or "bnn"; decides only the quantizers of the binary
            3x3 convs (SteSign activations, Eq. 2 weights), never names or shapes.
        input_shape: ``(H, W, C)``; sides <= 64 px select the small-image form (3x3/1
            stem, no max-pool) unless ``small_input`` says otherwise.
        num_classes: size of the logits.
        width: channel multiplier (``max(8, round(64 * width))`` in the first stage,
            doubling at each downsampling).
        pad_values: padding value of the binarized inputs of the 3x3 convs (0 =
            reference, 1 = LCE's fast path).
        small_input: force (True) or forbid (False) the small-image form.
        symmetric_padding: pad stride-2 binary convs symmetrically (PyTorch) or not.
        name: the Keras model name.

    Returns:
        A ``tf.keras.Model`` mapping images to logits.

    Example:
        >>> model = strong_baseline("bnn", input_shape=(32, 32, 3), num_classes=10, width=0.25)
    """
    stage = _common.check_common(stage, num_classes, width)
    input_shape = _common.check_input_shape(input_shape)
    small = _common.is_small_image(input_shape, small_input)
    base = _common.base_channels(BLOCK_WIDTHS[0], width)
    widths = [base * w // BLOCK_WIDTHS[0] for w in BLOCK_WIDTHS]

    inputs = _common.image_input(input_shape)
    x = tf.keras.layers.Conv2D(
        base, 3 if small else 7, strides=1 if small else 2, padding="same", use_bias=False,
        kernel_initializer=_common.torch_kernel_init(), name="stem_conv",
    )(inputs)
    x = _common.batch_norm("stem_bn")(x)
    x = tf.keras.layers.PReLU(
        alpha_initializer=tf.keras.initializers.Constant(0.25), shared_axes=[1, 2],
        name="stem_prelu",
    )(x)
    if not small:
        x = tf.keras.layers.MaxPooling2D(3, 2, padding="same", name="stem_pool")(x)

    for i, out_channels in enumerate(widths, start=1):
        downsample = i > 1 and out_channels != widths[i - 2]
        x = _half_block(x, out_channels, downsample, stage, pad_values, symmetric_padding,
                        name=f"block{i}a")
        x = _half_block(x, out_channels, False, stage, pad_values, symmetric_padding,
                        name=f"block{i}b")

    x = tf.keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = _common.torch_dense(num_classes, widths[-1], name="fc")(x)
    return tf.keras.Model(inputs, outputs, name=name)


def _half_block(x, out_channels, downsample, stage, pad_values, symmetric, name):
    """BN -> binary 3x3 conv -> rescale -> PReLU -> + shortcut (Martinez et al., Fig. 1)."""
    in_channels = int(x.shape[-1])
    shortcut = x
    if downsample:
        shortcut = tf.keras.layers.AveragePooling2D(
            2, 2, padding="same", name=f"{name}_shortcut_pool")(shortcut)
        shortcut = tf.keras.layers.Conv2D(
            out_channels, 1, use_bias=False, kernel_initializer=_common.torch_kernel_init(),
            name=f"{name}_shortcut_conv",
        )(shortcut)
        shortcut = _common.batch_norm(f"{name}_shortcut_bn")(shortcut)
    elif in_channels != out_channels:
        raise UserInputError(f"{name}: channels change without downsampling")

    y = _common.batch_norm(f"{name}_bn")(x)
    y = _common.binary_conv(
        y, out_channels, 3, 2 if downsample else 1, stage, FAMILY, pad_values,
        name=f"{name}_conv", post=ChannelScale(name=f"{name}_rescale"), symmetric=symmetric,
    )
    y = tf.keras.layers.PReLU(
        alpha_initializer=tf.keras.initializers.Constant(0.25), shared_axes=[1, 2],
        name=f"{name}_prelu",
    )(y)
    return tf.keras.layers.Add(name=f"{name}_add")([y, shortcut])
