"""The paper's directional claims as a scoreboard: arms x seeds, a one-sided test per
claim and a verdict (reproduced / contradicted / inconclusive at this budget).

Fig. 2 (Adam vs SGD on a BNN and its real twin), Figs. 3-5 (saturation, CAM, SDAM, update
CAM), Table 1 (FF and C2I against weight decay; two-step vs one-step), Table 4 (BABW vs
BWBA), Fig. 7 (latent weights beyond +-1). The default scale (ReActNet-A x0.125 on
mnist5k, 40 epochs of 16 batches, 3 seeds) takes ~80 minutes on 2 CPU cores; ``quick``
checks the machinery in a few minutes. The same from the command line:
``larq-adam experiment claims``.

    python recipes/claims.py [RUN_DIR] [--quick]
"""
import sys

import larq_adam as la


def main(run_dir: str = "runs/claims", quick: bool = False, seeds: int = 3) -> None:
    board = la.experiments.claims.run(run_dir, seeds=2 if quick else seeds, quick=quick,
                                      resume=True)
    for claim in board.claims:
        print(f"{claim.key:>7} {claim.claimed:<48} p={claim.test.p_value:.3g} "
              f"-> {claim.test.verdict}")
    print(f"see {run_dir}/scoreboard.md")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--quick"]
    main(*args[:1], quick="--quick" in sys.argv[1:])
