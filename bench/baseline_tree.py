"""A git worktree of an earlier commit, run side by side with this checkout.

Benches that compare today's code with an earlier commit (``bench/phases.py --baseline``,
``bench/quick_scoreboard.py --baseline``) run the earlier commit from a detached worktree
with its package first on ``PYTHONPATH`` and the same installed libraries, in fresh
processes alternating with this checkout's.
"""
import argparse
import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Dict, Iterator, Sequence

REPO = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def baseline_tree(ref: str) -> Iterator[Path]:
    """A detached worktree of ``ref``, removed afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix="larq_adam_baseline_"))
    tree = tmp / "tree"
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), ref],
                   check=True, stdout=subprocess.DEVNULL)
    try:
        yield tree
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)],
                       check=False, stdout=subprocess.DEVNULL)
        shutil.rmtree(tmp, ignore_errors=True)


def baseline_env(tree: Path, assignments: Sequence[str]) -> Dict[str, str]:
    """The environment of the baseline's processes: ``tree`` first on ``PYTHONPATH`` (so
    ``import larq_adam`` finds the worktree's package, not this checkout's) and the
    ``K=V`` ``assignments``."""
    bad = [a for a in assignments if "=" not in a or a.startswith("=")]
    if bad:
        raise SystemExit(f"--baseline-env takes K=V, got {bad[0]!r}")
    return {**os.environ, **dict(a.split("=", 1) for a in assignments),
            "PYTHONPATH": str(tree)}


def add_baseline_arguments(parser: argparse.ArgumentParser) -> None:
    """``--baseline REF`` and ``--baseline-env K=V`` (repeatable) on ``parser``."""
    parser.add_argument("--baseline", default=None, metavar="REF",
                        help="alternate with a git worktree of commit REF in fresh processes")
    parser.add_argument("--baseline-env", action="append", default=[], metavar="K=V",
                        help="an environment variable for the baseline's processes only")
