"""``larq-adam train``: the paper's training of a BNN, then LCE export and the report.

By default the main job on the offline digits (about 10 minutes on 2 CPU cores):

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
from typing import Any, Dict, Optional, Sequence

from larq_adam import vocabulary as words
from larq_adam.cli import common, export_run
from larq_adam.errors import UserInputError

RUN_DIR = "runs/two_step"
#: The main job's defaults, sized for mnist5k on a 2-core CPU.
DEFAULTS = dict(epochs=3, width=0.25, lr=1e-3)
#: The paper's ImageNet settings (Sec. 4.1 and the authors' released scripts).
IMAGENET = dict(dataset="imagenet2012", batch_size=256, lr=1.25e-3, epochs=256,
                image_size=224, width=1.0, teacher_model="resnet34", exact_reference=True,
                select_on="test", run_dir="runs/imagenet")
_CONFIG_OPTIONS = ("dataset", "data_dir", "image_size", "batch_size", "max_steps_per_epoch",
                   "model", "width", "epochs", "teacher", "teacher_model", "teacher_epochs",
                   "pad_values", "exact_reference", "strategy", "seed", "one_step", "stage",
                   "weight_decay", "order", "step1_weight_decay", "step2_weight_decay",
                   "step2_init", "optimizer", "lr", "schedule", "no_analysis",
                   "recalibrate_bn", "select_on", "holdout")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_training_options(parser, run_dir=RUN_DIR, epochs=DEFAULTS["epochs"],
                                width=DEFAULTS["width"], teacher="auto")
    g = parser.add_argument_group("scheme (Sec. 3.3)")
    g.add_argument("--preset", choices=("mnist5k", "imagenet"), default="mnist5k",
                   help="defaults: the offline main job, or the paper's ImageNet settings")
    g.add_argument("--config", default=None, metavar="RUN/config.json",
                   help="run a saved configuration again (other training options refused)")
    g.add_argument("--optimizer", default="adam",
                   help=", ".join(words.OPTIMIZERS))
    g.add_argument("--lr", "--learning-rate", type=common.ranged("learning_rate"),
                   default=DEFAULTS["lr"],
                   help="initial learning rate of every step")
    g.add_argument("--schedule", default="linear", choices=words.SCHEDULES,
                   help="learning-rate schedule per step (linear to 0 is the paper's)")
    g.add_argument("--one-step", action="store_true",
                   help="one step in --stage with --weight-decay instead of two steps")
    g.add_argument("--stage", default="bnn", choices=words.STAGES,
                   help="stage of the one step")
    g.add_argument("--weight-decay", type=common.finite_float, default=0.0,
                   help="coupled L2 on the latent weights of the one step")
    g.add_argument("--order", choices=tuple(words.ORDERS), default="babw",
                   help="babw: step 1 binarizes activations (the paper's); bwba: weights")
    g.add_argument("--step1-weight-decay", type=common.finite_float, default=5e-6,
                   help="coupled L2 on the latent weights in step 1 (paper: 5e-6)")
    g.add_argument("--step2-weight-decay", type=common.finite_float, default=0.0,
                   help="coupled L2 on the latent weights in step 2 (paper: 0)")
    g.add_argument("--step2-init", "--init", choices=words.INITS, default="best",
                   help="step 2 starts from step 1's best-validation or final weights")
    g.add_argument("--no-analysis", "--analysis", action=common.NegatedFlag,
                   help="skip the paper's measurement callbacks (FF, C2I, CAM, saturation); "
                        "--analysis runs them, the default")
    g.add_argument("--select-on", choices=words.SELECT_ON, default="validation",
                   help="split the best weights and step 2's start are chosen on: a "
                        "validation split (the dataset's own, else --holdout of train), or "
                        "the test split (the authors' ImageNet protocol; --preset imagenet)")
    g.add_argument("--holdout", type=common.ranged("holdout"), default=0.1,
                   help="fraction of each class of train held out as the validation split "
                        "where the dataset has none of its own")
    g.add_argument("--recalibrate-bn", action="store_true",
                   help="each step's final weights keep BN statistics re-estimated over the "
                        "training split (their top-1 is reported either way)")
    g.add_argument("--no-export", action="store_true",
                   help="skip the LCE conversion, verification and benchmark")
    export_run.add_export_options(parser)


def preset_defaults(argv: Sequence[str]) -> Dict[str, Any]:
    """The defaults ``--preset`` in ``argv`` stands for (options given explicitly win)."""
    preset = None
    for i, arg in enumerate(argv):
        if arg == "--preset" and i + 1 < len(argv):
            preset = argv[i + 1]
        elif arg.startswith("--preset="):
            preset = arg.split("=", 1)[1]
    if preset != "imagenet":
        return {}
    return dict(IMAGENET)


def build_config(args: argparse.Namespace) -> Any:
    """The RunConfig the options describe (checked: one line on a bad value)."""
    from larq_adam.config import RunConfig

    fields = common.config_fields(args)
    fields.update(optimizer=args.optimizer, learning_rate=args.lr, schedule=args.schedule,
                  analysis=not args.no_analysis, recalibrate_bn=args.recalibrate_bn,
                  select_on=args.select_on, holdout=args.holdout)
    if args.one_step:
        fields.update(kind="one_step", stage=args.stage, weight_decay=args.weight_decay)
    else:
        fields.update(kind="two_step", order=args.order, init=args.step2_init,
                      step1_weight_decay=args.step1_weight_decay,
                      step2_weight_decay=args.step2_weight_decay)
    return RunConfig(**fields)


def _saved_config(args: argparse.Namespace, defaults: Dict[str, Any]) -> Any:
    from larq_adam.config import RunConfig

    given = [k for k in _CONFIG_OPTIONS if getattr(args, k) != defaults.get(k)]
    if given:
        flags = ", ".join("--" + k.replace("_", "-") for k in given)
        raise UserInputError(f"--config runs the saved settings as they are, but {flags} "
                             "were given too; edit a copy of the config.json instead")
    return RunConfig.load(args.config)


def _strategy_name(args: argparse.Namespace) -> str:
    if args.config:  # the saved run's, read as JSON (no TensorFlow needed)
        from larq_adam.run_files import read_json

        path = Path(args.config)
        path = path / "config.json" if path.is_dir() else path
        try:
            return str(read_json(path, fix="").get("strategy", "default")).lower()
        except (OSError, ValueError):
            return "default"  # RunConfig.load names the problem when the command runs
    return str(args.strategy).lower()


def precheck(args: argparse.Namespace) -> None:
    """What is checked before TensorFlow loads: ``TF_CONFIG`` for ``--strategy
    multiworker``, the form of the ``--dataset`` name
    (:func:`larq_adam.dataset_names.parse_name`) and a lower bound of the memory the
    student and an 'auto' teacher need (:func:`larq_adam.limits.check_memory`)."""
    from larq_adam import dataset_names, limits, tf_config

    if args.preset == "imagenet" and args.run_dir == IMAGENET["run_dir"]:
        args.run_dir = f"runs/{args.model}_imagenet"
    if _strategy_name(args) == "multiworker":
        tf_config.check_tf_config()
    if args.config:
        return
    dataset_names.parse_name(args.dataset)
    size = args.image_size or (32 if args.dataset in ("mnist5k", "cifar10", "cifar100")
                               else 224)
    models = [args.model] + ([args.teacher_model] if args.teacher == "auto" else [])
    for model in models:
        limits.check_memory(model, width=args.width, image_size=size,
                            batch_size=args.batch_size)


def run_folder(args: argparse.Namespace) -> Optional[str]:
    """The folder this process writes, locked for the whole command: ``--run-dir``, except
    on a multi-worker run's non-chief workers (they write ``RUN/.workers/<task>``, locked
    by :func:`larq_adam.training.train`)."""
    from larq_adam import tf_config

    if _strategy_name(args) == "multiworker" \
            and not tf_config.is_chief(tf_config.check_tf_config()):
        return None
    return args.run_dir


def run(args: argparse.Namespace, *, defaults: Dict[str, Any]) -> int:
    import larq_adam as la
    from larq_adam.training.run import is_finished

    if args.config:
        config = _saved_config(args, defaults)
    else:
        if args.preset == "imagenet" and args.run_dir == IMAGENET["run_dir"]:
            args.run_dir = f"runs/{args.model}_imagenet"
        common.check_teacher(args)
        config = build_config(args)
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
