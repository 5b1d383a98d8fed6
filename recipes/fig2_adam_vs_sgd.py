"""Fig. 2 (with Fig. 3, 4, 5, 7): Adam vs SGD on a BNN and on its real-valued twin.

The paper: on the real network SGD generalizes better; on the BNN Adam wins, saturates
fewer activations (Fig. 3), trains its kernels more evenly (higher minimum CAM, lower SDAM,
Fig. 4-5) and ends with more confident latent weights (Fig. 7). One-step runs, SGD
momentum 0.9 at 0.1, Adam at 1e-3, no decay. The same from the command line:
``larq-adam experiment fig2 --real``.

    python recipes/fig2_adam_vs_sgd.py [RUN_DIR]
"""
import sys

from larq_adam.config import RunConfig
from larq_adam.experiments import paper


def main(run_dir: str = "runs/fig2_adam_vs_sgd", **changes) -> None:
    base = RunConfig(kind="one_step", data="mnist5k", model="strong_baseline", width=0.25,
                     epochs=3).replace(**changes)
    for stage, out in (("bnn", run_dir), ("fp", f"{run_dir}/real_valued")):
        runs = paper.fig2_adam_vs_sgd(out, base, stage=stage, resume=True)
        print(paper.compare(runs, out, kind="curves",
                            title=f"Fig. 2: Adam vs SGD ({stage.upper()})").read_text())


if __name__ == "__main__":
    main(*sys.argv[1:2])
