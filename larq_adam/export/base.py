"""What every part of the export shares: the network to export, the files, the errors."""
import os
from typing import Any, Union

import tensorflow as tf

from larq_adam.atomic import atomic_write_bytes
from larq_adam.errors import LarqAdamError, UserInputError

__all__ = ["PathLike", "ExportMismatchError", "NotBinaryError", "student", "read_flatbuffer",
           "write_file"]

PathLike = Union[str, "os.PathLike[str]"]


class ExportMismatchError(LarqAdamError, ValueError):
    """The converted model computes different numbers from the Keras model."""


class NotBinaryError(LarqAdamError, ValueError):
    """A fully binary Keras layer (Eq. 1 activations, Eq. 2 weights) did not become an LCE
    binary op."""


def student(model: Any) -> tf.keras.Model:
    """The network to export: a ``Distiller``'s ``student``, otherwise the model itself."""
    net = getattr(model, "student", model)
    if not isinstance(net, tf.keras.Model):
        raise UserInputError(
            f"expected a tf.keras.Model (or an object with a .student model), got "
            f"{type(model).__name__}; load the model with la.export.load_model first")
    return net


def read_flatbuffer(path_or_bytes: Union[PathLike, bytes]) -> bytes:
    """The bytes of a ``.tflite`` file (or the bytes given)."""
    if isinstance(path_or_bytes, (bytes, bytearray)):
        return bytes(path_or_bytes)
    path = os.fspath(path_or_bytes)
    if not os.path.isfile(path):
        raise UserInputError(f"no .tflite file at {path!r}; write one with to_lce() first")
    with open(path, "rb") as f:
        return f.read()


def write_file(path: PathLike, data: bytes) -> str:
    """Write ``data`` whole or not at all (a temporary file renamed into place); folders are
    created. Returns the path as a string."""
    path = os.fspath(path)
    atomic_write_bytes(path, data)
    return path
