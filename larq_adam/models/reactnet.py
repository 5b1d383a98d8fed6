"""ReActNet-A (Liu et al., ECCV 2020), the MobileNet-V1-based BNN of the paper's Tables 2-3,
built to match the authors' PyTorch code layer for layer (DESIGN.md, "ReActNet-A").

Per block (``inplanes -> planes``)::

    x -> LearnableBias -> sign -> 3x3 conv (inplanes->inplanes, stride s) -> BN
      -> + x (AvgPool 2x2 when s == 2) -> RPReLU = out1
    out1 -> LearnableBias -> sign -> 1x1 conv -> BN -> + out1          (planes == inplanes)
                                  -> two 1x1 convs (inplanes each), each BN'd and + out1,
                                     concatenated                      (planes == 2*inplanes)
         -> RPReLU

Stem: real 3x3 conv + BN, no activation (stride 2, or 1 for the small-image form); head:
global average pool and a real ``Dense`` returning logits. With 1000 classes at
224x224x3 it has 29,343,592 trainable parameters (as the PyTorch model) and 4.82e9 binary
MACs in the BNN stage (Table 3).
"""
from typing import Optional, Sequence

import larq as lq  # noqa: F401  (QuantConv2D via _common)
import tensorflow as tf

from larq_adam.layers import LearnableBias, RPReLU
from larq_adam.models import _common
from larq_adam.stages import StageLike
from larq_adam.errors import UserInputError

FAMILY = "reactnet"
# Output channels of the stem and the 13 blocks, as ``stage_out_channel`` in the reference.
STAGE_OUT_CHANNELS = (32, 64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024)


def reactnet_a(
    stage: StageLike = "bnn",
    input_shape: Sequence[int] = (224, 224, 3),
    num_classes: int = 1000,
    width: float = 1.0,
    pad_values: float = 0.0,
    small_input: Optional[bool] = None,
    symmetric_padding: bool = True,
    name: str = "reactnet_a",
) -> tf.keras.Model:
    """ReActNet-A in binarization ``stage`` (Table 3's network; DESIGN.md, "ReActNet-A").

    Args:
        stage: "fp", "ba", "bw" or "bnn" (:class:`larq_adam.Stage`); decides only the
            quantizers of the binarizable ``QuantConv2D`` layers, never names or shapes.
        input_shape: ``(H, W, C)``; sides <= 64 px select the small-image form (stem
            stride 1) unless ``small_input`` says otherwise.
        num_classes: size of the logits.
        width: channel multiplier; the stem gets ``max(8, round(32 * width))`` channels
            and every later width is the reference's ratio to 32 times that.
        pad_values: value of the padding of binarized inputs of the 3x3 convs (0 =
            reference, 1 = LCE's fast path); see :func:`_common.binary_conv`.
        small_input: force (True) or forbid (False) the small-image form.
        symmetric_padding: pad stride-2 3x3 convs symmetrically like PyTorch (default)
            rather than with TF's asymmetric "same".
        name: the Keras model name.

    Returns:
        A ``tf.keras.Model`` mapping images to logits.

    Example:
        >>> model = reactnet_a("ba", input_shape=(32, 32, 3), num_classes=10, width=0.25)
    """
    stage = _common.check_common(stage, num_classes, width)
    input_shape = _common.check_input_shape(input_shape)
    small = _common.is_small_image(input_shape, small_input)
    base = _common.base_channels(STAGE_OUT_CHANNELS[0], width)
    channels = [base * c // STAGE_OUT_CHANNELS[0] for c in STAGE_OUT_CHANNELS]

    inputs = _common.image_input(input_shape)
    stem_stride = 1 if small else 2
    x = tf.keras.layers.ZeroPadding2D(1, name="stem_pad")(inputs)
    x = tf.keras.layers.Conv2D(
        channels[0], 3, strides=stem_stride, padding="valid", use_bias=False,
        kernel_initializer=_common.torch_kernel_init(), name="stem_conv",
    )(x)
    x = _common.batch_norm("stem_bn")(x)

    for i in range(1, len(channels)):
        inplanes, planes = channels[i - 1], channels[i]
        stride = 2 if (STAGE_OUT_CHANNELS[i - 1] != STAGE_OUT_CHANNELS[i]
                       and STAGE_OUT_CHANNELS[i] != 64) else 1
        x = _block(x, inplanes, planes, stride, stage, pad_values, symmetric_padding,
                   name=f"block{i:02d}")

    x = tf.keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = _common.torch_dense(num_classes, channels[-1], name="fc")(x)
    return tf.keras.Model(inputs, outputs, name=name)


def _block(x, inplanes, planes, stride, stage, pad_values, symmetric, name):
    """One ReActNet-A block (``BasicBlock`` in the authors' code)."""
    if planes not in (inplanes, 2 * inplanes):
        raise UserInputError(f"block {name}: planes must be inplanes or 2*inplanes")
    out1 = LearnableBias(name=f"{name}_move11")(x)
    out1 = _common.binary_conv(
        out1, inplanes, 3, stride, stage, FAMILY, pad_values, name=f"{name}_conv3x3",
        bn_name=f"{name}_bn1", symmetric=symmetric,
    )
    if stride == 2:
        x = tf.keras.layers.AveragePooling2D(2, 2, padding="same", name=f"{name}_pool")(x)
    out1 = tf.keras.layers.Add(name=f"{name}_add1")([x, out1])
    out1 = RPReLU(name=f"{name}_rprelu1")(out1)

    out2 = LearnableBias(name=f"{name}_move21")(out1)
    if planes == inplanes:
        y = _common.binary_conv(out2, planes, 1, 1, stage, FAMILY, 0.0, name=f"{name}_conv1x1",
                                bn_name=f"{name}_bn2")
        out2 = tf.keras.layers.Add(name=f"{name}_add2")([y, out1])
    else:
        halves = []
        for part in ("a", "b"):
            y = _common.binary_conv(
                out2, inplanes, 1, 1, stage, FAMILY, 0.0, name=f"{name}_conv1x1{part}",
                bn_name=f"{name}_bn2{part}",
            )
            halves.append(tf.keras.layers.Add(name=f"{name}_add2{part}")([y, out1]))
        out2 = tf.keras.layers.Concatenate(name=f"{name}_concat")(halves)
    return RPReLU(name=f"{name}_rprelu2")(out2)
