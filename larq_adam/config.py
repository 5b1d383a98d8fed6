"""One typed run configuration: what the command line builds, ``config.json`` stores,
``--resume`` compares and ``--config RUN/config.json`` runs again.

A :class:`RunConfig` is frozen and checked when it is made, so a bad value fails with one
line (:class:`~larq_adam.errors.UserInputError`) before anything is written. It describes
either scheme of the paper:

* ``kind="one_step"`` - one step in ``stage`` with ``weight_decay`` (Table 1's upper rows,
  Table 5, Fig. 2 and 8);
* ``kind="two_step"`` - step 1 in the first stage of ``order`` with ``step1_weight_decay``,
  step 2 fully binary with ``step2_weight_decay``, started from step 1's ``init`` weights
  (Sec. 3.3.3, Tables 1 and 4: ``babw`` with 5e-6 / 0 is the paper's scheme).

Example:
    >>> cfg = RunConfig(kind="two_step", epochs=2, width=0.25, teacher="auto")
    >>> RunConfig.from_json(cfg.to_json()) == cfg
    True
    >>> cfg.replace(epochs=3).epochs
    3
"""
import dataclasses
import math
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Union

from larq_adam import limits, vocabulary
from larq_adam.errors import UserInputError
from larq_adam.run_files import read_json

__all__ = ["RunConfig", "KINDS", "ORDERS", "STAGES", "INITS", "SELECT_ON", "TEACHER_CHOICES",
           "RUN_META_KEYS"]

from larq_adam.vocabulary import INITS, KINDS, ORDERS, SELECT_ON, STAGES, TEACHER_CHOICES
#: keys the run adds to ``config.json`` beside the configuration (read back, not compared).
RUN_META_KEYS = ("changes", "steps", "final_model", "teacher_path")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


#: the JSON type every setting takes (None allowed where the field's default is None or
#: the setting is optional); checked before any value is used, so ``"analysis": "false"``
#: is refused rather than read as true.
_TYPES = {
    **{k: str for k in ("kind", "data", "model", "optimizer", "schedule", "teacher_model",
                        "stage", "order", "init", "strategy", "data_dir", "teacher",
                        "select_on")},
    **{k: bool for k in ("exact_reference", "analysis", "recalibrate_bn")},
    **{k: int for k in ("batch_size", "epochs", "seed", "image_size", "max_steps_per_epoch",
                        "teacher_epochs")},
    **{k: float for k in ("width", "pad_values", "weight_decay", "step1_weight_decay",
                          "step2_weight_decay", "learning_rate", "teacher_width",
                          "holdout")},
}
_OPTIONAL = ("data_dir", "teacher", "image_size", "max_steps_per_epoch", "teacher_epochs",
             "learning_rate", "teacher_width")
_TYPE_NAMES = {str: "a string", bool: "true or false", int: "an integer", float: "a number"}


