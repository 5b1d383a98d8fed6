"""Argument pieces and helpers shared by the recipes (not a library module: recipes only).

Every training recipe takes the same core flags (``--dataset``, ``--model``, ``--width``,
``--epochs``, ``--batch-size``, ``--max-steps-per-epoch``, ``--run-dir``, ``--resume``,
``--allow-changes``, ``--strategy``, ``--debug``, ...) so a tiny smoke run of any of them
reads the same::

    python recipes/table4_order.py --epochs 1 --width 0.125 --max-steps-per-epoch 2

User errors are one line on stderr and exit status 2, before anything is written: every
name and number is checked when the arguments are parsed (:class:`ArgumentParser`), and
:func:`run_main` turns the library's user-fixable errors met later (a corrupt file, a run
folder in another state) into the same one line. ``--debug`` shows the traceback instead.
"""
import argparse
import math
import os
import sys
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import larq_adam as la  # noqa: E402  (selects Keras 2 before TensorFlow is imported)
from larq_adam.errors import LarqAdamError, UserInputError  # noqa: E402

#: What :func:`run_main` and the parser report as one line (the library's user-fixable
#: errors, and the built-in classes its argument checks raise).
USER_ERRORS = (LarqAdamError, ValueError, FileNotFoundError, FileExistsError)
STRATEGIES = ("default", "mirrored", "multiworker", "tpu", "tpu:ADDRESS")
Check = Callable[[argparse.Namespace], None]


# ----------------------------------------------------------------------------- errors


def one_line(error: BaseException) -> str:
    """``str(error)`` on one line (a multi-line message's lines joined)."""
    text = " ".join(part.strip() for part in str(error).splitlines() if part.strip())
    return text or type(error).__name__


class ArgumentParser(argparse.ArgumentParser):
    """An ``argparse.ArgumentParser`` whose errors are one line (exit status 2), and which
    runs its checks (:meth:`add_check`) on the parsed arguments before returning them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._checks: List[Check] = []
        self.add_argument("--debug", action="store_true",
                          help="show the traceback of an error instead of one line")

    def add_check(self, check: Check) -> None:
        """Run ``check(args)`` after parsing; a user error it raises exits with one line."""
        self._checks.append(check)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")

    def parse_args(self, args: Optional[Sequence[str]] = None,  # type: ignore[override]
                   namespace: Optional[argparse.Namespace] = None) -> argparse.Namespace:
        parsed = super().parse_args(args, namespace)
        for check in self._checks:
            try:
                check(parsed)
            except USER_ERRORS as err:
                if parsed.debug:
                    raise
                self.exit(2, f"{self.prog}: error: {one_line(err)}\n")
        return parsed


def run_main(main: Callable[[Optional[Sequence[str]]], Optional[int]],
             argv: Optional[Sequence[str]] = None) -> None:
    """Entry point: ``sys.exit`` with main's return code; a user-fixable error
    (:data:`USER_ERRORS`) raised while it runs is printed as one line on stderr, exit
    status 2 (``--debug`` re-raises it with its traceback)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        status = main(args)
    except USER_ERRORS as err:
        if "--debug" in args:
            raise
        prog = (os.path.basename(sys.argv[0]) if argv is None
                else f"{main.__module__.rsplit('.', 1)[-1]}.py")
        print(f"{prog}: error: {one_line(err)}", file=sys.stderr, flush=True)
        sys.exit(2)
    sys.exit(status or 0)


# ----------------------------------------------------------------------------- numbers


def _number(text: str, kind: type) -> Any:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected {'an integer' if kind is int else 'a number'}, got {text!r}") from None


