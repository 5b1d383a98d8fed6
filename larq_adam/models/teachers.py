"""Real-valued ResNet teachers for the distributional loss (the paper distils ReActNet-A
from a real-valued ResNet-34, as ReActNet does).

Standard basic-block ResNets (He et al. 2016; torchvision layout): stem 7x7/2 conv -> BN ->
ReLU -> 3x3/2 max-pool (small images: 3x3/1 conv, no pool), stages of basic blocks
(``conv3x3 -> BN -> ReLU -> conv3x3 -> BN, + shortcut -> ReLU``; the shortcut is a
strided 1x1 conv + BN when the shape changes), global average pool, Dense logits.

They compute what torchvision's ``resnet18``/``resnet34`` compute, so torchvision weights
(``la.models.from_pytorch``) give torchvision's logits: the 7x7/2 stem, the 3x3/2 max-pool
and every stride-2 3x3 conv are padded symmetrically (3, 1 and 1 on each side) by an
explicit ``ZeroPadding2D`` (``<layer>_pad``) and a "valid" layer, where TF's "same" would
pad an even side asymmetrically (0 before, 1 after). Zero padding is exact for the
max-pool as well: it follows a ReLU, so a padded 0 never exceeds the window's maximum.
The padding layers hold no weights; saved teachers load by layer name as before.

Teachers are real-valued: ``build_model`` builds them for ``stage=None`` (its default) or
``stage="fp"`` and raises a ValueError for a binary stage rather than silently ignore it.
"""
from typing import Optional, Sequence

import tensorflow as tf

from larq_adam.models import _common
from larq_adam.errors import UserInputError

BLOCKS = {"resnet18": (2, 2, 2, 2), "resnet34": (3, 4, 6, 3)}


def resnet(
    depth: int = 18,
    input_shape: Sequence[int] = (224, 224, 3),
    num_classes: int = 1000,
    width: float = 1.0,
    small_input: Optional[bool] = None,
    name: Optional[str] = None,
) -> tf.keras.Model:
    """A real-valued ResNet-18 or ResNet-34 returning logits.

    Args:
        depth: 18 or 34.
        input_shape: ``(H, W, C)``; sides <= 64 px select the small-image form.
        num_classes: size of the logits.
        width: channel multiplier (``max(8, round(64 * width))`` in the first stage).
        small_input: force (True) or forbid (False) the small-image form.
        name: the Keras model name (default ``resnet{depth}``).

    Example:
        >>> teacher = resnet(34, input_shape=(32, 32, 3), num_classes=10, width=0.25)
    """
    key = f"resnet{depth}"
    if key not in BLOCKS:
        raise UserInputError(f"depth must be one of 18, 34, got {depth!r}")
    _common.check_common("fp", num_classes, width)
    input_shape = _common.check_input_shape(input_shape)
    small = _common.is_small_image(input_shape, small_input)
    base = _common.base_channels(64, width)

    inputs = _common.image_input(input_shape)
    x = _conv(base, 3 if small else 7, 1 if small else 2, "stem_conv")(inputs)
    x = _common.batch_norm("stem_bn")(x)
    x = tf.keras.layers.ReLU(name="stem_relu")(x)
    if not small:
        x = tf.keras.layers.ZeroPadding2D(1, name="stem_pool_pad")(x)
        x = tf.keras.layers.MaxPooling2D(3, 2, padding="valid", name="stem_pool")(x)

    for s, repeats in enumerate(BLOCKS[key]):
        filters = base * 2**s
        for b in range(repeats):
            stride = 2 if (s > 0 and b == 0) else 1
            x = _basic_block(x, filters, stride, name=f"stage{s + 1}_block{b + 1}")

    x = tf.keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = _common.torch_dense(num_classes, int(x.shape[-1]), name="fc")(x)
    return tf.keras.Model(inputs, outputs, name=name or key)


def _conv(filters, kernel, stride, name):
    """A bias-free conv padded as PyTorch's ``Conv2d(padding=kernel // 2)``: "same" at
    stride 1 (symmetric for odd kernels), an explicit ``ZeroPadding2D`` + "valid" at
    stride 2 (1x1 convs need no padding)."""
    conv = tf.keras.layers.Conv2D(
        filters, kernel, strides=stride,
        padding="same" if stride == 1 or kernel == 1 else "valid", use_bias=False,
        kernel_initializer="he_normal", name=name,
    )
    if stride == 1 or kernel == 1:
        return conv
    pad = tf.keras.layers.ZeroPadding2D(kernel // 2, name=f"{name}_pad")
    return lambda x: conv(pad(x))


def _basic_block(x, filters, stride, name):
    shortcut = x
    if stride != 1 or int(x.shape[-1]) != filters:
        shortcut = _conv(filters, 1, stride, f"{name}_shortcut_conv")(x)
        shortcut = _common.batch_norm(f"{name}_shortcut_bn")(shortcut)
    y = _conv(filters, 3, stride, f"{name}_conv1")(x)
    y = _common.batch_norm(f"{name}_bn1")(y)
    y = tf.keras.layers.ReLU(name=f"{name}_relu1")(y)
    y = _conv(filters, 3, 1, f"{name}_conv2")(y)
    y = _common.batch_norm(f"{name}_bn2")(y)
    y = tf.keras.layers.Add(name=f"{name}_add")([y, shortcut])
    return tf.keras.layers.ReLU(name=f"{name}_out")(y)


def resnet18(**kwargs) -> tf.keras.Model:
    """Real-valued ResNet-18 teacher; see :func:`resnet`."""
    return resnet(18, **kwargs)


def resnet34(**kwargs) -> tf.keras.Model:
    """Real-valued ResNet-34 teacher (the authors' teacher); see :func:`resnet`."""
    return resnet(34, **kwargs)
