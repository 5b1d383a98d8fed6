"""The ops of a ``.tflite`` file, parsed from its flatbuffer, and its binary MAC share.

Table 3 counts a BNN's binary operations (BOPs) apart from its float ones; here the same is
read from the converted file: MACs done in ``LceBconv2d`` against those of every conv and
fully connected op. With the Keras model, every fully binary layer (Eq. 1 activations and
Eq. 2 weights, :func:`larq_adam.quantized.fully_binary_layers`) must have become an
``LceBconv2d``.
"""
import math
from typing import Any, Dict, List, Optional, Tuple, Union

import tensorflow as tf

from larq_adam.errors import CorruptFileError
from larq_adam.export.base import NotBinaryError, PathLike, read_flatbuffer, student
from larq_adam.quantized import fully_binary_layers

__all__ = ["BINARY_OP", "parse_ops", "io_tensors", "op_report"]

BINARY_OP = "LceBconv2d"
_MAC_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV", BINARY_OP)


def _schema():
    from tensorflow.lite.python import schema_py_generated as schema

    return schema


def _root(flatbuffer: bytes):
    if len(flatbuffer) < 8 or flatbuffer[4:8] != b"TFL3":
        raise CorruptFileError("not a TFLite flatbuffer (missing the 'TFL3' identifier); "
                               "write the file with la.export.to_lce")
    return _schema().Model.GetRootAsModel(flatbuffer, 0)


def _op_name(root, op, names: Dict[int, str]) -> str:
    code = root.OperatorCodes(op.OpcodeIndex())
    if code.CustomCode():
        return code.CustomCode().decode()
    builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
    return names.get(builtin, f"BUILTIN_{builtin}")


def _custom_options(op) -> Dict[str, Any]:
    from flatbuffers import flexbuffers

    if not op.CustomOptionsLength():
        return {}
    try:
        options = flexbuffers.Loads(bytes(op.CustomOptionsAsNumpy()))
    except Exception:  # noqa: BLE001  (non-flexbuffer custom options)
        return {}
    return options if isinstance(options, dict) else {}


def parse_ops(flatbuffer: bytes) -> List[Dict[str, Any]]:
    """Every operator of every subgraph: ``name``, input/output shapes, custom options."""
    root = _root(flatbuffer)
    names = {v: k for k, v in vars(_schema().BuiltinOperator).items()
             if not k.startswith("_") and isinstance(v, int)}
    ops = []
    for s in range(root.SubgraphsLength()):
        graph = root.Subgraphs(s)

        def shape(i):
            return tuple(int(d) for d in graph.Tensors(i).ShapeAsNumpy()) if i >= 0 else None

        for i in range(graph.OperatorsLength()):
            op = graph.Operators(i)
            ops.append({
                "name": _op_name(root, op, names),
                "inputs": [shape(j) for j in op.InputsAsNumpy()] if op.InputsLength() else [],
                "outputs": [shape(j) for j in op.OutputsAsNumpy()] if op.OutputsLength() else [],
                "options": _custom_options(op),
            })
    return ops


def io_tensors(path: Union[PathLike, bytes]) -> Dict[str, List[Dict[str, Any]]]:
    """The main subgraph's ``inputs`` and ``outputs``: ``name``, ``shape``, ``dtype``
    (e.g. ``"float32"``, ``"uint8"``) as the file declares them."""
    root = _root(read_flatbuffer(path))
    types = {v: k.lower() for k, v in vars(_schema().TensorType).items()
             if not k.startswith("_") and isinstance(v, int)}
    graph = root.Subgraphs(0)

    def describe(i: int) -> Dict[str, Any]:
        tensor = graph.Tensors(int(i))
        return {"name": tensor.Name().decode(), "shape": [int(d) for d in tensor.ShapeAsNumpy()],
                "dtype": types.get(tensor.Type(), str(tensor.Type()))}

    return {"inputs": [describe(i) for i in graph.InputsAsNumpy()],
            "outputs": [describe(i) for i in graph.OutputsAsNumpy()]}


def _op_macs(op: Dict[str, Any]) -> int:
    """Multiply-accumulates of one conv / FC op from its tensor shapes."""
    name, ins, outs = op["name"], op["inputs"], op["outputs"]
    if not outs or outs[0] is None or len(ins) < 2 or ins[1] is None:
        return 0
    out, w = outs[0], ins[1]
    if name == "CONV_2D":  # filter (Cout, kh, kw, Cin)
        return math.prod(out[:-1]) * math.prod(w)
    if name == BINARY_OP:  # filter (Cout, kh, kw, Cin/32 bitpacked); output may be packed
        cin = int(op["options"].get("channels_in", w[3] * 32))
        return math.prod(out[:-1]) * w[0] * w[1] * w[2] * cin
    if name == "DEPTHWISE_CONV_2D":  # filter (1, kh, kw, Cout)
        return math.prod(out) * w[1] * w[2]
    if name == "FULLY_CONNECTED":  # weights (units, in)
        return math.prod(out[:-1]) * math.prod(w)
    if name == "TRANSPOSE_CONV" and len(ins) > 2 and ins[1] is not None:  # (shape, W, x)
        return math.prod(ins[2][:-1]) * math.prod(ins[1])
    return 0


