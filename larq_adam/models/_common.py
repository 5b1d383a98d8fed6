"""Pieces shared by the model factories: argument checks, width scaling, PyTorch-default
initialisers and batch norm, the one binary 3x3 convolution helper (padding lives here),
and a local switch that mutes one Larq warning while a factory runs.

Padding of :func:`binary_conv` (decided here only, so it can be switched in one spot):

* 1x1: no padding.
* 3x3, stride 1: ``padding="same"`` pads the *binarized* input (Larq pads after the
  input quantizer) with ``pad_values`` -- 0 is the authors' PyTorch code, 1 is LCE's
  fast path.
* 3x3, stride 2, even input side: TF's "same" would pad (0 before, 1 after), PyTorch
  pads 1 on both sides. To pad the binarized input symmetrically we append one row and
  column of zeros to the *real* input (making the side odd), where "same" at stride 2
  pads symmetrically (1, 1), and crop the extra last output row/column that only the
  appended row reached. The result equals ``conv(pad(sign(x), 1, value=pad_values))``
  with stride 2 exactly. The crop comes after the BN and ``post`` so that LCE can
  still fuse the BN into the binary conv: per-channel ops commute with the crop, and
  the BN's *batch statistics* in training leave the extra row/column out
  (:class:`larq_adam.layers.BatchNorm` ``stats_crop``), so training computes exactly
  the reference's ``conv -> BN`` too. ``post`` must act per element (no batch
  statistics).
* ``symmetric=False`` gives plain TF "same" (asymmetric at stride 2).

A stride-1 conv on a map smaller than its kernel is a :class:`GemmQuantConv2D` (the
same function as one matrix product: 3x faster there).
"""
import contextlib
import logging
import math
from typing import Callable, Dict, Iterator, Optional, Sequence, Tuple

import larq as lq
import tensorflow as tf

from larq_adam import quantized
from larq_adam.layers import BatchNorm, GemmQuantConv2D
from larq_adam.stages import Stage, StageLike, quantizers
from larq_adam.errors import UserInputError

# PyTorch's BatchNorm2d defaults (eps 1e-5, momentum 0.1 == Keras momentum 0.9), DESIGN.md.
BN_EPSILON = 1e-5
BN_MOMENTUM = 0.9

# Inputs at most this tall and wide use the small-image form of a model (stride-1 stem,
# no max-pool) for 32 px images such as mnist5k; ImageNet-sized inputs use the paper's.
SMALL_IMAGE_MAX_SIDE = 64
MIN_SIDE = 8


def check_input_shape(input_shape: Sequence[int]) -> Tuple[int, int, int]:
    """Validate ``(height, width, channels)`` and return it as a tuple of ints."""
    try:
        shape = tuple(int(d) for d in input_shape)
        ok = len(shape) == 3 and all(float(a) == b for a, b in zip(input_shape, shape))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise UserInputError(
            f"input_shape must be (height, width, channels) with three integers, got "
            f"{input_shape!r}; e.g. (32, 32, 3) or (224, 224, 3)"
        )
    h, w, c = shape
    if h < MIN_SIDE or w < MIN_SIDE or c < 1:
        raise UserInputError(
            f"input_shape {shape} is too small: height and width must be >= {MIN_SIDE} and "
            f"channels >= 1"
        )
    return shape


def check_common(stage: StageLike, num_classes: int, width: float) -> Stage:
    """Validate the arguments every factory takes; return the stage as a :class:`Stage`."""
    stage = Stage(stage)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise UserInputError(f"num_classes must be a positive int, got {num_classes!r}")
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not width > 0:
        raise UserInputError(f"width must be a positive number (1.0 = the paper's), got {width!r}")
    return stage


def image_input(input_shape: Tuple[int, int, int]) -> tf.Tensor:
    """The model's ``Input``: float32 images, or float64 when the model is built under a
    float64 policy (``build_model(..., dtype_policy="float64")``), so that equality checks
    against a float64 reference lose no precision at the input."""
    policy = tf.keras.mixed_precision.global_policy()
    dtype = "float64" if policy.compute_dtype == "float64" else None
    return tf.keras.Input(shape=input_shape, name="image", dtype=dtype)


