"""Training steps and the paper's one-step / two-step schemes, with checkpoints and resume.

A :class:`Step` is one ``fit`` of one model in one binarization stage with one optimizer
(the paper trains 256 epochs per step on ImageNet). :func:`one_step` runs a single BNN step;
:func:`two_step` runs step 1 then step 2 initialised from step 1's best-validation weights
(``init="best"``, as the authors' step-2 script loads ``model_best.pth.tar``; or
``init="final"``), in the order the paper compares in Table 4:

* ``"babw"`` (Sec. 3.3.3, the paper's scheme): step 1 binary activations / real weights
  with weight decay 5e-6, step 2 fully binary with weight decay 0;
* ``"bwba"``: step 1 binary weights / real activations, step 2 fully binary.

With ``teacher="auto"`` a real-valued ResNet-18 teacher is trained first and every step
distils from it (ReActNet's distribution loss). Everything lands in one run folder:
``config.json``, ``teacher/`` (with ``model.h5``), ``step1/``, ``step2/`` (or ``step/``),
each with ``checkpoints/``, ``history.csv``, ``records/``, ``logs/``, ``final.weights.h5``,
``best.weights.h5`` and ``result.json``, and ``final_model.h5``. Every file written whole
is written under a temporary name and renamed into place (:mod:`larq_adam.atomic`).

A run killed at any moment resumes with ``resume=True`` (``--resume``) and ends as the
uninterrupted run would have: finished steps (those with a ``result.json``) are read back;
the interrupted step restores model, optimizer, epoch and elapsed seconds from its newest
readable checkpoint and continues with the next epoch, whose order and augmentation depend
on the seed and the epoch number only; ``history.csv`` keeps one row per epoch. A NaN or
infinite loss stops training on that batch with :class:`TrainingDivergedError`, naming the
last good checkpoint; ``allow_changes=("lr",)`` (``--allow-changes lr``) lets the resume use
a lower learning rate. Damaged files give one line naming the file and the fix
(:class:`~larq_adam.errors.CorruptFileError`).

Example:
    >>> res = la.training.two_step("runs/demo", data="mnist5k", model="reactnet_a",
    ...                            width=0.25, epochs=1)  # doctest: +SKIP
    >>> [(s.name, s.test_accuracy, s.best_accuracy) for s in res.steps]  # doctest: +SKIP
"""
import contextlib
import dataclasses
import math
import os
import re
import warnings
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import tensorflow as tf

from larq_adam import analysis, data as data_lib, models
from larq_adam.atomic import (
    atomic_path,
    atomic_save_model,
    atomic_save_weights,
    atomic_write_json,
    remove_partial_files,
)
from larq_adam.errors import CorruptFileError, RunStateError, UserInputError
from larq_adam.records import RunResult, StepResult
from larq_adam.run_files import h5_problem, read_history, read_json, trim_history
from larq_adam.stages import Stage
from larq_adam.training import distribute, resume as resume_lib
from larq_adam.training.distill import Distiller
from larq_adam.training.optimizers import DEFAULT_LEARNING_RATES, SCHEDULES, make_optimizer
from larq_adam.training.resume import ALLOW_CHANGES, RecoveryWarning
from larq_adam.training.run_callbacks import (
    BestWeights,
    EpochCheckpoint,
    LearningRateLogger,
    StepClock,
    StopOnNonFinite,
    TrainingDivergedError,
)

__all__ = [
    "Step",
    "StepResult",
    "RunResult",
    "TrainingDivergedError",
    "RecoveryWarning",
    "run_step",
    "one_step",
    "two_step",
    "TWO_STEP_ORDERS",
    "INIT_CHOICES",
    "ALLOW_CHANGES",
]

TWO_STEP_ORDERS = {"babw": (Stage.BA, Stage.BNN), "bwba": (Stage.BW, Stage.BNN)}
INIT_CHOICES = ("best", "final")
RESUME_MODES = (False, True, "allow")
STEP_FOLDERS = ("teacher", "step", "step1", "step2")
PathLike = Union[str, os.PathLike]
_RECORD_FILE = re.compile(r"^[a-z0-9]+_epoch(\d{4,})\.npz$")


