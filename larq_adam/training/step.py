"""One training step: one model in one binarization stage, trained by one optimizer.

The paper trains 256 epochs per step on ImageNet; a run is one step (one-step) or two
(two-step, Sec. 3.3.3), maybe after a real-valued teacher (:mod:`.teacher`). A step lives
in ``RUN/<name>/`` (:mod:`.step_folder`) and goes through:

1. a finished step (``result.json``) is read back and not trained again;
2. the folder is claimed (its ``config.json``; a resume checks the settings);
3. model, optimizer and trainer are built under the strategy (initial weights seeded by the
   run's seed and the step's name), with the analysis callbacks (Sec. 3.2-3.3) whose state
   - the FF ratio's running totals, the C2I reference - goes into the step's
   ``tf.train.Checkpoint`` with the model, the optimizer, the epoch and the elapsed time;
4. the newest readable checkpoint is restored (resume), or the step starts from
   ``init_from`` (step 2 from step 1's weights) with fresh analysis state;
5. ``fit`` from the first epoch not done, checkpointing after every epoch (a NaN loss
   stops on its batch, :class:`TrainingDivergedError`; SIGINT / SIGTERM at the end of the
   batch in flight, :class:`~larq_adam.errors.TrainingInterrupted`, :mod:`.signals`),
   writing ``history.csv``, the records and TensorBoard scalars and histograms in ``logs/``;
6. the final weights, the whole model (where asked) and ``result.json`` are written, and
   of the checkpoints only the newest is kept.
"""
import dataclasses
import math
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import tensorflow as tf

from larq_adam import analysis, keras_files, limits, models
from larq_adam.atomic import atomic_save_model, atomic_save_weights, atomic_write_json
from larq_adam.config import RunConfig
from larq_adam.disk import check_room
from larq_adam.errors import CorruptFileError, UserInputError
from larq_adam.results import StepResult
from larq_adam.run_files import h5_problem, read_history
from larq_adam.stages import Stage
from larq_adam.training import resume as resume_lib
from larq_adam.training import bn_stats, console, step_folder
from larq_adam.training.data_feed import RunFeeds, test_input, train_input, validation_input
from larq_adam.training.distill import Distiller
from larq_adam.training.optimizers import DEFAULT_LEARNING_RATES, make_optimizer
from larq_adam.training.run_callbacks import (
    BestWeights,
    EpochCheckpoint,
    LearningRateLogger,
    StepClock,
    StopOnNonFinite,
    TensorBoardScalars,
)
from larq_adam.training.signals import SignalStop, StopOnSignal, raise_if_stopped, stop_signals

__all__ = ["Step", "TrainedStep", "train_step", "run_step", "load_teacher",
           "RECALIBRATION_BATCHES"]

