"""The converted file against Keras (``training=False``) on real images.

DESIGN.md, "Verification criterion": exact when ``max|LCE - Keras| <= atol + rtol *
max|logit|``; deep BNNs amplify rounding (a near-zero input of the Eq. 1 sign flips), so
the difference may instead lie within ``noise_factor`` times Keras' own change under a
1e-6 relative weight perturbation (max and mean, and the top-1 changes it causes).
"""
from typing import Any, Dict, Tuple, Union

import numpy as np
import tensorflow as tf

from larq_adam.export import compact
from larq_adam.errors import UserInputError
from larq_adam.export.base import ExportMismatchError, PathLike, read_flatbuffer, student

__all__ = ["DEFAULT_RTOL", "DEFAULT_ATOL", "DEFAULT_MIN_TOP1", "DEFAULT_NOISE_FACTOR",
           "keras_logits", "compare_with_keras", "verify"]

# "Exact" tolerance: |LCE - Keras| <= DEFAULT_RTOL * max|Keras logit| + DEFAULT_ATOL.
# Measured on trained-looking nets (random latent weights and BN statistics, mnist5k):
# 32-px ReActNet-A (width 0.25) 1.1e-6 of the logit scale, StrongBaseline 6.5e-7; the LCE
# 0.16 2x2 zero-padding bug (when not worked around by lce_ready) 0.24 of it (absolute
# errors of 7-126).
DEFAULT_RTOL = 1e-4
DEFAULT_ATOL = 1e-5
DEFAULT_MIN_TOP1 = 0.99
# Second route: within this multiple of Keras' own float sensitivity (max and mean logit
# change under a 1e-6 relative weight perturbation). Measured at 224 px (trained-looking
# ReActNet-A, 4 images): Keras moves by max 0.33 / mean 0.062 (scale 12.4); LCE differs by
# max 0.46 / mean 0.10, i.e. 1.4x / 1.7x.
DEFAULT_NOISE_FACTOR = 4.0


def keras_logits(net: tf.keras.Model, images: np.ndarray, batch_size: int = 128
                 ) -> np.ndarray:
    """``net``'s outputs in inference mode (``training=False``), float64, in batches, run
    eagerly: a few calls, where tracing would cost more than it saves. Each eager call
    pays the dispatch of every op once, so the batches are large (256 images of a ReActNet-A
    x0.25 at 32 px: 1.2 s in batches of 128, 2.6 s in batches of 32, on 2 CPU cores)."""
    outs = [net(images[i:i + batch_size], training=False).numpy()
            for i in range(0, len(images), batch_size)]
    return np.concatenate(outs).astype(np.float64)


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
        noisy = keras_logits(net, images)
    finally:
        net.set_weights(original)
    moved = np.abs(noisy - ref)
    flipped = float(np.mean(noisy.argmax(-1) != ref.argmax(-1))) if ref.ndim == 2 else 0.0
    return float(moved.max()), float(moved.mean()), flipped


def _checked_images(net: tf.keras.Model, images: Any) -> np.ndarray:
    """``images`` in the dtype of ``net``'s input (float32, or uint8 pixels for a model
    with the preprocessing inside), checked against its input shape."""
    if len(net.outputs) != 1:
        raise UserInputError(f"verify compares single-output models (logits); {net.name!r} "
                             f"has {len(net.outputs)} outputs whose order TFLite may change")
    images = np.asarray(images)
    dtype = net.inputs[0].dtype.as_numpy_dtype
    if dtype == np.uint8 and not (images.dtype == np.uint8):
        raise UserInputError(f"{net.name!r} takes uint8 pixels, got {images.dtype} images; "
                             "pass the pixels (la.export.contract.to_pixels)")
    expected = tuple(net.input_shape[1:])
    if images.ndim != 4 or any(e is not None and e != d
                               for e, d in zip(expected, images.shape[1:])):
        raise UserInputError(
            f"images must have shape (N, {', '.join(map(str, expected))}) to match the model "
            f"input, got {images.shape}; resize or pick the dataset the model was trained on")
    if len(images) == 0:
        raise UserInputError("verify needs at least one image; pass a non-empty batch")
    return images.astype(dtype)