@dataclasses.dataclass
class Step:
    """One training step: a model in one stage, trained by one optimizer for some epochs.

    Args:
        name: folder name inside the run (``"step1"``, ``"teacher"``, ...).
        model: a name from :func:`larq_adam.models.available`.
        stage: the binarization stage (``Stage`` or ``"fp"``, ``"ba"``, ``"bw"``, ``"bnn"``).
        optimizer: a name accepted by :func:`larq_adam.training.make_optimizer`.
        learning_rate: initial LR; ``None`` takes the optimizer's default.
        weight_decay: coupled L2 on the latent weights (Sec. 3.3.1; may be negative).
        epochs: epochs of this step.
        schedule: ``"linear"`` (the paper's), ``"cosine"`` or ``"constant"``.
        teacher: path of a saved real-valued Keras model to distil from, or ``None`` for
            cross-entropy on the labels.
        init_from: path of weights (``.weights.h5``) to start from (step 2 of two-step).
        width: channel multiplier of the model.
        pad_values: pad value of the binary 3x3 convs (0 = reference, 1 = LCE fast path).
        exact_reference: use the released code's off-by-one linear decay.
        seed: the run's seed; the step's initial weights are drawn with a seed derived from
            it and ``name``.
    """

    name: str
    model: str = "reactnet_a"
    stage: Union[Stage, str] = Stage.BNN
    optimizer: str = "adam"
    learning_rate: Optional[float] = None
    weight_decay: float = 0.0
    epochs: int = 1
    schedule: str = "linear"
    teacher: Optional[str] = None
    init_from: Optional[str] = None
    width: float = 1.0
    pad_values: float = 0.0
    exact_reference: bool = False
    seed: int = 0

    def __post_init__(self):
        self.stage = Stage(self.stage)
        if int(self.epochs) < 1:
            raise UserInputError(f"Step {self.name!r}: epochs must be >= 1, got {self.epochs}")

    def to_json(self) -> Dict[str, Any]:
        out = dataclasses.asdict(self)
        out["stage"] = self.stage.value
        return out


@dataclasses.dataclass
class _Data:
    """A run's data. ``train`` is a dataset of whole epochs back to back, or a function
    ``first epoch -> such a dataset`` (so a resumed step starts at its epoch)."""

    train: Union[tf.data.Dataset, Callable[[int], tf.data.Dataset]]
    test: tf.data.Dataset
    info: Any
    probe: np.ndarray
    steps_per_epoch: int

    def train_from(self, epoch: int) -> tf.data.Dataset:
        return self.train(epoch) if callable(self.train) else self.train


def _load_data(config: Dict[str, Any]) -> _Data:
    """Train epochs (each a function of the seed and its number, repeated from a given
    epoch on), the test split in its stored order, and a class-balanced probe batch."""
    name, batch = config["data"], config["batch_size"]
    common = dict(image_size=config["image_size"], data_dir=config["data_dir"],
                  seed=config["seed"], max_batches=config["max_steps_per_epoch"])
    test, info = data_lib.load(name, "test", batch, shuffle=False, epoch=0, **common)

    def train_from(epoch: int) -> tf.data.Dataset:  # the split is checked once, below
        ds, _ = data_lib.load(name, "train", batch, shuffle=True, epoch=epoch, repeat=True,
                              check_files=False, **common)
        return ds

    _, train_info = data_lib.load(name, "train", batch, shuffle=True, epoch=0, **common)
    steps = train_info.steps_per_epoch(batch)
    if config["max_steps_per_epoch"] is not None:
        steps = min(steps, int(config["max_steps_per_epoch"]))
    probe, _ = data_lib.balanced_sample(name, 32, seed=config["seed"], split="test",
                                        image_size=config["image_size"],
                                        data_dir=config["data_dir"])
    return _Data(train_from, test, train_info, probe, steps)


# ----------------------------------------------------------------------------- step folder


def _history_fix(step_dir: Path) -> str:
    return (f"delete {step_dir / 'checkpoints'} and {step_dir / 'history.csv'} and run again "
            "with --resume to train this step again from its first epoch")


def _read_finished(step_dir: Path) -> Optional[StepResult]:
    """The saved result of a finished step (``result.json``), or None."""
    path = step_dir / "result.json"
    if not path.exists():
        return None
    saved = read_json(path, fix=f"delete it and run again with --resume: the step's last "
                                f"checkpoint is read again and {path.name} rewritten")
    known = {f.name for f in dataclasses.fields(StepResult)} - {"history"}
    history = read_history(step_dir / "history.csv", fix=_history_fix(step_dir))
    fields = {k: v for k, v in saved.items() if k in known}
    return StepResult(**{**fields, "dir": str(step_dir)}, history=history)


def _relocatable(settings: Dict[str, Any]) -> Dict[str, Any]:
    """Settings with their paths cut to the last two parts (``step1/best.weights.h5``), so
    a run folder that was moved or copied still resumes."""
    out = dict(settings)
    for key in ("init_from", "teacher"):
        if out.get(key):
            out[key] = "/".join(Path(out[key]).parts[-2:])
    return out


