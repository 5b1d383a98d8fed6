"""Figures and tables like the paper's, from a run folder's records.

:func:`make_report` turns one run folder (``la.training.one_step`` / ``two_step``, layout in
:mod:`larq_adam.training.steps`) into ``report.md`` and ``figures/*.png`` (each written
atomically); :func:`compare` puts several runs in one figure and one table (the comparison
recipes: Tables 1, 4, 5 and Fig. 2 and 8). A damaged ``result.json``, ``config.json`` or
``history.csv`` gives one line naming it (:class:`~larq_adam.errors.CorruptFileError`)::

    import larq_adam as la
    la.report.make_report("runs/two_step")                       # runs/two_step/report.md
    la.report.compare({"Adam": "runs/f2/adam", "SGD": "runs/f2/sgd"}, "runs/f2", kind="curves")

Each figure has a builder that takes plain numbers and returns a ``matplotlib`` ``Figure``
(no pyplot, no global ``rcParams``, rendered with the Agg canvas), so it can be tested alone:

* :func:`accuracy_figure` - Fig. 2: train / validation top-1 per epoch.
* :func:`activation_figure` - Fig. 3: distribution of the inputs of the first binary
  activation with the +-1 bounds; the share beyond them (saturation) in each title.
* :func:`cam_figure` - Fig. 4: per kernel (output channel) its latent weights and their CAM
  (Eq. 3, red hyphens), with a dotted line at the minimum CAM.
* :func:`update_cam_figure` - Fig. 5: the CAM of one iteration's update, per kernel.
* :func:`weight_figure` - Fig. 7: latent-weight distributions (panels or overlaid).
* :func:`ff_figure` - the FF ratio (Eq. 4-5) per epoch.
* :func:`lr_sweep_figure` - Fig. 8: top-1 against the initial learning rate, log x.
* :func:`toy_landscape_figure` - Fig. 6: the two-sign-node loss surfaces and trajectories.

Tables are GitHub markdown (:func:`markdown_table`, read back by :func:`parse_markdown_table`).
The ``## Export`` section that ``recipes/export.py`` appends to ``report.md`` is kept when the
report is regenerated.
"""
import dataclasses
import math
import os
import re
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from larq_adam.analysis.records import load_records
from larq_adam.atomic import atomic_path, atomic_write_text
from larq_adam.run_files import read_history, read_json

__all__ = [
    "COMPARE_KINDS",
    "RunData",
    "StepData",
    "load_run",
    "make_report",
    "compare",
    "markdown_table",
    "parse_markdown_table",
    "summary_table",
    "accuracy_figure",
    "activation_figure",
    "cam_figure",
    "update_cam_figure",
    "weight_figure",
    "ff_figure",
    "lr_sweep_figure",
    "toy_landscape_figure",
    "save_figure",
]

PathLike = Union[str, os.PathLike]
COMPARE_KINDS = ("curves", "weight_decay", "order", "optimizer", "lr_sweep")
EXPORT_HEADING = "## Export"
_SAT_COLOR, _CAM_COLOR, _MIN_COLOR = "tab:blue", "tab:red", "0.45"


# --------------------------------------------------------------------------- run folders
@dataclasses.dataclass
class StepData:
    """One step folder: its ``config.json``, ``result.json``, ``history.csv`` rows and the
    analysis records (``{kind: {epoch: record}}``, see :mod:`larq_adam.analysis.records`)."""

    name: str
    dir: Path
    config: Dict[str, Any]
    result: Dict[str, Any]
    history: List[Dict[str, float]]
    records: Dict[str, Dict[int, Dict[str, Any]]]

    def column(self, key: str) -> Tuple[np.ndarray, np.ndarray]:
        """``(epochs 1-based, values)`` of a ``history.csv`` column (empty when absent)."""
        rows = [r for r in self.history if _finite(r.get(key))]
        return (np.array([int(r.get("epoch", i)) + 1 for i, r in enumerate(rows)]),
                np.array([float(r[key]) for r in rows]))

    def ff_series(self) -> Tuple[np.ndarray, np.ndarray]:
        """FF ratio per epoch (Eq. 4-5, mean over the epoch's iterations): from the ``ff``
        records when present, else from the ``ff_ratio`` column of ``history.csv``."""
        ff = self.records.get("ff", {})
        if ff:
            epochs = sorted(ff)
            vals = [float(np.sum(ff[e]["flips"]) /
                          max(1.0, float(np.sum(ff[e]["sizes"])) * float(ff[e]["steps"])))
                    for e in epochs]
            return np.array(epochs) + 1, np.array(vals)
        return self.column("ff_ratio")


