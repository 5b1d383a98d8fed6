"""Fig. 8: top-1 against the initial learning rate, Adam vs SGD (momentum 0.9), one-step
BNN, linear decay (Sec. 4.3.1). The paper: Adam is better and more robust across learning
rates and prefers small ones. The same from the command line: ``larq-adam experiment fig8``.

    python recipes/fig8_lr_sweep.py [RUN_DIR]
"""
import sys

from larq_adam.config import RunConfig
from larq_adam.experiments import paper


def main(run_dir: str = "runs/fig8_lr_sweep", **changes) -> None:
    base = RunConfig(kind="one_step", data="mnist5k", model="strong_baseline", width=0.25,
                     epochs=2).replace(**changes)
    runs = paper.fig8_lr_sweep(run_dir, base, resume=True)
    print(paper.compare(runs, run_dir, kind="lr_sweep",
                        title="Fig. 8: accuracy vs initial LR").read_text())


if __name__ == "__main__":
    main(*sys.argv[1:2])