def _claim_step_dir(step_dir: Path, step: Step, *, resume: bool,
                    allow_changes: Sequence[str]) -> None:
    """Check that ``step_dir`` may hold this step (empty, or resumed with the same settings
    but for ``allow_changes``) and write its ``config.json``."""
    config_path = step_dir / "config.json"
    if not resume and step_dir.exists() and any(step_dir.iterdir()):
        raise RunStateError(f"{step_dir} already holds a run; add --resume to continue it, "
                            "or pass another --run-dir (or delete the folder) to start afresh")
    record = step.to_json()
    if resume and config_path.exists():
        saved = read_json(config_path, fix="delete it and run again with --resume (the step's "
                                           "checkpoints hold its state)")
        changes = resume_lib.check_settings(
            _relocatable(saved), _relocatable(record), where=str(step_dir),
            allowed=resume_lib.allowed_settings(allow_changes))
        record["changes"] = list(saved.get("changes", [])) + (
            [{k: list(v) for k, v in changes.items()}] if changes else [])
    step_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(config_path, record)


# ----------------------------------------------------------------------------- building


@dataclasses.dataclass
class _Built:
    model: tf.keras.Model
    trainer: tf.keras.Model
    optimizer: tf.keras.optimizers.Optimizer
    checkpoint: tf.train.Checkpoint
    epoch: tf.Variable
    elapsed: tf.Variable


def _load_teacher(path: str) -> tf.keras.Model:
    problem = h5_problem(path, whole_model=True) if str(path).endswith((".h5", ".hdf5")) else None
    if problem:
        raise CorruptFileError(f"teacher {path} cannot be read ({problem}): pass the path of a "
                               "Keras model saved whole with model.save(...)")
    return tf.keras.models.load_model(path, compile=False)


def _compile(model: tf.keras.Model, optimizer, teacher: Optional[str]) -> tf.keras.Model:
    """The model to ``fit``: a :class:`Distiller` when there is a teacher, else the model
    with cross-entropy. Both log ``accuracy`` and ``top5`` (and their ``val_`` forms)."""
    top5 = tf.keras.metrics.SparseTopKCategoricalAccuracy(k=5, name="top5")
    if teacher:
        trainer: tf.keras.Model = Distiller(model, _load_teacher(teacher))
        trainer.compile(optimizer=optimizer, metrics=[top5])
        return trainer
    model.compile(optimizer=optimizer,
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[tf.keras.metrics.SparseCategoricalAccuracy(name="accuracy"), top5])
    return model


def _build(step: Step, data: _Data, strategy: tf.distribute.Strategy) -> _Built:
    """Model, optimizer, trainer and checkpoint of a step; initial weights seeded by the
    run's seed and the step's name."""
    tf.keras.utils.set_random_seed(resume_lib.step_seed(step.seed, step.name))
    with strategy.scope():
        model = models.build_model(
            step.model, stage=step.stage, input_shape=tuple(data.info.input_shape),
            num_classes=data.info.num_classes, width=step.width, pad_values=step.pad_values)
        optimizer = make_optimizer(
            step.optimizer, learning_rate=step.learning_rate, weight_decay=step.weight_decay,
            model=model, schedule=step.schedule, epochs=step.epochs,
            steps_per_epoch=data.steps_per_epoch, exact_reference=step.exact_reference)
        trainer = _compile(model, optimizer, step.teacher)
        epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        elapsed = tf.Variable(0.0, dtype=tf.float64, trainable=False, name="elapsed_seconds")
    ckpt = tf.train.Checkpoint(model=model, optimizer=optimizer, epoch=epoch, elapsed=elapsed)
    return _Built(model, trainer, optimizer, ckpt, epoch, elapsed)


# ----------------------------------------------------------------------------- starting


def _reapply_learning_rate(optimizer, step: Step) -> None:
    """A checkpoint restores a constant learning rate (a variable) to its saved value; set
    the step's own, which differs after a resume with ``--allow-changes lr``."""
    if step.schedule != "constant":
        return  # a schedule object: rebuilt from the step's settings, not restored
    value = step.learning_rate
    if value is None:
        value = DEFAULT_LEARNING_RATES[step.optimizer.lower()]
    for opt in [optimizer, getattr(optimizer, "default_optimizer", None)]:
        if isinstance(getattr(opt, "learning_rate", None), tf.Variable):
            opt.learning_rate.assign(value)


def _load_weights(model: tf.keras.Model, path: str) -> None:
    problem = h5_problem(path, whole_model=False)
    if problem:
        source = Path(path).parent
        fix = (f"delete {source / 'result.json'} and run again with --resume to write "
               f"{Path(path).name} again from {source.name}'s last checkpoint"
               if Path(path).name == "final.weights.h5" else
               f"start the run again in another --run-dir (or with init='final')")
        raise CorruptFileError(f"{path} cannot be read ({problem}): {fix}")
    model.load_weights(path)


