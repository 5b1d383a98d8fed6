"""A training run: the paper's one-step and two-step schemes from one :class:`RunConfig`.

:func:`train` runs ``config.kind``: ``"one_step"`` trains a single step in ``stage``;
``"two_step"`` trains step 1 then step 2 initialised from step 1's best-validation weights
(``init="best"``, as the authors' step-2 script loads ``model_best.pth.tar``; or
``"final"``), in the order the paper compares in Table 4:

* ``"babw"`` (Sec. 3.3.3, the paper's scheme): step 1 binary activations / real weights
  with weight decay 5e-6, step 2 fully binary with weight decay 0;
* ``"bwba"``: step 1 binary weights / real activations, step 2 fully binary.

With ``teacher="auto"`` a real-valued teacher is trained first and every step distils from
it (:mod:`.teacher`). Everything lands in one run folder: ``config.json``
(``config.to_json()`` and the run's :data:`~larq_adam.config.RUN_META_KEYS`),
``teacher/`` (with ``model.h5``), ``step1/``, ``step2/`` (or ``step/``), each as
:mod:`.step_folder` describes, and ``final_model.h5``, written once from the last step's
model in memory. Every file written whole is written under a temporary name and renamed
into place (:mod:`larq_adam.atomic`).

A run killed at any moment resumes with ``resume=True`` (``--resume``) and ends as the
uninterrupted run would have: finished steps (those with a ``result.json``) are read back;
the interrupted step restores model, optimizer, epoch, elapsed seconds and the analysis
state from its newest readable checkpoint and continues with the next epoch, whose order
and augmentation depend on the seed and the epoch number only. The saved configuration
must equal the new one but for ``allow_changes`` (e.g. ``("lr",)`` after a NaN loss,
:class:`~larq_adam.training.run_callbacks.TrainingDivergedError`).

Example:
    >>> res = la.training.two_step("runs/demo", data="mnist5k", model="reactnet_a",
    ...                            width=0.25, epochs=1)  # doctest: +SKIP
    >>> [(s.name, s.test_accuracy, s.best_accuracy) for s in res.steps]  # doctest: +SKIP
"""
import os
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

import tensorflow as tf

from larq_adam import limits, vocabulary
from larq_adam.atomic import atomic_write_json, remove_partial_files
from larq_adam.disk import check_room, check_writable
from larq_adam.config import RunConfig
from larq_adam.errors import LarqAdamError, RunStateError, UserInputError, WrongTypeError
from larq_adam.results import RunResult, StepResult
from larq_adam.run_lock import run_lock
from larq_adam.run_files import read_json
from larq_adam.stages import Stage
from larq_adam.training import distribute, resume as resume_lib
from larq_adam.training.data_feed import RunFeeds, check_batch_split, load_run_feeds
from larq_adam.training.step import Step, train_step
from larq_adam.training import step_folder
from larq_adam.training.step_folder import recover_model_file
from larq_adam.training.teacher import Teacher, check_teacher_arg, resolve_teacher

__all__ = ["train", "one_step", "two_step", "run_steps", "is_finished", "RESUME_MODES",
           "STEP_FOLDERS", "FINAL_MODEL"]

RESUME_MODES = (False, True, "allow")
STEP_FOLDERS = ("teacher", "step", "step1", "step2")
FINAL_MODEL = "final_model.h5"
PathLike = Union[str, os.PathLike]
#: settings that belong to one scheme only (``one_step``/``two_step`` refuse the other's).
_SCHEME_SETTINGS = vocabulary.SCHEME_SETTINGS


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


def _check_resources(run: Path, config: RunConfig, data: RunFeeds) -> None:
    """Before anything is written: the memory a training step needs (a lower bound) and
    room on the run folder's disk for the next checkpoint; one line each."""
    size, classes = int(data.info.input_shape[0]), int(data.info.num_classes)
    limits.check_memory(config.model, width=config.width, image_size=size,
                        batch_size=config.batch_size, num_classes=classes)
    check_writable(run)
    params = limits.parameter_count(config.model, width=config.width, num_classes=classes)
    if params is not None:
        check_room(run, limits.checkpoint_bytes(params), what="the next checkpoint")


