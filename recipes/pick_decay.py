"""Pick a weight decay by the paper's FF / C2I rule (Sec. 3.3, Table 1): short one-step
BNN trials of each candidate from the same initial weights; a candidate must keep enough
sign flips against its initialisation (C2I) and few enough flip-flops (FF) relative to
decay 0, and the largest such decay is picked. The same from the command line:
``larq-adam pick-decay``.

    python recipes/pick_decay.py [RUN_DIR]
"""
import sys

import larq_adam as la


def main(run_dir: str = "runs/pick_decay", **changes) -> None:
    options = dict(candidates=(1e-5, 5e-6, 1e-6, 0.0), epochs=3, width=0.125, seed=0)
    pick = la.experiments.pick_decay.run(run_dir, **{**options, **changes})
    print(f"picked weight decay: {pick.picked:g} (see {run_dir}/pick.md)")


if __name__ == "__main__":
    main(*sys.argv[1:2])
