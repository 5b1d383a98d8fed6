"""``larq-adam train``: the paper's training of a BNN, then LCE export and the report.

By default the main job on the offline digits (4-8 minutes on 2 CPU cores):

1. a real-valued teacher (ResNet-18 at the student's width) is trained on the labels;
2. step 1 (BA: binary activations, real weights), Adam, weight decay 5e-6 on the latent
   weights, distilled from the teacher (Sec. 3.3.3);
3. step 2 (BNN) starts from step 1's best weights, weight decay 0, distilled;
4. the final BNN is converted to Larq Compute Engine and checked against Keras;
5. RUN/report.md with the accuracy, saturation, CAM, update CAM, weight and FF figures.

``--one-step`` trains a single step in ``--stage`` instead (Table 1's upper rows, Table 5).
``--preset imagenet`` takes the paper's ImageNet settings (Sec. 4.1: ImageNet at 224 px,
batch 256, Adam at 1.25e-3, 256 epochs per step, a ResNet-34 teacher, the released code's
linear decay); options given on the command line still win. ``--config RUN/config.json``
runs a saved configuration again (in another --run-dir, or with --resume in its own).
"""
import argparse
from pathlib import Path
from typing import Any, Optional

from larq_adam import presets
from larq_adam.cli import common, config_options, export_run
from larq_adam.errors import UserInputError

def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("preset")
    g.add_argument("--preset", choices=tuple(presets.PRESETS), default="mnist5k",
                   help="the settings the other options change: the offline main job, or "
                        "the paper's ImageNet settings (larq_adam.presets)")
    g.add_argument("--config", default=None, metavar="RUN/config.json",
                   help="run a saved configuration again (other training options refused)")
    config_options.add_config_options(parser, presets.MAIN_JOB)
    common.add_run_options(parser, run_dir=None, run_dir_help=(
        "where the run's files go (default: runs/two_step; --preset imagenet: "
        "runs/MODEL_imagenet)"))
    g = parser.add_argument_group("export")
    g.add_argument("--no-export", action="store_true",
                   help="skip the LCE conversion, verification and benchmark")
    export_run.add_export_options(parser)


def build_config(args: argparse.Namespace) -> Any:
    """The RunConfig the options describe: the ``--preset`` with the options given on top
    (checked: one line on a bad value)."""
    return config_options.config_from(args, presets.get(args.preset))


def _saved_config(args: argparse.Namespace) -> Any:
    from larq_adam.config import RunConfig

    given = config_options.given(args)
    if given:
        flags = ", ".join("--" + k.replace("_", "-") for k in given)
        raise UserInputError(f"--config runs the saved settings as they are, but {flags} "
                             "were given too; edit a copy of the config.json instead")
    return RunConfig.load(args.config)


def _set_run_dir(args: argparse.Namespace, config: Any) -> None:
    if args.run_dir is None:
        args.run_dir = presets.run_dir(args.preset, config)


def _strategy_name(args: argparse.Namespace) -> str:
    if args.config:  # the saved run's, read as JSON (no TensorFlow needed)
        from larq_adam.run_files import read_json

        path = Path(args.config)
        path = path / "config.json" if path.is_dir() else path
        try:
            return str(read_json(path, fix="").get("strategy", "default")).lower()
        except (OSError, ValueError):
            return "default"  # RunConfig.load names the problem when the command runs
    return build_config(args).strategy.lower()


def precheck(args: argparse.Namespace) -> None:
    """What is checked before TensorFlow loads: ``TF_CONFIG`` for ``--strategy
    multiworker``, every option's name and value (the RunConfig they make, or the saved
    ``--config``), the form of the ``--data`` name
    (:func:`larq_adam.dataset_names.parse_name`) and a lower bound of the memory the
    student and an 'auto' teacher need (:func:`larq_adam.limits.check_memory`)."""
    from larq_adam import dataset_names, limits, tf_config

    if _strategy_name(args) == "multiworker":
        tf_config.check_tf_config()
    # names, choices and a saved config.json are checked here, before TensorFlow loads
    config = _saved_config(args) if args.config else build_config(args)
    _set_run_dir(args, config)
    if args.config:
        return
    dataset_names.parse_name(config.data)
    size = config.image_size or (32 if config.data in ("mnist5k", "cifar10", "cifar100")
                                 else 224)
    models = [(config.model, config.width)]
    if config.teacher == "auto":
        models.append((config.teacher_model, config.teacher_width or config.width))
    for model, width in models:
        limits.check_memory(model, width=width, image_size=size,
                            batch_size=config.batch_size)


def run_folder(args: argparse.Namespace) -> Optional[str]:
    """The folder this process writes, locked for the whole command: ``--run-dir``, except
    on a multi-worker run's non-chief workers (they write ``RUN/.workers/<task>``, locked
    by :func:`larq_adam.training.train`)."""
    from larq_adam import tf_config

    if _strategy_name(args) == "multiworker" \
            and not tf_config.is_chief(tf_config.check_tf_config()):
        return None
    return args.run_dir


def run(args: argparse.Namespace) -> int:
    import larq_adam as la
    from larq_adam.training.run import is_finished

    if args.config:
        config = _saved_config(args)
    else:
        config = build_config(args)
        common.check_teacher(config.teacher)
    _set_run_dir(args, config)
    common.check_run_dir(args)
    la.data.check_available(config.data, data_dir=config.data_dir)
    finished = bool(args.resume) and is_finished(args.run_dir)
    result = la.training.train(args.run_dir, config, resume=args.resume,
                               allow_changes=tuple(args.allow_changes),
                               verbose=common.verbosity(args))
    run_dir = Path(args.run_dir)
    if finished and _complete(run_dir, export=not args.no_export):
        return _print_complete(run_dir, result, export=not args.no_export)
    status, exported = 0, None
    if not args.no_export:
        exported = la.export.export_run(
            result.final_model_path, config=config, images=args.images, bench_runs=args.bench_runs,
            classifier=args.classifier, uint8_input=args.uint8_input,
            device_log=args.device_log, float_twin=not args.no_float_twin)
        export_run.print_result(exported)
        status = 0 if exported.passed else 1
    report = la.report.make_report(args.run_dir)
    _print_summary(run_dir, result, exported, report)
    return status


def _complete(run: Path, *, export: bool) -> bool:
    """Whether a finished run's export (when asked) and report were written after its
    final model: then a resume has nothing left to do."""
    final = run / "final_model.h5"
    needed = [run / "report.md"] + ([run / "export.json"] if export else [])
    return all(p.is_file() and p.stat().st_mtime >= final.stat().st_mtime for p in needed)


def _print_complete(run: Path, result: Any, *, export: bool) -> int:
    """Say that the run was complete (nothing trained, exported or reported again) and
    exit with the saved export's status."""
    import larq_adam as la

    exported = la.export.ExportResult.load(run) if export else None
    print(f"{run} holds a finished run: nothing was trained, exported or reported again "
          f"(larq-adam export {run} converts and checks again, larq-adam report {run} "
          "writes the report again)")
    _print_summary(run, result, exported, run / "report.md")
    return 0 if exported is None or exported.passed else 1


def _print_summary(run: Path, result: Any, exported: Any, report: Path) -> None:
    print("\nsummary:")
    common.print_run(run.name, result)
    if exported is not None:
        print(f"{'':>16} export LCE check {'PASSED' if exported.passed else 'FAILED'} "
              f"(see the Export section of {report})")
    files = [run / "config.json", result.final_model_path, report,
             *sorted((run / "figures").glob("*.png")),
             *[p for p in (run / "model.tflite", run / "model.json") if p.exists()]]
    common.print_paths(files)
