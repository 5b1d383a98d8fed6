"""Table 1: FF ratio, C2I ratio and top-1 of Adam for several weight decays.

One-step BNN runs at weight decay 1e-5, 5e-6, 0 and -1e-4, and two-step BABW runs with
step 1 at 1e-5 or 5e-6 and step 2 at 0 (Sec. 3.3). The paper (ImageNet, StrongBaseline):
FF rises and C2I falls as decay grows; two-step breaks that trade-off.

    python recipes/table1_weight_decay.py            # mnist5k, ReActNet-A x0.25
"""
from typing import Optional, Sequence

import _common
import larq_adam as la

ONE_STEP_DECAYS = (1e-5, 5e-6, 0.0, -1e-4)
TWO_STEP_DECAYS = ((1e-5, 0.0), (5e-6, 0.0))


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = _common.parser(__doc__, run_dir="runs/table1_weight_decay", epochs=2, width=0.25)
    p.add_argument("--lr", type=_common.positive_float, default=1e-3,
                   help="Adam's initial learning rate")
    args = p.parse_args(argv)
    teacher = _common.shared_teacher(args)
    kw = _common.train_kwargs(args, learning_rate=args.lr, teacher=teacher,
                              resume=_common.sub_run_resume(args))
    runs = {}
    for wd in ONE_STEP_DECAYS:
        label = f"one-step {wd:g}"
        runs[label] = la.training.one_step(f"{args.run_dir}/one_step_wd{wd:g}", weight_decay=wd,
                                           **kw)
        _common.print_run(label, runs[label])
    for wd1, wd2 in TWO_STEP_DECAYS:
        label = f"two-step {wd1:g} / {wd2:g}"
        runs[label] = la.training.two_step(f"{args.run_dir}/two_step_wd{wd1:g}_{wd2:g}",
                                           step1_weight_decay=wd1, step2_weight_decay=wd2, **kw)
        _common.print_run(label, runs[label])
    _common.compare_and_print(runs, args, "weight_decay", "Table 1: weight decay, FF and C2I")
    return 0


if __name__ == "__main__":
    _common.run_main(main)