def _lce_logits(path: Union[PathLike, bytes], images: np.ndarray, *, num_threads: int,
                use_indirect_bgemm: bool) -> np.ndarray:
    """The LCE interpreter's outputs on ``images`` (float64)."""
    from larq_compute_engine.tflite.python.interpreter import Interpreter  # lce.testing

    try:
        interpreter = Interpreter(read_flatbuffer(path), num_threads=num_threads,
                                  use_indirect_bgemm=use_indirect_bgemm)
        return np.asarray(interpreter.predict(images), dtype=np.float64)
    except RuntimeError as err:
        raise ExportMismatchError(
            f"the LCE interpreter cannot run the converted model ({err}); see the kernel "
            f"error printed above. Known LCE 0.16 case: a constant 4-D ADD or MUL (e.g. a "
            f"learnable shift) directly after a binary conv + BN is fused into LceBconv2d "
            f"with the wrong shape - put a residual add or a Keras variable layer between "
            f"them") from err


def _exact(got: np.ndarray, ref: np.ndarray, *, rtol: float, atol: float,
           min_top1_agreement: float) -> Dict[str, Any]:
    """The differences and the exact criterion (``criterion`` "exact" or "none")."""
    diff = np.abs(got - ref)
    scale = float(np.max(np.abs(ref)))
    tolerance = atol + rtol * scale
    result = {
        "max_abs_diff": float(diff.max()),
        "mean_abs_diff": float(diff.mean()),
        "logit_scale": scale,
        "rel_max_diff": float(diff.max()) / scale if scale > 0 else float(diff.max()),
        "tolerance": tolerance,
        "rtol": rtol,
        "atol": atol,
        "top1_agreement": (float(np.mean(got.argmax(-1) == ref.argmax(-1)))
                           if ref.ndim == 2 else 1.0),
        "min_top1_agreement": min_top1_agreement,
        "num_images": int(len(ref)),
        "criterion": "exact" if float(diff.max()) <= tolerance else "none",
    }
    return result


def _sensitivity_route(result: Dict[str, Any], net: tf.keras.Model, images: np.ndarray,
                       ref: np.ndarray, noise_factor: float) -> float:
    """Try the float-sensitivity route when the exact one failed (updates ``result``);
    returns the top-1 agreement needed."""
    needed = result["min_top1_agreement"]
    if result["criterion"] != "none" or noise_factor <= 0:
        return needed
    noise_max, noise_mean, noise_flips = _float_sensitivity(net, images, ref)
    result.update(keras_noise_max=noise_max, keras_noise_mean=noise_mean,
                  keras_noise_top1_changed=noise_flips)
    atol = result["atol"]
    if (result["max_abs_diff"] <= atol + noise_factor * noise_max
            and result["mean_abs_diff"] <= atol + noise_factor * noise_mean):
        result["criterion"] = "float sensitivity"
        # near a decision boundary rounding alone changes a few top-1 classes: allow as
        # many changes as noise_factor times what Keras' own perturbation made
        needed = min(needed, 1.0 - noise_factor * noise_flips)
    return needed


def _mismatch_message(result: Dict[str, Any], noise_factor: float) -> str:
    noise = ""
    if "keras_noise_max" in result:
        noise = (f"; Keras itself moves by max {result['keras_noise_max']:.3g} / mean "
                 f"{result['keras_noise_mean']:.3g} when its weights move by 1e-6 "
                 f"(allowed x{noise_factor:g}), mean |diff| {result['mean_abs_diff']:.3g}")
    return (f"the converted model disagrees with Keras on {result['num_images']} images: "
            f"max |diff| {result['max_abs_diff']:.3g} (tolerance {result['tolerance']:.3g} = "
            f"{result['atol']:g} + {result['rtol']:g} x max|logit| "
            f"{result['logit_scale']:.3g}{noise}), top-1 agreement "
            f"{result['top1_agreement']:.3f} (needed {result['needed_top1_agreement']:.3f}). "
            f"Was the file converted with to_lce() (which works around LCE 0.16's zero "
            f"padding of maps smaller than the kernel), from this model?")