@dataclasses.dataclass
class RunData:
    """A run folder read back: ``config.json``, the teacher (if trained there) and steps."""

    dir: Path
    config: Dict[str, Any]
    teacher: Optional[StepData]
    steps: List[StepData]

    @property
    def last(self) -> StepData:
        """The last (student) step, whose numbers the comparison tables report."""
        return self.steps[-1]


def _finite(v: Any) -> bool:
    try:
        return v is not None and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


_JSON_FIX = "delete it and run the training again with --resume, which writes it again"
_HISTORY_FIX = ("repair or delete that line (the report then lacks that epoch's numbers), or "
                "train the step again")


def _read_json(path: Path) -> Dict[str, Any]:
    """A run-folder JSON file; ``{}`` when absent, :class:`CorruptFileError` (one line,
    naming the file) when damaged."""
    return read_json(path, fix=_JSON_FIX) if path.exists() else {}


def _load_step(step_dir: Path) -> StepData:
    records_dir = step_dir / "records"
    return StepData(
        name=step_dir.name,
        dir=step_dir,
        config=_read_json(step_dir / "config.json"),
        result=_read_json(step_dir / "result.json"),
        history=read_history(step_dir / "history.csv", fix=_HISTORY_FIX),
        records=load_records(str(records_dir)) if records_dir.is_dir() else {},
    )


def load_run(run_dir: PathLike) -> RunData:
    """Read a run folder (``one_step`` / ``two_step`` layout) for the report.

    Steps are those named in ``config.json``'s ``"steps"``, else the ``step``, ``step1``,
    ``step2`` folders present. Raises ``ValueError`` when the folder holds no step.
    """
    run = Path(run_dir)
    if not run.is_dir():
        raise ValueError(f"run_dir {str(run)!r} is not a directory; pass a run folder "
                         "written by la.training.one_step / two_step")
    config = _read_json(run / "config.json")
    names = config.get("steps") or [n for n in ("step", "step1", "step2") if (run / n).is_dir()]
    steps = [_load_step(run / n) for n in names if (run / n).is_dir()]
    if not steps:
        raise ValueError(f"{run} holds no step folder (step/, step1/, step2/); is it a run "
                         "folder written by la.training.one_step / two_step?")
    teacher = _load_step(run / "teacher") if (run / "teacher").is_dir() else None
    return RunData(run, config, teacher, steps)