def is_small_image(input_shape: Tuple[int, int, int], small_input: Optional[bool]) -> bool:
    """The small-image form applies when both sides are <= 64 px unless forced."""
    if small_input is not None:
        return bool(small_input)
    return max(input_shape[0], input_shape[1]) <= SMALL_IMAGE_MAX_SIDE


def base_channels(reference: int, width: float, minimum: int = 8) -> int:
    """Width-scaled first-stage channel count; later stages are exact multiples of it, so
    channel doublings (ReActNet's concatenating blocks, ResNet stages) stay exact."""
    return max(minimum, int(round(reference * width)))


def torch_kernel_init() -> tf.keras.initializers.Initializer:
    """PyTorch's default conv/linear weight init, ``kaiming_uniform_(a=sqrt(5))``:
    ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``."""
    return tf.keras.initializers.VarianceScaling(1.0 / 3.0, "fan_in", "uniform")


def torch_dense(units: int, fan_in: int, name: str) -> tf.keras.layers.Dense:
    """A ``Dense`` initialised like ``torch.nn.Linear`` (weight and bias
    ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``)."""
    bound = 1.0 / math.sqrt(fan_in)
    return tf.keras.layers.Dense(
        units,
        kernel_initializer=torch_kernel_init(),
        bias_initializer=tf.keras.initializers.RandomUniform(-bound, bound),
        name=name,
    )


def batch_norm(name: str, stats_crop: Tuple[int, int] = (0, 0)) -> BatchNorm:
    """``BatchNorm2d`` as PyTorch computes it (eps 1e-5, momentum 0.1, unbiased moving
    variance); ``stats_crop`` leaves the last rows/columns out of the batch statistics."""
    return BatchNorm(stats_crop=stats_crop, epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=name)


def binary_conv(
    x: tf.Tensor,
    filters: int,
    kernel_size: int,
    stride: int,
    stage: Stage,
    family: str,
    pad_values: float,
    name: str,
    bn_name: Optional[str] = None,
    post: Optional[Callable[[tf.Tensor], tf.Tensor]] = None,
    symmetric: bool = True,
) -> tf.Tensor:
    """A binarizable convolution (Larq ``QuantConv2D``, quantizers from the stage), with
    the reference's padding, followed by a BatchNorm named ``bn_name`` (if given) and the
    per-channel ``post`` layer (e.g. a rescale).

    Padding: see the module docstring ("Padding"), the one place it is decided. A stride-1
    conv on a map smaller than its kernel is a :class:`GemmQuantConv2D` (the same function
    as one matrix product: 3x faster there).

    In stages with real activations (FP, BW) the padding value is 0 whatever
    ``pad_values`` is: zero padding of real activations, as the reference.
    """
    q = quantizers(stage, family)
    pv = float(pad_values) if stage.binary_activations else 0.0
    h, w = x.shape[1], x.shape[2]
    extra = (0, 0)
    if kernel_size > 1 and stride == 2 and symmetric:
        extra = (int(h % 2 == 0), int(w % 2 == 0))
        if any(extra):
            x = tf.keras.layers.ZeroPadding2D(
                ((0, extra[0]), (0, extra[1])), name=f"{name}_pad"
            )(x)
    small_map = kernel_size > 1 and stride == 1 and min(h, w) < kernel_size
    layer_class = GemmQuantConv2D if small_map else lq.layers.QuantConv2D
    with quiet_larq():
        conv = layer_class(
            filters,
            kernel_size,
            strides=stride,
            padding="same" if kernel_size > 1 else "valid",
            pad_values=pv if kernel_size > 1 else 0.0,
            use_bias=False,
            kernel_initializer=torch_kernel_init(),
            name=name,
            **q,
        )
    y = conv(x)
    if bn_name is not None:
        y = batch_norm(bn_name, stats_crop=extra)(y)
    if post is not None:
        y = post(y)
    if any(extra):
        y = tf.keras.layers.Cropping2D(((0, extra[0]), (0, extra[1])), name=f"{name}_crop")(y)
    return y


class _DropBinaryKernelWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "without setting `kernel_constraint`" not in record.getMessage()


@contextlib.contextmanager
def quiet_larq() -> Iterator[None]:
    """Mute Larq's "binary weight quantizer without kernel_constraint" warning inside the
    block only: the paper's latent weights are deliberately unclipped (DESIGN.md)."""
    logger = logging.getLogger("larq.layers_base")
    flt = _DropBinaryKernelWarning()
    logger.addFilter(flt)
    try:
        yield
    finally:
        logger.removeFilter(flt)