def _prepare_run(run: Path, config: RunConfig, *, resume: Union[bool, str],
                 allow_changes: Sequence[str]) -> None:
    """Check the run folder against ``resume`` and the saved configuration, then write
    ``config.json``: ``config.to_json()`` and the changes a resume was allowed, if any."""
    _check_resume_state(run, resume)
    config_path = run / "config.json"
    record: Dict[str, Any] = config.to_json()
    if resume and not config_path.exists() and _holds_run(run):
        _rebuild_config(run, config)
    if resume and config_path.exists():
        fix = ("delete it and run again with --resume (it is rebuilt from the settings the "
               "step folders keep)")
        saved_record = read_json(config_path, fix=fix)
        saved = RunConfig.from_json(saved_record, where=str(config_path))
        changes = resume_lib.check_settings(
            saved.to_json(), record, where=str(run),
            allowed=resume_lib.allowed_settings(allow_changes))
        record["changes"] = list(saved_record.get("changes", [])) + (
            [{k: list(v) for k, v in changes.items()}] if changes else [])
    if resume:
        remove_partial_files(run)
    run.mkdir(parents=True, exist_ok=True)
    atomic_write_json(config_path, record)


def _rebuild_config(run: Path, config: RunConfig) -> None:
    """Write a lost ``config.json`` again from the run configuration its step folders
    keep (never from ``config``, the new settings, which are then compared with it);
    :class:`RunStateError` when no step folder keeps it."""
    found = step_folder.saved_run_settings([run / n for n in ("teacher", *config.step_stages)])
    if found is None:
        raise RunStateError(
            f"{run / 'config.json'} is missing and no step folder of {run} keeps the run's "
            "settings, so they cannot be checked: restore it (e.g. from a copy), or train "
            "in another --run-dir (a run is never rewritten with new settings)")
    source, record = found
    saved = RunConfig.from_json(record, where=str(source))
    warnings.warn(f"{run / 'config.json'} was missing; rebuilt it from {source}",
                  resume_lib.RecoveryWarning, stacklevel=3)
    atomic_write_json(run / "config.json", saved.to_json())


def is_finished(run_dir: PathLike) -> bool:
    """Whether ``run_dir`` holds a finished run: its ``config.json`` lists the steps (added
    when the last one ends, dropped while a resume trains), each has its ``result.json``,
    and the final model is there. Reads no model; a damaged file reads as unfinished."""
    run = Path(run_dir)
    try:
        steps = read_json(run / "config.json", fix="").get("steps")
    except (OSError, LarqAdamError):  # missing or damaged: the resume names it
        return False
    return (isinstance(steps, list) and bool(steps)
            and all(isinstance(s, str) and (run / s / "result.json").is_file() for s in steps)
            and (run / FINAL_MODEL).is_file())


def _write_meta(run: Path, steps: Sequence[Step], teacher: Teacher) -> None:
    """Add the run's own keys (:data:`RUN_META_KEYS`) to ``config.json``."""
    meta = read_json(run / "config.json", fix="delete it and run again with --resume")
    meta.update(steps=[s.name for s in steps], final_model=FINAL_MODEL,
                teacher_path=teacher.path)
    atomic_write_json(run / "config.json", meta)


# ----------------------------------------------------------------------------- steps


def run_steps(config: RunConfig, run: Path, *,
              teacher_path: Optional[str] = None) -> List[Step]:
    """The steps of ``config`` in order (Sec. 3.3.3): ``config.step_stages`` with their
    weight decays; each step after the first starts from the previous one's ``init``
    weights."""
    shared = dict(model=config.model, optimizer=config.optimizer,
                  learning_rate=config.learning_rate, epochs=config.epochs,
                  schedule=config.schedule, width=config.width, pad_values=config.pad_values,
                  exact_reference=config.exact_reference, seed=config.seed,
                  recalibrate_bn=config.recalibrate_bn, teacher=teacher_path,
                  run=config.to_json())
    steps: List[Step] = []
    for name, stage in config.step_stages.items():
        init_from = (str(run / steps[-1].name / f"{config.init}.weights.h5")
                     if steps else None)
        steps.append(Step(name=name, stage=stage, weight_decay=config.step_weight_decays[name],
                          init_from=init_from, **shared))
    return steps


