"""Table 4: binarization order in two-step training, BABW (the paper's) vs BWBA.

BABW: step 1 binary activations and real weights (decay 5e-6), step 2 fully binary (decay
0). BWBA: step 1 binary weights and real activations, then the same step 2. The paper
(ImageNet, StrongBaseline): BABW 63.23 / 84.02 top-1 / top-5, BWBA 60.17 / 82.05. The same
from the command line: ``larq-adam experiment table4``.

    python recipes/table4_order.py [RUN_DIR]
"""
import sys

from larq_adam.config import RunConfig
from larq_adam.experiments import paper


def main(run_dir: str = "runs/table4_order", **changes) -> None:
    base = RunConfig(kind="two_step", data="mnist5k", model="strong_baseline", width=0.25,
                     epochs=2, learning_rate=1e-3).replace(**changes)
    runs = paper.table4_order(run_dir, base, resume=True)
    print(paper.compare(runs, run_dir, kind="order",
                        title="Table 4: binarization order").read_text())


if __name__ == "__main__":
    main(*sys.argv[1:2])