def compare_with_keras(model: Any, path: Union[PathLike, bytes], images: Any, *,
                       rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL,
                       min_top1_agreement: float = DEFAULT_MIN_TOP1,
                       noise_factor: float = DEFAULT_NOISE_FACTOR, num_threads: int = 1,
                       use_indirect_bgemm: bool = False, classifier: str = "float32"
                       ) -> Tuple[Dict[str, Any], np.ndarray, np.ndarray]:
    """:func:`verify` without raising: ``(result, Keras logits, LCE logits)``."""
    net = student(model)
    if compact.check_dtype(classifier) != "float32":
        net = compact.as_stored(net, classifier)
    images = _checked_images(net, images)
    got = _lce_logits(path, images, num_threads=num_threads,
                      use_indirect_bgemm=use_indirect_bgemm)
    ref = keras_logits(net, images)
    if got.shape != ref.shape:
        raise ExportMismatchError(f"the converted model outputs shape {got.shape}, Keras "
                                  f"{ref.shape}: the file does not hold this model")
    result = _exact(got, ref, rtol=rtol, atol=atol, min_top1_agreement=min_top1_agreement)
    needed = _sensitivity_route(result, net, images, ref, noise_factor)
    result["needed_top1_agreement"] = needed
    result["passed"] = bool(result["criterion"] != "none" and result["top1_agreement"] >= needed)
    return result, ref, got


def verify(model: Any, path: Union[PathLike, bytes], images: Any, *,
           rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL,
           min_top1_agreement: float = DEFAULT_MIN_TOP1,
           noise_factor: float = DEFAULT_NOISE_FACTOR, num_threads: int = 1,
           use_indirect_bgemm: bool = False, raise_on_mismatch: bool = True,
           classifier: str = "float32") -> Dict[str, Any]:
    """Run the LCE interpreter and Keras (``training=False``) on ``images`` and compare.

    Passes when the share of images with the same top-1 class is at least
    ``min_top1_agreement`` and either ``max|LCE - Keras| <= atol + rtol * max|Keras
    logits|`` ("exact"), or the difference is within ``noise_factor`` times Keras' own
    float sensitivity in both max and mean ("float sensitivity": the logit change when all
    weights move by 1e-6 relative; large BNNs at 224 px need it, the top-1 changes allowed
    are then also relative). Correct small conversions give 1e-6..1e-5 of the logit scale;
    the LCE 0.16 2x2 zero-padding bug gives ~0.2 of it (caught).

    Args:
        model: the Keras model (or ``Distiller``-like with ``.student``) that was converted.
        path: the ``.tflite`` file (or its bytes) from ``to_lce`` / ``to_tflite_float``.
        images: ``(N, H, W, C)`` images as the model takes them (float32, or uint8 pixels
            for a model with the preprocessing inside); real ones if possible.
        rtol, atol: "exact" tolerance (relative to the largest Keras |logit|, absolute).
        min_top1_agreement: least share of images whose argmax agrees.
        noise_factor: allowed multiple of Keras' float sensitivity (0 disables that route).
        num_threads, use_indirect_bgemm: interpreter settings.
        raise_on_mismatch: raise :class:`ExportMismatchError` on failure (else report it).
        classifier: the FC storage the file was written with (``to_lce(classifier=)``):
            Keras computes with the FC weights rounded the same way
            (:func:`larq_adam.export.compact.as_stored`), so the comparison stays exact.

    Returns:
        dict with ``max_abs_diff``, ``mean_abs_diff``, ``logit_scale``, ``rel_max_diff``,
        ``tolerance``, ``rtol``, ``atol``, ``top1_agreement``, ``min_top1_agreement``,
        ``needed_top1_agreement``, ``num_images``, ``criterion`` ("exact", "float
        sensitivity" or "none"), ``keras_noise_max`` / ``keras_noise_mean`` /
        ``keras_noise_top1_changed`` (when measured) and ``passed``.
    """
    result, _, _ = compare_with_keras(model, path, images, rtol=rtol, atol=atol,
                           min_top1_agreement=min_top1_agreement, noise_factor=noise_factor,
                           num_threads=num_threads, use_indirect_bgemm=use_indirect_bgemm,
                           classifier=classifier)
    if not result["passed"] and raise_on_mismatch:
        raise ExportMismatchError(_mismatch_message(result, noise_factor))
    return result
