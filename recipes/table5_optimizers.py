"""Table 5: Adam against other adaptive optimizers, one-step BNN, at PyTorch's default
learning rates (Adam 1e-3, RMSprop 1e-2, AdaGrad 1e-2, AdaDelta 1.0, AMSGrad 1e-3,
AdaBound 1e-3 -> 0.1) and no weight decay (Sec. 4.3.3). The same from the command line:
``larq-adam experiment table5``.

    python recipes/table5_optimizers.py [RUN_DIR]
"""
import sys

from larq_adam.config import RunConfig
from larq_adam.experiments import paper


def main(run_dir: str = "runs/table5_optimizers", **changes) -> None:
    base = RunConfig(kind="one_step", data="mnist5k", model="strong_baseline", width=0.25,
                     epochs=2).replace(**changes)
    runs = paper.table5_optimizers(run_dir, base, resume=True)
    print(paper.compare(runs, run_dir, kind="optimizer",
                        title="Table 5: adaptive optimizers").read_text())


if __name__ == "__main__":
    main(*sys.argv[1:2])