def _train_students(run: Path, steps: Sequence[Step], teacher: Teacher, data: RunFeeds,
                    strategy: tf.distribute.Strategy, *, resume: bool,
                    allow_changes: Sequence[str], analysis_on: bool,
                    extra_callbacks: Sequence[tf.keras.callbacks.Callback],
                    verbose: int) -> List[StepResult]:
    """Train ``steps`` in order; the last one writes ``final_model.h5`` from memory (or,
    finished earlier, has that file checked and written again when it cannot be read)."""
    results = []
    for step in steps:
        last = step is steps[-1]
        trained = train_step(
            run, step, data=data, strategy=strategy, resume=resume,
            allow_changes=allow_changes, analysis_callbacks=analysis_on,
            extra_callbacks=extra_callbacks, model_path=run / FINAL_MODEL if last else None,
            teacher=teacher.model, verbose=verbose)
        if last and trained.model is None:
            recover_model_file(run / FINAL_MODEL, build=step.build_kwargs(data.info),
                               weights=run / step.name / "final.weights.h5")
        results.append(trained.result)
    return results


# ----------------------------------------------------------------------------- entry points


def _check_arguments(config: RunConfig, resume: Union[bool, str],
                     allow_changes: Sequence[str]) -> None:
    """Everything a run is given, checked before anything is written."""
    if not isinstance(config, RunConfig):
        raise UserInputError(f"config must be a larq_adam.config.RunConfig, got "
                             f"{type(config).__name__}; build one with RunConfig(...)")
    if resume not in RESUME_MODES:
        raise UserInputError(f"resume must be False, True or 'allow', got {resume!r}")
    resume_lib.allowed_settings(allow_changes)
    check_teacher_arg(config.teacher)


def train(run_dir: PathLike, config: RunConfig, *, resume: Union[bool, str] = False,
          allow_changes: Sequence[str] = (), verbose: int = 1,
          extra_callbacks: Sequence[tf.keras.callbacks.Callback] = ()) -> RunResult:
    """Run ``config`` (one-step or two-step, Sec. 3.3.3) in ``run_dir``.

    ``resume``: ``False`` (the folder must not hold a run), ``True`` (continue the run in
    ``run_dir``; it must hold one) or ``"allow"`` (continue it if there is one, else start
    it: for an experiment's sub-runs). ``allow_changes``: settings a resume may change,
    e.g. ``("lr",)`` (:data:`~larq_adam.training.resume.ALLOW_CHANGES`).
    ``extra_callbacks``: Keras callbacks added to every step's ``fit``, after the run's own.
    ``verbose``: 0 silent, 1 a header per step and one headline line per epoch
    (:mod:`.console`), 2 Keras' own progress lines with every logged value.
    """
    _check_arguments(config, resume, allow_changes)
    strat = distribute.strategy(config.strategy)
    check_batch_split(config.batch_size, strat)
    # non-chief workers write a private copy, taken from the chief's folder on resume
    run = distribute.worker_run_dir(run_dir, strat, resume=bool(resume))
    data = load_run_feeds(config)
    _check_resources(run, config, data)
    _check_resume_state(run, resume)
    with run_lock(run, command="larq_adam.training.train"):
        return _train_in(run, config, data, strat, resume=resume, allow_changes=allow_changes,
                         verbose=verbose, extra_callbacks=extra_callbacks)


def _train_in(run: Path, config: RunConfig, data: RunFeeds, strat: tf.distribute.Strategy, *,
              resume: Union[bool, str], allow_changes: Sequence[str], verbose: int,
              extra_callbacks: Sequence[tf.keras.callbacks.Callback]) -> RunResult:
    """:func:`train`'s writing part, in the run folder ``run`` (locked)."""
    _prepare_run(run, config, resume=resume, allow_changes=allow_changes)
    go_on = dict(resume=bool(resume), allow_changes=allow_changes,
                 extra_callbacks=extra_callbacks, verbose=verbose)
    teacher = resolve_teacher(run, config, data=data, strategy=strat, **go_on)
    steps = run_steps(config, run, teacher_path=teacher.path)
    results = _train_students(run, steps, teacher, data, strat, analysis_on=config.analysis,
                              **go_on)
    _write_meta(run, steps, teacher)
    if verbose:
        print(f"run folder: {run}\nfinal model: {run / FINAL_MODEL}")
    return RunResult(str(run), results, teacher.result, str(run / FINAL_MODEL))


