"""larq-zoo's BNNs as students of the paper's training (Sec. 3.3): QuickNet, Real-to-Binary
Net and Bi-RealNet, built by larq-zoo 2.4's own factories, in any stage (FP, BA, BW, BNN).

Every network is built once by its larq-zoo factory in its binary form (a subclass sets
only the factory's ``input_quantizer`` / ``kernel_quantizer`` / ``kernel_constraint``, which
all three factories expose separately), with larq-zoo loading any weights. The stage is
then applied layer by layer on a copy (weights copied):

* the layers larq-zoo binarizes (a 1-bit quantizer in the binary form) stay Larq layers in
  every stage, keeping only the quantizers the stage implies (:mod:`larq_adam.stages`):
  these are exactly :func:`larq_adam.quantized.binarizable_layers`, whose latent weights the
  analysis (Eq. 3-7) measures;
* Larq layers larq-zoo never binarizes (QuickNet's stem, transitions and classifier) become
  the plain Keras layers they equal, so the analysis does not mistake them for binary ones;
* the softmax is dropped (logits, as every model here); QuickNet's fixed blur-pool kernel is
  stored as a constant initialiser and Real-to-Binary's identity ``Lambda`` marks as linear
  activations, so a saved model loads without larq-zoo's custom objects;
* layer names are made independent of what the session built before (``quant_conv2d``,
  ``quant_conv2d_1``, ... in layer order), so all stages and all runs share them.

The paper's setting (``paper_quantizers=True``, the default) replaces the network's weight
quantizer by Eq. 2 (:class:`larq_adam.layers.MeanScaledSign`) and drops the latent-weight
clip (Fig. 7 lets latent weights grow beyond +-1); the activation quantizer stays the
network's own (QuickNet ``SteSign(1.25)``, Real-to-Binary ``ste_sign``, Bi-RealNet
``approx_sign``). ``paper_quantizers=False`` keeps larq-zoo's quantizers and clip.

At 32x32 inputs the stems downsample 4x (QuickNet: 3x3/2 conv, depthwise 3x3/2;
Real-to-Binary and Bi-RealNet: 7x7/2 conv, 3x3/2 max-pool), so the four sections run at
8, 4, 2 and 1 px; at 224 px at 56, 28, 14 and 7 px.
"""
import dataclasses
import importlib
import re
import warnings
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Union

import larq as lq
import tensorflow as tf

from larq_adam import quantized
from larq_adam.errors import (CorruptFileError, MissingDependencyError, MissingFileError,
                              SetupError, UserInputError)
from larq_adam.layers import MeanScaledSign
from larq_adam.models import _common
from larq_adam.run_files import h5_problem
from larq_adam.stages import Stage, StageLike

__all__ = ["NETWORKS", "ZooNetwork", "build_zoo", "quicknet", "real_to_bin", "birealnet"]

WeightsLike = Union[None, str, Path]


@dataclasses.dataclass(frozen=True)
class ZooNetwork:
    """One larq-zoo network: where its factory lives and what its factory lets us set."""

    name: str
    module: str
    factory: str
    own_pad_values: float
    width_field: Optional[str]  # the factory Field that ``width`` scales; None: fixed width


NETWORKS: Dict[str, ZooNetwork] = {
    "quicknet": ZooNetwork("quicknet", "larq_zoo.sota.quicknet", "QuickNetFactory", 1.0,
                           "section_filters"),
    "real_to_bin": ZooNetwork("real_to_bin", "larq_zoo.literature.real_to_bin_nets",
                              "RealToBinNetBNNFactory", 0.0, None),
    "birealnet": ZooNetwork("birealnet", "larq_zoo.literature.birealnet", "BiRealNetFactory",
                            0.0, "filters"),
}