def positive_int(text: str) -> int:
    """argparse type: an int >= 1."""
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: an int >= 0."""
    value = _number(text, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return value


def finite_float(text: str) -> float:
    """argparse type: a finite number (may be 0 or negative)."""
    value = _number(text, float)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return value


# ----------------------------------------------------------------------------- names


def check_names(args: argparse.Namespace) -> None:
    """The names of the shared flags (model, strategy, teacher, optimizer) and the
    dataset's files, checked before any run folder is touched."""
    students = [m for m in la.models.available() if not la.models.is_teacher(m)]
    if args.model not in students:
        kind = "a real-valued teacher, not a binary network" if args.model in \
            la.models.available() else "not a model"
        raise UserInputError(f"--model {args.model!r} is {kind}; valid: {', '.join(students)}")
    strategy = str(args.strategy).lower()
    if strategy not in la.training.STRATEGIES and not strategy.startswith("tpu:"):
        raise UserInputError(f"--strategy {args.strategy!r} is unknown; valid: "
                             f"{', '.join(STRATEGIES)}")
    optimizer = getattr(args, "optimizer", None)
    if optimizer is not None and optimizer.lower() not in la.training.OPTIMIZERS:
        raise UserInputError(f"--optimizer {optimizer!r} is unknown; valid: "
                             f"{', '.join(la.training.OPTIMIZERS)}")
    teacher_model = getattr(args, "teacher_model", None)
    if teacher_model is not None and not la.models.is_teacher(teacher_model):
        teachers = [m for m in la.models.available() if la.models.is_teacher(m)]
        raise UserInputError(f"--teacher-model {teacher_model!r} is not a teacher network; "
                             f"valid: {', '.join(teachers)}")
    if args.teacher not in (None, "", "none", "auto") and not Path(args.teacher).exists():
        raise UserInputError(f"--teacher {args.teacher!r} does not exist; give the path of a "
                             "saved Keras model, 'auto' (train one first) or 'none'")
    la.data.check(args.dataset, data_dir=args.data_dir)


class _HelpFormatter(argparse.RawDescriptionHelpFormatter,
                     argparse.ArgumentDefaultsHelpFormatter):
    """Keeps the recipe's docstring layout and shows every default."""


def _allow_changes_names() -> List[str]:
    from larq_adam.training.resume import ALLOW_CHANGES

    return list(ALLOW_CHANGES)


def parser(description: str, *, run_dir: str, epochs: int, width: float, batch_size: int = 64,
           dataset: str = "mnist5k", model: str = "reactnet_a",
           teacher: str = "none") -> ArgumentParser:
    """An :class:`ArgumentParser` with the flags every training recipe shares, its
    defaults, and :func:`check_names` run on the parsed flags."""
    p = ArgumentParser(description=description, formatter_class=_HelpFormatter)
    g = p.add_argument_group("common training options")
    g.add_argument("--dataset", default=dataset,
                   help="dataset name for larq_adam.data.load: mnist5k (offline), cifar10, "
                        "cifar100, imagenette, imagenet2012 (needs --data-dir) or folder:PATH")
    g.add_argument("--data-dir", default=None,
                   help="tensorflow-datasets data dir (ImageNet's tar files go in its "
                        "downloads/manual sub-folder)")
    g.add_argument("--model", default=model,
                   help="student network: reactnet_a (ReActNet-A) or strong_baseline "
                        "(Real-to-Binary StrongBaseline, ResNet-18 layout)")
    g.add_argument("--width", type=positive_float, default=width,
                   help="channel multiplier of the student (1.0 = the paper's network)")
    g.add_argument("--epochs", type=positive_int, default=epochs,
                   help="epochs of every training step (per step in two-step runs)")
    g.add_argument("--batch-size", type=positive_int, default=batch_size,
                   help="global batch size")
    g.add_argument("--image-size", type=positive_int, default=None,
                   help="resize images to this side (default: the dataset's own size, "
                        "224 for ImageNet-like sets)")
    g.add_argument("--max-steps-per-epoch", type=positive_int, default=None,
                   help="cap the batches per epoch (and of the evaluation): smoke tests; "
                        "omit it for no cap")
    g.add_argument("--teacher", default=teacher,
                   help="distillation teacher: 'none' (cross-entropy on the labels), 'auto' "
                        "(train one real-valued ResNet-18 first, shared by all runs of the "
                        "recipe) or the path of a saved Keras model")
    g.add_argument("--strategy", default="default",
                   help="tf.distribute strategy: default, mirrored (all local GPUs), "
                        "multiworker, or tpu / tpu:ADDRESS")
    g.add_argument("--pad-values", type=finite_float, default=0.0,
                   help="pad value of the binarized inputs of the 3x3 binary convs: 0 as the "
                        "reference code (exported exactly), 1 for LCE's fast path")
    g.add_argument("--seed", type=non_negative_int, default=0,
                   help="random seed of data order, augmentation and init")
    g.add_argument("--run-dir", default=run_dir,
                   help="folder of this recipe's runs; the comparison figures and table "
                        "land in it")
    g.add_argument("--resume", action="store_true",
                   help="continue an interrupted recipe: finished runs are read back, the "
                        "interrupted one continues from its last epoch")
    g.add_argument("--allow-changes", nargs="+", default=[], metavar="SETTING",
                   choices=_allow_changes_names(),
                   help="with --resume: settings that may differ from the saved run's "
                        f"({', '.join(_allow_changes_names())}), e.g. a lower --lr after "
                        "the loss diverged")
    g.add_argument("--quiet", action="store_true", help="no Keras progress bars")
    p.add_check(check_names)
    p.add_check(check_resume_dir)
    return p