def _initialise(step_dir: Path, step: Step, model: tf.keras.Model, verbose: int) -> None:
    """A new step: load ``init_from`` and save the initial kernels (C2I's reference)."""
    if step.init_from:
        _load_weights(model, step.init_from)
        if verbose:
            print(f"[{step.name}] initialised from {step.init_from}")
    kernels = [k.numpy() for k in analysis.binary_kernels(model)]
    with atomic_path(step_dir / "initial_kernels.npz") as tmp:
        np.savez(tmp, *kernels)


def _trim_records(records_dir: Path, epochs_done: int) -> None:
    """Remove analysis records of epochs that were not checkpointed (redone on resume)."""
    if not records_dir.is_dir():
        return
    for p in records_dir.iterdir():
        match = _RECORD_FILE.match(p.name)
        if match and int(match.group(1)) >= epochs_done:
            p.unlink()


def _start(step_dir: Path, step: Step, built: _Built, clock: StepClock, *, resume: bool,
           verbose: int) -> int:
    """Restore the newest readable checkpoint (resume) or initialise; returns the first
    epoch to train. History and records are cut back to the checkpointed epochs."""
    restored = None
    if resume:
        restored = resume_lib.restore_newest(built.checkpoint, step_dir / "checkpoints",
                                             label=f"step {step.name!r}")
    if restored:
        _reapply_learning_rate(built.optimizer, step)
        clock.before = float(built.elapsed.numpy())
        epoch = int(built.epoch.numpy())
        if verbose:
            print(f"[{step.name}] resumed from {restored} (epoch {epoch})")
    else:
        _initialise(step_dir, step, built.model, verbose)
        epoch = 0
    trim_history(step_dir / "history.csv", epoch, fix=_history_fix(step_dir))
    _trim_records(step_dir / "records", epoch)
    return epoch


# ----------------------------------------------------------------------------- training


def _analysis_callbacks(step_dir: Path, probe: np.ndarray, initial_epoch: int
                        ) -> List[tf.keras.callbacks.Callback]:
    """The paper's measurements (Sec. 3.2-3.3). C2I compares with the step's initial
    kernels (``initial_kernels.npz``) and the FF ratio's running totals continue from the
    last completed epoch's record, so a resumed step measures as if never interrupted."""
    records = str(step_dir / "records")
    initial = step_dir / "initial_kernels.npz"
    fix = f"delete {step_dir / 'checkpoints'} and run again with --resume to train this " \
          "step again from its first epoch"
    if not initial.exists():
        raise RunStateError(f"{initial} (the C2I reference) is missing: {fix}")
    resume_from = None
    if initial_epoch > 0:
        saved = analysis.load_records(records).get("ff", {})
        resume_from = saved.get(initial_epoch - 1)
        if resume_from is None:
            raise RunStateError(f"{records} has no ff record of epoch {initial_epoch - 1} to "
                                f"continue the FF ratio from: {fix}")
    return [
        analysis.FlipFlopRatio(record_dir=records, resume_from=resume_from),
        analysis.C2IRatio(reference=str(initial)),
        analysis.CAMStats(record_dir=records),
        analysis.ActivationSaturation(probe, record_dir=records),
        analysis.WeightHistograms(str(step_dir / "logs"), record_dir=records),
    ]


def _best(history: List[Dict[str, float]]) -> Tuple[Optional[float], Optional[int]]:
    """The best finite ``val_accuracy`` of the history and its epoch (first of ties)."""
    rows = [r for r in history if math.isfinite(r.get("val_accuracy", math.nan))]
    if not rows:
        return None, None
    top = max(rows, key=lambda r: r["val_accuracy"])
    return float(top["val_accuracy"]), int(top["epoch"])


def _callbacks(step_dir: Path, step: Step, data: _Data, built: _Built, clock: StepClock, *,
               initial_epoch: int, analysis_on: bool,
               extra: Sequence[tf.keras.callbacks.Callback]) -> List[tf.keras.callbacks.Callback]:
    """The step's callbacks: the divergence check first (it must see a NaN loss before the
    analysis callbacks do), checkpointing after the loggers."""
    manager = tf.train.CheckpointManager(built.checkpoint, str(step_dir / "checkpoints"),
                                         max_to_keep=2)
    best, _ = _best(read_history(step_dir / "history.csv", fix=_history_fix(step_dir)))
    callbacks: List[tf.keras.callbacks.Callback] = [
        StopOnNonFinite(step.name, lambda: manager.latest_checkpoint)]
    if analysis_on:
        callbacks += _analysis_callbacks(step_dir, data.probe, initial_epoch)
    return [
        *callbacks,
        LearningRateLogger(),
        tf.keras.callbacks.CSVLogger(str(step_dir / "history.csv"), append=True),
        BestWeights(built.model, step_dir / "best.weights.h5",
                    best if best is not None else -math.inf),
        EpochCheckpoint(manager, built.epoch, built.elapsed, clock, step.name),
        *extra,
    ]


