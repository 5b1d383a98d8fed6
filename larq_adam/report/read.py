"""A run folder read into typed data for the report.

One reader per file: a step's ``result.json`` through :meth:`larq_adam.results.StepResult.load`
(the schema training writes), its ``history.csv`` through
:func:`larq_adam.run_files.read_history`, ``config.json`` through
:func:`larq_adam.run_files.read_json` and the analysis records through
:func:`larq_adam.analysis.records.load_records`. A damaged file raises
:class:`~larq_adam.errors.CorruptFileError` with one line naming it.
"""
import dataclasses
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

from larq_adam.analysis.records import load_records
from larq_adam.errors import UserInputError
from larq_adam.results import StepResult
from larq_adam.formats import finite
from larq_adam.run_files import read_history, read_json

__all__ = ["PathLike", "StepData", "RunData", "load_run", "read_optional_json", "STEP_NAMES"]

PathLike = Union[str, os.PathLike]
#: Step folders of ``one_step`` (``step``) and ``two_step`` (``step1``, ``step2``) runs.
STEP_NAMES = ("step", "step1", "step2")
_JSON_FIX = "delete it and run the training again with --resume, which writes it again"
_HISTORY_FIX = ("repair or delete that line (the report then lacks that epoch's numbers), or "
                "train the step again")


@dataclasses.dataclass
class StepData:
    """One step folder: its ``config.json``, its :class:`~larq_adam.results.StepResult`
    (``None`` while the step is unfinished), ``history.csv`` rows and the analysis records
    (``{kind: {epoch: record}}``, see :mod:`larq_adam.analysis.records`)."""

    name: str
    dir: Path
    config: Dict[str, Any]
    result: Optional[StepResult]
    history: List[Dict[str, float]]
    records: Dict[str, Dict[int, Dict[str, Any]]]

    def setting(self, key: str, default: Any = None) -> Any:
        """``key`` from ``result.json`` when the step finished, else from its
        ``config.json``, else ``default``."""
        if self.result is not None and hasattr(self.result, key):
            return getattr(self.result, key)
        return self.config.get(key, default)

    def measured(self, key: str) -> Any:
        """A number the finished step measured (``result.json``); ``None`` before that."""
        return getattr(self.result, key, None) if self.result is not None else None

    def column(self, key: str) -> Tuple[np.ndarray, np.ndarray]:
        """``(epochs 1-based, values)`` of a ``history.csv`` column (empty when absent)."""
        rows = [r for r in self.history if finite(r.get(key))]
        return (np.array([int(r.get("epoch", i)) + 1 for i, r in enumerate(rows)]),
                np.array([float(r[key]) for r in rows]))

    def ff_series(self) -> Tuple[np.ndarray, np.ndarray]:
        """FF ratio per epoch (Eq. 4-5, the mean over the epoch's iterations): the
        ``ff_ratio`` column that :class:`~larq_adam.analysis.FlipFlopRatio` logs from the
        same flip counts it saves in the ``ff`` records (not recomputed here)."""
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
        if not self.steps:
            raise UserInputError(f"{self.dir} holds no step folder; pass a run folder written "
                                 "by la.training.one_step / two_step")
        return self.steps[-1]

    def all_steps(self) -> List[StepData]:
        """The teacher (when trained in this run) followed by the student steps."""
        return ([self.teacher] if self.teacher else []) + self.steps


def read_optional_json(path: Path, *, fix: str = _JSON_FIX) -> Dict[str, Any]:
    """A run-folder JSON object; ``{}`` when absent, :class:`CorruptFileError` (one line,
    naming the file) when damaged."""
    return read_json(path, fix=fix) if path.exists() else {}


def _load_step(step_dir: Path) -> StepData:
    result_path = step_dir / "result.json"
    history = read_history(step_dir / "history.csv", fix=_HISTORY_FIX)
    records_dir = step_dir / "records"
    return StepData(
        name=step_dir.name,
        dir=step_dir,
        config=read_optional_json(step_dir / "config.json"),
        result=StepResult.load(result_path, history=history) if result_path.exists() else None,
        history=history,
        records=load_records(str(records_dir)) if records_dir.is_dir() else {},
    )


def load_run(run_dir: PathLike, *, require_steps: bool = True) -> RunData:
    """Read a run folder (``one_step`` / ``two_step`` layout) for the report.

    Steps are those named in ``config.json``'s ``"steps"``, else the ``step``, ``step1``,
    ``step2`` folders present. Raises :class:`~larq_adam.errors.UserInputError` (a
    ``ValueError``) when ``run_dir`` is not a folder or, with ``require_steps``, holds no step.
    """
    run = Path(run_dir)
    if not run.is_dir():
        raise UserInputError(f"run_dir {str(run)!r} is not a directory; pass a run folder "
                             "written by la.training.one_step / two_step")
    config = read_optional_json(run / "config.json")
    names = config.get("steps") or [n for n in STEP_NAMES if (run / n).is_dir()]
    steps = [_load_step(run / n) for n in names if (run / n).is_dir()]
    if not steps and require_steps:
        raise UserInputError(f"{run} holds no step folder (step/, step1/, step2/); is it a run "
                             "folder written by la.training.one_step / two_step?")
    teacher = _load_step(run / "teacher") if (run / "teacher").is_dir() else None
    return RunData(run, config, teacher, steps)