def _counts(ops: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Op counts and MACs by op name, and the binary shares."""
    counts: Dict[str, int] = {}
    macs: Dict[str, int] = {}
    for op in ops:
        counts[op["name"]] = counts.get(op["name"], 0) + 1
        if op["name"] in _MAC_OPS:
            macs[op["name"]] = macs.get(op["name"], 0) + _op_macs(op)
    binary_macs = macs.get(BINARY_OP, 0)
    total = sum(macs.values())
    conv_total = total - macs.get("FULLY_CONNECTED", 0)
    return {
        "ops": dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
        "binary_convs": counts.get(BINARY_OP, 0),
        "float_convs": counts.get("CONV_2D", 0) + counts.get("DEPTHWISE_CONV_2D", 0),
        "fully_connected": counts.get("FULLY_CONNECTED", 0),
        "macs": macs,
        "binary_macs": binary_macs,
        "total_macs": total,
        "binary_mac_share": binary_macs / total if total else 0.0,
        "binary_conv_mac_share": binary_macs / conv_total if conv_total else 0.0,
    }


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


def _still_float(ops: List[Dict[str, Any]], layers: List[tf.keras.layers.Layer]
                 ) -> List[tf.keras.layers.Layer]:
    """The fully binary layers without a matching ``LceBconv2d`` (kernel shape, stride)."""
    pool: Dict[Any, int] = {}
    for op in ops:
        if op["name"] == BINARY_OP:
            sig = _op_signature(op)
            pool[sig] = pool.get(sig, 0) + 1
    missing = []
    for layer in layers:
        sig = _layer_signature(layer)
        if sig is not None and pool.get(sig, 0) > 0:
            pool[sig] -= 1
        else:
            missing.append(layer)
    return missing


def op_report(path: Union[PathLike, bytes], model: Any = None, *,
              raise_on_missing: bool = True) -> Dict[str, Any]:
    """Count the ops of a ``.tflite`` and the share of MACs done in binary ops (Table 3's
    BOPs against its FLOPs).

    Custom ops are named by their custom code (``LceBconv2d``, ``LceQuantize``,
    ``LceDequantize``), builtins by name (``CONV_2D``). MACs come from the tensor shapes:
    ``Hout*Wout*Cout*kh*kw*Cin`` for (binary) convs, ``Hout*Wout*C*kh*kw`` for depthwise,
    ``in*out`` for fully connected.

    Args:
        path: the ``.tflite`` file or its bytes.
        model: the Keras model it came from. When given, every fully binary Keras layer
            must have become an ``LceBconv2d`` (matched by kernel shape and stride; a binary
            ``QuantDense`` or ``QuantDepthwiseConv2D`` never does in LCE 0.16).
        raise_on_missing: raise :class:`NotBinaryError` (default) or only list the layers
            in ``not_binary``.

    Returns:
        dict with ``ops`` (name -> count), ``binary_convs``, ``float_convs`` (CONV_2D +
        DEPTHWISE_CONV_2D), ``fully_connected``, ``macs`` (op name -> MACs),
        ``binary_macs``, ``total_macs``, ``binary_mac_share`` (of all conv/FC MACs),
        ``binary_conv_mac_share`` (of convolution MACs) and, with ``model``,
        ``keras_binary_layers`` and ``not_binary`` (names).
    """
    ops = parse_ops(read_flatbuffer(path))
    report = _counts(ops)
    if model is None:
        return report
    layers = fully_binary_layers(student(model))
    missing = _still_float(ops, layers)
    report["keras_binary_layers"] = len(layers)
    report["not_binary"] = [f"{l.name} ({type(l).__name__})" for l in missing]
    if (report["binary_convs"] < len(layers) or missing) and raise_on_missing:
        raise NotBinaryError(
            f"{len(layers)} Keras layers are fully binary but the .tflite has "
            f"{report['binary_convs']} {BINARY_OP} ops; not binary in the converted model: "
            f"{', '.join(report['not_binary']) or '(could not tell which)'}. LCE makes only "
            f"QuantConv2D with 1-bit input and kernel quantizers binary: a binary QuantDense "
            f"or QuantDepthwiseConv2D stays float - make those layers real (plain Keras) or "
            f"binarize them as QuantConv2D")
    return report
