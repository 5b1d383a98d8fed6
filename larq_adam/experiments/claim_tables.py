"""The claims scoreboard as markdown: the setting, the claims table (arms' mean +- std,
effect with its 95% CI, Cohen's d, p-values, verdict) and the per-arm time table; its
figures are :mod:`.claim_figures`."""
from typing import Mapping, Optional

from larq_adam.experiments import stats
from larq_adam.experiments.claim_definitions import METRICS
from larq_adam.experiments.scoreboard import ClaimResult, Scoreboard
from larq_adam.formats import number

__all__ = ["markdown", "time_table"]


def markdown(board: Scoreboard, figures: Optional[Mapping[str, str]] = None) -> str:
    """The scoreboard as markdown: setting, claims table (``figures``: claim key -> figure
    path relative to the markdown file), per-arm time."""
    return "\n\n".join([_setting_markdown(board), _claims_table(board, figures or {}),
                         time_table(board)]) + "\n"


def _cell(text: str) -> str:
    """Text for a markdown table cell (a literal ``|``, as in ``|a| > 1``, escaped)."""
    return text.replace("|", "\\|")


def _setting_markdown(board: Scoreboard) -> str:
    s = board.setting
    scaled = ", ".join(f"{d:g} -> {s.decay(d):.3g}" for d in sorted(s.decays) if d)
    return (f"# The paper's claims: scoreboard\n\n"
            f"{s.model} x{s.width:g} on {s.data}, batch {s.batch_size}, {s.epochs} epoch(s) of "
            f"{s.max_steps_per_epoch} batches ({s.iterations} iterations per step), Adam "
            f"{s.adam_lr:g}, SGD (momentum 0.9) {s.sgd_lr:g}, linear LR decay, no teacher; "
            f"seeds {', '.join(map(str, board.seeds))}. Weight decay scaled by "
            f"lr*wd*T = the paper's (1.25e-3 x 256 ImageNet epochs of 5,005 iterations): "
            f"{scaled}. Verdict: reproduced if p < {stats.ALPHA} in the claimed direction, "
            f"contradicted if p < {stats.ALPHA} against it, else inconclusive at this budget.")


def _arm_cell(claim: ClaimResult) -> str:
    parts = []
    for label, mean, std, v in zip(claim.labels, claim.means, claim.stds, claim.values):
        parts.append(f"{label}: {number(mean)} +- {number(std, '.2g')} (n={len(v)})")
    return "<br>".join(parts)


def _claims_table(board: Scoreboard, figures: Mapping[str, str]) -> str:
    head = ("| claim | source | metric | arms: mean +- std | effect [95% CI] | Cohen's d | "
            "test | p | p (opposite) | verdict |\n|" + "---|" * 10)
    rows = []
    for c in board.claims:
        t = c.test
        name = f"[{c.key}]({figures[c.key]})" if c.key in figures else c.key
        rows.append(
            f"| {name}: {_cell(c.claimed)} | {c.source} | {_cell(METRICS[c.metric])} | "
            f"{_arm_cell(c)} | "
            f"{t.effect_name} {number(t.effect)} [{number(t.ci_low)}, {number(t.ci_high)}] | "
            f"{number(t.cohen_d, '.3g')} | {t.test} | {number(t.p_value, '.3g')} | "
            f"{number(t.p_opposite, '.3g')} | **{t.verdict}** |")
    return "## Claims\n\n" + "\n".join([head, *rows])


def time_table(board: Scoreboard) -> str:
    rows = ["| arm | runs | training s per run (mean) | training s (total) |",
            "|---|---|---|---|"]
    for arm in board.arms.values():
        total = float(sum(arm.seconds))
        rows.append(f"| {arm.label} (`{arm.key}`) | {len(arm.seconds)} | "
                    f"{number(total / max(len(arm.seconds), 1), '.0f')} | {total:.0f} |")
    trained = sum(sum(a.seconds) for a in board.arms.values())
    return (f"## Time\n\nTraining time recorded in the runs: {trained:.0f} s; wall time of "
            f"the call that wrote this file: {board.wall_seconds:.0f} s.\n\n"
            + "\n".join(rows))
