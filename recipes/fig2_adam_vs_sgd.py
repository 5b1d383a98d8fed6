"""Fig. 2 (with Fig. 3, 4, 5, 7): train / validation accuracy of Adam vs SGD on a BNN and,
with ``--real``, on its real-valued (FP-stage) twin. The paper: on the real network SGD
generalizes better; on the BNN Adam wins, saturates fewer activations (Fig. 3), trains its
kernels more evenly (higher minimum CAM, lower SDAM, Fig. 4-5) and ends with more confident
latent weights (Fig. 7). One-step runs, SGD momentum 0.9 at 0.1, Adam at 1e-3, no decay.

    python recipes/fig2_adam_vs_sgd.py               # mnist5k, StrongBaseline x0.25
"""
from typing import Optional, Sequence

import _common
import larq_adam as la

SETTINGS = {"adam": 1e-3, "sgd": 0.1}


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = _common.parser(__doc__, run_dir="runs/fig2_adam_vs_sgd", epochs=3, width=0.25,
                       model="strong_baseline")
    p.add_argument("--real", action="store_true",
                   help="also train the real-valued (FP-stage) network with both (Fig. 2a)")
    args = p.parse_args(argv)
    teacher = _common.shared_teacher(args)
    stages = ("bnn", "fp") if args.real else ("bnn",)
    for stage in stages:
        runs = {}
        for name, lr in SETTINGS.items():
            label = f"{stage} {name} lr={lr:g}"
            runs[label] = la.training.one_step(
                f"{args.run_dir}/{stage}_{name}", stage=stage, optimizer=name,
                weight_decay=0.0, **_common.train_kwargs(args, learning_rate=lr, teacher=teacher,
                                                         resume=_common.sub_run_resume(args)))
            _common.print_run(label, runs[label])
        out = args.run_dir if stage == "bnn" else f"{args.run_dir}/real_valued"
        _common.compare_and_print(runs, _common.with_run_dir(args, out), "curves",
                                  f"Fig. 2: Adam vs SGD ({stage.upper()} stage)")
    return 0


if __name__ == "__main__":
    _common.run_main(main)
