"""Training steps and the paper's one-step / two-step schemes, with checkpoints and resume.

A :class:`Step` is one ``fit`` of one model in one binarization stage with one optimizer
(the paper trains 256 epochs per step on ImageNet). :func:`one_step` runs a single BNN step;
:func:`two_step` runs step 1 then step 2 initialised from step 1's final weights, in the
order the paper compares in Table 4:

* ``"babw"`` (Sec. 3.3.3, the paper's scheme): step 1 binary activations / real weights
  with weight decay 5e-6, step 2 fully binary with weight decay 0;
* ``"bwba"``: step 1 binary weights / real activations, step 2 fully binary.

With ``teacher="auto"`` a real-valued ResNet-18 teacher is trained first and every step
distils from it (ReActNet's distribution loss). Everything lands in one run folder (see
DESIGN.md): ``config.json``, ``teacher/``, ``step1/``, ``step2/`` (or ``step/``), each with
``checkpoints/``, ``history.csv``, ``records/``, ``logs/``, ``final.weights.h5`` and
``result.json``, and ``final_model.h5``.

A run killed at any moment resumes with ``resume=True``: finished steps (those with a
``result.json``) are skipped, the interrupted step restores model, optimizer and the
analysis callbacks' running state from its last completed epoch and continues from the next
epoch, ``history.csv`` keeps exactly one row per epoch. A NaN loss stops training with
:class:`TrainingDivergedError`; the NaN epoch is not checkpointed.

Example:
    >>> res = la.training.two_step("runs/demo", data="mnist5k", model="reactnet_a",
    ...                            width=0.25, epochs=1)  # doctest: +SKIP
    >>> [(s.name, s.test_accuracy) for s in res.steps]  # doctest: +SKIP
"""
import csv
import dataclasses
import json
import math
import os
import time
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import tensorflow as tf

from larq_adam import analysis, data as data_lib, models
from larq_adam.stages import Stage
from larq_adam.training import distribute
from larq_adam.training.distill import Distiller
from larq_adam.training.optimizers import make_optimizer

__all__ = [
    "Step",
    "StepResult",
    "RunResult",
    "TrainingDivergedError",
    "run_step",
    "one_step",
    "two_step",
    "TWO_STEP_ORDERS",
]

TWO_STEP_ORDERS = {"babw": (Stage.BA, Stage.BNN), "bwba": (Stage.BW, Stage.BNN)}
PathLike = Union[str, os.PathLike]


class TrainingDivergedError(RuntimeError):
    """Raised when the loss becomes NaN or infinite; the last good checkpoint is kept."""


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

    def __post_init__(self):
        self.stage = Stage(self.stage)
        if int(self.epochs) < 1:
            raise ValueError(f"Step {self.name!r}: epochs must be >= 1, got {self.epochs}")

    def to_json(self) -> Dict[str, Any]:
        out = dataclasses.asdict(self)
        out["stage"] = self.stage.value
        return out


@dataclasses.dataclass
class StepResult:
    """What a finished step measured (also saved as ``result.json`` in its folder)."""

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
    history: List[Dict[str, float]] = dataclasses.field(default_factory=list, repr=False)

    def to_json(self) -> Dict[str, Any]:
        out = dataclasses.asdict(self)
        out.pop("history")
        return out


@dataclasses.dataclass
class RunResult:
    """A whole run: its folder, its steps in order, the teacher's step (if trained here)."""

    run_dir: str
    steps: List[StepResult]
    teacher: Optional[StepResult]
    final_model_path: str


@dataclasses.dataclass
class _Data:
    train: tf.data.Dataset
    test: tf.data.Dataset
    info: Any
    probe: np.ndarray
    steps_per_epoch: int


def _load_data(
    name: str,
    batch_size: int,
    image_size: Optional[int],
    seed: int,
    max_steps_per_epoch: Optional[int],
    data_dir: Optional[str],
) -> _Data:
    train, info = data_lib.load(
        name, "train", batch_size, image_size=image_size, shuffle=True, seed=seed, data_dir=data_dir
    )
    test, _ = data_lib.load(
        name, "test", batch_size, image_size=image_size, shuffle=False, seed=seed, data_dir=data_dir
    )
    steps = max(1, math.ceil(info.num_examples / batch_size))
    if max_steps_per_epoch:
        steps = min(steps, int(max_steps_per_epoch))
        train = train.take(steps)
        test = test.take(steps)
    probe = next(iter(test.take(1)))[0].numpy()[:32]
    return _Data(train, test, info, probe, steps)