# Larq layers larq-zoo keeps real in every stage become these plain Keras layers.
_PLAIN = {
    lq.layers.QuantConv2D: tf.keras.layers.Conv2D,
    lq.layers.QuantDepthwiseConv2D: tf.keras.layers.DepthwiseConv2D,
    lq.layers.QuantDense: tf.keras.layers.Dense,
}
_QUANT_KEYS = ("input_quantizer", "kernel_quantizer", "depthwise_quantizer", "pad_values")


def _factory_base(network: ZooNetwork) -> type:
    try:
        module = importlib.import_module(network.module)
    except ImportError as err:
        raise MissingDependencyError(
            f"{network.name!r} is built by larq-zoo, which cannot be imported ({err}); "
            f"install it with: pip install larq-zoo==2.4.0") from None
    _check_zookeeper()
    return getattr(module, network.factory)


def _check_zookeeper() -> None:
    """larq-zoo's factories type-check every Field with zookeeper, which calls typeguard;
    zookeeper 1.3 speaks typeguard 2's ``check_type`` and, beside typeguard 3+, rejects every
    value (``Field 'filters' ... not satisfied by value 64``)."""
    from zookeeper.core import utils

    if not utils.type_check(1, int):
        raise MissingDependencyError(
            f"zookeeper {_version('zookeeper')} cannot type-check larq-zoo's fields with "
            f"typeguard {_version('typeguard')}: install a pair that agrees: "
            f"pip install 'typeguard<3' (for zookeeper 1.3) or zookeeper>=1.4 with typeguard>=3")


