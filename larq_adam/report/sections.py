"""The figure sections of a report: each figure saved as a PNG and its markdown block kept.

:class:`FigureSections` collects the blocks in order and the figures that could not be drawn
(``missing``); the ``*_section`` functions add one run's Fig. 2, 3, 4, 5, 7 and its FF ratio.
"""
from pathlib import Path
from typing import Dict, List

from matplotlib.figure import Figure

from larq_adam.report import series
from larq_adam.report.figures import (accuracy_figure, activation_figure, cam_figure,
                                      ff_figure, save_figure, update_cam_figure, weight_figure)
from larq_adam.report.read import RunData, StepData
from larq_adam.report.top1 import epoch_of, validation_name

__all__ = ["FigureSections", "figure_block", "accuracy_section", "activation_section",
           "cam_sections", "weight_section", "ff_section", "RUN_SECTIONS"]


def figure_block(title: str, rel: str, caption: str) -> str:
    """A ``## title`` section showing the image at ``rel`` with its caption."""
    return f"## {title}\n\n![{title}]({rel})\n" + (f"\n{caption}\n" if caption else "")


class FigureSections:
    """The figure sections of one report: each figure saved to ``figdir`` and its markdown
    block kept in order; what could not be drawn listed in ``missing``."""

    def __init__(self, figdir: Path):
        self.figdir = figdir
        self.blocks: List[str] = []
        self.missing: List[str] = []

    def emit(self, name: str, title: str, caption: str, fig: Figure) -> None:
        """Save ``fig`` as ``figures/<name>.png`` and add its section."""
        save_figure(fig, self.figdir / f"{name}.png")
        self.blocks.append(figure_block(title, f"figures/{name}.png", caption))


def _label(step: StepData, epoch: int) -> str:
    """A panel's label for a record of 0-based ``epoch``: ``"step1 epoch 3 of 3"``."""
    return f"{step.name} {epoch_of(step, epoch + 1)}"


def accuracy_section(run: RunData, out: FigureSections) -> None:
    """Fig. 2: train / validation top-1 per epoch of the teacher and each step."""
    curves = {s.name: {"epoch": s.column("accuracy")[0], "train": s.column("accuracy")[1],
                       "val": s.column("val_accuracy")[1]}
              for s in run.all_steps() if s.history}
    if not curves:
        out.missing.append("accuracy curves (no history.csv)")
        return
    out.emit("accuracy", "Accuracy (Fig. 2)",
             "Top-1 accuracy per epoch (counted from 1) on the train split (dashed) and "
             f"{validation_name(run)} (solid).",
             accuracy_figure(curves))


def activation_section(run: RunData, out: FigureSections) -> None:
    """Fig. 3: the first binary activation's inputs, first and last epoch of each step."""
    hists: Dict[str, dict] = {}
    for s in run.steps:
        ep = series.epochs(s, "saturation")
        for e in dict.fromkeys([ep[0], ep[-1]] if ep else []):
            hists[_label(s, e)] = series.saturation_hist(s, e)
    if not hists:
        out.missing.append("activation distribution (no saturation records)")
        return
    layer = series.first_layer(run.steps[-1], "saturation")
    out.emit("activations", "Activation saturation (Fig. 3)",
             f"Inputs of the first binary activation (`{layer}`) on a fixed probe batch; "
             "dotted lines at -1 and +1; the title gives the share beyond them.",
             activation_figure(hists))


def cam_sections(run: RunData, out: FigureSections) -> None:
    """Fig. 4 (CAM per kernel, Eq. 3) and Fig. 5 (update CAM): each step's last epoch."""
    last = {s.name: series.epochs(s, "cam")[-1] for s in run.steps if series.epochs(s, "cam")}
    if not last:
        out.missing.append("CAM and update CAM (no cam records)")
        return
    steps = {s.name: s for s in run.steps}
    cams = {_label(steps[n], e): series.cam_panel(steps[n], e) for n, e in last.items()}
    layer = series.first_layer(run.steps[-1], "cam")
    out.emit("cam", "Channel-wise absolute mean (Fig. 4)",
             f"Latent weights of the first binary layer (`{layer}`) per kernel; red: their "
             "CAM (Eq. 3); dotted: the minimum CAM of the panel.", cam_figure(cams))
    updates = {_label(steps[n], e): u for n, e in last.items()
               if (u := series.update_cam(steps[n], e)) is not None}
    if not updates:
        out.missing.append("update CAM (no update recorded)")
        return
    out.emit("update_cam", "Update CAM (Fig. 5)",
             "CAM of one iteration's update (the epoch's last) per kernel of the first "
             "binary layer; dotted: the first panel's minimum.", update_cam_figure(updates))


def weight_section(run: RunData, out: FigureSections) -> None:
    """Fig. 7: all latent weights of the binarized layers at the end of each step."""
    whists = {f"{s.name} ({epoch_of(s, series.epochs(s, 'weights')[-1] + 1)})":
              series.weights_hist(s, series.epochs(s, "weights")[-1])
              for s in run.steps if series.epochs(s, "weights")}
    if not whists:
        out.missing.append("latent weight distribution (no weights records)")
        return
    out.emit("weights", "Latent weight distribution (Fig. 7)",
             "All latent weights of the binarized layers at the end of each step; dotted: "
             "+-1.", weight_figure(whists))


def ff_section(run: RunData, out: FigureSections) -> None:
    """The FF ratio (Eq. 4-5) per epoch of each step."""
    ff = {s.name: s.ff_series() for s in run.steps}
    ff = {name: xy for name, xy in ff.items() if xy[1].size}
    if not ff:
        out.missing.append("FF ratio (no ff_ratio column in history.csv)")
        return
    out.emit("ff_ratio", "Flip-flop ratio per epoch (Eq. 4-5)",
             "Share of latent weights whose sign changed per iteration, averaged per epoch "
             "(counted from 1).",
             ff_figure(ff))


#: The figure sections of one run's report, in the order they appear.
RUN_SECTIONS = (accuracy_section, activation_section, cam_sections, weight_section,
                ff_section)
