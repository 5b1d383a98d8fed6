"""Several runs in one report: the comparison tables and overlaid figures.

:func:`compare` writes ``OUT/report.md`` and ``OUT/figures/compare_*.png`` for the
comparison experiments: Table 1 (weight decay), Table 4 (order), Table 5 (optimizer),
Fig. 2 (accuracy curves) and Fig. 8 (learning-rate sweep).
"""
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple

import numpy as np

from larq_adam.atomic import atomic_write_text
from larq_adam.errors import UserInputError
from larq_adam.report import series
from larq_adam.formats import finite
from larq_adam.report.figures import (accuracy_figure, activation_figure, cam_figure,
                                      ff_figure, lr_sweep_figure, update_cam_figure,
                                      weight_figure)
from larq_adam.report.read import PathLike, RunData, StepData, load_run
from larq_adam.report.sections import FigureSections
from larq_adam.report.tables import COMPARE_KINDS, comparison_table

__all__ = ["compare", "lr_points"]


def lr_points(runs: Mapping[str, RunData]) -> Dict[str, List[Tuple[float, float]]]:
    """Fig. 8's points ``{optimizer: [(initial learning rate, test top-1), ...]}``; raises
    :class:`~larq_adam.errors.UserInputError` when a run left the learning rate to the
    optimizer's default."""
    points: Dict[str, List[Tuple[float, float]]] = {}
    for label, run in runs.items():
        lr = run.last.setting("learning_rate")
        if not finite(lr):
            raise UserInputError(f"run {label!r} has no explicit learning_rate in result.json; "
                                 "the LR sweep needs runs trained with an explicit "
                                 "learning_rate")
        top1 = run.last.measured("test_accuracy")
        points.setdefault(str(run.last.setting("optimizer", label)), []).append(
            (float(lr), float(top1) if finite(top1) else float("nan")))
    return points


def _compare_curves(runs: Mapping[str, RunData], out: FigureSections) -> None:
    """Accuracy (Fig. 2) and FF ratio (Eq. 4-5) per epoch, runs overlaid end to end."""
    curves = {k: series.run_curve(r) for k, r in runs.items()}
    if any(len(c["train"]) or len(c["val"]) for c in curves.values()):
        out.emit("compare_accuracy", "Accuracy curves (Fig. 2)", "",
                 accuracy_figure(curves, overlay=True))
    ff = {k: series.run_ff(r) for k, r in runs.items()}
    ff = {k: v for k, v in ff.items() if v[1].size}
    if ff:
        out.emit("compare_ff_ratio", "FF ratio per epoch", "", ff_figure(ff))


def _last_epochs(lasts: Mapping[str, StepData], kind: str) -> Dict[str, int]:
    return {k: series.epochs(s, kind)[-1] for k, s in lasts.items() if series.epochs(s, kind)}


def _compare_cams(lasts: Mapping[str, StepData], out: FigureSections) -> None:
    """Fig. 4 (the first run's minimum CAM as every panel's line) and Fig. 5."""
    ends = _last_epochs(lasts, "cam")
    if not ends:
        return
    cams = {k: series.cam_panel(lasts[k], e) for k, e in ends.items()}
    ref = float(np.min(next(iter(cams.values()))["cam"]))
    out.emit("compare_cam", "CAM per kernel, last epoch (Fig. 4)", "",
             cam_figure(cams, reference_min=ref))
    upd = {k: u for k, e in ends.items() if (u := series.update_cam(lasts[k], e)) is not None}
    if upd:
        out.emit("compare_update_cam", "Update CAM, last epoch (Fig. 5)", "",
                 update_cam_figure(upd))


def _compare_last_steps(lasts: Mapping[str, StepData], out: FigureSections) -> None:
    """Fig. 7, 3, 4 and 5 of each run's last step at its last epoch."""
    weights = {k: series.weights_hist(lasts[k], e)
               for k, e in _last_epochs(lasts, "weights").items()}
    if weights:
        out.emit("compare_weights", "Latent weight distribution (Fig. 7)", "",
                 weight_figure(weights, overlay=True))
    sat = {k: series.saturation_hist(lasts[k], e)
           for k, e in _last_epochs(lasts, "saturation").items()}
    if sat:
        out.emit("compare_activations", "Activation saturation, last epoch (Fig. 3)", "",
                 activation_figure(sat))
    _compare_cams(lasts, out)


def compare(run_dirs: Mapping[str, PathLike], out_dir: PathLike, *, kind: str = "curves",
            title: Optional[str] = None) -> Path:
    """Put several runs in one set of figures and one table; returns ``out_dir/report.md``.

    Figures (``out_dir/figures/compare_*.png``): accuracy curves overlaid (Fig. 2; two-step
    runs end to end with the step boundary dotted), FF ratio per epoch, latent-weight
    histograms of each run's last step overlaid (Fig. 7), and, when recorded, the last
    step's activation distribution (Fig. 3), CAM (Fig. 4, the first run's minimum as the
    line) and update CAM (Fig. 5) per run; ``kind="lr_sweep"`` adds Fig. 8.

    Args:
        run_dirs: ``{label: run folder}`` in the order to show.
        out_dir: where ``report.md`` and ``figures/`` go (created).
        kind: the table: ``"weight_decay"`` (Table 1: weight decay | FF ratio | C2I ratio |
            top-1), ``"order"`` (Table 4: order | top-1 | top-5), ``"optimizer"`` (Table 5),
            ``"lr_sweep"`` (Fig. 8's numbers) or ``"curves"`` (final train / val / test).
        title: heading of the report.
    """
    if kind not in COMPARE_KINDS:
        raise UserInputError(f"unknown comparison kind {kind!r}; valid kinds: {COMPARE_KINDS}")
    if not run_dirs:
        raise UserInputError("compare needs at least one run: pass {label: run_dir}")
    runs = {label: load_run(d) for label, d in run_dirs.items()}
    out = Path(out_dir)
    table = comparison_table(kind, runs)
    sections = FigureSections(out / "figures")
    if kind == "lr_sweep":
        sections.emit("compare_lr_sweep", "Accuracy vs initial learning rate (Fig. 8)", "",
                      lr_sweep_figure(lr_points(runs)))
    _compare_curves(runs, sections)
    _compare_last_steps({k: r.last for k, r in runs.items()}, sections)
    runs_list = "".join(f"- {k}: `{r.dir}`\n" for k, r in runs.items())
    out.mkdir(parents=True, exist_ok=True)
    md = out / "report.md"
    atomic_write_text(md, "\n".join([f"# {title or 'Comparison'}\n", f"Runs:\n\n{runs_list}",
                                     "## Table\n", table, *sections.blocks]))
    return md
