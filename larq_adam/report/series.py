"""The plain numbers each figure takes, read from a step's records and history.

The figure builders (:mod:`larq_adam.report.figures`) take dictionaries and arrays only;
these functions pull them out of :class:`~larq_adam.report.read.StepData` (records keyed by
0-based epoch, see :mod:`larq_adam.analysis.records`).
"""
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from larq_adam.report.read import RunData, StepData

__all__ = ["epochs", "saturation_hist", "weights_hist", "cam_panel", "update_cam",
           "first_layer", "run_curve", "run_ff"]


def epochs(step: StepData, kind: str) -> List[int]:
    """The 0-based epochs that have a ``kind`` record, in order."""
    return sorted(step.records.get(kind, {}))


def saturation_hist(step: StepData, epoch: int, layer: int = 0) -> Dict[str, Any]:
    """Fig. 3's histogram of one layer's binary-activation inputs, with the saturation share
    (inputs with ``|a| > bound``) when the record counted any input."""
    r = step.records["saturation"][epoch]
    total = float(np.asarray(r["total"])[layer])
    return dict(counts=np.asarray(r["counts"])[layer], edges=r["edges"],
                below=np.asarray(r["below"])[layer], above=np.asarray(r["above"])[layer],
                saturation=float(np.asarray(r["saturated"])[layer]) / total if total else None)


def weights_hist(step: StepData, epoch: int) -> Dict[str, Any]:
    """Fig. 7's histogram of all binarized layers' latent weights pooled."""
    r = step.records["weights"][epoch]
    return dict(counts=r["pooled_counts"], edges=r["edges"], below=r["pooled_below"],
                above=r["pooled_above"])


def cam_panel(step: StepData, epoch: int) -> Dict[str, Any]:
    """Fig. 4's panel: the first binary layer's CAM per kernel (Eq. 3) and its weights."""
    r = step.records["cam"][epoch]
    return dict(cam=np.asarray(r["cam"][0], float), weights=r.get("first_weights"))


def update_cam(step: StepData, epoch: int) -> Optional[np.ndarray]:
    """Fig. 5: the CAM of one iteration's update of the first binary layer, or ``None``
    when no update was measured that epoch."""
    upd = step.records["cam"][epoch].get("update_cam") or []
    return np.asarray(upd[0], float) if upd and np.size(upd[0]) else None


def first_layer(step: StepData, kind: str) -> str:
    """The name of the first binary layer a ``kind`` record covers."""
    recs = step.records.get(kind, {})
    names = next(iter(recs.values()), {}).get("layer_names", []) if recs else []
    return names[0] if names else "first binary layer"


def run_curve(run: RunData) -> Dict[str, Any]:
    """A run's student steps end to end on one epoch axis (two-step: step 2 after step 1),
    with the step boundaries, for Fig. 2."""
    xs: List[float] = []
    train_acc: List[float] = []
    val_acc: List[float] = []
    bounds: List[float] = []
    offset = 0
    for s in run.steps:
        train = s.column("accuracy")[1]
        val = s.column("val_accuracy")[1]
        n = max(len(train), len(val))
        if offset:
            bounds.append(offset + 0.5)
        xs.extend(offset + np.arange(1, n + 1))
        train_acc.extend(train)
        val_acc.extend(val)
        offset += n
    return {"epoch": xs, "train": train_acc, "val": val_acc, "boundaries": bounds}


def run_ff(run: RunData) -> Tuple[np.ndarray, np.ndarray]:
    """The FF ratio per epoch (Eq. 4-5) of a run's student steps end to end."""
    xs: List[float] = []
    ys: List[float] = []
    offset = 0
    for s in run.steps:
        v = s.ff_series()[1]
        xs.extend(offset + np.arange(1, len(v) + 1))
        ys.extend(v)
        offset += max(len(v), len(s.history))
    return np.array(xs), np.array(ys)