def _test_metrics(history: List[Dict[str, float]], built: _Built, data: _Data
                  ) -> Tuple[float, float]:
    """Top-1 / top-5 of the final weights on the test split: the last epoch's validation
    (the same weights, data and metrics), else a fresh evaluation."""
    last = history[-1] if history else {}
    if all(math.isfinite(last.get(k, math.nan)) for k in ("val_accuracy", "val_top5")):
        return float(last["val_accuracy"]), float(last["val_top5"])
    model = built.model
    model.compile(loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[tf.keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
                           tf.keras.metrics.SparseTopKCategoricalAccuracy(k=5, name="top5")])
    evaluation = model.evaluate(data.test, verbose=0, return_dict=True)
    return float(evaluation["accuracy"]), float(evaluation["top5"])


def _finish(step_dir: Path, step: Step, built: _Built, data: _Data, clock: StepClock, *,
            model_path: Optional[Path]) -> StepResult:
    """Save the final weights (and the whole model to ``model_path``), write result.json."""
    atomic_save_weights(built.model, step_dir / "final.weights.h5")
    if model_path is not None:
        atomic_save_model(built.model, model_path, include_optimizer=False)
    history = read_history(step_dir / "history.csv", fix=_history_fix(step_dir))
    top1, top5 = _test_metrics(history, built, data)
    best, best_epoch = _best(history)
    last = history[-1] if history else {}
    result = StepResult(
        name=step.name, stage=step.stage.value, dir=str(step_dir), test_accuracy=top1,
        test_top5=top5, ff_ratio=_finite_or_none(last.get("ff_ratio_run")),
        c2i_ratio=_finite_or_none(last.get("c2i_ratio")), epochs=step.epochs,
        seconds=round(clock.total(), 1), weight_decay=step.weight_decay,
        optimizer=step.optimizer, learning_rate=step.learning_rate, best_accuracy=best,
        best_epoch=best_epoch, history=history)
    atomic_write_json(step_dir / "result.json", result.to_json())
    return result


def run_step(
    run_dir: PathLike,
    step: Step,
    *,
    data: _Data,
    strategy: tf.distribute.Strategy,
    resume: bool = False,
    allow_changes: Sequence[str] = (),
    analysis_callbacks: bool = True,
    extra_callbacks: Sequence[tf.keras.callbacks.Callback] = (),
    model_path: Optional[PathLike] = None,
    verbose: int = 1,
) -> StepResult:
    """Train one :class:`Step` inside ``run_dir/step.name``; resumable; returns its result.

    Checkpoints after every epoch; with ``resume`` a finished step is read back from its
    ``result.json`` and an interrupted one continues from its newest readable checkpoint
    (``allow_changes``: settings that may differ from the saved ones, see
    :data:`ALLOW_CHANGES`). ``model_path``: also save the whole trained model there.
    """
    step_dir = Path(run_dir) / step.name
    finished = _read_finished(step_dir) if resume else None
    if finished is not None:
        return finished
    clock = StepClock()
    _claim_step_dir(step_dir, step, resume=resume, allow_changes=allow_changes)
    built = _build(step, data, strategy)
    initial_epoch = _start(step_dir, step, built, clock, resume=resume, verbose=verbose)
    callbacks = _callbacks(step_dir, step, data, built, clock, initial_epoch=initial_epoch,
                           analysis_on=analysis_callbacks, extra=extra_callbacks)
    if initial_epoch < step.epochs:
        built.trainer.fit(
            data.train_from(initial_epoch), steps_per_epoch=data.steps_per_epoch,
            validation_data=data.test, epochs=step.epochs, initial_epoch=initial_epoch,
            callbacks=callbacks, verbose=verbose)
    result = _finish(step_dir, step, built, data, clock,
                     model_path=None if model_path is None else Path(model_path))
    if verbose:
        print(_summary_line(result))
    return result


def _finite_or_none(value: Optional[float]) -> Optional[float]:
    return float(value) if value is not None and math.isfinite(value) else None


def _summary_line(r: StepResult) -> str:
    ff = f"{r.ff_ratio:.3e}" if r.ff_ratio is not None else "-"
    c2i = f"{r.c2i_ratio:.4f}" if r.c2i_ratio is not None else "-"
    best = (f" best={r.best_accuracy:.4f}@{r.best_epoch + 1}"
            if r.best_accuracy is not None and r.best_epoch is not None else "")
    return (f"[{r.name}] stage={r.stage} wd={r.weight_decay:g} top-1={r.test_accuracy:.4f}"
            f"{best} top-5={r.test_top5:.4f} FF={ff} C2I={c2i} ({r.seconds:.0f} s)")


