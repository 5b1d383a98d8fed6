"""Export a trained model to Larq Compute Engine and prove it binary and equal to Keras.

    python recipes/export.py RUN_DIR|MODEL_FILE [--images 256] [--threads 2] [--runs 20]
                             [--pad keep|1] [--dataset NAME] [--no-bench]

Writes, next to the model: ``model.tflite`` (LCE) and ``model_float.tflite`` (the float
TFLite of the same network with its quantizers removed); runs ``verify`` (LCE interpreter vs
Keras on ``--images`` test images of the run's dataset, random images if it cannot be
loaded), ``op_report`` (fails if a fully binary layer did not become an LceBconv2d) and
``benchmark`` (both files, this CPU); writes the ``## Export`` section of ``report.md``
(replaced if present). Exits non-zero when verification or the binary check fails (after
writing the report).

Model lookup in a run dir (``find_model``): ``config.json``'s ``final_model`` (path
relative to the run dir), else ``final_model.{h5,keras}`` or a ``final_model/`` SavedModel,
else ``model.{h5,keras}`` in the last ``step*/`` folder (``step2/`` after ``step1/``).
The dataset for verification is ``config.json``'s ``dataset`` (or ``--dataset``).
``--pad 1`` re-pads binary 3x3 convs with +1 (LCE's fast path; avoids the LCE 0.16 bug
with zero padding on 2x2 inputs, but changes the network: re-evaluate its accuracy).
"""
import argparse
import glob
import json
import os
import sys

import larq_adam as la  # selects Keras 2 before TensorFlow loads
import numpy as np
import tensorflow as tf

from larq_adam import export as ex

MODEL_NAMES = ("final_model.h5", "final_model.keras", "final_model")


def find_model(path: str):
    """(model path, run dir, config dict) for a model file / SavedModel or a run dir."""
    if os.path.isfile(path) or os.path.exists(os.path.join(path, "saved_model.pb")):
        run_dir = os.path.dirname(os.path.abspath(path))
    elif os.path.isdir(path):
        run_dir, path = path, None
    else:
        raise SystemExit(f"error: {path!r} is neither a model file nor a run dir")
    cfg_file = os.path.join(run_dir, "config.json")
    config = json.load(open(cfg_file)) if os.path.isfile(cfg_file) else {}
    if path is None:
        candidates = [os.path.join(run_dir, config["final_model"])] if "final_model" in config else []
        candidates += [os.path.join(run_dir, n) for n in MODEL_NAMES]
        for step in sorted(glob.glob(os.path.join(run_dir, "step*")), reverse=True):
            candidates += [os.path.join(step, n) for n in ("model.h5", "model.keras", "model")]
        path = next((c for c in candidates if os.path.exists(c)), None)
        if path is None:
            raise SystemExit(f"error: no model in {run_dir!r}; looked for {candidates}")
    return path, run_dir, config


def verification_images(dataset, n, shape):
    try:
        ds, _ = la.data.load(dataset, split="test", batch_size=n, image_size=shape[0])
        return next(iter(ds))[0].numpy(), f"{dataset} test images"
    except Exception as err:  # noqa: BLE001  (offline, unknown dataset, ...)
        print(f"[export] cannot load {dataset!r} ({err}); verifying on random images")
        return np.random.default_rng(0).normal(size=(n, *shape)).astype("float32"), "random images"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path", help="run dir (see the lookup above) or a .h5/.keras/SavedModel")
    p.add_argument("--images", type=int, default=256, help="test images for verify")
    p.add_argument("--threads", type=int, default=2, help="interpreter threads (2)")
    p.add_argument("--runs", type=int, default=20, help="timed runs per benchmark (20)")
    p.add_argument("--pad", choices=("keep", "1"), default="keep",
                   help="keep the model's padding (default) or re-pad binary convs with +1")
    p.add_argument("--dataset", help="dataset for verify (default: config.json, else mnist5k)")
    p.add_argument("--no-bench", action="store_true", help="skip the latency benchmarks")
    args = p.parse_args(argv)

    model_path, run_dir, config = find_model(args.path)
    print(f"[export] loading {model_path}")
    model = tf.keras.models.load_model(model_path, compile=False)
    if args.pad == "1":
        model = ex.with_pad_values(model, 1.0)
    out_dir = os.path.dirname(os.path.abspath(model_path))
    res = {"source": os.path.relpath(model_path, run_dir)}
    res["lce"] = ex.to_lce(model, os.path.join(out_dir, "model.tflite"))
    res["float"] = ex.to_tflite_float(model, os.path.join(out_dir, "model_float.tflite"))
    images, res["images"] = verification_images(args.dataset or config.get("dataset", "mnist5k"),
                                        args.images, model.input_shape[1:])
    res["verify"] = ex.verify(model, res["lce"]["path"], images, raise_on_mismatch=False)
    failures = [] if res["verify"]["passed"] else ["verify: LCE and Keras disagree"]
    res["ops"] = ex.op_report(res["lce"]["path"], model=model, raise_on_missing=False)
    if res["ops"]["not_binary"]:
        failures.append(f"op_report: not binary: {', '.join(res['ops']['not_binary'])}")
    if not args.no_bench:
        res["bench_lce"] = ex.benchmark(res["lce"]["path"], threads=args.threads, runs=args.runs)
        res["bench_float"] = ex.benchmark(res["float"]["path"], threads=args.threads,
                                          runs=args.runs)
    section = ex.report_markdown(res)
    print(section)
    print(f"[export] wrote {ex.update_report(os.path.join(run_dir, 'report.md'), section)}")
    for failure in failures:
        print(f"[export] FAILED {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