def _read_history(path: Path) -> List[Dict[str, float]]:
    if not path.exists():
        return []
    with path.open() as f:
        rows = list(csv.DictReader(f))
    return [{k: _num(v) for k, v in row.items()} for row in rows]


def _num(value: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _trim_history(path: Path, epochs_done: int) -> None:
    """Keep the rows of the epochs that were checkpointed (a kill can fall in between)."""
    if not path.exists():
        return
    with path.open() as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    header, body = rows[0], [r for r in rows[1:] if r and int(float(r[0])) < epochs_done]
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([header, *body])


class _EpochCheckpoint(tf.keras.callbacks.Callback):
    """Saves model + optimizer + analysis state after every finite epoch; refuses NaN."""

    def __init__(self, manager: tf.train.CheckpointManager, epoch_var: tf.Variable, step: str):
        super().__init__()
        self.manager = manager
        self.epoch_var = epoch_var
        self.step = step

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            last = self.manager.latest_checkpoint or "none (the step's initial weights)"
            raise TrainingDivergedError(
                f"step {self.step!r}: the loss became {float(loss)} in epoch {epoch + 1}; "
                f"stopped without saving this epoch. Last good checkpoint: {last}. "
                "Lower the learning rate or the weight decay and resume with resume=True."
            )
        self.epoch_var.assign(epoch + 1)
        self.manager.save(checkpoint_number=epoch + 1)


def _loss_and_metrics():
    return (
        tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        [
            tf.keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
            tf.keras.metrics.SparseTopKCategoricalAccuracy(k=5, name="top5"),
        ],
    )


def run_step(
    run_dir: PathLike,
    step: Step,
    data: _Data,
    strategy: tf.distribute.Strategy,
    resume: bool = False,
    analysis_callbacks: bool = True,
    extra_callbacks: Sequence[tf.keras.callbacks.Callback] = (),
    verbose: int = 1,
) -> StepResult:
    """Train one :class:`Step` inside ``run_dir/step.name``; resumable; returns its result.

    Checkpoints after every epoch; with ``resume`` a finished step is read back from its
    ``result.json`` and an interrupted one continues from its last completed epoch.
    """
    step_dir = Path(run_dir) / step.name
    result_path = step_dir / "result.json"
    if resume and result_path.exists():
        saved = json.loads(result_path.read_text())
        return StepResult(**saved, history=_read_history(step_dir / "history.csv"))
    if not resume and step_dir.exists() and any(step_dir.iterdir()):
        raise FileExistsError(
            f"{step_dir} already holds a run; pass resume=True to continue it, or choose "
            "another run_dir (or delete the folder) to start afresh."
        )
    step_dir.mkdir(parents=True, exist_ok=True)
    (step_dir / "config.json").write_text(json.dumps(step.to_json(), indent=2))
    info = data.info
    started = time.time()

    with strategy.scope():
        model = models.build_model(
            step.model,
            stage=step.stage,
            input_shape=tuple(info.input_shape),
            num_classes=info.num_classes,
            width=step.width,
            pad_values=step.pad_values,
        )
        optimizer = make_optimizer(
            step.optimizer,
            learning_rate=step.learning_rate,
            weight_decay=step.weight_decay,
            model=model,
            schedule=step.schedule,
            epochs=step.epochs,
            steps_per_epoch=data.steps_per_epoch,
            exact_reference=step.exact_reference,
        )
        loss, metrics = _loss_and_metrics()
        if step.teacher:
            teacher = tf.keras.models.load_model(step.teacher, compile=False)
            trainer: tf.keras.Model = Distiller(model, teacher)
            trainer.compile(optimizer=optimizer)
        else:
            trainer = model
            trainer.compile(optimizer=optimizer, loss=loss, metrics=metrics)
        epoch_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")

    initial_path = step_dir / "initial_kernels.npz"
    ckpt = tf.train.Checkpoint(model=model, optimizer=optimizer, epoch=epoch_var)
    manager = tf.train.CheckpointManager(ckpt, str(step_dir / "checkpoints"), max_to_keep=2)

    initial_epoch = 0
    if resume and manager.latest_checkpoint:
        ckpt.restore(manager.latest_checkpoint).expect_partial()
        initial_epoch = int(epoch_var.numpy())
        if verbose:
            print(f"[{step.name}] resumed from {manager.latest_checkpoint} (epoch {initial_epoch})")
    else:
        if step.init_from:
            model.load_weights(step.init_from)
            if verbose:
                print(f"[{step.name}] initialised from {step.init_from}")
        kernels = [k.numpy() for k in analysis.binary_kernels(model)]
        np.savez(initial_path, *kernels)
    _trim_history(step_dir / "history.csv", initial_epoch)

    callbacks: List[tf.keras.callbacks.Callback] = []
    if analysis_callbacks:
        callbacks = _analysis_callbacks(step_dir, data.probe, initial_path, initial_epoch)
    callbacks = [
        *callbacks,
        _LearningRateLogger(),
        tf.keras.callbacks.CSVLogger(str(step_dir / "history.csv"), append=True),
        _EpochCheckpoint(manager, epoch_var, step.name),
        *extra_callbacks,
    ]
    if initial_epoch < step.epochs:
        trainer.fit(
            data.train,
            validation_data=data.test,
            epochs=step.epochs,
            initial_epoch=initial_epoch,
            callbacks=callbacks,
            verbose=verbose,
        )
    model.save_weights(str(step_dir / "final.weights.h5"))
    model.compile(loss=loss, metrics=metrics)
    evaluation = model.evaluate(data.test, verbose=0, return_dict=True)
    history = _read_history(step_dir / "history.csv")
    last = history[-1] if history else {}
    result = StepResult(
        name=step.name,
        stage=step.stage.value,
        dir=str(step_dir),
        test_accuracy=float(evaluation["accuracy"]),
        test_top5=float(evaluation["top5"]),
        ff_ratio=_finite_or_none(last.get("ff_ratio_run")),
        c2i_ratio=_finite_or_none(last.get("c2i_ratio")),
        epochs=step.epochs,
        seconds=round(time.time() - started, 1),
        weight_decay=step.weight_decay,
        optimizer=step.optimizer,
        learning_rate=step.learning_rate,
        history=history,
    )
    result_path.write_text(json.dumps(result.to_json(), indent=2))
    if verbose:
        print(_summary_line(result))
    return result


def _analysis_callbacks(
    step_dir: Path, probe: np.ndarray, initial_path: Path, initial_epoch: int
) -> List[tf.keras.callbacks.Callback]:
    """The paper's measurements (Sec. 3.2-3.3). C2I compares with the step's initial
    kernels (saved in ``initial_path``) and the FF ratio's running totals continue from the
    last completed epoch's record, so a resumed step measures as if never interrupted."""
    records = str(step_dir / "records")
    resume_from = None
    if initial_epoch > 0:
        saved = analysis.load_records(records).get("ff", {})
        resume_from = saved.get(initial_epoch - 1)
        if resume_from is None:
            raise FileNotFoundError(
                f"cannot resume the FF ratio of {step_dir}: no ff record for epoch "
                f"{initial_epoch - 1} in {records}"
            )
    return [
        analysis.FlipFlopRatio(record_dir=records, resume_from=resume_from),
        analysis.C2IRatio(reference=str(initial_path)),
        analysis.CAMStats(record_dir=records),
        analysis.ActivationSaturation(probe, record_dir=records),
        analysis.WeightHistograms(str(step_dir / "logs"), record_dir=records),
    ]


def _finite_or_none(value: Optional[float]) -> Optional[float]:
    return float(value) if value is not None and math.isfinite(value) else None


def _summary_line(r: StepResult) -> str:
    ff = f"{r.ff_ratio:.3e}" if r.ff_ratio is not None else "-"
    c2i = f"{r.c2i_ratio:.4f}" if r.c2i_ratio is not None else "-"
    return (
        f"[{r.name}] stage={r.stage} wd={r.weight_decay:g} top-1={r.test_accuracy:.4f} "
        f"top-5={r.test_top5:.4f} FF={ff} C2I={c2i} ({r.seconds:.0f} s)"
    )


class _LearningRateLogger(tf.keras.callbacks.Callback):
    """Adds the learning rate the epoch ended with to ``logs['lr']``."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        opt = self.model.optimizer
        lr = getattr(opt, "learning_rate", None)
        if lr is None:
            return
        if isinstance(lr, tf.keras.optimizers.schedules.LearningRateSchedule):
            lr = lr(opt.iterations)
        logs["lr"] = float(tf.keras.backend.get_value(lr))


def _prepare_run(
    run_dir: PathLike, config: Dict[str, Any], resume: bool
) -> Path:
    run = Path(run_dir)
    config_path = run / "config.json"
    if not resume and config_path.exists():
        raise FileExistsError(
            f"{run} already holds a run; pass resume=True to continue it, or choose "
            "another run_dir (or delete the folder) to start afresh."
        )
    if resume and config_path.exists():
        saved = json.loads(config_path.read_text())
        changed = {
            k: (saved.get(k), v)
            for k, v in config.items()
            if k not in ("resume", "verbose") and saved.get(k) != v
        }
        if changed:
            raise ValueError(
                f"resume=True but {run} was started with other settings: {changed} "
                "(saved, now). Resume with the saved settings or use another run_dir."
            )
    run.mkdir(parents=True, exist_ok=True)
    config_path.write_text(json.dumps(config, indent=2, default=str))
    return run


def _train_teacher(
    run: Path,
    teacher: Optional[str],
    common: Dict[str, Any],
    data: _Data,
    strategy: tf.distribute.Strategy,
    resume: bool,
    verbose: int,
) -> Tuple[Optional[str], Optional[StepResult]]:
    """Resolve ``teacher``: None, "auto" (train a ResNet-18 here) or a saved model's path."""
    if teacher in (None, "none", ""):
        return None, None
    if teacher != "auto":
        if not Path(teacher).exists():
            raise FileNotFoundError(
                f"teacher {teacher!r} does not exist; pass the path of a saved Keras model, "
                "'auto' to train a real-valued ResNet-18 teacher first, or None."
            )
        return str(teacher), None
    step = Step(
        name="teacher",
        model=common["teacher_model"],
        stage=Stage.FP,
        optimizer="adam",
        learning_rate=common["learning_rate"],
        weight_decay=0.0,
        epochs=common["teacher_epochs"],
        width=common["teacher_width"],
        schedule=common["schedule"],
    )
    result = run_step(run, step, data, strategy, resume, analysis_callbacks=False, verbose=verbose)
    path = run / "teacher" / "model.h5"
    if not path.exists():
        with strategy.scope():
            model = models.build_model(
                step.model, stage="fp", input_shape=tuple(data.info.input_shape),
                num_classes=data.info.num_classes, width=step.width,
            )
        model.load_weights(str(run / "teacher" / "final.weights.h5"))
        _save_h5(model, path)
    return str(path), result


def _save_h5(model: tf.keras.Model, path: Path) -> None:
    """Save a whole model as HDF5, the format LCE's converter and older tools read;
    Keras' advice to prefer its own format is expected here and muted."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*HDF5 file via `model.save\\(\\)`.*")
        model.save(str(path))


def _save_final_model(run: Path, last: Step, data: _Data) -> str:
    model = models.build_model(
        last.model, stage=last.stage, input_shape=tuple(data.info.input_shape),
        num_classes=data.info.num_classes, width=last.width, pad_values=last.pad_values,
    )
    model.load_weights(str(run / last.name / "final.weights.h5"))
    path = run / "final_model.h5"
    _save_h5(model, path)
    return str(path)


def _run(
    run_dir: PathLike,
    kind: str,
    steps: List[Step],
    config: Dict[str, Any],
    resume: bool,
    analysis_on: bool,
    verbose: int,
) -> RunResult:
    strat = distribute.strategy(config["strategy"])
    run = _prepare_run(run_dir, {"kind": kind, **config}, resume)
    tf.keras.utils.set_random_seed(config["seed"])
    data = _load_data(
        config["data"], config["batch_size"], config["image_size"], config["seed"],
        config["max_steps_per_epoch"], config["data_dir"],
    )
    teacher_path, teacher_result = _train_teacher(
        run, config["teacher"], config, data, strat, resume, verbose
    )
    results: List[StepResult] = []
    for step in steps:
        step.teacher = teacher_path
        results.append(run_step(run, step, data, strat, resume, analysis_on, verbose=verbose))
    final = _save_final_model(run, steps[-1], data)
    meta = json.loads((run / "config.json").read_text())
    meta.update(steps=[s.name for s in steps], final_model=Path(final).name,
                teacher_path=teacher_path)
    (run / "config.json").write_text(json.dumps(meta, indent=2, default=str))
    if verbose:
        print(f"run folder: {run}\nfinal model: {final}")
    return RunResult(str(run), results, teacher_result, final)


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
    stage: Union[Stage, str] = Stage.BNN,
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    epochs: int = 1,
    resume: bool = False,
    analysis: bool = True,
    verbose: int = 1,
    **kwargs,
) -> RunResult:
    """One-step training (Table 1's upper rows, Table 5, Fig. 2 and 8): one step in ``stage``.

    Keyword arguments (with defaults): ``data="mnist5k"``, ``model="reactnet_a"``,
    ``batch_size=64``, ``width=1.0``, ``learning_rate=None`` (the optimizer's default),
    ``teacher=None`` (``"auto"``: train a ResNet-18 teacher first; or a saved model's path),
    ``schedule="linear"``, ``strategy="default"``, ``pad_values=0.0``, ``seed=0``,
    ``image_size=None``, ``max_steps_per_epoch=None``, ``data_dir=None``.
    """
    config = _common_config(epochs=epochs, optimizer=optimizer, **kwargs)
    config.update(stage=Stage(stage).value, weight_decay=weight_decay)
    step = Step(
        name="step", model=config["model"], stage=stage, optimizer=optimizer,
        learning_rate=config["learning_rate"], weight_decay=weight_decay, epochs=epochs,
        schedule=config["schedule"], width=config["width"], pad_values=config["pad_values"],
        exact_reference=config["exact_reference"],
    )
    return _run(run_dir, "one_step", [step], config, resume, analysis, verbose)


def two_step(
    run_dir: PathLike,
    order: str = "babw",
    step1_weight_decay: float = 5e-6,
    step2_weight_decay: float = 0.0,
    epochs: int = 1,
    optimizer: str = "adam",
    teacher: Optional[str] = "auto",
    resume: bool = False,
    analysis: bool = True,
    verbose: int = 1,
    **kwargs,
) -> RunResult:
    """Two-step training (Sec. 3.3.3, Tables 1 and 4): step 2 starts from step 1's weights.

    ``order="babw"``: step 1 binary activations (weight decay ``step1_weight_decay``, the
    paper's 5e-6), step 2 fully binary (``step2_weight_decay``, the paper's 0). ``"bwba"``:
    step 1 binary weights. ``epochs`` is per step. Both steps distil from ``teacher``
    (as the paper trains ReActNet): by default ``"auto"``, a real-valued ResNet-18 trained
    here first; a saved model's path; or ``None`` for cross-entropy on the labels. Other
    keyword arguments as :func:`one_step`.
    """
    if order not in TWO_STEP_ORDERS:
        raise ValueError(f"unknown order {order!r}; valid orders are {sorted(TWO_STEP_ORDERS)}")
    config = _common_config(epochs=epochs, optimizer=optimizer, teacher=teacher, **kwargs)
    config.update(order=order, step1_weight_decay=step1_weight_decay,
                  step2_weight_decay=step2_weight_decay)
    stage1, stage2 = TWO_STEP_ORDERS[order]
    shared = dict(
        model=config["model"], optimizer=optimizer, learning_rate=config["learning_rate"],
        epochs=epochs, schedule=config["schedule"], width=config["width"],
        pad_values=config["pad_values"], exact_reference=config["exact_reference"],
    )
    step1 = Step(name="step1", stage=stage1, weight_decay=step1_weight_decay, **shared)
    step2 = Step(
        name="step2", stage=stage2, weight_decay=step2_weight_decay,
        init_from=str(Path(run_dir) / "step1" / "final.weights.h5"), **shared,
    )
    return _run(run_dir, "two_step", [step1, step2], config, resume, analysis, verbose)
