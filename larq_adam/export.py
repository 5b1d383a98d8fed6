"""Export to Larq Compute Engine (LCE) with proofs: binary where it should be, equal to Keras.

The paper's BNNs (ReActNet-A, Table 3; StrongBaseline, Table 2) only pay off when their
binarized convolutions run as binary ops. This module converts a trained Keras model and
checks the result instead of trusting it:

* :func:`to_lce` - the LCE flatbuffer (``larq_compute_engine.convert_keras_model``);
* :func:`to_tflite_float` - the float TFLite of the same network with every quantizer
  removed (its FP-stage twin), the baseline for size and latency;
* :func:`verify` - LCE interpreter vs Keras (``training=False``) on real images: max / mean
  abs difference relative to the logit scale, top-1 agreement; raises
  :class:`ExportMismatchError` beyond tolerance (LCE 0.16 mis-converts a binary 3x3 conv with
  ``pad_values=0`` on a 2x2 input: this is what catches it);
* :func:`op_report` - ops counted from the parsed flatbuffer and the share of MACs done in
  ``LceBconv2d``; with the Keras model, raises :class:`NotBinaryError` when fewer binary
  convolutions came out than fully binary layers went in (a binary ``QuantDense`` or
  ``QuantDepthwiseConv2D`` stays float in LCE);
* :func:`benchmark` - latency (median and spread) in the LCE (or TFLite) interpreter, size;
* :func:`report_markdown` / :func:`update_report` - the ``## Export`` section of a run's
  ``report.md``.

Example::

    import larq_adam as la
    info = la.export.to_lce(model, "runs/x/model.tflite")
    la.export.op_report(info["path"], model=model)           # raises if not binary
    la.export.verify(model, info["path"], images)             # raises if numbers differ
    la.export.benchmark(info["path"], threads=2)
"""
import math
import os
import re
import time
import warnings
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import larq as lq
import numpy as np
import tensorflow as tf

import larq_adam.layers  # noqa: F401  (registers the custom objects for loading/cloning)
from larq_adam import compact
from larq_adam.atomic import atomic_write_bytes
from larq_adam.layers import GemmQuantConv2D
from larq_adam.models._common import quiet_larq

__all__ = [
    "ExportMismatchError",
    "NotBinaryError",
    "to_lce",
    "to_tflite_float",
    "float_twin",
    "with_pad_values",
    "lce_ready",
    "verify",
    "randomize_like_trained",
    "op_report",
    "binary_layers",
    "benchmark",
    "report_markdown",
    "update_report",
    "DEFAULT_RTOL",
    "DEFAULT_MIN_TOP1",
    "DEFAULT_NOISE_FACTOR",
]

PathLike = Union[str, "os.PathLike[str]"]

# "Exact" tolerance of verify(): |LCE - Keras| <= DEFAULT_RTOL * max|Keras logit| + atol.
# Measured on trained-looking nets (random latent weights and BN statistics, mnist5k):
# 32-px ReActNet-A (width 0.25) 1.1e-6 of the logit scale, StrongBaseline 6.5e-7; the LCE
# 0.16 2x2 zero-padding bug (when not worked around by lce_ready) 0.24 of it (absolute
# errors of 7-126).
DEFAULT_RTOL = 1e-4
DEFAULT_ATOL = 1e-5
DEFAULT_MIN_TOP1 = 0.99
# Second route of verify(): within this multiple of Keras' own float sensitivity (max and
# mean logit change under a 1e-6 relative weight perturbation). Measured at 224 px
# (trained-looking ReActNet-A, 4 images): Keras moves by max 0.33 / mean 0.062 (scale 12.4);
# LCE differs by max 0.46 / mean 0.10, i.e. 1.4x / 1.7x.
DEFAULT_NOISE_FACTOR = 4.0

_BINARY_OP = "LceBconv2d"
_MAC_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV", _BINARY_OP)


class ExportMismatchError(ValueError):
    """The converted model computes different numbers from the Keras model."""


class NotBinaryError(ValueError):
    """A fully binary Keras layer did not become an LCE binary op."""


# ----------------------------------------------------------------------------- conversion


def _student(model: Any) -> tf.keras.Model:
    """The network to export: a Distiller's ``student``, otherwise the model itself."""
    net = getattr(model, "student", model)
    if not isinstance(net, tf.keras.Model):
        raise TypeError(
            f"expected a tf.keras.Model (or an object with a .student model), got "
            f"{type(model).__name__}; load the model with tf.keras.models.load_model first"
        )
    return net


def _write(path: PathLike, data: bytes) -> str:
    """Write ``data`` whole or not at all (a temporary file renamed into place)."""
    path = os.fspath(path)
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    atomic_write_bytes(path, data)
    return path


def _convertible_class(layer: tf.keras.layers.Layer) -> type:
    """The class a converter should see: a :class:`GemmQuantConv2D` (a matrix product in
    the graph, a training-speed form) becomes the ``QuantConv2D`` it equals."""
    return lq.layers.QuantConv2D if isinstance(layer, GemmQuantConv2D) else layer.__class__