def train_kwargs(args: argparse.Namespace, **overrides: Any) -> Dict[str, Any]:
    """Keyword arguments for ``la.training.one_step`` / ``two_step`` from the parsed flags."""
    kwargs = dict(
        data=args.dataset, model=args.model, width=args.width, epochs=args.epochs,
        batch_size=args.batch_size, max_steps_per_epoch=args.max_steps_per_epoch,
        strategy=args.strategy, pad_values=args.pad_values, seed=args.seed,
        image_size=args.image_size, data_dir=args.data_dir, resume=args.resume,
        allow_changes=tuple(args.allow_changes), verbose=0 if args.quiet else 1,
    )
    kwargs.update(overrides)
    return kwargs


def check_resume_dir(args: argparse.Namespace) -> None:
    """``--resume`` needs a recipe folder holding something to resume."""
    run = Path(args.run_dir)
    if args.resume and not (run.is_dir() and any(run.iterdir())):
        what = "does not exist" if not run.exists() else "is empty"
        raise UserInputError(f"--resume: {run} {what}, so there is nothing to resume; run "
                             "without --resume to start there")
    if args.allow_changes and not args.resume:
        raise UserInputError("--allow-changes only applies with --resume")


def sub_run_resume(args: argparse.Namespace) -> Any:
    """``resume`` for one of several runs of a recipe: with ``--resume``, ``"allow"``
    (continue it if it was started, else start it), else False."""
    return "allow" if args.resume else False


def shared_teacher(args: argparse.Namespace) -> Optional[str]:
    """The teacher every run of a recipe distils from: None, a path, or ``"auto"`` resolved
    once by training a real-valued ResNet-18 in ``RUN_DIR/teacher_run`` (FP stage)."""
    if args.teacher in (None, "", "none"):
        return None
    if args.teacher != "auto":
        return args.teacher
    res = la.training.one_step(
        Path(args.run_dir) / "teacher_run",
        **train_kwargs(args, model="resnet18", stage="fp", analysis=False,
                       resume=sub_run_resume(args)),
    )
    return res.final_model_path


def step_line(label: str, step: Any) -> str:
    """One summary line for a finished step (a ``StepResult``)."""
    ff = "-" if step.ff_ratio is None else f"{step.ff_ratio:.3e}"
    c2i = "-" if step.c2i_ratio is None else f"{step.c2i_ratio:.4f}"
    return (f"{label:>16} {step.name:<8} {step.stage:<4} wd={step.weight_decay:<8g} "
            f"top-1={100 * step.test_accuracy:6.2f}% top-5={100 * step.test_top5:6.2f}% "
            f"FF={ff} C2I={c2i} ({step.seconds:.0f} s)")


def print_run(label: str, result: Any) -> None:
    """Print one line per step (teacher included) of a ``RunResult``."""
    steps = ([result.teacher] if result.teacher is not None else []) + list(result.steps)
    for step in steps:
        print(step_line(label, step), flush=True)


def print_paths(paths: Iterable[Any], header: str = "written:") -> None:
    """Print the files a recipe wrote, one per line."""
    print(header)
    for path in paths:
        print(f"  {path}")


