"""Where an export's conversion time goes, and the converters' own floor.

    python bench/conversion.py [--width 0.25] [--size 32] [--rounds 2] [--skip-keras-path]

Builds ReActNet-A in the BNN stage (the main job's network: ``--width``, ``--size`` px, one
channel, 10 classes) and, alternating in each round, converts it

* the Keras-save path: ``lce.convert_keras_model(lce_ready(model))`` and
  ``TFLiteConverter.from_keras_model(float_twin(model))``, which write Keras' full
  SavedModel (every layer's call functions, for re-loading in Python) before converting;
* the serving path: ``export.to_lce`` / ``export.to_tflite_float``, which save the inference
  function alone (``export.convert.save_serving``) and convert that.

Prints each file's time per round, the ratios and their minimum, that the LCE files are
byte-identical and have the same op counts, then one decomposition: ``lce_ready``, tracing
the serving function, writing each SavedModel (``saved_model.pb`` size, graph ops), and the
converters alone on the serving SavedModel (``lce.convert_saved_model``,
``TFLiteConverter.from_saved_model``): the floor the project cannot cut. Also says which
protobuf implementation runs (pure Python makes every phase 2-3x slower).
"""
import argparse
import os
import tempfile
import time

import larq_adam as la  # selects Keras 2 before TensorFlow loads
import tensorflow as tf
from google.protobuf.internal import api_implementation

from larq_adam import export as ex
from larq_adam.export.convert import save_serving


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def _keras_path(model, out):
    import larq_compute_engine as lce

    lce_bytes, lce_s = _timed(lambda: lce.convert_keras_model(ex.lce_ready(model)))
    with open(os.path.join(out, "keras_path.tflite"), "wb") as f:
        f.write(lce_bytes)
    _, float_s = _timed(
        lambda: tf.lite.TFLiteConverter.from_keras_model(ex.float_twin(model)).convert())
    return {"lce": lce_s, "float": float_s, "path": f.name}


def _serving_path(model, out):
    info, lce_s = _timed(lambda: ex.to_lce(model, os.path.join(out, "serving.tflite"),
                                           verbose=False))
    _, float_s = _timed(lambda: ex.to_tflite_float(model, os.path.join(out, "float.tflite"),
                                                   verbose=False))
    return {"lce": lce_s, "float": float_s, "path": info["path"]}


def _rounds(model, rounds, out, keras_path):
    rows = []
    for r in range(rounds):
        order = [("keras", _keras_path), ("serving", _serving_path)]
        if r % 2:
            order.reverse()
        row = {name: fn(model, out) for name, fn in order if keras_path or name == "serving"}
        rows.append(row)
        parts = "  ".join(f"{n}: LCE {v['lce']:.1f} s, float twin {v['float']:.1f} s"
                          for n, v in row.items())
        print(f"round {r + 1}: {parts}", flush=True)
    return rows


def _same_files(row):
    a, b = row["keras"]["path"], row["serving"]["path"]
    same = open(a, "rb").read() == open(b, "rb").read()
    report_a, report_b = ex.op_report(a), ex.op_report(b)
    print(f"LCE files byte-identical: {same}; op counts equal: "
          f"{report_a['ops'] == report_b['ops']}; LceBconv2d: {report_b['binary_convs']}")


def _decompose(model, out):
    import larq_compute_engine as lce

    print("\ndecomposition (serving path):")
    net, s = _timed(lambda: ex.lce_ready(model))
    print(f"  lce_ready (rebuild for LCE)       {s:6.1f} s")
    spec = tf.TensorSpec(net.inputs[0].shape, net.inputs[0].dtype)
    fn = tf.function(lambda x: net(x, training=False), input_signature=[spec])
    graph, s = _timed(lambda: fn.get_concrete_function().graph)
    print(f"  trace the serving function        {s:6.1f} s  ({len(graph.get_operations())} "
          "graph ops)")
    for label, folder, save in (
            ("Keras model.save (full)", "keras_saved", lambda d: net.save(d, save_format="tf")),
            ("save_serving (inference only)", "serving_saved", lambda d: save_serving(net, d))):
        path = os.path.join(out, folder)
        _, s = _timed(lambda: save(path))
        pb = os.path.getsize(os.path.join(path, "saved_model.pb")) / 1e6
        print(f"  {label:32s} {s:6.1f} s  (saved_model.pb {pb:.2f} MB)")
    serving = os.path.join(out, "serving_saved")
    _, s = _timed(lambda: lce.convert_saved_model(serving))
    print(f"  lce.convert_saved_model (floor)   {s:6.1f} s")
    twin = os.path.join(out, "twin_saved")
    save_serving(ex.float_twin(model), twin)
    _, s = _timed(lambda: tf.lite.TFLiteConverter.from_saved_model(twin).convert())
    print(f"  TFLite from_saved_model (floor)   {s:6.1f} s")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--width", type=float, default=0.25)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--skip-keras-path", action="store_true",
                   help="time only the serving path (no side-by-side ratio)")
    args = p.parse_args(argv)
    print(f"protobuf implementation: {api_implementation.Type()}")
    model = la.models.build_model("reactnet_a", "bnn", input_shape=(args.size, args.size, 1),
                                  num_classes=10, width=args.width)
    with tempfile.TemporaryDirectory() as out:
        rows = _rounds(model, args.rounds, out, not args.skip_keras_path)
        if not args.skip_keras_path:
            for kind in ("lce", "float"):
                ratios = [r["keras"][kind] / r["serving"][kind] for r in rows]
                print(f"{kind}: Keras-save path / serving path per round "
                      f"{', '.join(f'{x:.2f}x' for x in ratios)}; minimum {min(ratios):.2f}x")
            _same_files(rows[-1])
        _decompose(model, out)


if __name__ == "__main__":
    main()
