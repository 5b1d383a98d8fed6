"""Table 4: binarization order in two-step training, BABW (the paper's) vs BWBA.

BABW: step 1 binary activations and real weights (decay 5e-6), step 2 fully binary (decay
0). BWBA: step 1 binary weights and real activations, then the same step 2. The paper
(ImageNet, StrongBaseline): BABW 63.23 / 84.02 top-1 / top-5, BWBA 60.17 / 82.05.

    python recipes/table4_order.py                   # mnist5k, StrongBaseline x0.25
"""
from typing import Optional, Sequence

import _common
import larq_adam as la


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = _common.parser(__doc__, run_dir="runs/table4_order", epochs=2, width=0.25,
                       model="strong_baseline")
    p.add_argument("--lr", type=_common.positive_float, default=1e-3,
                   help="Adam's initial learning rate")
    args = p.parse_args(argv)
    kw = _common.train_kwargs(args, learning_rate=args.lr, teacher=_common.shared_teacher(args),
                              resume=_common.sub_run_resume(args))
    runs = {}
    for order, label in (("babw", "BABW (activations first)"), ("bwba", "BWBA (weights first)")):
        runs[label] = la.training.two_step(f"{args.run_dir}/{order}", order=order,
                                           step1_weight_decay=5e-6, step2_weight_decay=0.0,
                                           **kw)
        _common.print_run(order, runs[label])
    _common.compare_and_print(runs, args, "order", "Table 4: binarization order")
    return 0


if __name__ == "__main__":
    _common.run_main(main)