#: batches of the last epoch that BN statistics are re-estimated over at a step's end
RECALIBRATION_BATCHES = 200
#: a step's defaults are a run's (RunConfig is the one place they are written)
_RUN_DEFAULTS = RunConfig()


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
        recalibrate_bn: the final weights keep BN statistics re-estimated over the
            training split (their top-1 is measured either way, beside the moving
            statistics'; :mod:`.bn_stats`).
        run: the run's whole configuration (``RunConfig.to_json()``), kept in the step's
            ``config.json`` so that a lost run ``config.json`` is rebuilt from it, never
            from new settings (not compared on resume: the run's own file is).
    """

    name: str
    model: str = _RUN_DEFAULTS.model  # every default but init_from and run: RunConfig's
    stage: Union[Stage, str] = Stage(_RUN_DEFAULTS.stage)
    optimizer: str = _RUN_DEFAULTS.optimizer
    learning_rate: Optional[float] = _RUN_DEFAULTS.learning_rate
    weight_decay: float = _RUN_DEFAULTS.weight_decay
    epochs: int = _RUN_DEFAULTS.epochs
    schedule: str = _RUN_DEFAULTS.schedule
    teacher: Optional[str] = _RUN_DEFAULTS.teacher
    init_from: Optional[str] = None
    width: float = _RUN_DEFAULTS.width
    pad_values: float = _RUN_DEFAULTS.pad_values
    exact_reference: bool = _RUN_DEFAULTS.exact_reference
    seed: int = _RUN_DEFAULTS.seed
    recalibrate_bn: bool = _RUN_DEFAULTS.recalibrate_bn
    run: Optional[Dict[str, Any]] = None

    def __post_init__(self):
        self.stage = Stage(self.stage)
        if int(self.epochs) < 1:
            raise UserInputError(f"Step {self.name!r}: epochs must be >= 1, got {self.epochs}")

    def to_json(self) -> Dict[str, Any]:
        out = dataclasses.asdict(self)
        out["stage"] = self.stage.value
        return out

    def build_kwargs(self, info: Any) -> Dict[str, Any]:
        """The :func:`larq_adam.models.build_model` arguments of this step's model."""
        return dict(name=self.model, stage=self.stage, input_shape=tuple(info.input_shape),
                    num_classes=info.num_classes, width=self.width, pad_values=self.pad_values)


@dataclasses.dataclass
class TrainedStep:
    """A step's result, and its final model when this process trained it (``None`` when
    the step had finished before and was read back)."""

    result: StepResult
    model: Optional[tf.keras.Model]


@dataclasses.dataclass
class _Built:
    model: tf.keras.Model
    trainer: tf.keras.Model
    optimizer: tf.keras.optimizers.Optimizer
    epoch: tf.Variable
    elapsed: tf.Variable
    analysis: List[tf.keras.callbacks.Callback]
    analysis_state: Dict[str, tf.keras.callbacks.Callback]  # checkpoint name -> callback
    checkpoint: tf.train.Checkpoint
    finished_checkpoint: tf.train.Checkpoint  # the same without the optimizer


# ----------------------------------------------------------------------------- building


def load_teacher(path: str) -> tf.keras.Model:
    """A saved teacher model (checked first: a damaged file is one line and its fix)."""
    problem = h5_problem(path, whole_model=True) if str(path).endswith((".h5", ".hdf5")) else None
    if problem:
        raise CorruptFileError(f"teacher {path} cannot be read ({problem}): pass the path of a "
                               "Keras model saved whole with model.save(...)")
    return keras_files.load_model(path, opt_in="loading it in Python with "
                                  "la.keras_files.load_model(path, trust=True) and saving a "
                                  "model without Lambda layers")


def _compile(model: tf.keras.Model, optimizer,
             teacher: Optional[tf.keras.Model]) -> tf.keras.Model:
    """The model to ``fit``: a :class:`Distiller` when there is a teacher, else the model's
    graph with cross-entropy. Both log ``accuracy`` and ``top5`` (and their ``val_`` forms).
    ``model`` itself stays uncompiled, so its weights files hold no optimizer state (a
    compiled model's ``save_weights`` to ``.weights.h5`` writes the optimizer too)."""
    top5 = tf.keras.metrics.SparseTopKCategoricalAccuracy(k=5, name="top5")
    if teacher is not None:
        trainer: tf.keras.Model = Distiller(model, teacher)
        trainer.compile(optimizer=optimizer, metrics=[top5])
        return trainer
    trainer = tf.keras.Model(model.inputs, model.outputs, name=f"{model.name}_trainer")
    trainer.compile(optimizer=optimizer,
                    loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                    metrics=[tf.keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
                             top5])
    return trainer


def _analysis_callbacks(step_dir: Path, probe) -> Tuple[List[tf.keras.callbacks.Callback],
                                                        Dict[str, Any]]:
    """The paper's measurements (Sec. 3.2-3.3), and those among them whose state spans
    epochs, by the name their state takes in the checkpoint: ``ff`` (the FF ratio's
    running totals, Eq. 4-5) and ``c2i`` (the C2I reference signs, Eq. 6-7)."""
    records = str(step_dir / "records")
    ff = analysis.FlipFlopRatio(record_dir=records)
    c2i = analysis.C2IRatio(record_dir=records)
    callbacks = [ff, c2i, analysis.CAMStats(record_dir=records),
                 analysis.ActivationSaturation(probe, record_dir=records),
                 analysis.WeightHistograms(str(step_dir / "logs"), record_dir=records)]
    return callbacks, {"ff": ff, "c2i": c2i}


def _create_slots(optimizer: Any, trainer: tf.keras.Model) -> None:
    """Create the optimizer's slot variables now, for the variables ``fit`` trains. A
    ``tf.function`` that creates variables on its first call is traced twice (once to
    create them, once to run without creating any), so a train step whose optimizer builds
    its slots inside it costs two traces: half a minute per step for ReActNet-A on 2 CPU
    cores (``bench/phases.py``). Larq's ``CaseOptimizer`` (Bop) is not a Keras 2 optimizer
    with ``build`` and keeps its lazy slots."""
    if isinstance(optimizer, tf.keras.optimizers.Optimizer):
        optimizer.build(trainer.trainable_variables)


def _build(step: Step, step_dir: Path, data: RunFeeds, strategy: tf.distribute.Strategy, *,
           teacher: Optional[tf.keras.Model], analysis_on: bool) -> _Built:
    """Model, optimizer, trainer, analysis callbacks and the step's checkpoint (model,
    optimizer, epoch, elapsed seconds and the analysis state); initial weights seeded by
    the run's seed and the step's name. ``teacher``: the model to distil from when it is
    in memory, else ``step.teacher`` is loaded."""
    tf.keras.utils.set_random_seed(resume_lib.step_seed(step.seed, step.name))
    callbacks, stateful = _analysis_callbacks(step_dir, data.probe) if analysis_on else ([], {})
    with strategy.scope():
        model = models.build_model(**step.build_kwargs(data.info))
        optimizer = make_optimizer(
            step.optimizer, learning_rate=step.learning_rate, weight_decay=step.weight_decay,
            model=model, schedule=step.schedule, epochs=step.epochs,
            steps_per_epoch=data.steps_per_epoch, exact_reference=step.exact_reference)
        if teacher is None and step.teacher:
            teacher = load_teacher(step.teacher)
        trainer = _compile(model, optimizer, teacher)
        _create_slots(optimizer, trainer)
        epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        elapsed = tf.Variable(0.0, dtype=tf.float64, trainable=False, name="elapsed_seconds")
        state = {name: cb.checkpoint_state(model) for name, cb in stateful.items()}
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, epoch=epoch,
                                     elapsed=elapsed, **state)
    finished = tf.train.Checkpoint(model=model, epoch=epoch, elapsed=elapsed, **state)
    check_room(step_dir, limits.checkpoint_bytes(model.count_params()),
               what=f"step {step.name!r}'s next checkpoint")
    return _Built(model, trainer, optimizer, epoch, elapsed, callbacks, stateful, checkpoint,
                  finished)


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


def _start(step_dir: Path, step: Step, built: _Built, clock: StepClock, *, resume: bool,
           verbose: int) -> int:
    """Restore the newest readable checkpoint (resume) or start afresh from ``init_from``
    with fresh analysis state (the C2I reference is the weights now); returns the first
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
        if step.init_from:
            step_folder.load_weights(built.model, step.init_from)
            if verbose:
                print(f"[{step.name}] initialised from {step.init_from}")
        for callback in built.analysis_state.values():
            callback.reset_state()
        epoch = 0
    step_folder.cut_back_to_checkpoint(step_dir, epoch)
    return epoch


# ----------------------------------------------------------------------------- training


def _best(history: List[Dict[str, float]]) -> Tuple[Optional[float], Optional[int]]:
    """The best finite ``val_accuracy`` of the history and its epoch, 1-based (first of
    ties; ``history.csv`` counts from 0)."""
    rows = [r for r in history if math.isfinite(r.get("val_accuracy", math.nan))]
    if not rows:
        return None, None
    top = max(rows, key=lambda r: r["val_accuracy"])
    return float(top["val_accuracy"]), int(top["epoch"]) + 1


def _callbacks(step_dir: Path, step: Step, built: _Built, clock: StepClock,
               extra: Sequence[tf.keras.callbacks.Callback], *, stop: SignalStop
               ) -> List[tf.keras.callbacks.Callback]:
    """The step's callbacks in order: the stop on SIGINT / SIGTERM and the divergence
    check first (they end training on the batch, before the analysis callbacks see it),
    the analysis callbacks and the learning rate, then the loggers that record their
    ``logs`` keys (TensorBoard, CSV), then the best weights and the checkpoint."""
    manager = tf.train.CheckpointManager(built.checkpoint, str(step_dir / "checkpoints"),
                                         max_to_keep=2)
    best, _ = _best(read_history(step_dir / "history.csv",
                                 fix=step_folder.history_fix(step_dir)))
    return [
        StopOnSignal(stop, step.name, lambda: manager.latest_checkpoint),
        StopOnNonFinite(step.name, lambda: manager.latest_checkpoint),
        *built.analysis,
        LearningRateLogger(),
        TensorBoardScalars(str(step_dir / "logs")),
        tf.keras.callbacks.CSVLogger(str(step_dir / "history.csv"), append=True),
        BestWeights(built.model, step_dir / "best.weights.h5",
                    best if best is not None else -math.inf),
        EpochCheckpoint(manager, built.epoch, built.elapsed, clock, step.name),
        *extra,
    ]


def _fit(step: Step, built: _Built, data: RunFeeds, strategy: tf.distribute.Strategy,
         initial_epoch: int, callbacks: List[tf.keras.callbacks.Callback],
         verbose: int) -> None:
    """Train the epochs ``initial_epoch .. step.epochs - 1``, validating on the validation
    split (:func:`~.data_feed.selection_split`).
    ``verbose``: 0 silent, 1 a header and a short line per epoch (:mod:`.console`), 2 also
    Keras' own progress output with every logged value."""
    if initial_epoch >= step.epochs:
        return
    if verbose:
        print(console.phase_header(
            step.name, stage=step.stage.value, epochs=step.epochs, batches=data.steps_per_epoch,
            optimizer=step.optimizer, schedule=step.schedule,
            learning_rate=(step.learning_rate if step.learning_rate is not None
                           else DEFAULT_LEARNING_RATES.get(step.optimizer)),
            weight_decay=step.weight_decay, teacher=step.teacher, first_epoch=initial_epoch),
            flush=True)
    if verbose == 1:
        callbacks = [*callbacks, console.EpochLines(step.epochs, data.steps_per_epoch)]
    built.trainer.fit(
        train_input(data, strategy, first_epoch=initial_epoch),
        steps_per_epoch=data.steps_per_epoch, validation_data=validation_input(data, strategy),
        validation_steps=data.validation_steps or data.test_steps, epochs=step.epochs,
        initial_epoch=initial_epoch,
        callbacks=callbacks, verbose=(1 if sys.stdout.isatty() else 2) if verbose >= 2 else 0)


def _test_metrics(history: List[Dict[str, float]], built: _Built, data: RunFeeds,
                  strategy: tf.distribute.Strategy) -> Tuple[float, float]:
    """Top-1 / top-5 of the weights in ``built.model`` on the test split: when the run
    selects on the test split, the last epoch's validation (the same weights, data and
    metrics), else an evaluation with the trainer's metrics."""
    last = history[-1] if history else {}
    if data.selects_on_test and all(math.isfinite(last.get(k, math.nan))
                                    for k in ("val_accuracy", "val_top5")):
        return float(last["val_accuracy"]), float(last["val_top5"])
    return _evaluate_test(built, data, strategy)


def _evaluate_test(built: _Built, data: RunFeeds,
                   strategy: tf.distribute.Strategy) -> Tuple[float, float]:
    """Top-1 / top-5 of ``built.model``'s weights now on the test split, by the trainer's
    ``evaluate``: the test function ``fit`` compiled for validation, not traced again."""
    evaluation = built.trainer.evaluate(test_input(data, strategy), steps=data.test_steps,
                                        verbose=0, return_dict=True)
    return float(evaluation["accuracy"]), float(evaluation["top5"])


def _best_test_accuracy(step_dir: Path, built: _Built, data: RunFeeds,
                        strategy: tf.distribute.Strategy, best: Optional[float]
                        ) -> Optional[float]:
    """The test top-1 of the best weights (``best.weights.h5``, chosen on the validation
    split); the final weights are put back. ``best`` itself when the run selects on the
    test split."""
    path = step_dir / "best.weights.h5"
    if data.selects_on_test or best is None:
        return best
    if not path.is_file():
        return None
    final = built.model.get_weights()
    step_folder.load_weights(built.model, str(path))
    try:
        return _evaluate_test(built, data, strategy)[0]
    finally:
        built.model.set_weights(final)


def _finite_or_none(value: Optional[float]) -> Optional[float]:
    return float(value) if value is not None and math.isfinite(value) else None


def _recalibrated_accuracy(step: Step, built: _Built, data: RunFeeds,
                           strategy: tf.distribute.Strategy) -> Optional[float]:
    """The final weights' test top-1 with BN statistics re-estimated over (up to
    :data:`RECALIBRATION_BATCHES` batches of) the last epoch's training data; the
    statistics stay in the model when ``step.recalibrate_bn``, else the moving ones are
    put back. None under a multi-replica strategy (measured on one replica only)."""
    if strategy.num_replicas_in_sync > 1 or not bn_stats.bn_layers(built.model):
        return None
    saved = bn_stats.moving_statistics(built.model)
    batches = min(data.steps_per_epoch, RECALIBRATION_BATCHES)
    bn_stats.recalibrate_bn(built.model, data.train(step.epochs - 1).take(batches))
    accuracy = _evaluate_test(built, data, strategy)[0]
    if not step.recalibrate_bn:
        bn_stats.set_moving_statistics(built.model, saved)
    return accuracy


def _finish(step_dir: Path, step: Step, built: _Built, data: RunFeeds,
            strategy: tf.distribute.Strategy, clock: StepClock, *,
            model_path: Optional[Path]) -> StepResult:
    """Measure the final weights' top-1 (moving, then re-estimated BN statistics), save
    them (and the whole model to ``model_path``, from memory), then ``result.json`` (written last: its
    presence marks the step finished)."""
    history = read_history(step_dir / "history.csv", fix=step_folder.history_fix(step_dir))
    top1, top5 = _test_metrics(history, built, data, strategy)  # with the moving statistics
    best, best_epoch = _best(history)
    best_test = _best_test_accuracy(step_dir, built, data, strategy, best)
    recalibrated = _recalibrated_accuracy(step, built, data, strategy)
    atomic_save_weights(built.model, step_dir / "final.weights.h5")
    if best_epoch == step.epochs and not step.recalibrate_bn:
        step_folder.link_same_weights(step_dir / "final.weights.h5", step_dir / "best.weights.h5")
    if model_path is not None:
        atomic_save_model(built.model, model_path, include_optimizer=False)
    last = history[-1] if history else {}
    result = StepResult(
        name=step.name, stage=step.stage.value, dir=str(step_dir), test_accuracy=top1,
        test_top5=top5, ff_ratio=_finite_or_none(last.get("ff_ratio_run")),
        c2i_ratio=_finite_or_none(last.get("c2i_ratio")), epochs=step.epochs,
        seconds=round(clock.total(), 1), weight_decay=step.weight_decay,
        optimizer=step.optimizer, learning_rate=step.learning_rate, best_accuracy=best,
        best_epoch=best_epoch, best_test_accuracy=best_test, selection=data.selection,
        validation_accuracy=_finite_or_none(last.get("val_accuracy")),
        recalibrated_accuracy=recalibrated,
        bn_recalibrated=bool(step.recalibrate_bn and recalibrated is not None),
        history=history)
    atomic_write_json(step_dir / "result.json", result.to_json())
    return result


def train_step(run_dir: Union[str, Path], step: Step, *, data: RunFeeds,
               strategy: tf.distribute.Strategy, resume: bool = False,
               allow_changes: Sequence[str] = (), analysis_callbacks: bool = True,
               extra_callbacks: Sequence[tf.keras.callbacks.Callback] = (),
               model_path: Optional[Union[str, Path]] = None,
               teacher: Optional[tf.keras.Model] = None, verbose: int = 1) -> TrainedStep:
    """Train ``step`` in ``run_dir/step.name`` (see the module docstring for the stages);
    ``teacher``: the model to distil from when it is in memory (else ``step.teacher`` is
    loaded). Returns the result and, when trained here, the final model."""
    step_dir = Path(run_dir) / step.name
    finished = step_folder.read_finished(step_dir) if resume else None
    if finished is not None:  # read back, but only with the settings it was trained with
        step_folder.compare_settings(step_dir, step.to_json(), allow_changes=allow_changes)
        step_folder.prune_checkpoints(step_dir)
        return TrainedStep(finished, None)
    clock = StepClock()
    step_folder.claim_step_dir(step_dir, step.to_json(), resume=resume,
                               allow_changes=allow_changes)
    built = _build(step, step_dir, data, strategy, teacher=teacher,
                   analysis_on=analysis_callbacks)
    initial_epoch = _start(step_dir, step, built, clock, resume=resume, verbose=verbose)
    with stop_signals() as stop:
        _fit(step, built, data, strategy, initial_epoch,
             _callbacks(step_dir, step, built, clock, extra_callbacks, stop=stop), verbose)
        raise_if_stopped(stop, step.name,
                         tf.train.latest_checkpoint(str(step_dir / "checkpoints")))
    step_folder.prune_checkpoints(step_dir, slim=built.finished_checkpoint)  # as fit left it
    result = _finish(step_dir, step, built, data, strategy, clock,
                     model_path=None if model_path is None else Path(model_path))
    if verbose:
        print(result.summary_line())
    return TrainedStep(result, built.model)


def run_step(run_dir: Union[str, Path], step: Step, *, data: RunFeeds,
             strategy: tf.distribute.Strategy, resume: bool = False,
             allow_changes: Sequence[str] = (), analysis_callbacks: bool = True,
             extra_callbacks: Sequence[tf.keras.callbacks.Callback] = (),
             model_path: Optional[Union[str, Path]] = None, verbose: int = 1) -> StepResult:
    """Train one :class:`Step` inside ``run_dir/step.name``; resumable; returns its result.

    Checkpoints after every epoch; with ``resume`` a finished step is read back from its
    ``result.json`` and an interrupted one continues from its newest readable checkpoint
    (``allow_changes``: settings that may differ from the saved ones, see
    :data:`~larq_adam.training.resume.ALLOW_CHANGES`). ``model_path``: also save the whole
    trained model there.
    """
    return train_step(run_dir, step, data=data, strategy=strategy, resume=resume,
                      allow_changes=allow_changes, analysis_callbacks=analysis_callbacks,
                      extra_callbacks=extra_callbacks, model_path=model_path,
                      verbose=verbose).result
