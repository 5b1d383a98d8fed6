"""A compact real-valued classifier inside an LCE/TFLite file: FC weights as float16 or int8.

ReActNet-A's binary body takes ~3.9 MB as an LCE file at 224 px, but its real-valued
classifier (Table 3: the FC of 1024 x 1000 weights, a float layer in every BNN of the paper)
adds 4.1 MB in float32. :func:`compact_classifier` rewrites the flatbuffer so that each
``FULLY_CONNECTED`` weight is stored as float16 (half the bytes) or as int8 with one scale
per output unit (a quarter), followed by a ``DEQUANTIZE`` op that restores float32 weights
when the interpreter prepares the model; the FC itself still computes in float32. The
result therefore computes exactly what Keras computes with the stored weights
(:func:`as_stored` gives that Keras model), so ``verify`` keeps its exact criterion; the
change against the float32 classifier is the weights' rounding, reported separately.
"""
from typing import Dict, List, Tuple

import numpy as np
import tensorflow as tf

from larq_adam.errors import UserInputError

__all__ = ["CLASSIFIER_DTYPES", "check_dtype", "compact_classifier", "as_stored",
           "stored_weights"]

CLASSIFIER_DTYPES = ("float32", "float16", "int8")


def check_dtype(dtype: str) -> str:
    """``dtype`` when it is a classifier storage of :data:`CLASSIFIER_DTYPES`, else one line
    naming the valid ones."""
    if dtype not in CLASSIFIER_DTYPES:
        raise UserInputError(f"classifier storage must be one of "
                             f"{', '.join(CLASSIFIER_DTYPES)}; got {dtype!r}")
    return dtype


def stored_weights(kernel: np.ndarray, dtype: str) -> Tuple[np.ndarray, Dict[str, np.ndarray]]:
    """``kernel`` (TFLite layout ``(out, in)``) as stored in ``dtype``: the raw array and,
    for int8, the symmetric per-output-unit ``scale`` (``max|w| / 127``) and zero points."""
    check_dtype(dtype)
    kernel = np.asarray(kernel, dtype=np.float32)
    if dtype == "float16":
        return kernel.astype(np.float16), {}
    if dtype == "float32":
        return kernel, {}
    scale = np.abs(kernel).max(axis=1) / 127.0
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    q = np.clip(np.round(kernel / scale[:, None]), -127, 127).astype(np.int8)
    return q, {"scale": scale, "zero_point": np.zeros(len(scale), dtype=np.int64)}


def _dequantized(kernel: np.ndarray, dtype: str) -> np.ndarray:
    raw, quant = stored_weights(kernel, dtype)
    if dtype == "int8":
        return raw.astype(np.float32) * quant["scale"][:, None]
    return raw.astype(np.float32)


def as_stored(model: tf.keras.Model, dtype: str) -> tf.keras.Model:
    """A copy of ``model`` whose ``Dense`` kernels (nested models included) are rounded as
    :func:`compact_classifier` stores them: the Keras model that the compact file computes
    exactly."""
    from larq_adam.models._common import quiet_larq
    from larq_adam.quantized import walk

    with quiet_larq():
        twin = tf.keras.models.clone_model(model)
    twin.set_weights(model.get_weights())
    for layer in walk(twin):
        if isinstance(layer, tf.keras.layers.Dense):
            kernel = layer.kernel.numpy()  # Keras (in, out) = TFLite (out, in) transposed
            layer.kernel.assign(_dequantized(kernel.T, dtype).T)
    return twin


def _opcode_index(model, builtin: int) -> int:
    from tensorflow.lite.python import schema_py_generated as schema

    for i, code in enumerate(model.operatorCodes):
        if max(code.builtinCode, code.deprecatedBuiltinCode) == builtin:
            return i
    code = schema.OperatorCodeT()
    code.builtinCode, code.deprecatedBuiltinCode, code.version = builtin, min(builtin, 127), 1
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1


def _name(tensor) -> str:
    name = tensor.name
    return name.decode() if isinstance(name, bytes) else str(name)


def _stored_tensor(model, weight, dtype: str) -> int:
    """A new tensor (and its appended buffer) holding ``weight``'s data in ``dtype``; the
    caller adds it to the subgraph."""
    from tensorflow.lite.python import schema_py_generated as schema

    kernel = np.frombuffer(bytes(model.buffers[weight.buffer].data), dtype=np.float32)
    raw, quant = stored_weights(kernel.reshape(weight.shape), dtype)
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(raw.tobytes(), dtype=np.uint8)
    model.buffers.append(buffer)
    tensor = schema.TensorT()
    tensor.shape, tensor.name = list(weight.shape), _name(weight) + f"_{dtype}"
    tensor.type = schema.TensorType.FLOAT16 if dtype == "float16" else schema.TensorType.INT8
    tensor.buffer = len(model.buffers) - 1
    if quant:
        params = schema.QuantizationParametersT()
        params.scale, params.zeroPoint = quant["scale"], quant["zero_point"]
        params.quantizedDimension = 0
        tensor.quantization = params
    return tensor


def compact_classifier(flatbuffer: bytes, dtype: str = "float16") -> Tuple[bytes, List[str]]:
    """Store the float32 weights of every ``FULLY_CONNECTED`` op of ``flatbuffer`` as
    ``dtype`` ("float16" or "int8") behind a ``DEQUANTIZE`` op; "float32" changes nothing.

    Returns:
        ``(new flatbuffer, names of the rewritten weight tensors)``.
    """
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    if check_dtype(dtype) == "float32":
        return flatbuffer, []
    model = flatbuffer_utils.read_model_from_bytearray(bytearray(flatbuffer))
    fc = _opcode_index(model, schema.BuiltinOperator.FULLY_CONNECTED)
    dequantize = _opcode_index(model, schema.BuiltinOperator.DEQUANTIZE)
    done = []
    for graph in model.subgraphs:
        ops = []
        for op in graph.operators:
            weight = graph.tensors[op.inputs[1]] if op.opcodeIndex == fc else None
            data = model.buffers[weight.buffer].data if weight is not None else None
            if weight is not None and weight.type == schema.TensorType.FLOAT32 \
                    and data is not None and len(data):
                graph.tensors.append(_stored_tensor(model, weight, dtype))
                model.buffers[weight.buffer].data = None  # now DEQUANTIZE's float32 output
                weight.buffer = 0
                step = schema.OperatorT()
                step.opcodeIndex = dequantize
                step.inputs, step.outputs = [len(graph.tensors) - 1], [op.inputs[1]]
                ops.append(step)
                done.append(_name(weight))
            ops.append(op)
        graph.operators = ops
    return flatbuffer_utils.convert_object_to_bytearray(model), done
