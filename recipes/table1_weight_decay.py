"""Table 1: FF ratio, C2I ratio and top-1 of Adam for several weight decays.

One-step BNN runs at weight decay 1e-5, 5e-6, 0 and -1e-4, and two-step BABW runs with
step 1 at 1e-5 or 5e-6 and step 2 at 0 (Sec. 3.3). The paper (ImageNet, StrongBaseline):
FF rises and C2I falls as decay grows; two-step breaks that trade-off. The same from the
command line: ``larq-adam experiment table1``.

    python recipes/table1_weight_decay.py [RUN_DIR]
"""
import sys

from larq_adam.config import RunConfig
from larq_adam.experiments import paper


def main(run_dir: str = "runs/table1_weight_decay", **changes) -> None:
    base = RunConfig(kind="one_step", data="mnist5k", model="reactnet_a", width=0.25,
                     epochs=2, learning_rate=1e-3).replace(**changes)
    runs = paper.table1_weight_decay(run_dir, base, resume=True)
    print(paper.compare(runs, run_dir, kind="weight_decay",
                        title="Table 1: weight decay, FF and C2I").read_text())


if __name__ == "__main__":
    main(*sys.argv[1:2])
