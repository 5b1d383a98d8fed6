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
from pathlib import Path
from typing import Any, Optional

from larq_adam.cli import common
from larq_adam.errors import RunStateError, UserInputError
from larq_adam.run_files import find_model


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

    result = la.export.export_run(
        args.path, images=args.images, bench_runs=args.bench_runs, classifier=args.classifier,
        uint8_input=args.uint8_input, device_log=args.device_log, trust_model=args.trust_model,
        float_twin=not args.no_float_twin)
    print_result(result)
    _, run_dir = find_model(args.path)
    if (run_dir / "config.json").exists():  # a run folder: its report gets the export
        report = la.report.make_report(run_dir, trust_model=args.trust_model)
        print(f"[export] report: {report}")
    return 0 if result.passed else 1