def _type_ok(value: Any, kind: type) -> bool:
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Every setting of a training run (``larq-adam train``'s options, one field each).

    Data: ``data`` (a name of :func:`larq_adam.data.load`, ``folder:PATH`` or
    ``tfds:NAME``), ``data_dir``, ``image_size`` (None: the dataset's), ``batch_size``
    (global), ``max_steps_per_epoch``.
    Model selection: ``select_on`` (``"validation"``: the best weights and step 2's start
    are chosen on a validation split, the dataset's own or ``holdout`` of each class of
    train held out, and the test split is only reported; ``"test"``: chosen on the test
    split, the authors' protocol on ImageNet), ``holdout``.
    Model: ``model``, ``width`` (channel multiplier), ``pad_values`` (0: the reference's
    zero padding; 1: LCE's fast path).
    Optimisation (Sec. 3.2-3.3): ``optimizer``, ``learning_rate`` (None: the optimizer's
    default), ``schedule`` (``linear`` is the paper's), ``exact_reference`` (the released
    code's off-by-one linear decay), ``epochs`` (per step).
    Distillation: ``teacher`` (None, ``"auto"`` to train a real-valued teacher first, or a
    saved model's path), ``teacher_model``, ``teacher_width`` and ``teacher_epochs`` (None:
    the student's).
    Scheme: ``kind``; one step: ``stage``, ``weight_decay``; two steps: ``order``,
    ``step1_weight_decay``, ``step2_weight_decay``, ``init``.
    Run: ``strategy`` (:func:`larq_adam.training.distribute.strategy`), ``seed``,
    ``analysis`` (the paper's measurement callbacks), ``recalibrate_bn`` (the final
    weights keep BN statistics re-estimated over the training split: a step's accuracy
    with them is measured either way, :mod:`larq_adam.training.bn_stats`).
    """

    kind: str = "two_step"
    data: str = "mnist5k"
    data_dir: Optional[str] = None
    image_size: Optional[int] = None
    batch_size: int = 64
    max_steps_per_epoch: Optional[int] = None
    model: str = "reactnet_a"
    width: float = 1.0
    pad_values: float = 0.0
    optimizer: str = "adam"
    learning_rate: Optional[float] = None
    schedule: str = "linear"
    exact_reference: bool = False
    epochs: int = 1
    teacher: Optional[str] = None
    teacher_model: str = "resnet18"
    teacher_width: Optional[float] = None
    teacher_epochs: Optional[int] = None
    stage: str = "bnn"
    weight_decay: float = 0.0
    order: str = "babw"
    step1_weight_decay: float = 5e-6
    step2_weight_decay: float = 0.0
    init: str = "best"
    strategy: str = "default"
    seed: int = 0
    analysis: bool = True
    recalibrate_bn: bool = False
    select_on: str = "validation"
    holdout: float = 0.1

    def __post_init__(self) -> None:
        for key in ("teacher", "data_dir"):  # a pathlib.Path is taken as its string
            if hasattr(getattr(self, key), "__fspath__"):
                object.__setattr__(self, key, str(getattr(self, key)))
        if self.teacher in ("none", ""):
            object.__setattr__(self, "teacher", None)
        stage = getattr(self.stage, "value", self.stage)  # a larq_adam.Stage is accepted
        object.__setattr__(self, "stage", stage)
        self._check_types()
        object.__setattr__(self, "stage", str(stage).lower())
        object.__setattr__(self, "optimizer", str(self.optimizer).lower())
        for key in ("width", "pad_values", "weight_decay", "step1_weight_decay",
                    "step2_weight_decay", "holdout"):
            if _is_number(getattr(self, key)):
                object.__setattr__(self, key, float(getattr(self, key)))
        self._check_choices()
        self._check_numbers()

    def _check_types(self) -> None:
        for key, kind in _TYPES.items():
            value = getattr(self, key)
            if value is None and key in _OPTIONAL:
                continue
            if not _type_ok(value, kind):
                also = " or null" if key in _OPTIONAL else ""
                raise UserInputError(f"{key} must be {_TYPE_NAMES[kind]}{also}, got "
                                     f"{value!r} ({type(value).__name__})")

    def _check_choices(self) -> None:
        words = vocabulary
        choices = {"kind": KINDS, "model": words.MODELS, "teacher_model": words.MODELS,
                   "optimizer": words.OPTIMIZERS, "schedule": words.SCHEDULES,
                   "stage": STAGES, "order": ORDERS, "init": INITS, "select_on": SELECT_ON}
        for key, valid in choices.items():
            if getattr(self, key) not in valid:
                raise UserInputError(f"unknown {key} {getattr(self, key)!r}; valid: "
                                     f"{', '.join(valid)}")
        students = sorted(words.STUDENTS)
        if self.model in words.TEACHERS and (self.kind, self.stage) != ("one_step", "fp"):
            raise UserInputError(f"model {self.model!r} is a real-valued teacher, not a binary "
                                 f"network (it trains only as one step in stage fp); valid "
                                 f"students: {', '.join(students)}")
        if self.teacher_model not in words.TEACHERS:
            raise UserInputError(f"teacher_model {self.teacher_model!r} is not a teacher "
                                 f"network; valid: {', '.join(words.TEACHERS)}")
        name = str(self.strategy).lower()
        if name not in words.STRATEGIES and not name.startswith("tpu:"):
            raise UserInputError(f"unknown strategy {self.strategy!r}; valid: "
                                 f"{', '.join(words.STRATEGIES)}, tpu:ADDRESS")

    def _check_numbers(self) -> None:
        def need(ok: bool, what: str) -> None:
            if not ok:
                raise UserInputError(what)

        for key in ("epochs", "batch_size", "seed", "max_steps_per_epoch", "teacher_epochs",
                    "image_size", "width", "teacher_width", "learning_rate"):
            if getattr(self, key) is not None or key not in _OPTIONAL:
                limits.check_range(key, getattr(self, key))
        for key in ("pad_values", "weight_decay", "step1_weight_decay", "step2_weight_decay"):
            need(_is_number(getattr(self, key)),
                 f"{key} must be a finite number, got {getattr(self, key)!r}")
        limits.check_range("holdout", self.holdout)

    # ------------------------------------------------------------------ derived settings
    @property
    def step_stages(self) -> Dict[str, str]:
        """Step folder name -> stage (``{"step": stage}`` or ``{"step1": .., "step2": ..}``)."""
        if self.kind == "one_step":
            return {"step": self.stage}
        first, second = ORDERS[self.order]
        return {"step1": first, "step2": second}

    @property
    def step_weight_decays(self) -> Dict[str, float]:
        """Step folder name -> its coupled weight decay on the latent weights (Sec. 3.3.1)."""
        if self.kind == "one_step":
            return {"step": self.weight_decay}
        return {"step1": self.step1_weight_decay, "step2": self.step2_weight_decay}

    @property
    def resolved_teacher_width(self) -> float:
        return self.width if self.teacher_width is None else self.teacher_width

    @property
    def resolved_teacher_epochs(self) -> int:
        return self.epochs if self.teacher_epochs is None else self.teacher_epochs

    def replace(self, **changes: Any) -> "RunConfig":
        """A copy with ``changes`` (checked like a new configuration)."""
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ storage
    def to_json(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, record: Mapping[str, Any], *, where: str = "the configuration"
                  ) -> "RunConfig":
        """The configuration in ``record`` (a ``config.json``'s content; the run's own keys
        :data:`RUN_META_KEYS` are skipped); one line naming unknown keys."""
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(record) - fields - set(RUN_META_KEYS))
        if unknown:
            raise UserInputError(f"{where} has unknown settings {unknown}; valid: "
                                 f"{', '.join(sorted(fields))}")
        return cls(**{k: v for k, v in record.items() if k in fields})

    @classmethod
    def load(cls, path: Union[str, Path]) -> "RunConfig":
        """Read a run's ``config.json`` (or the run folder holding it)."""
        path = Path(path)
        if path.is_dir():
            path = path / "config.json"
        if not path.exists():
            raise UserInputError(f"--config {path}: no such file; pass a run's config.json "
                                 "(or its run folder)")
        record = read_json(path, fix="pass a run's config.json as written by larq-adam train")
        try:
            return cls.from_json(record, where=str(path))
        except UserInputError as err:
            if str(path) in str(err):
                raise
            raise UserInputError(f"{path}: {err}") from None