# ----------------------------------------------------------------------------- run folder


def _holds_run(run: Path) -> bool:
    if (run / "config.json").exists():
        return True
    return any((run / n).is_dir() and any((run / n).iterdir()) for n in STEP_FOLDERS)


def _check_resume_state(run: Path, resume: Union[bool, str]) -> None:
    held = _holds_run(run)
    if not resume and held:
        raise RunStateError(f"{run} already holds a run; add --resume to continue it, or pass "
                            "another --run-dir (or delete the folder) to start afresh")
    if resume is True and not held:
        what = "does not exist" if not run.exists() else "holds no run (no config.json)"
        raise RunStateError(f"--resume: {run} {what}, so there is nothing to resume; run "
                            "without --resume to start the run there")


def _prepare_run(run_dir: PathLike, config: Dict[str, Any], *, resume: Union[bool, str],
                 allow_changes: Sequence[str]) -> Path:
    """Check the run folder against ``resume`` and the saved settings, then write
    ``config.json`` (with the changes a resume was allowed, if any)."""
    run = Path(run_dir)
    _check_resume_state(run, resume)
    config_path = run / "config.json"
    record = dict(config)
    if resume and config_path.exists():
        saved = read_json(config_path, fix="delete it and run again with --resume (each step "
                                           "folder's config.json still checks the settings)")
        changes = resume_lib.check_settings(
            saved, config, where=str(run), allowed=resume_lib.allowed_settings(allow_changes))
        record["changes"] = list(saved.get("changes", [])) + (
            [{k: list(v) for k, v in changes.items()}] if changes else [])
    if resume:
        remove_partial_files(run)
    run.mkdir(parents=True, exist_ok=True)
    atomic_write_json(config_path, record)
    return run


def _ensure_model_file(path: Path, step: Step, step_dir: Path, data: _Data,
                       strategy: Optional[tf.distribute.Strategy]) -> None:
    """Make sure ``path`` holds the step's whole final model: a missing or unreadable file
    (e.g. cut short by a kill before writes were atomic) is written again from the step's
    ``final.weights.h5``, with a :class:`RecoveryWarning` when it existed."""
    problem = h5_problem(path, whole_model=True)
    if problem is None:
        return
    weights = step_dir / "final.weights.h5"
    if path.exists():
        warnings.warn(f"{path} cannot be read ({problem}); writing it again from {weights}",
                      RecoveryWarning, stacklevel=2)
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        model = models.build_model(
            step.model, stage=step.stage, input_shape=tuple(data.info.input_shape),
            num_classes=data.info.num_classes, width=step.width, pad_values=step.pad_values)
    _load_weights(model, str(weights))
    atomic_save_model(model, path, include_optimizer=False)


def _train_teacher(run: Path, teacher: Optional[str], config: Dict[str, Any], data: _Data,
                   strategy: tf.distribute.Strategy, *, resume: bool,
                   allow_changes: Sequence[str], verbose: int
                   ) -> Tuple[Optional[str], Optional[StepResult]]:
    """Resolve ``teacher``: None, "auto" (train a ResNet-18 here, saved whole as
    ``teacher/model.h5``) or a saved model's path."""
    if teacher in (None, "none", ""):
        return None, None
    if teacher != "auto":
        return str(teacher), None
    step = Step(name="teacher", model=config["teacher_model"], stage=Stage.FP,
                optimizer="adam", learning_rate=config["learning_rate"], weight_decay=0.0,
                epochs=config["teacher_epochs"], width=config["teacher_width"],
                schedule=config["schedule"], seed=config["seed"])
    path = run / "teacher" / "model.h5"
    result = run_step(run, step, data=data, strategy=strategy, resume=resume,
                      allow_changes=allow_changes, analysis_callbacks=False, model_path=path,
                      verbose=verbose)
    _ensure_model_file(path, step, run / step.name, data, strategy)
    return str(path), result


def _check_teacher_arg(teacher: Optional[str]) -> None:
    if teacher in (None, "none", "", "auto"):
        return
    if not Path(teacher).exists():
        raise FileNotFoundError(
            f"teacher {teacher!r} does not exist; pass the path of a saved Keras model, "
            "'auto' to train a real-valued ResNet-18 teacher first, or 'none'")
    if str(teacher).endswith((".h5", ".hdf5")):
        problem = h5_problem(teacher, whole_model=True)
        if problem:
            raise CorruptFileError(f"teacher {teacher} cannot be read ({problem}): pass the "
                                   "path of a Keras model saved whole with model.save(...)")


