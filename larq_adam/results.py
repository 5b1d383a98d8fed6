"""Typed records of what a run measured: written by training, read by the report.

One schema: :class:`StepResult` is a step's ``result.json`` and :class:`RunResult` the
whole run. Neither needs TensorFlow, so a report can be made on a machine without it.
"""
import dataclasses
import json
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Union

from larq_adam import formats
from larq_adam.errors import CorruptFileError, WrongTypeError

__all__ = ["StepResult", "RunResult"]


@dataclasses.dataclass
class StepResult:
    """What a finished step measured (saved as ``result.json`` in its folder).

    ``test_accuracy`` / ``test_top5`` are the final weights' top-1 / top-5 on the test
    split; ``best_accuracy`` is the best validation top-1 of any epoch's weights (kept in
    ``best.weights.h5``), ``best_epoch`` that epoch (1-based, as the console and the
    report count; ``history.csv``'s ``epoch`` column is Keras' 0-based one) and
    ``best_test_accuracy`` their test top-1. ``selection`` names the split the best weights
    were chosen on (``la.training.data_feed.selection_split``: a validation split, or the
    test split itself, then ``best_test_accuracy == best_accuracy``) and
    ``validation_accuracy`` is the final weights' top-1 on it.
    ``ff_ratio`` is the step's FF ratio (Eq. 4-5) over all its iterations and ``c2i_ratio``
    its C2I ratio against the step's initial weights (Eq. 6-7, Table 1). ``seconds`` counts
    every process that worked on the step (up to its last checkpoint).
    ``recalibrated_accuracy`` is the final weights' top-1 with BN statistics re-estimated
    over the training split (:mod:`larq_adam.training.bn_stats`; None where not measured)
    and ``bn_recalibrated`` whether the saved final weights keep those statistics
    (``test_accuracy`` is always the moving statistics', as ``fit`` validated).
    """

    name: str
    stage: str
    dir: str
    test_accuracy: float
    test_top5: float
    ff_ratio: Optional[float]
    c2i_ratio: Optional[float]
    epochs: int
    seconds: float
    weight_decay: float
    optimizer: str
    learning_rate: Optional[float]
    best_accuracy: Optional[float] = None
    best_epoch: Optional[int] = None
    recalibrated_accuracy: Optional[float] = None
    bn_recalibrated: bool = False
    best_test_accuracy: Optional[float] = None
    validation_accuracy: Optional[float] = None
    selection: str = "test split"
    history: List[Dict[str, float]] = dataclasses.field(default_factory=list, repr=False)

    def to_json(self) -> Dict[str, Any]:
        out = dataclasses.asdict(self)
        out.pop("history")
        out["epoch_base"] = 1  # best_epoch counts from 1 (files without this key: from 0)
        return out

    def summary_line(self) -> str:
        """One line: stage, decay, the final weights' test top-1 (and with re-estimated BN
        statistics) and top-5, the best weights' epoch with their validation and test
        top-1, FF, C2I, time."""
        ff, c2i = formats.sci(self.ff_ratio, 3), formats.fix(self.c2i_ratio, 4)
        recal = (f" (re-estimated BN {self.recalibrated_accuracy:.4f})"
                 if self.recalibrated_accuracy is not None else "")
        best = ""
        if self.best_accuracy is not None and self.best_epoch is not None:
            test = (f" test {self.best_test_accuracy:.4f}"
                    if self.best_test_accuracy is not None
                    and not self.selection.startswith("test") else "")
            best = f" best@{self.best_epoch}: val {self.best_accuracy:.4f}{test}"
        return (f"[{self.name}] stage={self.stage} wd={self.weight_decay:g} "
                f"test top-1={self.test_accuracy:.4f}{recal} top-5={self.test_top5:.4f}"
                f"{best} FF={ff} C2I={c2i} ({self.seconds:.0f} s)")

    @classmethod
    def from_json(cls, record: Mapping[str, Any], *,
                  history: Optional[List[Dict[str, float]]] = None) -> "StepResult":
        """The result in ``record``; ``TypeError`` naming a value of the wrong type."""
        fields = {f.name for f in dataclasses.fields(cls)} - {"history"}
        for key, kinds in _KINDS.items():
            value = record.get(key)
            if (value is not None or key in _REQUIRED) and (
                    isinstance(value, bool) or not isinstance(value, kinds)):
                raise WrongTypeError(f"{key!r} is {value!r}, not "
                                f"{'a string' if kinds is str else 'a number'}")
        values = {k: v for k, v in record.items() if k in fields}
        if "epoch_base" not in record and values.get("best_epoch") is not None:
            values["best_epoch"] += 1  # written before epochs counted from 1
        if "selection" not in record:  # written when the best was chosen on the test split
            values["selection"] = "test split"
        return cls(**values, history=history or [])

    @classmethod
    def load(cls, path: Union[str, Path], *,
             history: Optional[List[Dict[str, float]]] = None) -> "StepResult":
        """Read a ``result.json``; :class:`CorruptFileError` names a damaged file."""
        path = Path(path)
        try:
            record = json.loads(path.read_text())
            return cls.from_json(record, history=history)
        except (ValueError, TypeError, UnicodeDecodeError) as exc:
            raise CorruptFileError(f"{path} cannot be read as a step result ({exc}): delete "
                                   "it and run again with --resume to finish the step "
                                   "again") from None


#: the types of a ``result.json``'s values (those in _REQUIRED may not be null)
_KINDS = {"name": str, "stage": str, "optimizer": str, "test_accuracy": (int, float),
          "test_top5": (int, float), "seconds": (int, float), "epochs": int,
          "weight_decay": (int, float), "ff_ratio": (int, float), "c2i_ratio": (int, float),
          "learning_rate": (int, float), "best_accuracy": (int, float), "best_epoch": int,
          "recalibrated_accuracy": (int, float), "best_test_accuracy": (int, float),
          "validation_accuracy": (int, float), "selection": str, "epoch_base": int}
_REQUIRED = ("name", "stage", "test_accuracy", "test_top5", "seconds", "epochs")


@dataclasses.dataclass
class RunResult:
    """A whole run: its folder, its steps in order, the teacher's step (if trained here)."""

    run_dir: str
    steps: List[StepResult]
    teacher: Optional[StepResult]
    final_model_path: str