# --------------------------------------------------------------------------- tables
def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub markdown table; raises ``ValueError`` when a row has the wrong length."""
    if not headers:
        raise ValueError("a table needs at least one column header")
    for i, row in enumerate(rows):
        if len(row) != len(headers):
            raise ValueError(f"row {i} has {len(row)} cells for {len(headers)} columns: {row}")
    lines = ["| " + " | ".join(_cell(h) for h in headers) + " |",
             "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def parse_markdown_table(text: str) -> Tuple[List[str], List[List[str]]]:
    """The first markdown table in ``text`` as ``(headers, rows)``.

    Raises ``ValueError`` when there is no table, the separator line is missing or a row's
    cell count differs from the header's.
    """
    lines = [ln.strip() for ln in text.splitlines()]
    start = next((i for i, ln in enumerate(lines) if ln.startswith("|")), None)
    if start is None:
        raise ValueError("no markdown table (no line starting with '|') in the text")
    block = []
    for ln in lines[start:]:
        if not ln.startswith("|"):
            break
        block.append(ln)

    def split(line: str) -> List[str]:
        cells = re.split(r"(?<!\\)\|", line.strip()[1:-1] if line.endswith("|") else line[1:])
        return [c.strip().replace("\\|", "|") for c in cells]

    if len(block) < 2 or not re.fullmatch(r"\|(\s*:?-{3,}:?\s*\|)+", block[1].replace(" ", "")):
        raise ValueError("markdown table without a '|---|' separator line under its header")
    headers = split(block[0])
    rows = [split(ln) for ln in block[2:]]
    if len(split(block[1])) != len(headers):
        raise ValueError("separator line and header have different numbers of columns")
    for i, row in enumerate(rows):
        if len(row) != len(headers):
            raise ValueError(f"table row {i} has {len(row)} cells for {len(headers)} columns")
    return headers, rows


def _pct(v: Any) -> str:
    return f"{100 * float(v):.2f}" if _finite(v) else "-"


def _sci(v: Any) -> str:
    return f"{float(v):.3e}" if _finite(v) else "-"


def _fix(v: Any, digits: int = 4) -> str:
    return f"{float(v):.{digits}f}" if _finite(v) else "-"


def _num(v: Any) -> str:
    return f"{float(v):g}" if _finite(v) else "default"


SUMMARY_HEADERS = ("step", "stage", "optimizer", "learning rate", "weight decay", "epochs",
                   "top-1 (%)", "best top-1 (%)", "top-5 (%)", "FF ratio", "C2I ratio",
                   "time (s)")


def _best_cell(result: Mapping[str, Any]) -> str:
    """``"61.20 (epoch 3)"``: the best epoch's top-1 and that epoch (1-based)."""
    best, epoch = result.get("best_accuracy"), result.get("best_epoch")
    if not _finite(best):
        return "-"
    return f"{_pct(best)} (epoch {int(epoch) + 1})" if _finite(epoch) else _pct(best)


def summary_table(run: RunData) -> str:
    """The run's numbers, one row per step (teacher first): stage, optimizer, learning rate,
    weight decay, test top-1 of the final weights and of the best epoch's (two-step's
    step 2 starts from step 1's best), top-5, FF ratio (mean over the step's iterations,
    Table 1), C2I ratio (final vs the step's initial latent weights, Table 1) and the
    step's time in seconds (all processes of a resumed step, up to its last checkpoint)."""
    rows = []
    for s in ([run.teacher] if run.teacher else []) + run.steps:
        r, c = s.result, s.config
        rows.append([
            s.name, r.get("stage", c.get("stage", "-")),
            r.get("optimizer", c.get("optimizer", "-")),
            _num(r.get("learning_rate", c.get("learning_rate"))),
            _num(r.get("weight_decay", c.get("weight_decay"))),
            r.get("epochs", c.get("epochs", len(s.history))),
            _pct(r.get("test_accuracy")), _best_cell(r), _pct(r.get("test_top5")),
            _sci(r.get("ff_ratio")), _fix(r.get("c2i_ratio")),
            _fix(r.get("seconds"), 0),
        ])
    return markdown_table(SUMMARY_HEADERS, rows)


