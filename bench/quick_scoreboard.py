"""Wall time of the claims scoreboard's quick mode for the two BNN arms, the command a
user runs to check the machinery:

    larq-adam experiment claims --quick --seeds 2 --only b-cam b-sdam b-upd c g

(4 runs: BNN Adam and BNN SGD, 2 seeds, 1 epoch of 2 batches each, then the scoreboard and
its figures), each time in a fresh process and a fresh folder.

    python bench/quick_scoreboard.py                       # this checkout, 2 rounds
    python bench/quick_scoreboard.py --baseline 7703782 \\
        --baseline-env PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python --rounds 2

``--baseline REF`` alternates with a worktree of commit ``REF`` (``bench/baseline_tree.py``)
and prints each round's ratio; the target is under 2 minutes.
"""
import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent))
from baseline_tree import add_baseline_arguments, baseline_env, baseline_tree  # noqa: E402

COMMAND = ["experiment", "claims", "--quick", "--seeds", "2",
           "--only", "b-cam", "b-sdam", "b-upd", "c", "g"]


def timed_run(env: Dict[str, str]) -> float:
    """Seconds of the quick scoreboard in a fresh process (``python -m larq_adam``)."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "larq_adam", *COMMAND, "--run-dir",
                        str(Path(tmp) / "claims")], check=True, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - start


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    add_baseline_arguments(parser)
    args = parser.parse_args(argv)
    print("larq-adam " + " ".join(COMMAND), flush=True)
    walls: Dict[str, List[float]] = {"baseline": [], "now": []}
    with (baseline_tree(args.baseline) if args.baseline else contextlib.nullcontext()) as tree:
        variants = {"now": dict(os.environ)}
        if tree is not None:
            variants = {"baseline": baseline_env(tree, args.baseline_env), **variants}
        for r in range(1, args.rounds + 1):
            for name, env in variants.items():
                walls[name].append(timed_run(env))
                print(f"round {r} {name:<8}: {walls[name][-1]:6.1f} s", flush=True)
            if tree is not None:
                print(f"round {r}: now / baseline = "
                      f"{walls['now'][-1] / walls['baseline'][-1]:.3f}", flush=True)
    print(f"slowest now: {max(walls['now']):.1f} s (target: under 120 s)")
    if walls["baseline"]:
        ratios = [a / b for a, b in zip(walls["now"], walls["baseline"])]
        print(f"largest now / baseline over {args.rounds} rounds: {max(ratios):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
