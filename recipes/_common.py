"""Argument pieces and helpers shared by the recipes (not a library module: recipes only).

Every training recipe takes the same core flags (``--dataset``, ``--model``, ``--width``,
``--epochs``, ``--batch-size``, ``--max-steps-per-epoch``, ``--run-dir``, ``--resume``,
``--strategy``, ...) so a tiny smoke run of any of them reads the same::

    python recipes/table4_order.py --epochs 1 --width 0.125 --max-steps-per-epoch 2
"""
import argparse
import os
import sys
from pathlib import Path
from typing import Any, Dict, Iterable, Optional, Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import larq_adam as la  # noqa: E402  (selects Keras 2 before TensorFlow is imported)


class _HelpFormatter(argparse.RawDescriptionHelpFormatter,
                     argparse.ArgumentDefaultsHelpFormatter):
    """Keeps the recipe's docstring layout and shows every default."""


def parser(description: str, *, run_dir: str, epochs: int, width: float, batch_size: int = 64,
           dataset: str = "mnist5k", model: str = "reactnet_a",
           teacher: str = "none") -> argparse.ArgumentParser:
    """An ``ArgumentParser`` with the flags every training recipe shares and its defaults."""
    p = argparse.ArgumentParser(description=description, formatter_class=_HelpFormatter)
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
    g.add_argument("--width", type=float, default=width,
                   help="channel multiplier of the student (1.0 = the paper's network)")
    g.add_argument("--epochs", type=int, default=epochs,
                   help="epochs of every training step (per step in two-step runs)")
    g.add_argument("--batch-size", type=int, default=batch_size, help="global batch size")
    g.add_argument("--image-size", type=int, default=None,
                   help="resize images to this side (default: the dataset's own size, "
                        "224 for ImageNet-like sets)")
    g.add_argument("--max-steps-per-epoch", type=int, default=None,
                   help="cap the batches per epoch (and of the evaluation): smoke tests")
    g.add_argument("--teacher", default=teacher,
                   help="distillation teacher: 'none' (cross-entropy on the labels), 'auto' "
                        "(train one real-valued ResNet-18 first, shared by all runs of the "
                        "recipe) or the path of a saved Keras model")
    g.add_argument("--strategy", default="default",
                   help="tf.distribute strategy: default, mirrored (all local GPUs), "
                        "multiworker, or tpu / tpu:ADDRESS")
    g.add_argument("--pad-values", type=float, default=0.0,
                   help="pad value of the binarized inputs of the 3x3 binary convs: 0 as the "
                        "reference code, 1 for LCE's fast path")
    g.add_argument("--seed", type=int, default=0, help="random seed of data order and init")
    g.add_argument("--run-dir", default=run_dir,
                   help="folder of this recipe's runs; the comparison figures and table "
                        "land in it")
    g.add_argument("--resume", action="store_true",
                   help="continue an interrupted recipe: finished runs are read back, the "
                        "interrupted one continues from its last epoch")
    g.add_argument("--quiet", action="store_true", help="no Keras progress bars")
    return p


def train_kwargs(args: argparse.Namespace, **overrides: Any) -> Dict[str, Any]:
    """Keyword arguments for ``la.training.one_step`` / ``two_step`` from the parsed flags."""
    kwargs = dict(
        data=args.dataset, model=args.model, width=args.width, epochs=args.epochs,
        batch_size=args.batch_size, max_steps_per_epoch=args.max_steps_per_epoch,
        strategy=args.strategy, pad_values=args.pad_values, seed=args.seed,
        image_size=args.image_size, data_dir=args.data_dir, resume=args.resume,
        verbose=0 if args.quiet else 1,
    )
    kwargs.update(overrides)
    return kwargs


def shared_teacher(args: argparse.Namespace) -> Optional[str]:
    """The teacher every run of a recipe distils from: None, a path, or ``"auto"`` resolved
    once by training a real-valued ResNet-18 in ``RUN_DIR/teacher_run`` (FP stage)."""
    if args.teacher in (None, "", "none"):
        return None
    if args.teacher != "auto":
        return args.teacher
    res = la.training.one_step(
        Path(args.run_dir) / "teacher_run",
        **train_kwargs(args, model="resnet18", stage="fp", analysis=False),
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


def run_main(main, argv: Optional[Sequence[str]] = None) -> None:
    """Entry point helper: ``sys.exit`` with main's return code."""
    sys.exit(main(argv) or 0)


def with_run_dir(args: argparse.Namespace, run_dir: Any) -> argparse.Namespace:
    """A copy of ``args`` whose ``run_dir`` is ``run_dir`` (for a recipe's sub-comparison)."""
    return argparse.Namespace(**{**vars(args), "run_dir": str(run_dir)})


# The paper's ImageNet hyperparameters (Sec. 4.1 and the authors' code; DESIGN.md).
IMAGENET = dict(dataset="imagenet2012", batch_size=256, learning_rate=1.25e-3, epochs=256,
                step1_weight_decay=5e-6, step2_weight_decay=0.0, image_size=224,
                teacher_model="resnet34")


def imagenet_main(argv: Optional[Sequence[str]], model: str, description: str) -> int:
    """The full two-step BABW ImageNet recipe for ``model`` (reactnet_a / strong_baseline)."""
    p = parser(description, run_dir=f"runs/{model}_imagenet", epochs=IMAGENET["epochs"],
               width=1.0, batch_size=IMAGENET["batch_size"], dataset=IMAGENET["dataset"],
               model=model, teacher="auto")
    p.set_defaults(image_size=IMAGENET["image_size"])
    g = p.add_argument_group("ImageNet two-step options (defaults: the paper's)")
    g.add_argument("--lr", type=float, default=IMAGENET["learning_rate"],
                   help="Adam's initial LR (1.25e-3 at batch 256; scale it with the batch)")
    g.add_argument("--order", choices=("babw", "bwba"), default="babw", help="two-step order")
    g.add_argument("--step1-weight-decay", type=float, default=IMAGENET["step1_weight_decay"])
    g.add_argument("--step2-weight-decay", type=float, default=IMAGENET["step2_weight_decay"])
    g.add_argument("--teacher-model", default=IMAGENET["teacher_model"],
                   help="architecture of the 'auto' teacher (the paper distils from a "
                        "pretrained ResNet-34: pass its saved Keras model with --teacher)")
    g.add_argument("--teacher-epochs", type=int, default=None,
                   help="epochs of the 'auto' teacher (default: --epochs)")
    g.add_argument("--exact-reference", action="store_true",
                   help="the released code's off-by-one linear decay (last epoch at LR 0)")
    args = p.parse_args(argv)
    res = la.training.two_step(
        args.run_dir, order=args.order, step1_weight_decay=args.step1_weight_decay,
        step2_weight_decay=args.step2_weight_decay,
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