# --------------------------------------------------------------------------- figures
def save_figure(fig: Figure, path: PathLike, dpi: int = 110) -> Path:
    """Render ``fig`` to a PNG at ``path`` (folders created, written atomically); returns
    the path."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(str(tmp), dpi=dpi, bbox_inches="tight", format="png")
    return path


def _grid(n: int, cols: int = 3, size: Tuple[float, float] = (4.2, 3.2), **kw):
    if n < 1:
        raise ValueError("a figure needs at least one panel; got no data to plot")
    cols = min(cols, n)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(size[0] * cols, size[1] * rows), layout="constrained")
    axes = [fig.add_subplot(rows, cols, i + 1, **kw) for i in range(n)]
    return fig, axes


def accuracy_figure(curves: Mapping[str, Mapping[str, Sequence[float]]],
                    overlay: bool = False, title: Optional[str] = None) -> Figure:
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
        raise ValueError(f"a histogram needs len(edges) == len(counts) + 1; got "
                         f"{edges.size} edges for {counts.size} counts")
    total = counts.sum() + float(h.get("below", 0)) + float(h.get("above", 0))
    return (counts / total if normalise and total > 0 else counts), edges


def activation_figure(hists: Mapping[str, Mapping[str, Any]], bound: float = 1.0,
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
        ax.set_title(f"{label}: {100 * float(sat):.2f}% beyond +-{bound:g}" if _finite(sat)
                     else label, fontsize=9)
        ax.set_xlabel("activation (input of the first binary layer)")
        ax.set_ylabel("share")
    if title:
        fig.suptitle(title)
    return fig


def _min_line(ax, value: float, label: str) -> None:
    ax.axhline(value, color=_MIN_COLOR, ls=":", lw=1.2, label=label)


def cam_figure(panels: Mapping[str, Mapping[str, Any]], reference_min: Optional[float] = None,
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


def update_cam_figure(panels: Mapping[str, Sequence[float]],
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


def weight_figure(hists: Mapping[str, Mapping[str, Any]], overlay: bool = False,
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


def ff_figure(series: Mapping[str, Tuple[Sequence[float], Sequence[float]]],
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


def lr_sweep_figure(points: Mapping[str, Sequence[Tuple[float, float]]],
                    title: Optional[str] = None) -> Figure:
    """Fig. 8: top-1 accuracy against the initial learning rate, one line per optimizer,
    log-scaled x. ``points = {optimizer: [(learning_rate, top1 fraction), ...]}``."""
    fig, (ax,) = _grid(1, size=(5.5, 3.8))
    for i, (name, pts) in enumerate(points.items()):
        pts = sorted((float(lr), float(acc)) for lr, acc in pts)
        if any(lr <= 0 for lr, _ in pts):
            raise ValueError(f"learning rates must be > 0 for a log axis; got {pts}")
        ax.plot([p[0] for p in pts], [100 * p[1] for p in pts], marker="o", color=f"C{i}",
                label=name)
    ax.set_xscale("log")
    ax.set_xlabel("initial learning rate")
    ax.set_ylabel("top-1 accuracy (%)")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    ax.set_title(title or "Accuracy vs initial learning rate", fontsize=10)
    return fig


def toy_landscape_figure(x: np.ndarray, y: np.ndarray, loss_sign: np.ndarray,
                         loss_clip: np.ndarray, trajectories: Mapping[str, np.ndarray],
                         title: Optional[str] = None) -> Figure:
    """Fig. 6 in four panels: (a) the forward loss surface with sign, (b) the surface with
    clip (the STE's approximation), (c) the trajectories on (b) in 3-D, (d) their top view.

    Args:
        x, y: 1-D grids; ``loss_sign`` and ``loss_clip`` have shape ``(len(y), len(x))``.
        trajectories: ``{optimizer: (T, 2) array of (x, y) points}``.
    """
    X, Y = np.meshgrid(x, y)
    fig = Figure(figsize=(13, 10))
    panels = [fig.add_subplot(2, 2, i + 1, projection="3d") for i in range(3)]
    top = fig.add_subplot(2, 2, 4)
    for ax, Z, name in ((panels[0], loss_sign, "(a) forward loss with sign"),
                        (panels[1], loss_clip, "(b) loss with clip (STE approximation)"),
                        (panels[2], loss_clip, "(c) SGD vs Adam on the clip surface")):
        ax.plot_surface(X, Y, Z, cmap="viridis", alpha=0.55 if ax is panels[2] else 0.9,
                        linewidth=0, antialiased=True)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.set_zlabel("loss")
    top.contourf(X, Y, loss_clip, levels=30, cmap="viridis")
    top.plot([-1, 1, 1, -1, -1], [-1, -1, 1, 1, -1], "w--", lw=1, label="|x|, |y| <= 1")
    for i, (name, tr) in enumerate(trajectories.items()):
        tr = np.asarray(tr, float)
        inside = ((tr[:, 0] >= x[0]) & (tr[:, 0] <= x[-1]) & (tr[:, 1] >= y[0])
                  & (tr[:, 1] <= y[-1]))
        z = _interp_surface(x, y, loss_clip, tr)
        panels[2].plot(tr[inside, 0], tr[inside, 1], z[inside] + 0.02, color=f"C{i + 1}",
                       marker=".", ms=3, label=name)
        top.plot(tr[:, 0], tr[:, 1], color=f"C{i + 1}", marker=".", ms=3, label=name)
        top.plot(tr[0, 0], tr[0, 1], "o", color="0.5", ms=9)
    top.set_xlim(x[0], x[-1])
    top.set_ylim(y[0], y[-1])
    top.set_title("(d) top view of the trajectories (start: grey circle)", fontsize=10)
    top.set_xlabel("x")
    top.set_ylabel("y")
    top.legend(fontsize=8, loc="lower right")
    panels[2].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def _interp_surface(x: np.ndarray, y: np.ndarray, z: np.ndarray, pts: np.ndarray) -> np.ndarray:
    ix = np.clip(np.searchsorted(x, pts[:, 0]), 0, len(x) - 1)
    iy = np.clip(np.searchsorted(y, pts[:, 1]), 0, len(y) - 1)
    return z[iy, ix]


# --------------------------------------------------------------------------- record readers
def _epochs(step: StepData, kind: str) -> List[int]:
    return sorted(step.records.get(kind, {}))


def _saturation_hist(step: StepData, epoch: int, layer: int = 0) -> Dict[str, Any]:
    r = step.records["saturation"][epoch]
    total = float(np.asarray(r["total"])[layer])
    return dict(counts=np.asarray(r["counts"])[layer], edges=r["edges"],
                below=np.asarray(r["below"])[layer], above=np.asarray(r["above"])[layer],
                saturation=float(np.asarray(r["saturated"])[layer]) / total if total else None)


def _weights_hist(step: StepData, epoch: int) -> Dict[str, Any]:
    r = step.records["weights"][epoch]
    return dict(counts=r["pooled_counts"], edges=r["edges"], below=r["pooled_below"],
                above=r["pooled_above"])


def _cam_panel(step: StepData, epoch: int) -> Dict[str, Any]:
    r = step.records["cam"][epoch]
    return dict(cam=np.asarray(r["cam"][0], float), weights=r.get("first_weights"))


def _update_cam(step: StepData, epoch: int) -> Optional[np.ndarray]:
    upd = step.records["cam"][epoch].get("update_cam") or []
    return np.asarray(upd[0], float) if upd and np.size(upd[0]) else None


def _first_layer(step: StepData, kind: str) -> str:
    recs = step.records.get(kind, {})
    names = next(iter(recs.values()), {}).get("layer_names", []) if recs else []
    return names[0] if names else "first binary layer"


def _run_curve(run: RunData) -> Dict[str, Any]:
    """A run's student steps end to end on one epoch axis (two-step: step 2 after step 1)."""
    xs, tr, va, bounds, offset = [], [], [], [], 0
    for s in run.steps:
        e, train = s.column("accuracy")
        e2, val = s.column("val_accuracy")
        n = max(len(train), len(val))
        if offset:
            bounds.append(offset + 0.5)
        xs.extend(offset + np.arange(1, n + 1))
        tr.extend(train)
        va.extend(val)
        offset += n
    return {"epoch": xs, "train": tr, "val": va, "boundaries": bounds}


def _run_ff(run: RunData) -> Tuple[np.ndarray, np.ndarray]:
    xs, ys, offset = [], [], 0
    for s in run.steps:
        e, v = s.ff_series()
        xs.extend(offset + np.arange(1, len(v) + 1))
        ys.extend(v)
        offset += max(len(v), len(s.history))
    return np.array(xs), np.array(ys)


# --------------------------------------------------------------------------- make_report
def _existing_export_section(path: Path) -> str:
    """The ``## Export`` section of an existing report (up to the next ``## `` heading)."""
    if not path.exists():
        return ""
    lines = path.read_text().splitlines()
    start = next((i for i, ln in enumerate(lines) if ln.strip() == EXPORT_HEADING
                  or ln.startswith(EXPORT_HEADING + " ")), None)
    if start is None:
        return ""
    end = next((j for j in range(start + 1, len(lines)) if lines[j].startswith("## ")),
               len(lines))
    return "\n".join(lines[start:end]).rstrip() + "\n"


def _figure_block(title: str, rel: str, caption: str) -> str:
    return f"## {title}\n\n![{title}]({rel})\n" + (f"\n{caption}\n" if caption else "")


class _Sections:
    """The figure sections of a report: each figure saved to ``figdir`` and its markdown
    block kept in order; what could not be drawn listed in ``missing``."""

    def __init__(self, figdir: Path):
        self.figdir = figdir
        self.blocks: List[str] = []
        self.missing: List[str] = []

    def emit(self, name: str, title: str, caption: str, fig: Figure) -> None:
        save_figure(fig, self.figdir / f"{name}.png")
        self.blocks.append(_figure_block(title, f"figures/{name}.png", caption))


def _accuracy_section(run: RunData, out: _Sections) -> None:
    """Fig. 2: train / test top-1 per epoch of the teacher and each step."""
    curves = {s.name: {"epoch": s.column("accuracy")[0], "train": s.column("accuracy")[1],
                       "val": s.column("val_accuracy")[1]}
              for s in ([run.teacher] if run.teacher else []) + run.steps if s.history}
    if not curves:
        out.missing.append("accuracy curves (no history.csv)")
        return
    out.emit("accuracy", "Accuracy (Fig. 2)",
             "Top-1 accuracy per epoch on the train split (dashed) and the test split (solid).",
             accuracy_figure(curves))


def _activation_section(run: RunData, out: _Sections) -> None:
    """Fig. 3: first and last epoch of each student step."""
    hists = {}
    for s in run.steps:
        ep = _epochs(s, "saturation")
        for e in dict.fromkeys([ep[0], ep[-1]] if ep else []):
            hists[f"{s.name} epoch {e + 1}"] = _saturation_hist(s, e)
    if not hists:
        out.missing.append("activation distribution (no saturation records)")
        return
    layer = _first_layer(run.steps[-1], "saturation")
    out.emit("activations", "Activation saturation (Fig. 3)",
             f"Inputs of the first binary activation (`{layer}`) on a fixed probe batch; "
             "dotted lines at -1 and +1; the title gives the share beyond them.",
             activation_figure(hists))


def _cam_sections(run: RunData, out: _Sections) -> None:
    """Fig. 4 and 5: the last epoch of each student step."""
    students = [s for s in run.steps if _epochs(s, "cam")]
    if not students:
        out.missing.append("CAM and update CAM (no cam records)")
        return
    cams = {f"{s.name} epoch {_epochs(s, 'cam')[-1] + 1}": _cam_panel(s, _epochs(s, "cam")[-1])
            for s in students}
    out.emit("cam", "Channel-wise absolute mean (Fig. 4)",
             f"Latent weights of the first binary layer (`{_first_layer(run.steps[-1], 'cam')}`)"
             " per kernel; red: their CAM (Eq. 3); dotted: the minimum CAM of the panel.",
             cam_figure(cams))
    updates = {}
    for s in students:
        u = _update_cam(s, _epochs(s, "cam")[-1])
        if u is not None:
            updates[f"{s.name} epoch {_epochs(s, 'cam')[-1] + 1}"] = u
    if not updates:
        out.missing.append("update CAM (no update recorded)")
        return
    out.emit("update_cam", "Update CAM (Fig. 5)",
             "CAM of one iteration's update (the epoch's last) per kernel of the first "
             "binary layer; dotted: the first panel's minimum.", update_cam_figure(updates))


def _weight_and_ff_sections(run: RunData, out: _Sections) -> None:
    """Fig. 7 (latent weights at the end of each step) and the FF ratio per epoch."""
    whists = {f"{s.name} (epoch {_epochs(s, 'weights')[-1] + 1})":
              _weights_hist(s, _epochs(s, "weights")[-1])
              for s in run.steps if _epochs(s, "weights")}
    if whists:
        out.emit("weights", "Latent weight distribution (Fig. 7)",
                 "All latent weights of the binarized layers at the end of each step; dotted: "
                 "+-1.", weight_figure(whists))
    else:
        out.missing.append("latent weight distribution (no weights records)")
    ff = {s.name: s.ff_series() for s in run.steps if s.ff_series()[1].size}
    if ff:
        out.emit("ff_ratio", "Flip-flop ratio per epoch (Eq. 4-5)",
                 "Share of latent weights whose sign changed per iteration, averaged per epoch.",
                 ff_figure(ff))
    else:
        out.missing.append("FF ratio (no ff records or ff_ratio column)")


def _report_text(run: RunData, sections: _Sections, export: str) -> str:
    cfg = run.config
    keys = ("kind", "data", "model", "order", "init", "width", "epochs", "batch_size",
            "teacher", "pad_values", "strategy")
    setup = ", ".join(f"{k}={cfg[k]}" for k in keys if k in cfg)
    text = [f"# Run report: {run.dir.name}\n",
            f"Run folder `{run.dir}`; {setup or 'no config.json'}.\n",
            "## Summary\n", summary_table(run)]
    if "final_model" in cfg:
        text.append(f"Final model: `{cfg['final_model']}`.\n")
    text += sections.blocks
    if sections.missing:
        text.append("## Not shown\n\n" + "".join(f"- {m}\n" for m in sections.missing))
    if export:
        text.append(export)
    return "\n".join(text)


def make_report(run_dir: PathLike) -> Path:
    """Write ``run_dir/report.md`` and ``run_dir/figures/*.png`` from a run's records.

    Sections: the configuration, a summary table (teacher / step top-1 final and best,
    top-5, FF and C2I ratios, weight decay, time per step), accuracy curves (Fig. 2),
    activation distribution of the first binary layer's inputs with the saturation share
    (Fig. 3), CAM per kernel (Fig. 4), update CAM (Fig. 5), latent weight distributions
    (Fig. 7) and the FF ratio per epoch. Figures whose records are missing (e.g.
    ``analysis=False``) are left out with a note. An existing ``## Export`` section (written
    by ``recipes/export.py``) is kept verbatim. Returns the path of ``report.md``.
    """
    run = load_run(run_dir)
    out = run.dir / "report.md"
    export = _existing_export_section(out)
    sections = _Sections(run.dir / "figures")
    for add in (_accuracy_section, _activation_section, _cam_sections,
                _weight_and_ff_sections):
        add(run, sections)
    atomic_write_text(out, _report_text(run, sections, export))
    return out


# --------------------------------------------------------------------------- compare
def _table_for(kind: str, runs: Mapping[str, RunData]) -> str:
    rows: List[List[Any]] = []
    if kind == "weight_decay":
        for label, run in runs.items():
            wd = " / ".join(f"{s.name}: {_num(s.result.get('weight_decay'))}" for s in run.steps)
            r = run.last.result
            rows.append([label, wd, _sci(r.get("ff_ratio")), _fix(r.get("c2i_ratio")),
                         _pct(r.get("test_accuracy"))])
        return markdown_table(["run", "weight decay", "FF ratio", "C2I ratio", "top-1 (%)"], rows)
    if kind in ("order", "optimizer"):
        for label, run in runs.items():
            r = run.last.result
            rows.append([label, _pct(r.get("test_accuracy")), _pct(r.get("test_top5"))])
        return markdown_table([kind, "top-1 (%)", "top-5 (%)"], rows)
    if kind == "lr_sweep":
        for label, run in runs.items():
            r = run.last.result
            rows.append([label, r.get("optimizer", "-"), _num(r.get("learning_rate")),
                         _pct(r.get("test_accuracy")), _pct(r.get("test_top5"))])
        return markdown_table(["run", "optimizer", "initial LR", "top-1 (%)", "top-5 (%)"], rows)
    for label, run in runs.items():  # curves
        c = _run_curve(run)
        r = run.last.result
        rows.append([label, r.get("optimizer", "-"), _pct(c["train"][-1] if c["train"] else None),
                     _pct(c["val"][-1] if c["val"] else None), _pct(r.get("test_accuracy")),
                     _pct(r.get("test_top5"))])
    return markdown_table(["run", "optimizer", "final train top-1 (%)", "final val top-1 (%)",
                           "test top-1 (%)", "test top-5 (%)"], rows)


def _lr_points(runs: Mapping[str, RunData]) -> Dict[str, List[Tuple[float, float]]]:
    points: Dict[str, List[Tuple[float, float]]] = {}
    for label, run in runs.items():
        r = run.last.result
        if not _finite(r.get("learning_rate")):
            raise ValueError(f"run {label!r} has no explicit learning_rate in result.json; "
                             "the LR sweep needs runs trained with an explicit learning_rate")
        points.setdefault(str(r.get("optimizer", label)), []).append(
            (float(r["learning_rate"]), float(r.get("test_accuracy", float("nan")))))
    return points


def _compare_curves(runs: Mapping[str, RunData], out: _Sections) -> None:
    """Accuracy (Fig. 2) and FF ratio per epoch, runs overlaid end to end."""
    curves = {k: _run_curve(r) for k, r in runs.items()}
    if any(len(c["train"]) or len(c["val"]) for c in curves.values()):
        out.emit("compare_accuracy", "Accuracy curves (Fig. 2)", "",
                 accuracy_figure(curves, overlay=True))
    ff = {k: _run_ff(r) for k, r in runs.items()}
    ff = {k: v for k, v in ff.items() if v[1].size}
    if ff:
        out.emit("compare_ff_ratio", "FF ratio per epoch", "", ff_figure(ff))


def _compare_last_steps(lasts: Mapping[str, StepData], out: _Sections) -> None:
    """Fig. 7, 3, 4 and 5 of each run's last step at its last epoch."""
    w = {k: _weights_hist(s, _epochs(s, "weights")[-1]) for k, s in lasts.items()
         if _epochs(s, "weights")}
    if w:
        out.emit("compare_weights", "Latent weight distribution (Fig. 7)", "",
                 weight_figure(w, overlay=True))
    sat = {k: _saturation_hist(s, _epochs(s, "saturation")[-1]) for k, s in lasts.items()
           if _epochs(s, "saturation")}
    if sat:
        out.emit("compare_activations", "Activation saturation, last epoch (Fig. 3)", "",
                 activation_figure(sat))
    cams = {k: _cam_panel(s, _epochs(s, "cam")[-1]) for k, s in lasts.items() if _epochs(s, "cam")}
    if not cams:
        return
    ref = float(np.min(next(iter(cams.values()))["cam"]))
    out.emit("compare_cam", "CAM per kernel, last epoch (Fig. 4)", "",
             cam_figure(cams, reference_min=ref))
    upd = {k: u for k, s in lasts.items() if _epochs(s, "cam")
           and (u := _update_cam(s, _epochs(s, "cam")[-1])) is not None}
    if upd:
        out.emit("compare_update_cam", "Update CAM, last epoch (Fig. 5)", "",
                 update_cam_figure(upd))


def compare(run_dirs: Mapping[str, PathLike], out_dir: PathLike, kind: str = "curves",
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
        raise ValueError(f"unknown comparison kind {kind!r}; valid kinds: {COMPARE_KINDS}")
    if not run_dirs:
        raise ValueError("compare needs at least one run: pass {label: run_dir}")
    runs = {label: load_run(d) for label, d in run_dirs.items()}
    out = Path(out_dir)
    table = _table_for(kind, runs)
    sections = _Sections(out / "figures")
    if kind == "lr_sweep":
        sections.emit("compare_lr_sweep", "Accuracy vs initial learning rate (Fig. 8)", "",
                      lr_sweep_figure(_lr_points(runs)))
    _compare_curves(runs, sections)
    _compare_last_steps({k: r.last for k, r in runs.items()}, sections)
    runs_list = "".join(f"- {k}: `{r.dir}`\n" for k, r in runs.items())
    text = [f"# {title or 'Comparison'}\n", f"Runs:\n\n{runs_list}", "## Table\n", table,
            *sections.blocks]
    out.mkdir(parents=True, exist_ok=True)
    md = out / "report.md"
    atomic_write_text(md, "\n".join(text))
    return md
