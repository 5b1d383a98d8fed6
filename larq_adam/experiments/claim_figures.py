"""One figure per claim of the scoreboard (:mod:`larq_adam.experiments.claims`): every
seed's value as a point, each arm's mean as a bar with its standard deviation, and the
test and verdict in the title. The weight-decay trend (Table 1, claims d-ff / d-c2i) puts
the decay on the x axis. Matplotlib ``Figure`` objects, no pyplot state and no display needed.
"""
import math
from pathlib import Path
from typing import Any, Dict

import numpy as np

__all__ = ["claim_figure", "write_figures"]

VERDICT_COLOURS = {"reproduced": "tab:green", "contradicted": "tab:red"}


def _title(claim: Any) -> str:
    t = claim.test
    p = "nan" if not math.isfinite(t.p_value) else f"{t.p_value:.3g}"
    return (f"[{claim.key}] {claim.claimed} ({claim.source})\n"
            f"{t.test}: p = {p} -> {t.verdict}")


def claim_figure(claim: Any, path: Path) -> Path:
    """The figure of one :class:`~larq_adam.experiments.claims.ClaimResult` at ``path``
    (PNG): points per seed, mean +- std per arm."""
    from matplotlib.figure import Figure

    from larq_adam.report.figures import save_figure

    fig = Figure(figsize=(6.4, 4.0))
    ax = fig.subplots()
    trend = bool(claim.x)
    positions = list(range(len(claim.values)))
    rng = np.random.default_rng(0)
    for pos, values, mean, std in zip(positions, claim.values, claim.means, claim.stds):
        jitter = rng.uniform(-0.08, 0.08, size=len(values))
        ax.scatter(pos + jitter, values, s=22, color="tab:blue", alpha=0.7, zorder=3,
                   label="one seed" if pos == 0 else None)
        ax.errorbar([pos], [mean], yerr=[0 if not math.isfinite(std) else std], fmt="_",
                    markersize=26, color="black", capsize=5, zorder=4,
                    label="mean +- std" if pos == 0 else None)
    if trend:
        ax.plot(positions, claim.means, color="grey", linestyle=":", zorder=2)
        ticks = [f"paper {x:g}" for x in claim.x]
        ax.set_xlabel("weight decay (the paper's value; trained at the scaled value)")
    else:
        ticks = claim.labels
    ax.set_xticks(positions)
    ax.set_xticklabels(ticks, fontsize=8)
    ax.set_xlim(-0.6, len(positions) - 0.4)
    ax.set_ylabel(claim.metric)
    ax.set_title(_title(claim), fontsize=9,
                 color=VERDICT_COLOURS.get(claim.test.verdict, "black"))
    ax.legend(fontsize=7, loc="best")
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return save_figure(fig, path)  # atomic, folders created


def write_figures(board: Any, folder: Path) -> Dict[str, Path]:
    """Every claim's figure in ``folder`` as ``claim_KEY.png``; returns key -> path."""
    out: Dict[str, Path] = {}
    for claim in board.claims:
        out[claim.key] = claim_figure(claim, Path(folder) / f"claim_{claim.key}.png")
    return out
