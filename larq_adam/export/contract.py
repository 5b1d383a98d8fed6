"""The deployment contract ``model.json`` and the option to put preprocessing in the graph.

An app that runs ``model.tflite`` needs what the file alone does not say: how pixels become
the model's input (the per-channel normalisation of :mod:`larq_adam.data`, e.g. mnist5k's
mean 0.1004 / std 0.2754 or ImageNet's), what the outputs mean (class names), what accuracy
to expect, which versions made it, and what it holds (ops, Table 3's binary MAC share,
the classifier's storage, file sizes). :func:`write_contract` writes that beside the file.

:func:`with_preprocessing` wraps a model so that it takes uint8 ``HxWx3`` pixels and
applies ``(pixels / 255 - mean) / std`` itself (:class:`Preprocess`, the same float32 ops
as the training pipeline), so the converted file takes camera pixels directly.
"""
import hashlib
import os
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from larq_adam.registry import register
from larq_adam.atomic import atomic_write_json
from larq_adam.errors import CorruptFileError, UserInputError
from larq_adam.export.base import PathLike, student
from larq_adam.export.ops import io_tensors
from larq_adam.run_files import read_json

__all__ = ["CONTRACT_VERSION", "Preprocess", "check_normalization", "with_preprocessing",
           "to_pixels", "versions", "build_contract", "write_contract", "file_sha256",
           "read_contract"]

CONTRACT_VERSION = 1
Normalization = Tuple[Sequence[float], Sequence[float]]


@register(legacy_name=True)
class Preprocess(tf.keras.layers.Layer):
    """uint8 pixels -> ``(pixels / 255 - mean) / std`` in float32, per channel: the
    normalisation of the training pipeline (:mod:`larq_adam.data`) inside the graph."""

    def __init__(self, mean: Sequence[float], std: Sequence[float], **kwargs):
        super().__init__(**kwargs)
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)

    def call(self, pixels):
        x = tf.cast(pixels, tf.float32) * (1.0 / 255.0)  # tf.image.convert_image_dtype
        return (x - tf.constant(self.mean, tf.float32)) / tf.constant(self.std, tf.float32)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "mean": list(self.mean), "std": list(self.std)}


def check_normalization(normalization: Any, channels: int) -> Tuple[Tuple[float, ...],
                                                                      Tuple[float, ...]]:
    """``(mean, std)`` with one positive std per channel (a single value is repeated); one
    line naming the problem otherwise."""
    try:
        mean, std = (np.broadcast_to(np.asarray(v, dtype=float).ravel(), (channels,))
                     for v in normalization)
    except (TypeError, ValueError):
        raise UserInputError(f"normalization must be (mean, std) with 1 or {channels} values "
                             f"each, got {normalization!r}; e.g. la.data.load's info.mean, "
                             "info.std") from None
    if not (np.all(np.isfinite(mean)) and np.all(std > 0)):
        raise UserInputError(f"normalization needs finite means and positive stds, got "
                             f"{normalization!r}")
    return tuple(map(float, mean)), tuple(map(float, std))


def with_preprocessing(model: Any, normalization: Normalization) -> tf.keras.Model:
    """``model`` behind :class:`Preprocess`: a Keras model taking uint8 pixels of the same
    ``HxWx3`` shape, with the same weights (shared, not copied)."""
    net = student(model)
    mean, std = check_normalization(normalization, int(net.input_shape[-1]))
    pixels = tf.keras.Input(net.input_shape[1:], dtype=tf.uint8, name="pixels")
    outputs = net(Preprocess(mean, std, name="preprocess")(pixels))
    return tf.keras.Model(pixels, outputs, name=f"{net.name}_uint8")


def to_pixels(images: np.ndarray, normalization: Normalization) -> np.ndarray:
    """The uint8 pixels of normalised ``images`` (the inverse of :class:`Preprocess`,
    rounded): ``clip(round((images * std + mean) * 255), 0, 255)``."""
    images = np.asarray(images, dtype=np.float64)
    mean, std = check_normalization(normalization, int(images.shape[-1]))
    pixels = np.rint((images * np.asarray(std) + np.asarray(mean)) * 255.0)
    return np.clip(pixels, 0, 255).astype(np.uint8)


def versions() -> Dict[str, Optional[str]]:
    """The versions of the packages that made and run the file."""
    from importlib import metadata

    import larq_adam

    found: Dict[str, Optional[str]] = {"larq_adam": larq_adam.__version__}
    for name in ("larq-compute-engine", "tensorflow", "larq"):
        try:
            found[name.replace("-", "_")] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name.replace("-", "_")] = None
    return found