def _zero_padding_lce_miscomputes(layer: tf.keras.layers.Layer) -> bool:
    """True for a fully binary conv that LCE 0.16 converts to wrong numbers: "same"
    padding with ``pad_values=0`` on an input map smaller than the kernel (e.g. a 3x3 conv
    on 2x2, ReActNet-A's last block at 32 px; measured: max error 35-72 against Keras,
    while 3x3 and larger maps and ``pad_values=1`` are exact to 1e-4)."""
    if not (isinstance(layer, lq.layers.QuantConv2D)
            and _quantizer_is_binary(layer.input_quantizer)
            and _quantizer_is_binary(layer.kernel_quantizer)):
        return False
    if layer.padding != "same" or float(layer.pad_values) != 0.0:
        return False
    side = min(int(layer.input_shape[1]), int(layer.input_shape[2]))
    return side < max(layer.kernel_size)


class CorrectedAdd(tf.keras.layers.Add):
    """``Add`` plus a constant map: where the zero-padding correction of a binary conv
    (:func:`lce_ready`) enters the graph. It is applied after the residual addition, away
    from the ``LceBconv2d``: LCE 0.16 fuses a constant that directly follows a binary conv
    into the op's per-channel bias and then fails on a per-position constant."""

    def __init__(self, offset: np.ndarray, **kwargs):
        super().__init__(**kwargs)
        self._offset = tf.constant(offset, dtype=tf.float32)

    def _merge_function(self, inputs):
        return super()._merge_function(inputs) + self._offset


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
    from larq_adam.layers import ChannelScale

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
        raise NotImplementedError(
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
    ``QuantConv2D`` it equals. The function is unchanged (:func:`verify` compares the file
    with ``model`` itself) and every binary conv stays one ``LceBconv2d``; each corrected
    conv costs at most one extra element-wise ADD."""
    net = _student(model)
    one_padded, offsets = set(), {}
    for layer in _all_layers(net):
        if _zero_padding_lce_miscomputes(layer):
            add, offset = _carry_to_add(layer, -_zero_padding_correction(layer))
            one_padded.add(layer.name)
            offsets[add.name] = offsets.get(add.name, 0.0) + offset
    if not one_padded and not any(isinstance(l, GemmQuantConv2D) for l in _all_layers(net)):
        return net

    def clone(layer):
        config = layer.get_config()
        if layer.name in one_padded:
            config["pad_values"] = 1.0
        if layer.name in offsets:
            return CorrectedAdd(offsets[layer.name].astype(np.float32), **config)
        return _convertible_class(layer).from_config(config)

    with lq.context.quantized_scope(False), quiet_larq():
        ready = tf.keras.models.clone_model(net, clone_function=clone)
    ready.set_weights(net.get_weights())
    return ready


def to_lce(model: Any, path: PathLike, verbose: bool = True, *, classifier: str = "float32",
           **converter_kwargs) -> Dict[str, Any]:
    """Convert ``model`` with LCE's converter and write the ``.tflite`` to ``path``.

    Fully binary ``QuantConv2D`` layers (binary input and kernel quantizers, e.g. the BNN
    stage of the paper's models with Eq. 1 activations and Eq. 2 weights) become
    ``LceQuantize`` + ``LceBconv2d`` with the following BatchNorm fused; zero-padded ones
    on maps smaller than their kernel go through :func:`lce_ready`.

    Args:
        model: a Keras model, or a ``Distiller``-like object whose ``.student`` is exported.
        path: output file (folders are created).
        verbose: print a progress line before and after (big nets take 40-60 s).
        classifier: storage of the real-valued FC weights (Table 3's float layer): "float32",
            or "float16" / "int8" (per-unit scale) behind a DEQUANTIZE op
            (:func:`larq_adam.compact.compact_classifier`); verify such a file with
            ``verify(..., classifier=...)``.
        **converter_kwargs: passed to ``larq_compute_engine.convert_keras_model``
            (e.g. ``target="xcore"``, ``inference_input_type=tf.int8``).

    Returns:
        ``{"path", "bytes", "seconds", "classifier"}``.
    """
    import larq_compute_engine as lce

    net = _student(model)
    if not binary_layers(net):
        warnings.warn(
            f"{net.name!r} has no fully binary layer (binary activations AND weights), so "
            f"nothing becomes an LCE binary op: the file is a float model. Export the BNN "
            f"stage (step 2 of two-step training)", stacklevel=2)
    if verbose:
        print(f"[export] converting {net.name!r} ({net.count_params():,} parameters) with "
              f"Larq Compute Engine -> {os.fspath(path)} ...", flush=True)
    start = time.perf_counter()
    flatbuffer = lce.convert_keras_model(lce_ready(net), **converter_kwargs)
    flatbuffer, _ = compact.compact_classifier(flatbuffer, classifier)
    seconds = time.perf_counter() - start
    out = _write(path, flatbuffer)
    if verbose:
        print(f"[export] LCE model written: {len(flatbuffer) / 1e6:.2f} MB in {seconds:.1f} s",
              flush=True)
    return {"path": out, "bytes": len(flatbuffer), "seconds": seconds, "classifier": classifier}


def _clone_with(model: tf.keras.Model, edit: Callable[[tf.keras.layers.Layer, dict], dict]
                ) -> tf.keras.Model:
    """Rebuild ``model`` with each layer's config passed through ``edit``; copy weights."""

    def clone(layer):
        config = edit(layer, dict(layer.get_config()))
        return _convertible_class(layer).from_config(config)

    with lq.context.quantized_scope(False), quiet_larq():
        twin = tf.keras.models.clone_model(model, clone_function=clone)
    twin.set_weights(model.get_weights())
    return twin


def float_twin(model: Any) -> tf.keras.Model:
    """The FP-stage twin of ``model``: the same layers and weights, every quantizer removed
    and binary padding reset to 0 (the FP stage pads real activations with zeros)."""
    net = _student(model)

    def edit(layer, config):
        if any(k.endswith("_quantizer") for k in config):
            for key in list(config):
                if key.endswith("_quantizer"):
                    config[key] = None
            if "pad_values" in config:
                config["pad_values"] = 0.0
        return config

    return _clone_with(net, edit)


def with_pad_values(model: Any, pad_values: float) -> tf.keras.Model:
    """A copy of ``model`` whose padded binary convolutions pad with ``pad_values``.

    ``pad_values=1.0`` is LCE's fast path and avoids the LCE 0.16 2x2 zero-padding bug, but
    it changes the network's function slightly: re-evaluate accuracy after using it.
    """
    net = _student(model)

    def edit(layer, config):
        if "pad_values" in config and config.get("padding") == "same":
            config["pad_values"] = float(pad_values)
        return config

    return _clone_with(net, edit)


def to_tflite_float(model: Any, path: PathLike, verbose: bool = True) -> Dict[str, Any]:
    """Write the float TFLite of ``model``'s FP-stage twin (:func:`float_twin`) to ``path``,
    converted with ``tf.lite.TFLiteConverter`` - the baseline for size and latency.

    Returns:
        ``{"path", "bytes", "seconds"}``.
    """
    twin = float_twin(model)
    if verbose:
        print(f"[export] converting the float twin of {twin.name!r} with TFLite -> "
              f"{os.fspath(path)} ...", flush=True)
    start = time.perf_counter()
    converter = tf.lite.TFLiteConverter.from_keras_model(twin)
    flatbuffer = converter.convert()
    seconds = time.perf_counter() - start
    out = _write(path, flatbuffer)
    if verbose:
        print(f"[export] float TFLite written: {len(flatbuffer) / 1e6:.2f} MB in "
              f"{seconds:.1f} s", flush=True)
    return {"path": out, "bytes": len(flatbuffer), "seconds": seconds}


def _read(path_or_bytes: Union[PathLike, bytes]) -> bytes:
    if isinstance(path_or_bytes, (bytes, bytearray)):
        return bytes(path_or_bytes)
    path = os.fspath(path_or_bytes)
    if not os.path.isfile(path):
        raise ValueError(f"no .tflite file at {path!r}; write one with to_lce() first")
    with open(path, "rb") as f:
        return f.read()


# ----------------------------------------------------------------------------- verify


def _keras_logits(net: tf.keras.Model, images: np.ndarray, batch_size: int = 32) -> np.ndarray:
    outs = [net(images[i:i + batch_size], training=False).numpy()
            for i in range(0, len(images), batch_size)]
    return np.concatenate(outs).astype(np.float64)



def randomize_like_trained(model: tf.keras.Model, seed: int = 0) -> tf.keras.Model:
    """Give ``model`` random but sane weights and BN statistics, as after training, so a
    conversion can be checked (:func:`verify`, :func:`op_report`) before any training:
    latent kernels ~ N(0, 1/fan_in), BN gamma in [0.5, 1.5], moving variance in [0.5, 2],
    moving mean ~ N(0, 0.3), PReLU slopes in [0.05, 0.4], shifts and biases ~ N(0, 0.1).
    Fresh models are a poor test: all-ones BN statistics hide fusion mistakes. In place;
    returns ``model``."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        name, shape = w.name, tuple(w.shape)
        if "moving_variance" in name:
            value = rng.uniform(0.5, 2.0, shape)
        elif "moving_mean" in name:
            value = rng.normal(0.0, 0.3, shape)
        elif "gamma" in name:
            value = rng.uniform(0.5, 1.5, shape)
        elif "beta" in name:
            value = rng.normal(0.0, 0.2, shape)
        elif "alpha" in name:
            value = rng.uniform(0.05, 0.4, shape)
        elif "kernel" in name:
            value = rng.normal(0.0, 1.0 / np.sqrt(np.prod(shape[:-1])), shape)
        else:  # learnable shifts, biases
            value = rng.normal(0.0, 0.1, shape)
        w.assign(value.astype("float32"))
    return model

def _float_sensitivity(net: tf.keras.Model, images: np.ndarray, ref: np.ndarray,
                       eps: float = 1e-6, seed: int = 0) -> Tuple[float, float, float]:
    """How much Keras' own logits move when every weight is perturbed by ``eps`` (relative,
    a few float32 ulps): (max, mean) abs change and the share of images whose top-1 class
    changes. Deep BNNs amplify rounding differences by flipping the signs of near-zero
    pre-activations; a correct conversion differs from Keras by about this much. The
    weights are restored afterwards."""
    original = net.get_weights()
    rng = np.random.default_rng(seed)
    try:
        net.set_weights([(w * (1 + eps * rng.standard_normal(w.shape))).astype(w.dtype)
                         if np.issubdtype(w.dtype, np.floating) else w for w in original])
        noisy = _keras_logits(net, images)
    finally:
        net.set_weights(original)
    moved = np.abs(noisy - ref)
    flipped = float(np.mean(noisy.argmax(-1) != ref.argmax(-1))) if ref.ndim == 2 else 0.0
    return float(moved.max()), float(moved.mean()), flipped


def verify(
    model: Any,
    path: Union[PathLike, bytes],
    images: np.ndarray,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    min_top1_agreement: float = DEFAULT_MIN_TOP1,
    noise_factor: float = DEFAULT_NOISE_FACTOR,
    num_threads: int = 1,
    use_indirect_bgemm: bool = False,
    raise_on_mismatch: bool = True,
    classifier: str = "float32",
) -> Dict[str, Any]:
    """Run the LCE interpreter and Keras (``training=False``) on ``images`` and compare.

    Passes when the share of images with the same top-1 class is at least
    ``min_top1_agreement`` and either

    * ``max|LCE - Keras| <= atol + rtol * max|Keras logits|`` (scale-aware, "exact"), or
    * the difference is within ``noise_factor`` times Keras' own float sensitivity, in
      both max and mean (:func:`_float_sensitivity`: the logit change when all weights move
      by 1e-6 relative). Large BNNs need this: at 224 px a trained-looking ReActNet-A's
      logits move by ~2% of their scale under such a perturbation (near-zero inputs of
      sign flip), and LCE's fused arithmetic differs from Keras by as much. On this route
      the top-1 changes allowed are also relative: at most ``noise_factor`` times the share
      that Keras' own perturbation changed (never stricter than ``min_top1_agreement``).

    Correct small conversions give 1e-6..1e-5 of the logit scale; the LCE 0.16 2x2
    zero-padding bug gives ~0.2 of it, with a float sensitivity of ~1e-7 (caught).

    Args:
        model: the Keras model (or ``Distiller``-like with ``.student``) that was converted.
        path: the ``.tflite`` file (or its bytes) from :func:`to_lce` / :func:`to_tflite_float`.
        images: ``(N, H, W, C)`` float images as the model takes them (real ones if possible).
        rtol, atol: "exact" tolerance (relative to the largest Keras |logit|, absolute).
        min_top1_agreement: least share of images whose argmax agrees.
        noise_factor: allowed multiple of Keras' float sensitivity (0 disables that route).
        num_threads, use_indirect_bgemm: interpreter settings.
        raise_on_mismatch: raise :class:`ExportMismatchError` on failure (else report it).
        classifier: the FC storage the file was written with (``to_lce(classifier=)``):
            Keras computes with the FC weights rounded the same way
            (:func:`larq_adam.compact.as_stored`), so the comparison stays exact.

    Returns:
        dict with ``max_abs_diff``, ``mean_abs_diff``, ``logit_scale``, ``rel_max_diff``,
        ``tolerance``, ``top1_agreement``, ``num_images``, ``criterion`` ("exact",
        "float sensitivity" or "none"), ``keras_noise_max`` / ``keras_noise_mean`` (when
        measured) and ``passed``.
    """
    from larq_compute_engine.tflite.python.interpreter import Interpreter  # lce.testing

    net = _student(model)
    if classifier != "float32":
        net = compact.as_stored(net, classifier)
    if len(net.outputs) != 1:
        raise ValueError(f"verify compares single-output models (logits); {net.name!r} has "
                         f"{len(net.outputs)} outputs whose order TFLite may change")
    images = np.asarray(images, dtype=np.float32)
    expected = tuple(net.input_shape[1:])
    if images.ndim != 4 or any(e is not None and e != d
                               for e, d in zip(expected, images.shape[1:])):
        raise ValueError(
            f"images must have shape (N, {', '.join(map(str, expected))}) to match the model "
            f"input, got {images.shape}; resize or pick the dataset the model was trained on")
    if len(images) == 0:
        raise ValueError("verify needs at least one image")
    try:
        interpreter = Interpreter(_read(path), num_threads=num_threads,
                                  use_indirect_bgemm=use_indirect_bgemm)
    except RuntimeError as err:
        raise ExportMismatchError(
            f"the LCE interpreter cannot run the converted model ({err}); see the kernel "
            f"error printed above. Known LCE 0.16 case: a constant 4-D ADD or MUL (e.g. a "
            f"learnable shift) directly after a binary conv + BN is fused into LceBconv2d "
            f"with the wrong shape - put a residual add or a Keras variable layer between "
            f"them") from err
    got = np.asarray(interpreter.predict(images), dtype=np.float64)
    ref = _keras_logits(net, images)
    if got.shape != ref.shape:
        raise ExportMismatchError(
            f"the converted model outputs shape {got.shape}, Keras {ref.shape}: the file "
            f"does not hold this model")
    diff = np.abs(got - ref)
    scale = float(np.max(np.abs(ref)))
    tolerance = atol + rtol * scale
    top1 = float(np.mean(got.argmax(-1) == ref.argmax(-1))) if ref.ndim == 2 else 1.0
    result = {
        "max_abs_diff": float(diff.max()),
        "mean_abs_diff": float(diff.mean()),
        "logit_scale": scale,
        "rel_max_diff": float(diff.max()) / scale if scale > 0 else float(diff.max()),
        "tolerance": tolerance,
        "rtol": rtol,
        "atol": atol,
        "top1_agreement": top1,
        "min_top1_agreement": min_top1_agreement,
        "num_images": int(len(images)),
        "criterion": "none",
    }
    if result["max_abs_diff"] <= tolerance:
        result["criterion"] = "exact"
    needed_top1 = min_top1_agreement
    if result["criterion"] == "none" and noise_factor > 0:
        noise_max, noise_mean, noise_flips = _float_sensitivity(net, images, ref)
        result.update(keras_noise_max=noise_max, keras_noise_mean=noise_mean,
                      keras_noise_top1_changed=noise_flips)
        if (result["max_abs_diff"] <= atol + noise_factor * noise_max
                and result["mean_abs_diff"] <= atol + noise_factor * noise_mean):
            result["criterion"] = "float sensitivity"
            # near a decision boundary rounding alone changes a few top-1 classes: allow
            # as many changes as noise_factor times what Keras' own perturbation made
            needed_top1 = min(min_top1_agreement, 1.0 - noise_factor * noise_flips)
    result["needed_top1_agreement"] = needed_top1
    result["passed"] = bool(result["criterion"] != "none" and top1 >= needed_top1)
    if not result["passed"] and raise_on_mismatch:
        noise = ""
        if "keras_noise_max" in result:
            noise = (f"; Keras itself moves by max {result['keras_noise_max']:.3g} / mean "
                     f"{result['keras_noise_mean']:.3g} when its weights move by 1e-6 "
                     f"(allowed x{noise_factor:g}), mean |diff| {result['mean_abs_diff']:.3g}")
        raise ExportMismatchError(
            f"the converted model disagrees with Keras on {len(images)} images: max |diff| "
            f"{result['max_abs_diff']:.3g} (tolerance {tolerance:.3g} = {atol:g} + {rtol:g} x "
            f"max|logit| {scale:.3g}{noise}), top-1 agreement {top1:.3f} (needed "
            f"{needed_top1:.3f}). Was the file converted with to_lce() (which works around "
            f"LCE 0.16's zero padding of maps smaller than the kernel), from this model?")
    return result


# ----------------------------------------------------------------------------- op report


def _builtin_names() -> Dict[int, str]:
    from tensorflow.lite.python import schema_py_generated as schema

    return {v: k for k, v in vars(schema.BuiltinOperator).items()
            if not k.startswith("_") and isinstance(v, int)}


def _parse_ops(flatbuffer: bytes) -> List[Dict[str, Any]]:
    """Every operator of every subgraph: name, input/output shapes, custom options."""
    from flatbuffers import flexbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    if len(flatbuffer) < 8 or flatbuffer[4:8] != b"TFL3":
        raise ValueError("not a TFLite flatbuffer (missing the 'TFL3' identifier)")
    names = _builtin_names()
    root = schema.Model.GetRootAsModel(flatbuffer, 0)
    ops = []
    for s in range(root.SubgraphsLength()):
        graph = root.Subgraphs(s)

        def shape(i):
            return tuple(int(d) for d in graph.Tensors(i).ShapeAsNumpy()) if i >= 0 else None

        for i in range(graph.OperatorsLength()):
            op = graph.Operators(i)
            code = root.OperatorCodes(op.OpcodeIndex())
            if code.CustomCode():
                name = code.CustomCode().decode()
            else:
                builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
                name = names.get(builtin, f"BUILTIN_{builtin}")
            options = {}
            if op.CustomOptionsLength():
                try:
                    options = flexbuffers.Loads(bytes(op.CustomOptionsAsNumpy()))
                except Exception:  # noqa: BLE001  (non-flexbuffer custom options)
                    options = {}
            ops.append({
                "name": name,
                "inputs": [shape(j) for j in op.InputsAsNumpy()] if op.InputsLength() else [],
                "outputs": [shape(j) for j in op.OutputsAsNumpy()] if op.OutputsLength() else [],
                "options": options if isinstance(options, dict) else {},
            })
    return ops


def _op_macs(op: Dict[str, Any]) -> int:
    """Multiply-accumulates of one conv / FC op from its tensor shapes."""
    name, ins, outs = op["name"], op["inputs"], op["outputs"]
    if not outs or outs[0] is None or len(ins) < 2 or ins[1] is None:
        return 0
    out, w = outs[0], ins[1]
    if name == "CONV_2D":  # filter (Cout, kh, kw, Cin)
        return math.prod(out[:-1]) * math.prod(w)
    if name == _BINARY_OP:  # filter (Cout, kh, kw, Cin/32 bitpacked); output may be packed
        cin = int(op["options"].get("channels_in", w[3] * 32))
        return math.prod(out[:-1]) * w[0] * w[1] * w[2] * cin
    if name == "DEPTHWISE_CONV_2D":  # filter (1, kh, kw, Cout)
        return math.prod(out) * w[1] * w[2]
    if name == "FULLY_CONNECTED":  # weights (units, in)
        return math.prod(out[:-1]) * math.prod(w)
    if name == "TRANSPOSE_CONV" and len(ins) > 2 and ins[1] is not None:  # (shape, W, x)
        return math.prod(ins[2][:-1]) * math.prod(ins[1])
    return 0


def _quantizer_is_binary(q) -> bool:
    if q is None:
        return False
    precision = getattr(q, "precision", None)
    if precision is not None:
        return precision == 1
    fn_name = getattr(q, "__name__", "")
    return fn_name in ("ste_sign", "approx_sign", "swish_sign", "magnitude_aware_sign",
                       "mean_scaled_sign")


def _all_layers(model: tf.keras.Model):
    for layer in model.layers:
        if isinstance(layer, tf.keras.Model):
            yield from _all_layers(layer)
        else:
            yield layer


def binary_layers(model: Any) -> List[tf.keras.layers.Layer]:
    """The fully binary Larq layers of ``model``: ``QuantConv2D`` / ``QuantDense`` /
    ``QuantDepthwiseConv2D`` (and friends) whose input AND weight quantizers are both
    1-bit (Eq. 1 activations with Eq. 2 / sign weights). These should become binary ops."""
    net = _student(model)
    found = []
    for layer in _all_layers(net):
        if not hasattr(layer, "input_quantizer"):  # Larq Quant* layers (conv, dense, dw)
            continue
        weight_q = getattr(layer, "kernel_quantizer", None)
        if weight_q is None:
            weight_q = getattr(layer, "depthwise_quantizer", None)
        if _quantizer_is_binary(getattr(layer, "input_quantizer", None)) and \
                _quantizer_is_binary(weight_q):
            found.append(layer)
    return found


def _layer_signature(layer) -> Optional[Tuple[int, int, int, int, int, int]]:
    """(Cout, kh, kw, Cin, sh, sw) of a binary conv, comparable with an LceBconv2d op."""
    if not isinstance(layer, tf.keras.layers.Conv2D) or isinstance(
            layer, tf.keras.layers.DepthwiseConv2D):
        return None
    kh, kw, cin, cout = (int(d) for d in layer.kernel.shape)
    groups = int(getattr(layer, "groups", 1) or 1)
    return (cout, kh, kw, cin * groups, int(layer.strides[0]), int(layer.strides[1]))


def _op_signature(op) -> Tuple[int, int, int, int, int, int]:
    w, o = op["inputs"][1], op["options"]
    return (w[0], w[1], w[2], int(o.get("channels_in", w[3] * 32)),
            int(o.get("stride_height", 1)), int(o.get("stride_width", 1)))


def op_report(path: Union[PathLike, bytes], model: Any = None, raise_on_missing: bool = True
              ) -> Dict[str, Any]:
    """Count the ops of a ``.tflite`` and the share of MACs done in binary ops.

    Parses the flatbuffer with TFLite's schema (custom ops by their custom code, e.g.
    ``LceBconv2d``, ``LceQuantize``, ``LceDequantize``; builtins by name, e.g. ``CONV_2D``).
    MACs come from the tensor shapes: ``Hout*Wout*Cout*kh*kw*Cin`` for (binary) convs,
    ``Hout*Wout*C*kh*kw`` for depthwise, ``in*out`` for fully connected.

    Args:
        path: the ``.tflite`` file or its bytes.
        model: the Keras model it came from. When given, every fully binary Keras layer
            (:func:`binary_layers`) must have become an ``LceBconv2d``; otherwise
            :class:`NotBinaryError` names the layers that stayed float (matched by kernel
            shape and stride; a binary ``QuantDense`` or ``QuantDepthwiseConv2D`` never
            becomes binary in LCE 0.16).
        raise_on_missing: raise (default) or only list the layers in ``not_binary``.

    Returns:
        dict with ``ops`` (name -> count), ``binary_convs``, ``float_convs``
        (CONV_2D + DEPTHWISE_CONV_2D), ``fully_connected``, ``macs`` (op name -> MACs),
        ``binary_macs``, ``total_macs``, ``binary_mac_share`` (of all conv/FC MACs),
        ``binary_conv_mac_share`` (of convolution MACs only) and, with ``model``,
        ``keras_binary_layers`` and ``not_binary`` (names).
    """
    ops = _parse_ops(_read(path))
    counts: Dict[str, int] = {}
    macs: Dict[str, int] = {}
    for op in ops:
        counts[op["name"]] = counts.get(op["name"], 0) + 1
        if op["name"] in _MAC_OPS:
            macs[op["name"]] = macs.get(op["name"], 0) + _op_macs(op)
    binary_macs = macs.get(_BINARY_OP, 0)
    total = sum(macs.values())
    conv_total = total - macs.get("FULLY_CONNECTED", 0)
    report: Dict[str, Any] = {
        "ops": dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
        "binary_convs": counts.get(_BINARY_OP, 0),
        "float_convs": counts.get("CONV_2D", 0) + counts.get("DEPTHWISE_CONV_2D", 0),
        "fully_connected": counts.get("FULLY_CONNECTED", 0),
        "macs": macs,
        "binary_macs": binary_macs,
        "total_macs": total,
        "binary_mac_share": binary_macs / total if total else 0.0,
        "binary_conv_mac_share": binary_macs / conv_total if conv_total else 0.0,
    }
    if model is None:
        return report

    layers = binary_layers(model)
    pool: Dict[Any, int] = {}
    for op in ops:
        if op["name"] == _BINARY_OP:
            sig = _op_signature(op)
            pool[sig] = pool.get(sig, 0) + 1
    missing = []
    for layer in layers:
        sig = _layer_signature(layer)
        if sig is not None and pool.get(sig, 0) > 0:
            pool[sig] -= 1
        else:
            missing.append(layer)
    report["keras_binary_layers"] = len(layers)
    report["not_binary"] = [f"{l.name} ({type(l).__name__})" for l in missing]
    if (report["binary_convs"] < len(layers) or missing) and raise_on_missing:
        raise NotBinaryError(
            f"{len(layers)} Keras layers are fully binary but the .tflite has "
            f"{report['binary_convs']} {_BINARY_OP} ops; not binary in the converted model: "
            f"{', '.join(report['not_binary']) or '(could not tell which)'}. LCE makes only "
            f"QuantConv2D with 1-bit input and kernel quantizers binary: a binary QuantDense "
            f"or QuantDepthwiseConv2D stays float - make those layers real (plain Keras) or "
            f"binarize them as QuantConv2D")
    return report


# ----------------------------------------------------------------------------- benchmark


def benchmark(
    path: Union[PathLike, bytes],
    threads: int = 2,
    runs: int = 20,
    warmup: int = 3,
    use_indirect_bgemm: bool = True,
    interpreter: str = "lce",
) -> Dict[str, Any]:
    """Single-image latency of a ``.tflite`` and its file size.

    Args:
        path: the ``.tflite`` file or its bytes (LCE or float: LCE's interpreter runs both).
        threads: interpreter threads.
        runs, warmup: timed and untimed inferences on one random image.
        use_indirect_bgemm: LCE's indirect-BGEMM binary kernel - on x86 the fast one
            (measured: 53.8 ms against 171-177 ms by default for ReActNet-A at 224 px).
        interpreter: ``"lce"`` (``larq_compute_engine.testing.Interpreter``) or
            ``"tflite"`` (``tf.lite.Interpreter`` with its default XNNPack delegate; float
            models only).

    Returns:
        dict with ``median_ms``, ``p10_ms``, ``p90_ms``, ``min_ms``, ``max_ms``,
        ``mean_ms``, ``runs``, ``threads``, ``bytes``, ``interpreter``.
    """
    if runs < 1 or warmup < 0 or threads < 1:
        raise ValueError(f"need runs >= 1, warmup >= 0, threads >= 1; got runs={runs}, "
                         f"warmup={warmup}, threads={threads}")
    data = _read(path)
    rng = np.random.default_rng(0)
    if interpreter == "lce":
        from larq_compute_engine.tflite.python.interpreter import Interpreter  # lce.testing

        interp = Interpreter(data, num_threads=threads, use_indirect_bgemm=use_indirect_bgemm)
        x = rng.normal(size=(1, *interp.input_shapes[0][1:])).astype(np.float32)

        def run():
            interp.predict(x)
    elif interpreter == "tflite":
        interp = tf.lite.Interpreter(model_content=data, num_threads=threads)
        interp.allocate_tensors()
        detail = interp.get_input_details()[0]
        x = rng.normal(size=detail["shape"]).astype(np.float32)

        def run():
            interp.set_tensor(detail["index"], x)
            interp.invoke()
    else:
        raise ValueError(f"interpreter must be 'lce' or 'tflite', got {interpreter!r}")
    for _ in range(warmup):
        run()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1e3)
    t = np.asarray(times)
    return {
        "median_ms": float(np.median(t)),
        "p10_ms": float(np.percentile(t, 10)),
        "p90_ms": float(np.percentile(t, 90)),
        "min_ms": float(t.min()),
        "max_ms": float(t.max()),
        "mean_ms": float(t.mean()),
        "runs": runs,
        "threads": threads,
        "bytes": len(data),
        "interpreter": interpreter + (" (indirect bgemm)" if interpreter == "lce"
                                      and use_indirect_bgemm else ""),
    }


# ----------------------------------------------------------------------------- report


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB"


def report_markdown(results: Dict[str, Any]) -> str:
    """The ``## Export`` section of a run's report from the results of this module.

    Args:
        results: any of ``lce`` / ``float`` (from :func:`to_lce` / :func:`to_tflite_float`),
            ``verify`` (:func:`verify`), ``ops`` (:func:`op_report`), ``bench_lce`` /
            ``bench_float`` (:func:`benchmark`), ``source`` (str), ``images`` (str: what
            verify ran on); missing parts are left out.
    """
    lines = ["## Export", ""]
    if results.get("source"):
        lines += [f"Model: `{results['source']}`", ""]
    lce, flt = results.get("lce"), results.get("float")
    b_lce, b_flt = results.get("bench_lce"), results.get("bench_float")
    if lce or flt:
        lines += ["| file | size | conversion | latency median (p10-p90) | interpreter |",
                  "|---|---|---|---|---|"]
        for label, info, bench in (("LCE", lce, b_lce), ("float TFLite", flt, b_flt)):
            if not info:
                continue
            lat, how = "-", "-"
            if bench:
                lat = (f"{bench['median_ms']:.2f} ms ({bench['p10_ms']:.2f}-"
                       f"{bench['p90_ms']:.2f})")
                how = f"{bench['interpreter']}, {bench['threads']} threads, {bench['runs']} runs"
            lines.append(f"| {label} `{os.path.basename(info['path'])}` | {_mb(info['bytes'])} "
                         f"| {info['seconds']:.1f} s | {lat} | {how} |")
        if lce and flt:
            ratio = f"size LCE/float {lce['bytes'] / flt['bytes']:.3f} " \
                    f"(1/{flt['bytes'] / lce['bytes']:.1f})"
            if b_lce and b_flt:
                ratio += f"; latency LCE/float {b_lce['median_ms'] / b_flt['median_ms']:.2f}"
            lines += ["", ratio]
        lines += ["", "Latency on this machine's CPU (x86: not LCE's optimized ARM path).", ""]
    ops = results.get("ops")
    if ops:
        op_list = ", ".join(f"{k} {v}" for k, v in ops["ops"].items())
        lines += [f"Ops: {op_list}.", "",
                  f"Binary convolutions: {ops['binary_convs']} `LceBconv2d`"
                  + (f" for {ops['keras_binary_layers']} fully binary Keras layers"
                     if "keras_binary_layers" in ops else "")
                  + f"; float convs {ops['float_convs']}, fully connected "
                  f"{ops['fully_connected']}. Binary MACs {ops['binary_macs'] / 1e6:.1f} M "
                  f"of {ops['total_macs'] / 1e6:.1f} M ({100 * ops['binary_mac_share']:.1f}%; "
                  f"{100 * ops['binary_conv_mac_share']:.1f}% of convolution MACs).", ""]
        if ops.get("not_binary"):
            lines += [f"**Not binary in the converted model:** {', '.join(ops['not_binary'])}.",
                      ""]
    ver = results.get("verify")
    if ver:
        status = f"PASSED, {ver.get('criterion', 'exact')}" if ver["passed"] else "FAILED"
        lines += [f"Verification ({status}) on {ver['num_images']} "
                  f"{results.get('images', 'images')}: max |LCE - Keras| "
                  f"{ver['max_abs_diff']:.3g} ({ver['rel_max_diff']:.2g} of max |logit| "
                  f"{ver['logit_scale']:.3g}; tolerance {ver['tolerance']:.3g}), mean "
                  f"{ver['mean_abs_diff']:.3g}, top-1 agreement {100 * ver['top1_agreement']:.1f}%."
                  + (f" Keras' own float sensitivity (weights x (1 + 1e-6 noise)): max "
                     f"{ver['keras_noise_max']:.3g}, mean {ver['keras_noise_mean']:.3g}."
                     if "keras_noise_max" in ver else ""), ""]
    return "\n".join(lines).rstrip() + "\n"


def update_report(report_path: PathLike, section: str) -> str:
    """Write ``section`` (starting with ``## Export``) into ``report_path``: replace an
    existing ``## Export`` section (up to the next ``## `` heading) or append it."""
    if not section.startswith("## Export"):
        raise ValueError("section must start with '## Export' (use report_markdown())")
    report_path = os.fspath(report_path)
    text = ""
    if os.path.exists(report_path):
        with open(report_path, encoding="utf-8") as f:
            text = f.read()
    pattern = re.compile(r"^## Export[^\n]*\n.*?(?=^## |\Z)", re.S | re.M)
    block = section.rstrip() + "\n\n"
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text, count=1)
    else:
        text = (text.rstrip() + "\n\n" if text.strip() else "") + block
    _write(report_path, text.rstrip().encode() + b"\n")
    return report_path