def compare_and_print(runs: Dict[str, Any], args: argparse.Namespace, kind: str,
                      title: str) -> Path:
    """``la.report.compare`` over ``{label: RunResult or run dir}`` into ``args.run_dir``,
    then print the table and the files written; returns the markdown file."""
    dirs = {label: getattr(r, "run_dir", r) for label, r in runs.items()}
    md = la.report.compare(dirs, args.run_dir, kind=kind, title=title)
    print(md.read_text())
    print_paths([md, *sorted((Path(args.run_dir) / "figures").glob("*.png"))])
    return md


def with_run_dir(args: argparse.Namespace, run_dir: Any) -> argparse.Namespace:
    """A copy of ``args`` whose ``run_dir`` is ``run_dir`` (for a recipe's sub-comparison)."""
    return argparse.Namespace(**{**vars(args), "run_dir": str(run_dir)})


# The paper's ImageNet hyperparameters (Sec. 4.1 and the authors' released code).
IMAGENET = dict(dataset="imagenet2012", batch_size=256, learning_rate=1.25e-3, epochs=256,
                step1_weight_decay=5e-6, step2_weight_decay=0.0, image_size=224,
                teacher_model="resnet34")


def imagenet_parser(model: str, description: str) -> ArgumentParser:
    """The flags of the two-step BABW ImageNet recipes, defaults the paper's."""
    p = parser(description, run_dir=f"runs/{model}_imagenet", epochs=IMAGENET["epochs"],
               width=1.0, batch_size=IMAGENET["batch_size"], dataset=IMAGENET["dataset"],
               model=model, teacher="auto")
    p.set_defaults(image_size=IMAGENET["image_size"])
    g = p.add_argument_group("ImageNet two-step options (defaults: the paper's)")
    g.add_argument("--lr", type=positive_float, default=IMAGENET["learning_rate"],
                   help="Adam's initial LR (1.25e-3 at batch 256; scale it with the batch)")
    g.add_argument("--order", choices=("babw", "bwba"), default="babw", help="two-step order")
    g.add_argument("--step1-weight-decay", type=finite_float,
                   default=IMAGENET["step1_weight_decay"])
    g.add_argument("--step2-weight-decay", type=finite_float,
                   default=IMAGENET["step2_weight_decay"])
    g.add_argument("--teacher-model", default=IMAGENET["teacher_model"],
                   help="architecture of the 'auto' teacher (the paper distils from a "
                        "pretrained ResNet-34: pass its saved Keras model with --teacher)")
    g.add_argument("--teacher-epochs", type=positive_int, default=None,
                   help="epochs of the 'auto' teacher (default: --epochs)")
    g.add_argument("--step2-init", choices=("best", "final"), default="best",
                   help="step 2 starts from step 1's best-validation weights (as the "
                        "reference's step-2 script) or from its final ones")
    g.add_argument("--exact-reference", action=argparse.BooleanOptionalAction, default=True,
                   help="the released code's linear decay, whose scheduler steps before each "
                        "epoch (epoch e at lr * (1 - (e+1)/E), the last at 0); "
                        "--no-exact-reference: lr * (1 - e/E) as the paper's text")
    return p


def imagenet_main(argv: Optional[Sequence[str]], model: str, description: str) -> int:
    """The full two-step BABW ImageNet recipe for ``model`` (reactnet_a / strong_baseline)."""
    args = imagenet_parser(model, description).parse_args(argv)
    res = la.training.two_step(
        args.run_dir, order=args.order, step1_weight_decay=args.step1_weight_decay,
        step2_weight_decay=args.step2_weight_decay, init=args.step2_init,
        teacher=None if args.teacher == "none" else args.teacher,
        teacher_model=args.teacher_model, teacher_epochs=args.teacher_epochs,
        exact_reference=args.exact_reference, schedule="linear",
        **train_kwargs(args, learning_rate=args.lr))
    print_run(Path(args.run_dir).name, res)
    report = la.report.make_report(args.run_dir)
    print_paths([res.final_model_path, report,
                 *sorted((Path(args.run_dir) / "figures").glob("*.png"))])
    print("export: python recipes/export.py", args.run_dir)
    return 0