def _check_config(config: Dict[str, Any]) -> None:
    """Names and numbers of a run, checked before anything is written."""
    def need(ok: bool, what: str) -> None:
        if not ok:
            raise UserInputError(what)

    def positive_int(key: str) -> bool:
        value = config.get(key)
        return isinstance(value, (int, np.integer)) and not isinstance(value, bool) \
            and value >= 1

    need(config["model"] in models.available(),
         f"unknown model {config['model']!r}; valid: {', '.join(models.available())}")
    need(config["teacher_model"] in models.available(),
         f"unknown teacher model {config['teacher_model']!r}; valid: "
         f"{', '.join(models.available())}")
    need(str(config["optimizer"]).lower() in DEFAULT_LEARNING_RATES,
         f"unknown optimizer {config['optimizer']!r}; valid: {', '.join(DEFAULT_LEARNING_RATES)}")
    need(config["schedule"] in SCHEDULES,
         f"unknown schedule {config['schedule']!r}; valid: {', '.join(SCHEDULES)}")
    for key in ("epochs", "batch_size", "teacher_epochs"):
        need(positive_int(key), f"{key} must be an int >= 1, got {config[key]!r}")
    need(config["max_steps_per_epoch"] is None or positive_int("max_steps_per_epoch"),
         f"max_steps_per_epoch must be None (no cap) or an int >= 1, got "
         f"{config['max_steps_per_epoch']!r}")
    for key in ("width", "teacher_width"):
        value = config[key]
        need(isinstance(value, (int, float)) and not isinstance(value, bool)
             and math.isfinite(value) and value > 0, f"{key} must be a number > 0, got {value!r}")
    lr = config["learning_rate"]
    need(lr is None or (isinstance(lr, (int, float)) and not isinstance(lr, bool)
                        and math.isfinite(lr) and lr > 0),
         f"learning_rate must be None (the optimizer's default) or a number > 0, got {lr!r}")


def _run(run_dir: PathLike, kind: str, steps: List[Step], config: Dict[str, Any], *,
         resume: Union[bool, str], allow_changes: Sequence[str], analysis_on: bool,
         verbose: int) -> RunResult:
    """Check everything, then train the teacher (if any) and the steps in order."""
    if resume not in RESUME_MODES:
        raise UserInputError(f"resume must be False, True or 'allow', got {resume!r}")
    resume_lib.allowed_settings(allow_changes)
    _check_config(config)
    _check_teacher_arg(config["teacher"])
    strat = distribute.strategy(config["strategy"])
    # non-chief workers write a private copy, taken from the chief's folder on resume
    run_dir = distribute.worker_run_dir(run_dir, strat, resume=bool(resume))
    data = _load_data(config)
    run = _prepare_run(run_dir, {"kind": kind, **config}, resume=resume,
                       allow_changes=allow_changes)
    go_on = bool(resume)
    teacher_path, teacher_result = _train_teacher(
        run, config["teacher"], config, data, strat, resume=go_on,
        allow_changes=allow_changes, verbose=verbose)
    results: List[StepResult] = []
    final = run / "final_model.h5"
    for step in steps:
        step.teacher = teacher_path
        results.append(run_step(
            run, step, data=data, strategy=strat, resume=go_on, allow_changes=allow_changes,
            analysis_callbacks=analysis_on, verbose=verbose,
            model_path=final if step is steps[-1] else None))
    _ensure_model_file(final, steps[-1], run / steps[-1].name, data, None)
    meta = read_json(run / "config.json", fix="delete it and run again with --resume")
    meta.update(steps=[s.name for s in steps], final_model=final.name, teacher_path=teacher_path)
    atomic_write_json(run / "config.json", meta)
    if verbose:
        print(f"run folder: {run}\nfinal model: {final}")
    return RunResult(str(run), results, teacher_result, str(final))


def _common_config(**kwargs) -> Dict[str, Any]:
    defaults = dict(
        data="mnist5k", model="reactnet_a", batch_size=64, width=1.0, teacher=None,
        teacher_model="resnet18", teacher_width=None, teacher_epochs=None,
        schedule="linear", strategy="default", learning_rate=None, pad_values=0.0,
        seed=0, image_size=None, max_steps_per_epoch=None, data_dir=None,
        exact_reference=False,
    )
    unknown = set(kwargs) - set(defaults) - {"epochs", "optimizer"}
    if unknown:
        raise TypeError(f"unknown arguments {sorted(unknown)}; valid: {sorted(defaults)}")
    config = {**defaults, **kwargs}
    config["teacher_width"] = config["teacher_width"] or config["width"]
    config["teacher_epochs"] = config["teacher_epochs"] or config["epochs"]
    return config


