"""Export a trained model to Larq Compute Engine and prove it binary and equal to Keras.

    python recipes/export.py RUN_DIR|MODEL_FILE [--images 256] [--threads 2] [--runs 20]
                             [--pad keep|1] [--classifier float32|float16|int8]
                             [--dataset NAME] [--no-bench] [--debug]

Writes, next to the model: ``model.tflite`` (LCE) and ``model_float.tflite`` (the float
TFLite of the same network with its quantizers removed); runs ``verify`` (LCE interpreter vs
Keras on ``--images`` class-balanced test images of the run's dataset, drawn with a fixed
seed by ``larq_adam.data.balanced_sample``; random images if it cannot be loaded),
``op_report`` (fails if a fully binary layer did not become an LceBconv2d) and
``benchmark`` (both files, this CPU); writes the ``## Export`` section of ``report.md``
(replaced if present). Exits 1 when verification or the binary check fails (after
writing the report); a bad argument or an unreadable model is one line, exit status 2,
before anything is converted.

Model lookup in a run dir (``find_model``): ``config.json``'s ``final_model`` (path
relative to the run dir), else ``final_model.{h5,keras}`` or a ``final_model/`` SavedModel,
else ``model.{h5,keras}`` in the last ``step*/`` folder (``step2/`` after ``step1/``).
The dataset for verification is ``config.json``'s ``dataset`` (or ``--dataset``).
Zero-padded models (the reference's padding) export exactly: ``to_lce`` works around LCE
0.16's zero padding of maps smaller than the kernel. ``--pad 1`` re-pads binary 3x3 convs
with +1 (LCE's fast path; it changes the network: re-evaluate its accuracy).
``--classifier float16|int8`` stores the real FC's weights compactly (a DEQUANTIZE op
restores them); verify then compares with Keras using the weights as stored.
"""
import argparse
import glob
import os
import sys
from typing import Any, Dict, Optional, Sequence, Tuple

import _common  # the Keras-2 switch before TensorFlow loads, one-line errors
import larq_adam as la
import numpy as np
import tensorflow as tf

from larq_adam import export as ex
from larq_adam.errors import CorruptFileError, RunStateError, UserInputError
from larq_adam.run_files import read_json

MODEL_NAMES = ("final_model.h5", "final_model.keras", "final_model")
VERIFY_SEED = 0  # the verification images are the same on every export of a run


def find_model(path: str) -> Tuple[str, str, Dict[str, Any]]:
    """(model path, run dir, config dict) for a model file / SavedModel or a run dir."""
    if os.path.isfile(path) or os.path.exists(os.path.join(path, "saved_model.pb")):
        run_dir = os.path.dirname(os.path.abspath(path))
    elif os.path.isdir(path):
        run_dir, path = path, None
    else:
        raise UserInputError(f"{path!r} is neither a model file nor a run folder; give a run "
                             "folder (e.g. runs/two_step) or a .h5 / .keras / SavedModel")
    cfg_file = os.path.join(run_dir, "config.json")
    config = (read_json(cfg_file, fix="delete it, or pass the model file itself")
              if os.path.isfile(cfg_file) else {})
    if path is None:
        candidates = ([os.path.join(run_dir, config["final_model"])]
                      if "final_model" in config else [])
        candidates += [os.path.join(run_dir, n) for n in MODEL_NAMES]
        for step in sorted(glob.glob(os.path.join(run_dir, "step*")), reverse=True):
            candidates += [os.path.join(step, n) for n in ("model.h5", "model.keras", "model")]
        path = next((c for c in candidates if os.path.exists(c)), None)
        if path is None:
            raise RunStateError(f"no model in {run_dir!r} (looked for final_model.h5 and the "
                                "step folders' model.h5); finish the run first (--resume)")
    return path, run_dir, config


def load_model(path: str) -> tf.keras.Model:
    """The Keras model in ``path``; :class:`CorruptFileError` naming the file when it is
    not a readable Keras model (truncated, another format, a text file)."""
    try:
        return tf.keras.models.load_model(path, compile=False)
    except (OSError, ValueError, KeyError, TypeError, ImportError) as err:
        reason = _common.one_line(err).split(". ")[0][:160]
        raise CorruptFileError(
            f"{path} is not a readable Keras model ({type(err).__name__}: {reason}); give a "
            "model saved by Keras (.h5, .keras or a SavedModel folder), or, for a run's "
            "final_model.h5, resume the run (--resume) to write it again") from None


def verification_images(dataset: str, n: int, shape: Sequence[int]) -> Tuple[np.ndarray, str]:
    """``n`` class-balanced test images of ``dataset`` (random images if it cannot be read)."""
    try:
        images, _ = la.data.balanced_sample(dataset, n, seed=VERIFY_SEED, split="test",
                                            image_size=shape[0])
        return images, f"{dataset} test images (class-balanced, seed {VERIFY_SEED})"
    except (ImportError, OSError, ValueError, tf.errors.OpError) as err:  # offline, ...
        print(f"[export] cannot load {dataset!r} ({_common.one_line(err)}); verifying on "
              "random images")
        rng = np.random.default_rng(VERIFY_SEED)
        return rng.normal(size=(n, *shape)).astype("float32"), "random images"


def build_parser() -> argparse.ArgumentParser:
    p = _common.ArgumentParser(description=__doc__,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path", help="run dir (see the lookup above) or a .h5/.keras/SavedModel")
    p.add_argument("--images", type=_common.positive_int, default=256,
                   help="test images for verify (256)")
    p.add_argument("--threads", type=_common.positive_int, default=2,
                   help="interpreter threads (2)")
    p.add_argument("--runs", type=_common.positive_int, default=20,
                   help="timed runs per benchmark (20)")
    p.add_argument("--pad", choices=("keep", "1"), default="keep",
                   help="keep the model's padding (default) or re-pad binary convs with +1")
    p.add_argument("--classifier", choices=la.compact.CLASSIFIER_DTYPES, default="float32",
                   help="storage of the real FC's weights in model.tflite (float32)")
    p.add_argument("--dataset", help="dataset for verify (default: config.json, else mnist5k)")
    p.add_argument("--no-bench", action="store_true", help="skip the latency benchmarks")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    model_path, run_dir, config = find_model(args.path)
    dataset = args.dataset or config.get("dataset") or config.get("data") or "mnist5k"
    if args.dataset:
        la.data.check(args.dataset)  # a typo is refused before anything is converted
    print(f"[export] loading {model_path}")
    model = load_model(model_path)
    if args.pad == "1":
        model = ex.with_pad_values(model, 1.0)
    out_dir = os.path.dirname(os.path.abspath(model_path))
    res: Dict[str, Any] = {"source": os.path.relpath(model_path, run_dir)}
    res["lce"] = ex.to_lce(model, os.path.join(out_dir, "model.tflite"),
                           classifier=args.classifier)
    res["float"] = ex.to_tflite_float(model, os.path.join(out_dir, "model_float.tflite"))
    images, res["images"] = verification_images(dataset, args.images, model.input_shape[1:])
    res["verify"] = ex.verify(model, res["lce"]["path"], images, raise_on_mismatch=False,
                              classifier=args.classifier)
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
    _common.run_main(main)
