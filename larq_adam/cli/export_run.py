"""``larq-adam export RUN``: a trained run's model to Larq Compute Engine, with proof.

Converts the run's final model (``RUN/final_model.h5``, or a model file given instead of a
run folder) to an LCE flatbuffer, lists its ops (every fully binary Keras layer must have
become an ``LceBconv2d``), checks the LCE interpreter against Keras on class-balanced test
images of the run's own dataset, times both files, and writes the deployment contract
``model.json`` beside ``model.tflite`` (input shape and dtype, normalisation, class names,
versions, op summary). ``--device-log`` adds the timing a board measured with LCE's
``lce_benchmark_model``. The results go to ``RUN/export.json``, and a run folder's
``report.md`` is written again with them.

Exit status: 0 the file computes what Keras computes, 1 it does not (or a binary layer
stayed float), 2 a bad argument or file (one line says which).
"""
import argparse
import os
from pathlib import Path
from typing import Any, Optional, Tuple

from larq_adam.cli import common
from larq_adam.errors import RunStateError, UserInputError

MODEL_NAMES = ("final_model.h5", "final_model.keras")
VERIFY_SEED = 0  # the verification images are the same on every export of a run


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="a run folder (its final_model.h5) or a Keras model file")
    add_export_options(parser)
    common.add_trust_model(parser)
    common.add_debug(parser)


def add_export_options(parser: argparse.ArgumentParser) -> None:
    """The export options ``train`` shares."""
    g = parser.add_argument_group("export")
    g.add_argument("--images", type=common.ranged("images"), default=256,
                   help="class-balanced test images the LCE file is verified on")
    g.add_argument("--bench-runs", type=common.ranged("bench_runs"), default=10,
                   help="timed single-image inferences per file")
    g.add_argument("--classifier", choices=("float32", "float16", "int8"), default="float32",
                   help="storage of the real-valued classifier's weights in the LCE file")
    g.add_argument("--uint8-input", action="store_true",
                   help="put the normalisation into the graph: the file takes uint8 pixels")
    g.add_argument("--no-float-twin", action="store_true",
                   help="skip the float TFLite twin (only used to compare size and latency; "
                        "its conversion is as long as the LCE file's)")
    g.add_argument("--device-log", default=None, metavar="FILE",
                   help="an lce_benchmark_model log from a board, added to the results")


def find_model(path: str) -> Tuple[Path, Path]:
    """(model file, run folder) for a run folder or a model file."""
    target = Path(path)
    if target.is_file():
        return target, target.parent
    if not target.is_dir():
        raise UserInputError(f"{path!r} is neither a model file nor a run folder; give a run "
                             "folder (e.g. runs/two_step) or a .h5 / .keras file")
    for name in MODEL_NAMES:
        if (target / name).exists():
            return target / name, target
    raise RunStateError(f"no final_model.h5 in {target}; finish the run first (larq-adam "
                        "train --resume --run-dir ...)")


def _data_of(run_dir: Path, model: Any, n: int) -> Tuple[Any, Any, Any, str]:
    """(images, labels, info, description) for verification: the run's own test split, or
    random images when the run's data cannot be read (with a note)."""
    import numpy as np

    import larq_adam as la
    from larq_adam.config import RunConfig

    config = RunConfig.load(run_dir) if (run_dir / "config.json").exists() else None
    size = int(model.input_shape[1])
    if config is not None:
        try:
            _, info = la.data.load(config.data, split="test", batch_size=1, image_size=size,
                                   data_dir=config.data_dir)
            images, labels = la.data.balanced_sample(
                config.data, n, seed=VERIFY_SEED, split="test",
                image_size=size, data_dir=config.data_dir)
            return images, labels, info, f"{config.data} test images (class-balanced)"
        except (ImportError, OSError, ValueError) as err:
            print(f"[export] cannot read {config.data!r} ({common.one_line(err)}); verifying "
                  "on random images")
    rng = np.random.default_rng(VERIFY_SEED)
    images = rng.normal(size=(n, *model.input_shape[1:])).astype("float32")
    return images, None, None, "random images"


def export_run(path: str, *, model: Optional[Any] = None, images: int = 256,
               bench_runs: int = 10, classifier: str = "float32", uint8_input: bool = False,
               device_log: Optional[str] = None, trust_model: bool = False,
               float_twin: bool = True) -> Any:
    """Export a run folder's (or a model file's) model with ``la.export.check``; the files
    land in the run folder. Returns the ExportResult. A model file with ``Lambda`` layers or
    unknown classes (code that runs on load) is refused unless ``trust_model``;
    ``float_twin=False`` skips the float TFLite file (size and latency comparison only)."""
    import larq_adam as la

    model_path, run_dir = find_model(path)
    if model is None:
        model = la.export.load_model(model_path, trust=trust_model, opt_in="--trust-model")
    x, y, info, described = _data_of(run_dir, model, images)
    return la.export.check(
        model, x, run_dir, labels=y,
        class_names=None if info is None else list(info.class_names),
        normalization=None if info is None else (tuple(info.mean), tuple(info.std)),
        classifier=classifier, uint8_input=uint8_input, benchmark_runs=bench_runs,
        source=os.fspath(model_path), images_from=described, device_log=device_log,
        float_twin=float_twin)


def print_result(result: Any) -> None:
    """The export's outcome in a few lines."""
    ver, ops = result.verify or {}, result.ops or {}
    if ops:
        print(f"[export] {ops.get('binary_convs', 0)} LceBconv2d for "
              f"{ops.get('keras_binary_layers', 0)} fully binary Keras layers; "
              f"{100 * ops.get('binary_mac_share', 0):.1f}% of MACs binary")
    if ver:
        from larq_adam.report import verification_verdict

        print(f"[export] verify on {ver['num_images']} images: {verification_verdict(ver)}")
    for warning in result.warnings:
        print(f"[export] warning: {warning}")


def run_folder(args: argparse.Namespace) -> Optional[Path]:
    """The folder the export writes (the run folder, or the model file's folder), locked
    for the whole command; None when the path names nothing (the command says so)."""
    try:
        return find_model(args.path)[1]
    except (UserInputError, RunStateError):
        return None


def run(args: argparse.Namespace) -> int:
    import larq_adam as la

    result = export_run(args.path, images=args.images, bench_runs=args.bench_runs,
                        classifier=args.classifier, uint8_input=args.uint8_input,
                        device_log=args.device_log, trust_model=args.trust_model,
                        float_twin=not args.no_float_twin)
    print_result(result)
    _, run_dir = find_model(args.path)
    if (run_dir / "config.json").exists():  # a run folder: its report gets the export
        report = la.report.make_report(run_dir, trust_model=args.trust_model)
        print(f"[export] report: {report}")
    return 0 if result.passed else 1
