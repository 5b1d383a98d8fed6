"""The main job: the paper's two-step BABW training of a BNN with Adam, then LCE export.

    python recipes/two_step.py            # mnist5k, ReActNet-A x0.25, ~10 min on 2 CPU cores

1. a real-valued teacher (ResNet-18 at the student's width) is trained on the labels;
2. step 1 (BA: binary activations, real weights), Adam, weight decay 5e-6, distilled from
   the teacher (Sec. 3.3.3);
3. step 2 (BNN: binary weights too) starts from step 1's weights, weight decay 0, distilled;
4. the final BNN is converted to Larq Compute Engine and checked against Keras
   (recipes/export.py: verify, binary-op report, benchmark);
5. RUN_DIR/report.md with the accuracy, saturation, CAM, update CAM, weight-distribution
   and FF figures (larq_adam.report.make_report).

On ImageNet use recipes/reactnet_a_imagenet.py (the paper's hyperparameters).
"""
import argparse
from pathlib import Path
from typing import Optional, Sequence

import _common
import larq_adam as la

# Defaults sized for mnist5k on a 2-core CPU (about 10 minutes in all, export included).
DATASET = "mnist5k"
MODEL = "reactnet_a"
WIDTH = 0.25          # ReActNet-A channels x0.25 (8 ... 256 channels)
EPOCHS = 3            # per step; the teacher trains as long
BATCH_SIZE = 64
LEARNING_RATE = 1e-3  # Adam's default; the paper: 1.25e-3 at batch 256 on ImageNet
STEP1_WEIGHT_DECAY = 5e-6
STEP2_WEIGHT_DECAY = 0.0
RUN_DIR = "runs/two_step"


def build_parser() -> argparse.ArgumentParser:
    p = _common.parser(__doc__, run_dir=RUN_DIR, epochs=EPOCHS, width=WIDTH,
                       batch_size=BATCH_SIZE, dataset=DATASET, model=MODEL, teacher="auto")
    for action in p._actions:  # this recipe's reasons for its defaults
        if action.dest == "teacher":
            action.help = ("'auto': train a real-valued ResNet-18 teacher here first (at "
                           "--width, for --teacher-epochs); 'none': no distillation "
                           "(cross-entropy on the labels); or the path of a saved Keras model")
    g = p.add_argument_group("two-step options")
    g.add_argument("--order", choices=("babw", "bwba"), default="babw",
                   help="babw: step 1 binarizes activations (the paper's); bwba: step 1 "
                        "binarizes weights (Table 4's alternative)")
    g.add_argument("--lr", type=_common.positive_float, default=LEARNING_RATE,
                   help="initial learning rate of every step (linear decay to 0 per step)")
    g.add_argument("--optimizer", default="adam",
                   help="optimizer of both steps (adam, sgd, rmsprop, adagrad, adadelta, "
                        "amsgrad, adabound)")
    g.add_argument("--step1-weight-decay", type=_common.finite_float, default=STEP1_WEIGHT_DECAY,
                   help="coupled L2 on the latent weights in step 1 (paper: 5e-6)")
    g.add_argument("--step2-weight-decay", type=_common.finite_float, default=STEP2_WEIGHT_DECAY,
                   help="coupled L2 on the latent weights in step 2 (paper: 0)")
    g.add_argument("--step2-init", choices=("best", "final"), default="best",
                   help="step 2 starts from step 1's best-validation weights (as the "
                        "reference's step-2 script) or from its final ones")
    g.add_argument("--teacher-epochs", type=_common.positive_int, default=None,
                   help="epochs of the 'auto' teacher (default: --epochs)")
    g.add_argument("--no-export", action="store_true",
                   help="skip the LCE conversion, verification and benchmark")
    g.add_argument("--bench-runs", type=_common.positive_int, default=10,
                   help="timed inferences per benchmark in the export check")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    run = Path(args.run_dir)
    res = la.training.two_step(
        run, order=args.order, optimizer=args.optimizer,
        step1_weight_decay=args.step1_weight_decay,
        step2_weight_decay=args.step2_weight_decay, init=args.step2_init,
        teacher=None if args.teacher == "none" else args.teacher,
        teacher_epochs=args.teacher_epochs,
        **_common.train_kwargs(args, learning_rate=args.lr),
    )
    status = 0
    if not args.no_export:
        import export as export_recipe  # recipes/export.py

        export_argv = [res.final_model_path, "--dataset", args.dataset,
                       "--runs", str(args.bench_runs)]
        status = export_recipe.main(export_argv)
    report = la.report.make_report(run)

    print("\nsummary:")
    _common.print_run(run.name, res)
    if not args.no_export:
        print(f"{'':>16} export   LCE check {'PASSED' if status == 0 else 'FAILED'} "
              f"(see the Export section of {report})")
    files = [run / "config.json", res.final_model_path, report,
             *sorted((run / "figures").glob("*.png")),
             *[p for p in (run / "model.tflite", run / "model_float.tflite") if p.exists()]]
    _common.print_paths(files)
    return status


if __name__ == "__main__":
    _common.run_main(main)
