"""Fig. 6 (Sec. 3.2.3): why Adam leaves the flat regions that stop SGD, on a toy network
of two sign nodes (numpy; see :mod:`larq_adam.experiments.toy`). The same from the
command line: ``larq-adam experiment fig6``.

    python recipes/fig6_toy_landscape.py [RUN_DIR]
"""
import sys

from larq_adam.experiments import toy


def main(run_dir: str = "runs/fig6_toy_landscape") -> None:
    print(toy.run(run_dir, steps=80, sgd_lr=0.05, adam_lr=0.05).read_text())


if __name__ == "__main__":
    main(*sys.argv[1:2])
