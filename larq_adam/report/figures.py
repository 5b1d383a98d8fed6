"""The paper's figures as ``matplotlib`` figures built from plain numbers.

Each builder takes dictionaries and arrays (see :mod:`larq_adam.report.series` for how they
come out of a run's records) and returns a ``Figure`` (no pyplot, no global ``rcParams``,
rendered with the Agg canvas by :func:`save_figure`), so each can be tested alone:

* :func:`accuracy_figure` - Fig. 2: train / validation top-1 per epoch.
* :func:`activation_figure` - Fig. 3: distribution of the inputs of the first binary
  activation with the +-1 bounds; the share beyond them (saturation) in each title.
* :func:`cam_figure` - Fig. 4: per kernel (output channel) its latent weights and their CAM
  (Eq. 3, red hyphens), with a dotted line at the minimum CAM.
* :func:`update_cam_figure` - Fig. 5: the CAM of one iteration's update, per kernel.
* :func:`toy_landscape_figure` - Fig. 6: the two-sign-node loss surfaces and trajectories.
* :func:`weight_figure` - Fig. 7: latent-weight distributions (panels or overlaid).
* :func:`lr_sweep_figure` - Fig. 8: top-1 against the initial learning rate, log x.
* :func:`ff_figure` - the FF ratio (Eq. 4-5) per epoch.
"""
import math
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Tuple

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from larq_adam.atomic import atomic_path
from larq_adam.errors import UserInputError
from larq_adam.formats import finite
from larq_adam.report.read import PathLike

__all__ = ["save_figure", "accuracy_figure", "activation_figure", "cam_figure",
           "update_cam_figure", "weight_figure", "ff_figure", "lr_sweep_figure",
           "toy_landscape_figure"]

_SAT_COLOR, _CAM_COLOR, _MIN_COLOR = "tab:blue", "tab:red", "0.45"