def _config(kind: str, settings: Dict[str, Any]) -> RunConfig:
    """The :class:`RunConfig` of a ``one_step``/``two_step`` call (TypeError for keyword
    arguments that are no setting of that scheme)."""
    other = _SCHEME_SETTINGS["two_step" if kind == "one_step" else "one_step"]
    valid = sorted(set(RunConfig.__dataclass_fields__) - {"kind", *other})
    unknown = sorted(set(settings) - set(valid))
    if unknown:
        raise WrongTypeError(f"unknown arguments {unknown}; valid: {valid}")
    return RunConfig(kind=kind, **settings)


def one_step(run_dir: PathLike, *, stage: Union[Stage, str] = Stage.BNN,
             optimizer: str = "adam", weight_decay: float = 0.0, epochs: int = 1,
             resume: Union[bool, str] = False, allow_changes: Sequence[str] = (),
             analysis: bool = True, verbose: int = 1,
             extra_callbacks: Sequence[tf.keras.callbacks.Callback] = (),
             **kwargs) -> RunResult:
    """One-step training (Table 1's upper rows, Table 5, Fig. 2 and 8): one step in
    ``stage``; :func:`train` with ``RunConfig(kind="one_step", ...)``.

    ``resume``, ``allow_changes`` and ``extra_callbacks`` as :func:`train`. Other keyword
    arguments are :class:`RunConfig` settings (defaults there): ``data``, ``model``, ``batch_size``,
    ``width``, ``learning_rate``, ``teacher`` (``"auto"``, a saved model's path or None),
    ``schedule``, ``strategy``, ``pad_values``, ``seed``, ``image_size``,
    ``max_steps_per_epoch``, ``data_dir``, ...
    """
    config = _config("one_step", dict(stage=stage, optimizer=optimizer,
                                      weight_decay=weight_decay, epochs=epochs,
                                      analysis=analysis, **kwargs))
    return train(run_dir, config, resume=resume, allow_changes=allow_changes, verbose=verbose,
                 extra_callbacks=extra_callbacks)


def two_step(run_dir: PathLike, *, order: str = "babw", step1_weight_decay: float = 5e-6,
             step2_weight_decay: float = 0.0, epochs: int = 1, optimizer: str = "adam",
             teacher: Optional[str] = "auto", init: str = "best",
             resume: Union[bool, str] = False, allow_changes: Sequence[str] = (),
             analysis: bool = True, verbose: int = 1,
             extra_callbacks: Sequence[tf.keras.callbacks.Callback] = (),
             **kwargs) -> RunResult:
    """Two-step training (Sec. 3.3.3, Tables 1 and 4): step 2 starts from step 1's weights;
    :func:`train` with ``RunConfig(kind="two_step", ...)``.

    ``order`` (:data:`~larq_adam.config.ORDERS`): ``"babw"``: step 1 binary activations
    (weight decay ``step1_weight_decay``, the paper's 5e-6), step 2 fully binary
    (``step2_weight_decay``, the paper's 0); ``"bwba"``: step 1 binary weights. ``epochs``
    is per step. ``init`` (:data:`~larq_adam.config.INITS`): step 2 starts from step 1's
    ``"best"`` weights (best validation top-1, as the authors' step-2 script loads
    ``model_best.pth.tar``) or its ``"final"`` ones. Both steps distil from ``teacher``:
    by default ``"auto"``, a real-valued ResNet-18 trained here first; a saved model's
    path; or ``None`` for cross-entropy on the labels. ``resume``, ``allow_changes``,
    ``extra_callbacks`` and other keyword arguments as :func:`one_step`.
    """
    config = _config("two_step", dict(order=order, step1_weight_decay=step1_weight_decay,
                                      step2_weight_decay=step2_weight_decay, epochs=epochs,
                                      optimizer=optimizer, teacher=teacher, init=init,
                                      analysis=analysis, **kwargs))
    return train(run_dir, config, resume=resume, allow_changes=allow_changes, verbose=verbose,
                 extra_callbacks=extra_callbacks)