# ----------------------------------------------------------------------------- op counts

_MAC_LAYERS = (
    tf.keras.layers.Conv2D,
    tf.keras.layers.DepthwiseConv2D,
    tf.keras.layers.Dense,
)


def _pixels(shape) -> int:
    shape = tf.TensorShape(shape)
    return int(math.prod(int(d) for d in shape[1:-1])) if shape.rank > 2 else 1


def count_ops(model: tf.keras.Model) -> Dict[str, int]:
    """Multiply-accumulates per image, split as in the paper's Table 3.

    ``binary_macs`` (Table 3's BOPs): MACs of conv/dense layers whose input *and* kernel
    quantizers are both binary (only the BNN stage has any). ``float_macs``: all other
    conv/dense MACs (real stem, real shortcut 1x1 convs, FC, and every binarizable layer
    in the FP/BA/BW stages). ``elementwise``: one op per output element of the layers
    that act element by element on real tensors (BN, PReLU/RPReLU, shifts, rescales,
    adds, pooling) -- not part of Table 3's ReActNet FLOPs (1.2e7 = stem + FC MACs), see
    ``float_ops``. ``float_ops = float_macs + elementwise``.

    Counts come from the layers' static output shapes (batch 1) and kernel shapes. They
    agree with ``lq.models.ModelProfile(model).op_count("mac", 1)`` for the binary part
    except that the extra output row/column of :func:`binary_conv`'s symmetric stride-2
    padding (cropped right after) is not counted, as the reference does not compute it.
    """
    binary = real = elementwise = 0
    layers = list(quantized.walk(model))
    crops = {layer.name: layer for layer in layers if isinstance(layer, tf.keras.layers.Cropping2D)}
    for layer in layers:
        if isinstance(layer, _MAC_LAYERS):
            kernel = layer.depthwise_kernel if isinstance(
                layer, tf.keras.layers.DepthwiseConv2D) else layer.kernel
            # kh * kw * cin * cout (depthwise: kh * kw * cin * multiplier) per output pixel
            per_pixel = math.prod(int(d) for d in kernel.shape)
            # binary_conv's symmetric stride-2 padding computes one extra output row and
            # column that its "<conv>_crop" layer drops: count the useful outputs only.
            crop = crops.get(f"{layer.name}_crop")
            macs = per_pixel * _pixels((crop or layer).output_shape)
            if quantized.is_fully_binary(layer):
                binary += macs
            else:
                real += macs
        else:
            elementwise += _elementwise_ops(layer)
    return {
        "binary_macs": binary,
        "float_macs": real,
        "elementwise": elementwise,
        "float_ops": real + elementwise,
    }


def _elementwise_ops(layer: tf.keras.layers.Layer) -> int:
    """Arithmetic ops of an element-wise layer at batch 1: ops per output element times
    the output size (BN = scale + shift, PReLU = max + min*slope + add, RPReLU = PReLU
    and two shifts, add = one per extra input, pooling = window size); 0 otherwise."""
    from larq_adam import layers as la_layers

    per_element = None
    if isinstance(layer, tf.keras.layers.BatchNormalization):
        per_element = 2
    elif isinstance(layer, tf.keras.layers.PReLU):
        per_element = 3
    elif isinstance(layer, la_layers.RPReLU):
        per_element = 5
    elif isinstance(layer, (la_layers.LearnableBias, la_layers.ChannelScale,
                            tf.keras.layers.ReLU)):
        per_element = 1
    elif isinstance(layer, tf.keras.layers.Add):
        per_element = len(layer.input) - 1
    elif isinstance(layer, (tf.keras.layers.AveragePooling2D, tf.keras.layers.MaxPooling2D)):
        per_element = int(math.prod(layer.pool_size))
    elif isinstance(layer, tf.keras.layers.GlobalAveragePooling2D):
        return int(math.prod(int(d) for d in tf.TensorShape(layer.input_shape)[1:]))
    if per_element is None:
        return 0
    shape = tf.TensorShape(layer.output_shape)
    return per_element * int(math.prod(int(d) for d in shape[1:]))