def save_figure(fig: Figure, path: PathLike, *, dpi: int = 110) -> Path:
    """Render ``fig`` to a PNG at ``path`` (folders created, written atomically); returns
    the path."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(str(tmp), dpi=dpi, bbox_inches="tight", format="png")
    return path


def _grid(n: int, cols: int = 3, size: Tuple[float, float] = (4.2, 3.2), **kw):
    if n < 1:
        raise UserInputError("a figure needs at least one panel; got no data to plot")
    cols = min(cols, n)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(size[0] * cols, size[1] * rows), layout="constrained")
    axes = [fig.add_subplot(rows, cols, i + 1, **kw) for i in range(n)]
    return fig, axes


def accuracy_figure(curves: Mapping[str, Mapping[str, Sequence[float]]],
                    *, overlay: bool = False, title: Optional[str] = None) -> Figure:
    """Fig. 2: top-1 accuracy per epoch, train dashed and validation solid.

    Args:
        curves: ``{label: {"epoch": [...], "train": [...], "val": [...]}}`` (fractions in
            [0, 1]; ``"train"`` or ``"val"`` may be missing or empty).
        overlay: all labels in one panel (comparisons) instead of one panel per label.
        title: figure title.
    """
    fig, axes = _grid(1 if overlay else len(curves))
    for i, (label, c) in enumerate(curves.items()):
        ax = axes[0] if overlay else axes[i]
        color = f"C{i}" if overlay else None
        x = np.asarray(c.get("epoch", []), float)
        for key, style, name in (("train", "--", "train"), ("val", "-", "val")):
            y = np.asarray(c.get(key, []), float)
            if y.size:
                ax.plot(x[: y.size] if x.size else np.arange(1, y.size + 1), 100 * y, style,
                        marker="o" if y.size < 12 else None, ms=3, color=color,
                        label=f"{label} {name}" if overlay else name)
        for b in c.get("boundaries", []):
            ax.axvline(b, color="0.7", lw=0.8, ls=":")
        if not overlay:
            ax.set_title(label)
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel("top-1 accuracy (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    return fig


def _hist_values(h: Mapping[str, Any], normalise: bool = True) -> Tuple[np.ndarray, np.ndarray]:
    counts = np.asarray(h["counts"], float)
    edges = np.asarray(h["edges"], float)
    if counts.size + 1 != edges.size:
        raise UserInputError(f"a histogram needs len(edges) == len(counts) + 1; got "
                         f"{edges.size} edges for {counts.size} counts")
    total = counts.sum() + float(h.get("below", 0)) + float(h.get("above", 0))
    return (counts / total if normalise and total > 0 else counts), edges


def activation_figure(hists: Mapping[str, Mapping[str, Any]], *, bound: float = 1.0,
                      title: Optional[str] = None) -> Figure:
    """Fig. 3: distribution of the inputs of a binary activation, one panel per label.

    Args:
        hists: ``{label: {"counts", "edges", "below", "above", "saturation"}}``; saturation
            is the share of inputs with ``|a| > bound`` and goes in the panel title.
        bound: where the dotted bound lines are drawn (+-1 for sign's clip STE).
    """
    fig, axes = _grid(len(hists), cols=2)
    for ax, (label, h) in zip(axes, hists.items()):
        frac, edges = _hist_values(h)
        ax.stairs(frac, edges, fill=True, color=_SAT_COLOR, alpha=0.7)
        for b in (-bound, bound):
            ax.axvline(b, color="k", ls=":", lw=1.2)
        sat = h.get("saturation")
        ax.set_title(f"{label}: {100 * float(sat):.2f}% beyond +-{bound:g}" if finite(sat)
                     else label, fontsize=9)
        ax.set_xlabel("activation (input of the first binary layer)")
        ax.set_ylabel("share")
    if title:
        fig.suptitle(title)
    return fig


def _min_line(ax, value: float, label: str) -> None:
    ax.axhline(value, color=_MIN_COLOR, ls=":", lw=1.2, label=label)


def cam_figure(panels: Mapping[str, Mapping[str, Any]], *,
               reference_min: Optional[float] = None,
               title: Optional[str] = None) -> Figure:
    """Fig. 4: per kernel (output channel) the |latent weights| as dots and their CAM (Eq. 3)
    as red hyphens; a grey dotted line marks the minimum CAM.

    Args:
        panels: ``{label: {"cam": (C_out,), "weights": (C_out, n) optional}}``.
        reference_min: the line's height in every panel (the paper draws Adam's minimum in
            both panels); ``None``: each panel's own minimum.
    """
    fig, axes = _grid(len(panels), cols=2, size=(5.0, 3.2))
    for ax, (label, p) in zip(axes, panels.items()):
        cam = np.asarray(p["cam"], float).reshape(-1)
        x = np.arange(cam.size)
        w = p.get("weights")
        if w is not None and np.size(w):
            w = np.abs(np.asarray(w, float)).reshape(cam.size, -1)
            ax.scatter(np.repeat(x, w.shape[1]), w.reshape(-1), s=1.5, color="0.6", alpha=0.4,
                       label="|latent weights|")
        ax.scatter(x, cam, marker="_", s=60, color=_CAM_COLOR, label="CAM", zorder=3)
        low = float(cam.min()) if reference_min is None else float(reference_min)
        _min_line(ax, low, f"min CAM {low:.4f}")
        ax.set_title(f"{label}: SDAM {float(np.std(cam)):.4f}", fontsize=9)
        ax.set_xlabel("kernel (output channel)")
        ax.set_ylabel("|w|")
        ax.legend(fontsize=7, loc="upper right")
    if title:
        fig.suptitle(title)
    return fig


def update_cam_figure(panels: Mapping[str, Sequence[float]], *,
                      reference_min: Optional[float] = None,
                      title: Optional[str] = None) -> Figure:
    """Fig. 5: the CAM of one iteration's update ``w_t+1 - w_t`` per kernel (red hyphens),
    with the minimum of the first panel (or ``reference_min``) dotted in every panel and
    the share of kernels below it in each title."""
    fig, axes = _grid(len(panels), cols=2, size=(5.0, 3.2))
    items = [(k, np.asarray(v, float).reshape(-1)) for k, v in panels.items()]
    ref = float(items[0][1].min()) if reference_min is None else float(reference_min)
    for ax, (label, cam) in zip(axes, items):
        ax.scatter(np.arange(cam.size), cam, marker="_", s=60, color=_CAM_COLOR, label="update CAM")
        _min_line(ax, ref, f"reference min {ref:.2e}")
        below = float(np.mean(cam < ref)) if cam.size else float("nan")
        ax.set_title(f"{label}: {100 * below:.1f}% of kernels below the line", fontsize=9)
        ax.set_xlabel("kernel (output channel)")
        ax.set_ylabel("CAM of the update")
        if cam.size and cam.min() > 0:
            ax.set_yscale("log")
        ax.legend(fontsize=7, loc="upper right")
    if title:
        fig.suptitle(title)
    return fig


def weight_figure(hists: Mapping[str, Mapping[str, Any]], *, overlay: bool = False,
                  title: Optional[str] = None) -> Figure:
    """Fig. 7: latent-weight distributions (share per bin) with +-1 marked.

    Args:
        hists: ``{label: {"counts", "edges", "below", "above"}}``.
        overlay: all labels in one panel (comparisons) instead of one panel per label.
    """
    fig, axes = _grid(1 if overlay else len(hists), cols=3)
    extent = 1.25
    for i, (label, h) in enumerate(hists.items()):
        ax = axes[0] if overlay else axes[i]
        frac, edges = _hist_values(h)
        below, above = float(h.get("below", 0)), float(h.get("above", 0))
        outside = (below + above) / max(1.0, float(np.sum(h["counts"])) + below + above)
        nz = np.nonzero(frac)[0]
        if nz.size:
            extent = max(extent, abs(edges[nz[0]]), abs(edges[nz[-1] + 1]))
        text = f"{label} ({100 * outside:.1f}% beyond the range)"
        ax.stairs(frac, edges, fill=not overlay, alpha=0.6 if not overlay else 1.0,
                  color=f"C{i}", label=text)
        if not overlay:
            ax.set_title(text, fontsize=9)
    for ax in axes:
        for b in (-1.0, 1.0):
            ax.axvline(b, color="k", ls=":", lw=1)
        ax.set_xlim(-extent, extent)
        ax.set_xlabel("latent weight")
        ax.set_ylabel("share")
        if overlay:
            ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    return fig


def ff_figure(series: Mapping[str, Tuple[Sequence[float], Sequence[float]]], *,
              title: Optional[str] = None) -> Figure:
    """The FF ratio (Eq. 4-5) per epoch, one line per label, log y when all are positive."""
    fig, (ax,) = _grid(1, size=(5.5, 3.5))
    positive = True
    for i, (label, (x, y)) in enumerate(series.items()):
        y = np.asarray(y, float)
        ax.plot(np.asarray(x, float), y, marker="o", ms=3, color=f"C{i}", label=label)
        positive &= bool(y.size) and bool(np.all(y > 0))
    if positive:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("FF ratio (mean over the epoch)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(title or "Flip-flop ratio", fontsize=10)
    return fig


def lr_sweep_figure(points: Mapping[str, Sequence[Tuple[float, float]]], *,
                    title: Optional[str] = None) -> Figure:
    """Fig. 8: top-1 accuracy against the initial learning rate, one line per optimizer,
    log-scaled x. ``points = {optimizer: [(learning_rate, top1 fraction), ...]}``."""
    fig, (ax,) = _grid(1, size=(5.5, 3.8))
    for i, (name, pts) in enumerate(points.items()):
        pts = sorted((float(lr), float(acc)) for lr, acc in pts)
        if any(lr <= 0 for lr, _ in pts):
            raise UserInputError(f"learning rates must be > 0 for a log axis; got {pts}")
        ax.plot([p[0] for p in pts], [100 * p[1] for p in pts], marker="o", color=f"C{i}",
                label=name)
    ax.set_xscale("log")
    ax.set_xlabel("initial learning rate")
    ax.set_ylabel("top-1 accuracy (%)")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    ax.set_title(title or "Accuracy vs initial learning rate", fontsize=10)
    return fig


def _surface_panels(fig: Figure, X: np.ndarray, Y: np.ndarray, loss_sign: np.ndarray,
                    loss_clip: np.ndarray) -> list:
    """Fig. 6 (a)-(c): the sign and clip loss surfaces in 3-D (the third for trajectories)."""
    panels = [fig.add_subplot(2, 2, i + 1, projection="3d") for i in range(3)]
    for ax, Z, name in ((panels[0], loss_sign, "(a) forward loss with sign"),
                        (panels[1], loss_clip, "(b) loss with clip (STE approximation)"),
                        (panels[2], loss_clip, "(c) SGD vs Adam on the clip surface")):
        ax.plot_surface(X, Y, Z, cmap="viridis", alpha=0.55 if ax is panels[2] else 0.9,
                        linewidth=0, antialiased=True)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.set_zlabel("loss")
    return panels


def _label_top_view(top, x: np.ndarray, y: np.ndarray) -> None:
    top.set_xlim(x[0], x[-1])
    top.set_ylim(y[0], y[-1])
    top.set_title("(d) top view of the trajectories (start: grey circle)", fontsize=10)
    top.set_xlabel("x")
    top.set_ylabel("y")
    top.legend(fontsize=8, loc="lower right")


def toy_landscape_figure(x: np.ndarray, y: np.ndarray, loss_sign: np.ndarray,
                         loss_clip: np.ndarray, trajectories: Mapping[str, np.ndarray],
                         *, title: Optional[str] = None) -> Figure:
    """Fig. 6 in four panels: (a) the forward loss surface with sign, (b) the surface with
    clip (the STE's approximation), (c) the trajectories on (b) in 3-D, (d) their top view.

    Args:
        x, y: 1-D grids; ``loss_sign`` and ``loss_clip`` have shape ``(len(y), len(x))``.
        trajectories: ``{optimizer: (T, 2) array of (x, y) points}``.
    """
    X, Y = np.meshgrid(x, y)
    fig = Figure(figsize=(13, 10))
    path_panel = _surface_panels(fig, X, Y, loss_sign, loss_clip)[2]
    top = fig.add_subplot(2, 2, 4)
    top.contourf(X, Y, loss_clip, levels=30, cmap="viridis")
    top.plot([-1, 1, 1, -1, -1], [-1, -1, 1, 1, -1], "w--", lw=1, label="|x|, |y| <= 1")
    for i, (name, tr) in enumerate(trajectories.items()):
        tr = np.asarray(tr, float)
        inside = ((tr[:, 0] >= x[0]) & (tr[:, 0] <= x[-1]) & (tr[:, 1] >= y[0])
                  & (tr[:, 1] <= y[-1]))
        z = _interp_surface(x, y, loss_clip, tr)
        path_panel.plot(tr[inside, 0], tr[inside, 1], z[inside] + 0.02, color=f"C{i + 1}",
                        marker=".", ms=3, label=name)
        top.plot(tr[:, 0], tr[:, 1], color=f"C{i + 1}", marker=".", ms=3, label=name)
        top.plot(tr[0, 0], tr[0, 1], "o", color="0.5", ms=9)
    _label_top_view(top, x, y)
    path_panel.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def _interp_surface(x: np.ndarray, y: np.ndarray, z: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """The surface ``z`` at the grid point nearest above each of ``pts`` (the 3-D path)."""
    ix = np.clip(np.searchsorted(x, pts[:, 0]), 0, len(x) - 1)
    iy = np.clip(np.searchsorted(y, pts[:, 1]), 0, len(y) - 1)
    return z[iy, ix]