def _version(package: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "(unknown version)"


def _factory_class(base: type, *, paper_quantizers: bool, clip_weights: bool) -> type:
    """``base`` (a larq-zoo factory) with its quantizer attributes set: the network's own
    activation quantizer, Eq. 2 or its own weight quantizer, its clip or none."""

    class Factory(base):
        @property
        def input_quantizer(self):
            return lq.quantizers.get(super().input_quantizer)

        @property
        def kernel_quantizer(self):
            return MeanScaledSign() if paper_quantizers else \
                lq.quantizers.get(super().kernel_quantizer)

        @property
        def kernel_constraint(self):
            return tf.keras.constraints.get(super().kernel_constraint) if clip_weights else None

    Factory.__name__ = Factory.__qualname__ = base.__name__
    return Factory


def _width_fields(network: ZooNetwork, factory: type, width: float,
                  num_classes: int) -> Dict[str, Any]:
    """The factory Fields that give channel multiplier ``width`` (none at width 1)."""
    if width == 1:
        return {}
    if network.width_field is None:
        raise UserInputError(
            f"{network.name!r} has a fixed width (larq-zoo's {network.factory} hard-codes "
            f"its 64 stem channels), got width={width!r}: use width=1.0 or another network")
    default = getattr(factory(num_classes=num_classes), network.width_field)
    if isinstance(default, int):  # Bi-RealNet: first-section filters, doubled after
        return {network.width_field: _common.base_channels(default, width)}
    # QuickNet: per-section filters; its stem needs multiples of 4
    return {network.width_field: tuple(max(8, 4 * round(f * width / 4)) for f in default)}


def _check_weights(network: ZooNetwork, weights: WeightsLike, *, width: float,
                   num_classes: int, input_shape: Sequence[int]) -> Optional[str]:
    """``weights`` as the factory takes it, after one-line checks of what would fail."""
    if weights is None:
        return None
    if str(weights) == "imagenet":
        if width != 1 or num_classes != 1000 or tuple(input_shape) != (224, 224, 3):
            raise UserInputError(
                f"weights='imagenet' loads larq-zoo's ImageNet {network.name}: build it with "
                f"width=1.0, num_classes=1000, input_shape=(224, 224, 3), or pass "
                f"weights=PATH of the downloaded .h5 for another input size")
        return "imagenet"
    problem = h5_problem(weights, whole_model=False)
    if problem == "it does not exist":
        raise MissingFileError(
            f"weights file {weights} does not exist; pass the path of a larq-zoo .h5 weights "
            f"file, 'imagenet' (downloads, needs internet) or None")
    if problem:
        raise CorruptFileError(
            f"weights file {weights} cannot be read as HDF5 ({problem}): pass larq-zoo's "
            f"released .h5 or one written by model.save_weights('NAME.h5')")
    return str(weights)


def _zoo_model(network: ZooNetwork, factory: type, *, weights: Optional[str],
               **fields) -> tf.keras.Model:
    """The network as larq-zoo's factory builds it (with softmax), weights loaded by it."""
    try:
        with _common.quiet_larq():
            return factory(weights=weights, **fields).build()
    except Exception as err:  # noqa: BLE001 - Keras' get_file raises a bare Exception
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        if weights == "imagenet" and "URL fetch failure" in first:
            raise UserInputError(
                f"weights='imagenet' could not download larq-zoo's {network.name} weights "
                f"({first}): download that file where there is internet and pass "
                f"weights=PATH") from None
        if weights is not None and isinstance(err, ValueError):
            raise UserInputError(
                f"weights {weights} do not fit larq-zoo's {network.name} built with "
                f"{fields} ({first}): pass weights saved from the same network, width and "
                f"num_classes") from None
        raise


def _logits(model: tf.keras.Model) -> tf.keras.Model:
    """``model`` without its final softmax."""
    last = model.layers[-1]
    softmax = isinstance(last, tf.keras.layers.Softmax) or (
        isinstance(last, tf.keras.layers.Activation)
        and getattr(last.activation, "__name__", "") == "softmax")
    if not softmax:
        raise SetupError(f"larq-zoo's {model.name!r} does not end in a softmax "
                           f"({type(last).__name__}); larq-zoo 2.4.0 is required")
    return tf.keras.Model(model.input, last.input, name=model.name)


def _is_identity_lambda(layer: tf.keras.layers.Layer) -> bool:
    marker = object()
    try:
        return isinstance(layer, tf.keras.layers.Lambda) and layer.function(marker) is marker
    except Exception:  # noqa: BLE001 - any non-identity function fails on a bare object
        return False


def _namer():
    """Layer names as Keras gives them in a fresh session: ``base``, ``base_1``, ... per base
    name (the name without a trailing ``_<number>``), counted in layer order."""
    counts: Dict[str, int] = {}

    def rename(name: str) -> str:
        base = re.sub(r"_\d+$", "", name)
        k = counts.get(base, 0)
        counts[base] = k + 1
        return base if k == 0 else f"{base}_{k}"

    return rename


def _staged_layer(layer: tf.keras.layers.Layer, stage: Stage, pad_values: float,
                  name: str) -> tf.keras.layers.Layer:
    """A fresh copy of one layer of the binary-form network, as ``stage`` has it."""
    with warnings.catch_warnings():  # QuickNet's blur-pool initialiser is a function
        warnings.filterwarnings("ignore", message=r"The `keras.initializers.serialize")
        config = dict(layer.get_config(), name=name)
    if isinstance(layer, quantized.BINARIZABLE_TYPES):
        if not (quantized.is_binary_quantizer(getattr(layer, "input_quantizer", None))
                or quantized.is_binary_quantizer(getattr(layer, "kernel_quantizer", None))):
            plain = {k: v for k, v in config.items() if k not in _QUANT_KEYS}
            return _PLAIN[type(layer)].from_config(plain)
        if not stage.binary_activations:
            config["input_quantizer"] = None
        if not stage.binary_weights:
            config.update(kernel_quantizer=None, kernel_constraint=None)
        if config.get("padding") == "same":  # real activations pad with 0, as in the paper
            config["pad_values"] = float(pad_values) if stage.binary_activations else 0.0
        return type(layer).from_config(config)
    if _is_identity_lambda(layer):
        return tf.keras.layers.Activation("linear", name=name, dtype=config.get("dtype"))
    if isinstance(layer, tf.keras.layers.DepthwiseConv2D) and not layer.trainable:
        # a frozen kernel (QuickNet's blur pool) is its own initialiser
        config["depthwise_initializer"] = tf.keras.initializers.Constant(
            layer.depthwise_kernel.numpy().tolist())
    return type(layer).from_config(config)


def _restage(model: tf.keras.Model, stage: Stage, *, input_shape: Sequence[int],
             pad_values: float, name: str) -> tf.keras.Model:
    """A copy of the binary-form ``model`` in ``stage`` with the same weights."""
    rename = _namer()

    def clone(layer):
        return _staged_layer(layer, stage, pad_values, rename(layer.name))

    with lq.context.quantized_scope(False), _common.quiet_larq():
        staged = tf.keras.models.clone_model(
            model, input_tensors=_common.image_input(tuple(input_shape)), clone_function=clone)
    staged.set_weights(model.get_weights())
    return tf.keras.Model(staged.input, staged.output, name=name)


def _warn_if_not_own(network: ZooNetwork, stage: Stage, *, paper_quantizers: bool,
                     clip_weights: bool, pad_values: float) -> None:
    """Loaded weights compute larq-zoo's function only with larq-zoo's own settings."""
    fixes = []
    if paper_quantizers:
        fixes.append("paper_quantizers=False")
    if stage.binary_weights and not paper_quantizers and not clip_weights:
        fixes.append("clip_weights=True")
    if stage.binary_activations and float(pad_values) != network.own_pad_values:
        fixes.append(f"pad_values={network.own_pad_values}")
    if fixes:
        warnings.warn(
            f"larq-zoo's {network.name} weights were trained with its own quantizers and "
            f"padding; pass {', '.join(fixes)} to compute larq-zoo's function with them",
            UserWarning, stacklevel=4)


def build_zoo(
    network: str,
    stage: StageLike = "bnn",
    *,
    input_shape: Sequence[int] = (224, 224, 3),
    num_classes: int = 1000,
    width: float = 1.0,
    pad_values: float = 0.0,
    paper_quantizers: bool = True,
    clip_weights: Optional[bool] = None,
    weights: WeightsLike = None,
    name: Optional[str] = None,
) -> tf.keras.Model:
    """larq-zoo's ``network`` in binarization ``stage`` returning logits (Sec. 3.3; Table 4's
    stages). See :func:`quicknet` for the arguments; ``network`` is a key of
    :data:`NETWORKS`."""
    if network not in NETWORKS:
        raise UserInputError(f"unknown larq-zoo network {network!r}; valid: "
                             f"{', '.join(sorted(NETWORKS))}")
    net = NETWORKS[network]
    stage = _common.check_common(stage, num_classes, width)
    input_shape = _common.check_input_shape(input_shape)
    clip = (not paper_quantizers) if clip_weights is None else bool(clip_weights)
    factory = _factory_class(_factory_base(net), paper_quantizers=bool(paper_quantizers),
                             clip_weights=clip)
    fields = dict(input_shape=input_shape, num_classes=num_classes,
                  **_width_fields(net, factory, width, num_classes))
    path = _check_weights(net, weights, width=width, num_classes=num_classes,
                          input_shape=input_shape)
    if path is not None:
        _warn_if_not_own(net, stage, paper_quantizers=bool(paper_quantizers),
                         clip_weights=clip, pad_values=pad_values)
    zoo = _logits(_zoo_model(net, factory, weights=path, **fields))
    return _restage(zoo, stage, input_shape=input_shape, pad_values=pad_values,
                    name=name or net.name)


_ARGS_DOC = """
    Args:
        stage: "fp", "ba", "bw" or "bnn" (:class:`larq_adam.Stage`); decides only the
            quantizers of the layers larq-zoo binarizes, never names or shapes.
        input_shape: ``(H, W, C)``; larq-zoo's stem divides the sides by 4 (32 px -> 8 px).
        num_classes: size of the logits.
        width: channel multiplier (see the network's note).
        pad_values: padding value of the binarized inputs of the 3x3 binary convs (the
            registry's meaning: 0 by default; 1 is LCE's fast path); real inputs pad with 0.
        paper_quantizers: the paper's setting (default): Eq. 2 weights
            (:class:`larq_adam.layers.MeanScaledSign`) and unclipped latent weights (Fig. 7).
            ``False``: larq-zoo's own weight quantizer and weight clip.
        clip_weights: override the latent-weight clip (``None``: clip exactly when
            ``paper_quantizers`` is ``False``).
        weights: ``None`` (random), a path to a larq-zoo ``.h5`` weights file (e.g. a
            released one, downloaded), or ``"imagenet"`` (larq-zoo downloads it; needs
            internet, 224 px, 1000 classes, width 1).
        name: the Keras model name.

    Returns:
        A ``tf.keras.Model`` mapping images to logits.
"""


def quicknet(stage: StageLike = "bnn", *, input_shape: Sequence[int] = (224, 224, 3),
             num_classes: int = 1000, width: float = 1.0, pad_values: float = 0.0,
             paper_quantizers: bool = True, clip_weights: Optional[bool] = None,
             weights: WeightsLike = None, name: str = "quicknet") -> tf.keras.Model:
    """larq-zoo's QuickNet (``larq_zoo.sota.QuickNetFactory``) in ``stage`` (Sec. 3.3).

    Binarized: the 16 residual 3x3 convs (``SteSign(1.25)`` activations). ``width`` scales
    the section filters (64, 128, 256, 512) to multiples of 4 (at least 8). larq-zoo pads
    the binarized inputs with 1: ``pad_values=1.0`` reproduces it.
    """
    return build_zoo("quicknet", stage, input_shape=input_shape, num_classes=num_classes,
                     width=width, pad_values=pad_values,
                     paper_quantizers=paper_quantizers, clip_weights=clip_weights,
                     weights=weights, name=name)


def real_to_bin(stage: StageLike = "bnn", *, input_shape: Sequence[int] = (224, 224, 3),
                num_classes: int = 1000, width: float = 1.0, pad_values: float = 0.0,
                paper_quantizers: bool = True, clip_weights: Optional[bool] = None,
                weights: WeightsLike = None, name: str = "real_to_bin") -> tf.keras.Model:
    """larq-zoo's Real-to-Binary Net (``RealToBinNetBNNFactory``, Martinez et al. 2020;
    ``larq_zoo.literature.RealToBinaryNet``) in ``stage`` (Sec. 3.3).

    Binarized: the 16 3x3 convs (``ste_sign`` activations), each followed by its
    data-dependent rescale. The width is fixed (larq-zoo hard-codes 64 stem channels):
    ``width`` must be 1.
    """
    return build_zoo("real_to_bin", stage, input_shape=input_shape, num_classes=num_classes,
                     width=width, pad_values=pad_values,
                     paper_quantizers=paper_quantizers, clip_weights=clip_weights,
                     weights=weights, name=name)


def birealnet(stage: StageLike = "bnn", *, input_shape: Sequence[int] = (224, 224, 3),
              num_classes: int = 1000, width: float = 1.0, pad_values: float = 0.0,
              paper_quantizers: bool = True, clip_weights: Optional[bool] = None,
              weights: WeightsLike = None, name: str = "birealnet") -> tf.keras.Model:
    """larq-zoo's Bi-RealNet-18 (``larq_zoo.literature.BiRealNet`` / ``BiRealNetFactory``)
    in ``stage`` (Sec. 3.3).

    Binarized: the 16 3x3 convs (``approx_sign`` activations; larq-zoo's weights use
    ``magnitude_aware_sign``). ``width`` scales the first section's 64 filters
    (``max(8, round(64 * width))``, doubled per section).
    """
    return build_zoo("birealnet", stage, input_shape=input_shape, num_classes=num_classes,
                     width=width, pad_values=pad_values,
                     paper_quantizers=paper_quantizers, clip_weights=clip_weights,
                     weights=weights, name=name)


for _builder in (quicknet, real_to_bin, birealnet):
    _builder.__doc__ += _ARGS_DOC
del _builder

