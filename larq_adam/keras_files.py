"""Keras model files read without running code they carry (Keras' ``safe_mode``, for every
format).

A saved Keras model is a configuration plus weights. Rebuilding it runs code from the file
in two cases: a ``Lambda`` layer, whose function ``.h5`` files and SavedModels store as
marshalled Python bytecode that Keras rebuilds with ``marshal`` (``safe_mode`` only guards
the ``.keras`` format), and an object whose class Keras does not know, which a ``.keras``
configuration may name by module (Keras imports that module). :func:`untrusted_parts` reads
the configuration alone (JSON in the ``.h5`` attributes, ``config.json`` in a ``.keras``
zip, ``keras_metadata.pb`` in a SavedModel) and lists every such part; :func:`load_model`
refuses a file that has any, in one line naming them and the opt-in, unless ``trust=True``.

Known classes are Keras' own layers, initializers, regularizers, constraints and models,
``TFOpLambda`` (it names a TensorFlow function, looked up in TensorFlow's API, not code),
and the classes registered with Keras in this process (Larq's, larq-adam's, larq-zoo's once
imported).
"""
import json
import os
import zipfile
from typing import Any, Iterator, List, Optional

import tensorflow as tf

from larq_adam.errors import UntrustedFileError

__all__ = ["untrusted_parts", "load_model"]

_MODEL_CLASSES = {"Functional", "Sequential", "Model", "Policy", "DTypePolicy",
                  "TFOpLambda", "SlicingOpLambda"}
# Plain values in a SavedModel's metadata (Keras' JSON encoding of shapes, specs, tuples).
_VALUE_CLASSES = {"TensorShape", "TypeSpec", "CompositeTensor", "__tuple__", "__ellipsis__",
                  "__bytes__"}
_SAFE_MODULE_ROOTS = ("keras", "tf_keras", "tensorflow", "larq", "larq_adam", "larq_zoo",
                      "builtins")
_MAX_DEPTH = 200


def _known_classes() -> set:
    known = _MODEL_CLASSES | _VALUE_CLASSES
    for namespace in (tf.keras.layers, tf.keras.initializers, tf.keras.regularizers,
                      tf.keras.constraints):
        known.update(name for name in dir(namespace) if name[:1].isupper())
    known.update(tf.keras.utils.get_custom_objects())
    known.discard("Lambda")
    return known


def _objects(node: Any, depth: int = 0) -> Iterator[dict]:
    """Every serialised object (a dict with ``class_name``) inside a configuration."""
    if depth > _MAX_DEPTH:
        raise UntrustedFileError(f"the model configuration is nested deeper than {_MAX_DEPTH} "
                                 "levels; it was not written by Keras")
    if isinstance(node, dict):
        if isinstance(node.get("class_name"), str):
            yield node
        for value in node.values():
            yield from _objects(value, depth + 1)
    elif isinstance(node, list):
        for value in node:
            yield from _objects(value, depth + 1)


def _config_texts(path: str) -> List[str]:
    """The JSON configuration(s) stored in the model file or folder at ``path``."""
    if os.path.isdir(path):
        meta = os.path.join(path, "keras_metadata.pb")
        if not os.path.isfile(meta):
            return []
        from tf_keras.protobuf import saved_metadata_pb2  # the SavedModel's Keras metadata

        proto = saved_metadata_pb2.SavedMetadata()
        with open(meta, "rb") as f:
            proto.ParseFromString(f.read())
        return [node.metadata for node in proto.nodes if node.metadata]
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            return [archive.read("config.json").decode("utf-8")] if "config.json" in names else []
    import h5py

    with h5py.File(path, "r") as f:
        text = f.attrs.get("model_config")
    if text is None:
        return []
    return [text.decode("utf-8") if isinstance(text, bytes) else str(text)]


def _describe(obj: dict, known: set) -> Optional[str]:
    """Why ``obj`` would run code when rebuilt, or None."""
    name = obj["class_name"]
    label = obj.get("config", {}).get("name") if isinstance(obj.get("config"), dict) else None
    where = f" ({label!r})" if label else ""
    if name == "Lambda":
        return f"a Lambda layer{where}"
    module = obj.get("module")
    if isinstance(module, str) and module.split(".")[0] not in _SAFE_MODULE_ROOTS:
        return f"class {name!r} from module {module!r}{where}"
    if name not in known and obj.get("registered_name", name) not in known:
        return f"unknown class {name!r}{where}"
    return None


def untrusted_parts(path: "os.PathLike | str") -> List[str]:
    """What in the Keras model at ``path`` would run code when loaded: ``Lambda`` layers,
    unknown classes, classes from other modules (``[]`` for a file that is data only)."""
    known = _known_classes()
    found: List[str] = []
    for text in _config_texts(os.fspath(path)):
        try:
            config = json.loads(text)
        except (ValueError, RecursionError):
            raise UntrustedFileError(f"{os.fspath(path)}: its model configuration is not "
                                     "valid JSON; give a model saved by Keras") from None
        for obj in _objects(config):
            reason = _describe(obj, known)
            if reason and reason not in found:
                found.append(reason)
    return found


def load_model(path: "os.PathLike | str", *, trust: bool = False, opt_in: str = "trust=True",
               compile: bool = False) -> tf.keras.Model:
    """``tf.keras.models.load_model(path)`` for a file that holds data only.

    Args:
        path: ``.h5``, ``.keras`` or a SavedModel folder.
        trust: load a file with ``Lambda`` layers or unknown classes anyway (they run code
            from the file: only for files from a source you trust).
        opt_in: how the caller's user says ``trust`` (named in the refusal), e.g.
            ``"--trust-model"``.
        compile: passed to Keras.

    Raises:
        larq_adam.errors.UntrustedFileError: the file has parts that run code and ``trust``
            is False (one line naming them and ``opt_in``).
    """
    path = os.fspath(path)
    if not trust:
        parts = untrusted_parts(path)
        if parts:
            more = f" and {len(parts) - 3} more" if len(parts) > 3 else ""
            raise UntrustedFileError(
                f"{path} holds {', '.join(parts[:3])}{more}, which run(s) code from the file "
                f"when loaded: refused; pass {opt_in} only for a file from a source you trust")
    return tf.keras.models.load_model(path, compile=compile, safe_mode=not trust)