def _preprocessing(normalization: Optional[Normalization], in_graph: bool, channels: int
                   ) -> Dict[str, Any]:
    if normalization is None:
        return {"mean": None, "std": None, "in_graph": False,
                "formula": "unknown: feed images as the model was trained on"}
    mean, std = check_normalization(normalization, channels)
    return {"mean": list(mean), "std": list(std), "in_graph": bool(in_graph),
            "formula": "x = (pixels / 255 - mean) / std, per channel (RGB)",
            "feed": ("uint8 RGB pixels, HxWx3 (the file normalises)" if in_graph
                     else "float32 x computed by the app from RGB pixels")}


def _ops_summary(ops: Dict[str, Any]) -> Dict[str, Any]:
    keys = ("ops", "binary_convs", "float_convs", "fully_connected", "binary_macs",
            "total_macs", "binary_mac_share", "binary_conv_mac_share")
    return {k: ops[k] for k in keys if k in ops}


def build_contract(lce: Dict[str, Any], *, ops: Dict[str, Any],
                   normalization: Optional[Normalization] = None, in_graph: bool = False,
                   class_names: Optional[Sequence[str]] = None,
                   accuracy: Optional[Dict[str, Any]] = None,
                   float_file: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """The contract of the LCE file described by ``lce`` (``to_lce``'s dict) and ``ops``
    (``op_report``'s): input and output tensors as the file declares them, the
    normalisation (and whether it is in the graph), the classes, the Keras and LCE top-1 on
    the verification images (``accuracy``), versions, ops and binary MAC share (Table 3),
    the classifier's storage and the file sizes."""
    io = io_tensors(lce["path"])
    classes = int(io["outputs"][0]["shape"][-1]) if io["outputs"] else 0
    names = [str(n) for n in class_names] if class_names is not None else None
    if names is not None and len(names) != classes:
        raise UserInputError(f"{len(names)} class names for a model with {classes} outputs; "
                             "pass the names of the dataset the model was trained on")
    files = {os.path.basename(f["path"]): int(f["bytes"]) for f in (lce, float_file) if f}
    digests = {os.path.basename(f["path"]): file_sha256(f["path"])
               for f in (lce, float_file) if f}
    return {
        "contract_version": CONTRACT_VERSION,
        "model": os.path.basename(lce["path"]),
        "input": io["inputs"][0] if len(io["inputs"]) == 1 else io["inputs"],
        "output": {**io["outputs"][0], "meaning": "one logit per class; top-1 = argmax"},
        "preprocessing": _preprocessing(normalization, in_graph,
                                        int(io["inputs"][0]["shape"][-1])),
        "classes": {"count": classes, "names_known": names is not None,
                    "names": names if names is not None else [str(i) for i in range(classes)]},
        "accuracy": accuracy,
        "versions": versions(),
        "ops": _ops_summary(ops),
        "classifier": lce.get("classifier", "float32"),
        "files": files,
        "sha256": digests,
    }


def file_sha256(path: PathLike) -> str:
    """The SHA-256 of the file at ``path`` (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_contract(path: PathLike) -> Dict[str, Any]:
    """A ``model.json``, checked against the files it describes (their SHA-256): one line
    (:class:`~larq_adam.errors.CorruptFileError`) naming a damaged contract or a model file
    it does not describe (e.g. after an export was killed half-way)."""
    fix = "export the model again (larq-adam export RUN), which rewrites both files"
    path = os.fspath(path)
    record = read_json(path, fix=fix)
    digests = record.get("sha256")
    if not isinstance(digests, dict) or not isinstance(record.get("model"), str):
        raise CorruptFileError(f"{path} is not a deployment contract (no 'model' and "
                               f"'sha256'): {fix}")
    for name, expected in digests.items():
        model_file = os.path.join(os.path.dirname(path), str(name))
        if not os.path.isfile(model_file):
            raise CorruptFileError(f"{path} describes {model_file}, which is missing: {fix}")
        if file_sha256(model_file) != expected:
            raise CorruptFileError(f"{path} describes another {name} than the one beside it "
                                   f"(SHA-256 differs): {fix}")
    return record


def write_contract(path: PathLike, lce: Dict[str, Any], **contract: Any) -> str:
    """Write :func:`build_contract`'s dict as JSON to ``path`` atomically; returns the
    path."""
    atomic_write_json(path, build_contract(lce, **contract))
    return os.fspath(path)
