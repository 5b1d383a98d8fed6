"""Fig. 8: top-1 against the initial learning rate, Adam vs SGD (momentum 0.9), one-step
BNN, linear decay (Sec. 4.3.1). The paper: Adam is better and more robust across LRs and
prefers small ones.

    python recipes/fig8_lr_sweep.py                  # mnist5k, StrongBaseline x0.25
"""
from typing import Optional, Sequence

import _common
import larq_adam as la

LEARNING_RATES = {"adam": (1e-4, 1e-3, 1e-2), "sgd": (1e-2, 1e-1, 1.0)}


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = _common.parser(__doc__, run_dir="runs/fig8_lr_sweep", epochs=2, width=0.25,
                       model="strong_baseline")
    p.add_argument("--adam-lrs", type=_common.positive_float, nargs="+",
                   default=LEARNING_RATES["adam"],
                   help="initial learning rates of Adam")
    p.add_argument("--sgd-lrs", type=_common.positive_float, nargs="+",
                   default=LEARNING_RATES["sgd"],
                   help="initial learning rates of SGD")
    args = p.parse_args(argv)
    teacher = _common.shared_teacher(args)
    runs = {}
    for name, lrs in (("adam", args.adam_lrs), ("sgd", args.sgd_lrs)):
        for lr in lrs:
            label = f"{name} lr={lr:g}"
            runs[label] = la.training.one_step(
                f"{args.run_dir}/{name}_lr{lr:g}", optimizer=name, weight_decay=0.0,
                **_common.train_kwargs(args, learning_rate=lr, teacher=teacher,
                                       resume=_common.sub_run_resume(args)))
            _common.print_run(label, runs[label])
    _common.compare_and_print(runs, args, "lr_sweep", "Fig. 8: accuracy vs initial LR")
    return 0


if __name__ == "__main__":
    _common.run_main(main)