def one_step(
    run_dir: PathLike,
    *,
    stage: Union[Stage, str] = Stage.BNN,
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    epochs: int = 1,
    resume: Union[bool, str] = False,
    allow_changes: Sequence[str] = (),
    analysis: bool = True,
    verbose: int = 1,
    **kwargs,
) -> RunResult:
    """One-step training (Table 1's upper rows, Table 5, Fig. 2 and 8): one step in ``stage``.

    ``resume``: ``False`` (the folder must not hold a run), ``True`` (continue the run in
    ``run_dir``; it must hold one) or ``"allow"`` (continue it if there is one, else start
    it: for a recipe's sub-runs). ``allow_changes``: settings a resume may change, e.g.
    ``("lr",)`` (see :data:`ALLOW_CHANGES`).

    Keyword arguments (with defaults): ``data="mnist5k"``, ``model="reactnet_a"``,
    ``batch_size=64``, ``width=1.0``, ``learning_rate=None`` (the optimizer's default),
    ``teacher=None`` (``"auto"``: train a ResNet-18 teacher first; or a saved model's path),
    ``schedule="linear"``, ``strategy="default"``, ``pad_values=0.0``, ``seed=0``,
    ``image_size=None``, ``max_steps_per_epoch=None``, ``data_dir=None``.
    """
    config = _common_config(epochs=epochs, optimizer=optimizer, **kwargs)
    config.update(stage=Stage(stage).value, weight_decay=weight_decay, analysis=analysis)
    step = Step(
        name="step", model=config["model"], stage=stage, optimizer=optimizer,
        learning_rate=config["learning_rate"], weight_decay=weight_decay, epochs=epochs,
        schedule=config["schedule"], width=config["width"], pad_values=config["pad_values"],
        exact_reference=config["exact_reference"], seed=config["seed"],
    )
    return _run(run_dir, "one_step", [step], config, resume=resume,
                allow_changes=allow_changes, analysis_on=analysis, verbose=verbose)


def two_step(
    run_dir: PathLike,
    *,
    order: str = "babw",
    step1_weight_decay: float = 5e-6,
    step2_weight_decay: float = 0.0,
    epochs: int = 1,
    optimizer: str = "adam",
    teacher: Optional[str] = "auto",
    init: str = "best",
    resume: Union[bool, str] = False,
    allow_changes: Sequence[str] = (),
    analysis: bool = True,
    verbose: int = 1,
    **kwargs,
) -> RunResult:
    """Two-step training (Sec. 3.3.3, Tables 1 and 4): step 2 starts from step 1's weights.

    ``order="babw"``: step 1 binary activations (weight decay ``step1_weight_decay``, the
    paper's 5e-6), step 2 fully binary (``step2_weight_decay``, the paper's 0). ``"bwba"``:
    step 1 binary weights. ``epochs`` is per step. ``init``: step 2 starts from step 1's
    ``"best"`` weights (best validation top-1, as the authors' step-2 script loads
    ``model_best.pth.tar``) or its ``"final"`` ones. Both steps distil from ``teacher``
    (as the paper trains ReActNet): by default ``"auto"``, a real-valued ResNet-18 trained
    here first; a saved model's path; or ``None`` for cross-entropy on the labels.
    ``resume``, ``allow_changes`` and other keyword arguments as :func:`one_step`.
    """
    if order not in TWO_STEP_ORDERS:
        raise UserInputError(f"unknown order {order!r}; valid orders are "
                             f"{sorted(TWO_STEP_ORDERS)}")
    if init not in INIT_CHOICES:
        raise UserInputError(f"unknown init {init!r}; valid: {', '.join(INIT_CHOICES)}")
    config = _common_config(epochs=epochs, optimizer=optimizer, teacher=teacher, **kwargs)
    config.update(order=order, step1_weight_decay=step1_weight_decay,
                  step2_weight_decay=step2_weight_decay, init=init, analysis=analysis)
    stage1, stage2 = TWO_STEP_ORDERS[order]
    shared = dict(
        model=config["model"], optimizer=optimizer, learning_rate=config["learning_rate"],
        epochs=epochs, schedule=config["schedule"], width=config["width"],
        pad_values=config["pad_values"], exact_reference=config["exact_reference"],
        seed=config["seed"],
    )
    step1 = Step(name="step1", stage=stage1, weight_decay=step1_weight_decay, **shared)
    step2 = Step(
        name="step2", stage=stage2, weight_decay=step2_weight_decay,
        init_from=str(Path(run_dir) / "step1" / f"{init}.weights.h5"), **shared,
    )
    return _run(run_dir, "two_step", [step1, step2], config, resume=resume,
                allow_changes=allow_changes, analysis_on=analysis, verbose=verbose)
