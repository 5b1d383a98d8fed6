"""Conversion: the LCE flatbuffer of a BNN and the float TFLite of its FP-stage twin.

Only a ``QuantConv2D`` whose input and kernel quantizers are both 1-bit (Eq. 1
activations, Eq. 2 weights) becomes ``LceQuantize`` + ``LceBconv2d`` (BatchNorm fused);
the real-valued stem, downsampling shortcuts and classifier of Table 3 stay float.
"""
import os
import tempfile
import time
import warnings
from typing import Any, Callable, Dict, Optional

import tensorflow as tf

from larq_adam.export import compact
from larq_adam.export.base import PathLike, student, write_file
from larq_adam.errors import UnsupportedError
from larq_adam.export.rewrite import float_twin, lce_ready
from larq_adam.quantized import fully_binary_layers

__all__ = ["NoBinaryLayerWarning", "no_binary_warning", "to_lce", "to_tflite_float",
           "save_serving"]


class NoBinaryLayerWarning(UserWarning):
    """The exported model has no fully binary layer: the LCE file is a float model."""


def no_binary_warning(model: tf.keras.Model) -> Optional[str]:
    """The warning for a model without fully binary layers (the FP or BA stage), else
    None."""
    if fully_binary_layers(model):
        return None
    return (f"{model.name!r} has no fully binary layer (binary activations AND weights, "
            f"Eq. 1-2), so nothing becomes an LCE binary op: the file is a float model. "
            f"Export the BNN stage (step 2 of two-step training)")


def save_serving(model: tf.keras.Model, folder: PathLike) -> None:
    """Write only ``model``'s inference function (``training=False``, the inputs and
    output names of Keras' serving signature) and its variables as a SavedModel: the
    graph both converters read. Keras' ``model.save``, which ``convert_keras_model`` and
    ``TFLiteConverter.from_keras_model`` call, also traces and serialises every layer's
    call functions for re-loading in Python, which a converter never reads
    (``bench/conversion.py`` times both)."""
    specs = [tf.TensorSpec(t.shape, t.dtype, name=name)
             for t, name in zip(model.inputs, model.input_names)]

    @tf.function(input_signature=specs)
    def serve(*inputs):
        outputs = model(inputs[0] if len(inputs) == 1 else list(inputs), training=False)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        return dict(zip(model.output_names, outputs))

    holder = tf.Module()
    holder.saved_variables = list(model.variables)  # tracked: the captures are saved
    tf.saved_model.save(holder, os.fspath(folder), signatures=serve.get_concrete_function())


def _from_serving(model: tf.keras.Model, convert_folder: Callable[[str], bytes]) -> bytes:
    """``convert_folder`` applied to :func:`save_serving`'s SavedModel of ``model``, in a
    temporary folder; a model whose own policy is mixed precision is refused, as
    ``convert_keras_model`` refuses it (the TFLite converter takes float32 models)."""
    policy = getattr(model, "dtype_policy", None)
    if policy is not None and policy.name != "float32":
        raise UnsupportedError(
            f"{model.name!r} has the mixed-precision policy {policy.name!r}; the converters "
            "take float32 models: build it again without dtype_policy and copy its weights "
            "(set_weights(model.get_weights()))")
    with tempfile.TemporaryDirectory(prefix="larq_adam_export_") as folder:
        save_serving(model, folder)
        return convert_folder(folder)


def _timed(convert, label: str, path: PathLike, verbose: bool) -> Dict[str, Any]:
    """Run ``convert() -> bytes``, write the bytes to ``path``, print progress."""
    if verbose:
        print(f"[export] converting {label} -> {os.fspath(path)} ...", flush=True)
    start = time.perf_counter()
    flatbuffer = convert()
    seconds = time.perf_counter() - start
    out = write_file(path, flatbuffer)
    if verbose:
        print(f"[export] written: {len(flatbuffer) / 1e6:.2f} MB in {seconds:.1f} s",
              flush=True)
    return {"path": out, "bytes": len(flatbuffer), "seconds": seconds}


def to_lce(model: Any, path: PathLike, *, verbose: bool = True, classifier: str = "float32",
           **converter_kwargs) -> Dict[str, Any]:
    """Convert ``model`` with LCE's converter and write the ``.tflite`` to ``path``.

    Fully binary ``QuantConv2D`` layers (the BNN stage of the paper's models, Eq. 1
    activations with Eq. 2 weights) become ``LceQuantize`` + ``LceBconv2d`` with the
    following BatchNorm fused; zero-padded ones on maps smaller than their kernel go
    through :func:`~larq_adam.export.rewrite.lce_ready`. A model without fully binary
    layers converts to a float file with a :class:`NoBinaryLayerWarning`.

    Args:
        model: a Keras model, or a ``Distiller``-like object whose ``.student`` is exported.
        path: output file (folders are created).
        verbose: print a progress line before and after (big nets take 40-60 s).
        classifier: storage of the real-valued FC weights (Table 3's float layer): "float32",
            or "float16" / "int8" (per-unit scale) behind a DEQUANTIZE op
            (:func:`larq_adam.export.compact.compact_classifier`); verify such a file with
            ``verify(..., classifier=...)``.
        **converter_kwargs: passed to ``larq_compute_engine.convert_saved_model``
            (e.g. ``target="xcore"``), which converts :func:`save_serving`'s SavedModel.

    Returns:
        ``{"path", "bytes", "seconds", "classifier"}``.
    """
    import larq_compute_engine as lce

    net = student(model)
    compact.check_dtype(classifier)
    warning = no_binary_warning(net)
    if warning:
        warnings.warn(warning, NoBinaryLayerWarning, stacklevel=2)

    def convert() -> bytes:
        flatbuffer = _from_serving(
            lce_ready(net), lambda folder: lce.convert_saved_model(folder, **converter_kwargs))
        return compact.compact_classifier(flatbuffer, classifier)[0]

    label = f"{net.name!r} ({net.count_params():,} parameters) with Larq Compute Engine"
    return {**_timed(convert, label, path, verbose), "classifier": classifier}


def to_tflite_float(model: Any, path: PathLike, *, verbose: bool = True) -> Dict[str, Any]:
    """Write the float TFLite of ``model``'s FP-stage twin
    (:func:`~larq_adam.export.rewrite.float_twin`) to ``path``, converted with
    ``tf.lite.TFLiteConverter``: the baseline for size and latency (the FP row of Table 3's
    comparison).

    Returns:
        ``{"path", "bytes", "seconds"}``.
    """
    twin = float_twin(model)

    def convert() -> bytes:
        return _from_serving(
            twin, lambda folder: tf.lite.TFLiteConverter.from_saved_model(folder).convert())

    return _timed(convert, f"the float twin of {twin.name!r} with TFLite", path, verbose)
