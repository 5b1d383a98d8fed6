"""The claims scoreboard's numbers: what a finished run measured (:func:`measure`) and
each claim's test on the arms' values (:func:`score`, :mod:`.stats`)."""
import math
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np

from larq_adam.errors import UserInputError
from larq_adam.experiments import stats
from larq_adam.experiments.claim_definitions import LOW_CAM_QUANTILE, Claim, Setting, claims
from larq_adam.experiments.scoreboard import ArmRuns, ClaimResult


def _last_record(step_dir: Path, kind: str) -> Optional[Dict[str, Any]]:
    from larq_adam import analysis

    folder = step_dir / "records"
    if not folder.is_dir():
        return None
    found = analysis.load_records(str(folder)).get(kind, {})
    return found[max(found)] if found else None


def _record_metrics(step_dir: Path) -> Dict[str, float]:
    """Fig. 3-5's numbers for the first binary conv from the last epoch's records."""
    out: Dict[str, float] = {}
    cam = _last_record(step_dir, "cam")
    if cam is not None:
        first = np.asarray(cam["cam"][0], dtype=np.float64)
        out["cam_min_first"], out["sdam_first"] = float(first.min()), float(first.std())
        update = np.asarray(cam["update_cam"][0], dtype=np.float64)
        if update.size == first.size:
            low = first <= np.quantile(first, LOW_CAM_QUANTILE)
            out["update_cam_low"] = float(update[low].mean())
    sat = _last_record(step_dir, "saturation")
    if sat is not None:
        out["saturation_first"] = float(sat["saturated"][0]) / float(sat["total"][0])
    return out


def measure(result: Any) -> Dict[str, float]:
    """Every metric of :data:`METRICS` a finished run (a ``RunResult``) has, from its last
    step: its result, the last ``history.csv`` row and the analysis records."""
    step = result.steps[-1]
    out = {"accuracy": float(step.test_accuracy)}
    for key in ("ff_ratio", "c2i_ratio"):
        if getattr(step, key) is not None:
            out[key] = float(getattr(step, key))
    last = step.history[-1] if step.history else {}
    value = last.get("latent_abs_gt1")
    if value is not None and math.isfinite(float(value)):
        out["latent_abs_gt1"] = float(value)
    out.update(_record_metrics(Path(step.dir)))
    return out


def _test(claim: Claim, values: List[List[float]]) -> stats.TestResult:
    if claim.test == "welch":
        return stats.welch(values[0], values[1], direction=claim.direction)
    if claim.test == "contrast":
        return stats.welch_contrast(values, (1, -1, -1, 1), direction=claim.direction)
    x = [xv for xv, v in zip(claim.x, values) for _ in v]
    return stats.trend(x, [y for v in values for y in v], direction=claim.direction)


def score(setting: Setting, arms: Mapping[str, ArmRuns], *,
          only: Optional[Sequence[str]] = None) -> List[ClaimResult]:
    """Test every claim (or those in ``only``) on the arms' measured values; a claim whose
    arms lack the metric (NaN) in some run raises ``ValueError`` naming the runs."""
    rows = []
    for claim in claims(setting):
        if only is not None and claim.key not in only:
            continue
        values = [arms[a].values(claim.metric) for a in claim.arms]
        bad = [arms[a].run_dirs[i] for a, v in zip(claim.arms, values)
               for i, y in enumerate(v) if not math.isfinite(y)]
        if bad:
            raise UserInputError(f"claim {claim.key}: {claim.metric} is missing in {bad}; those "
                             "runs were trained without the analysis callbacks or their "
                             "records are gone: delete the folders and run again")
        rows.append(ClaimResult(
            key=claim.key, claimed=claim.claimed, source=claim.source, metric=claim.metric,
            arms=list(claim.arms), labels=[arms[a].label for a in claim.arms],
            values=values, x=list(claim.x), test=_test(claim, values)))
    return rows
