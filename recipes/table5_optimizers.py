"""Table 5: Adam against other adaptive optimizers, one-step, at their default learning
rates (PyTorch's: Adam 1e-3, RMSprop 1e-2, AdaGrad 1e-2, AdaDelta 1.0, AMSGrad 1e-3,
AdaBound 1e-3 -> 0.1) and no weight decay (Sec. 4.3.3).

    python recipes/table5_optimizers.py              # mnist5k, StrongBaseline x0.25
"""
from typing import Optional, Sequence

import _common
import larq_adam as la

OPTIMIZERS = ("adam", "rmsprop", "adagrad", "adadelta", "amsgrad", "adabound")


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = _common.parser(__doc__, run_dir="runs/table5_optimizers", epochs=2, width=0.25,
                       model="strong_baseline")
    p.add_argument("--optimizers", nargs="+", default=list(OPTIMIZERS), choices=OPTIMIZERS,
                   help="which optimizers to compare")
    args = p.parse_args(argv)
    kw = _common.train_kwargs(args, learning_rate=None, teacher=_common.shared_teacher(args),
                              resume=_common.sub_run_resume(args))
    runs = {}
    for name in args.optimizers:
        runs[name] = la.training.one_step(f"{args.run_dir}/{name}", optimizer=name,
                                          weight_decay=0.0, **kw)
        _common.print_run(name, runs[name])
    _common.compare_and_print(runs, args, "optimizer", "Table 5: adaptive optimizers")
    return 0


if __name__ == "__main__":
    _common.run_main(main)
