"""The real-valued teacher a run's steps distil from (ReActNet's distribution loss).

``RunConfig.teacher``: ``None`` (cross-entropy on the labels), a saved Keras model's path,
or ``"auto"``: a real-valued ResNet (``teacher_model``, ``teacher_width``,
``teacher_epochs``) trained first as the run's ``teacher`` step, which saves it whole from
memory straight into ``RUN/teacher/model.h5``; the steps trained in the same process
distil from the model in memory, a resumed run from that file.
"""
import dataclasses
from pathlib import Path
from typing import Optional, Sequence

import tensorflow as tf

from larq_adam.config import RunConfig
from larq_adam.errors import CorruptFileError, MissingFileError
from larq_adam.results import StepResult
from larq_adam.run_files import h5_problem
from larq_adam.stages import Stage
from larq_adam.training.data_feed import RunFeeds
from larq_adam.training.step import Step, train_step
from larq_adam.training.step_folder import recover_model_file

__all__ = ["Teacher", "check_teacher_arg", "teacher_step", "resolve_teacher"]

TEACHER_FILE = Path("teacher") / "model.h5"


@dataclasses.dataclass
class Teacher:
    """The run's teacher: its saved model's ``path`` (``None``: no teacher), the ``model``
    itself when this process trained it, and the teacher step's ``result`` when the run
    trained it."""

    path: Optional[str]
    model: Optional[tf.keras.Model]
    result: Optional[StepResult]


def check_teacher_arg(teacher: Optional[str]) -> None:
    """A teacher path must name a readable saved model (checked before anything is
    written; ``None``/``"auto"`` pass)."""
    if teacher in (None, "none", "", "auto"):
        return
    if not Path(teacher).exists():
        raise MissingFileError(
            f"teacher {teacher!r} does not exist; pass the path of a saved Keras model, "
            "'auto' to train a real-valued ResNet-18 teacher first, or 'none'")
    if str(teacher).endswith((".h5", ".hdf5")):
        problem = h5_problem(teacher, whole_model=True)
        if problem:
            raise CorruptFileError(f"teacher {teacher} cannot be read ({problem}): pass the "
                                   "path of a Keras model saved whole with model.save(...)")


def teacher_step(config: RunConfig) -> Step:
    """The ``teacher`` step of ``teacher="auto"``: ``config.teacher_model`` in full
    precision, Adam without weight decay, the run's learning rate, schedule and seed."""
    return Step(name="teacher", model=config.teacher_model, stage=Stage.FP, optimizer="adam",
                learning_rate=config.learning_rate, weight_decay=0.0,
                epochs=config.resolved_teacher_epochs, width=config.resolved_teacher_width,
                schedule=config.schedule, seed=config.seed, run=config.to_json())


def resolve_teacher(run: Path, config: RunConfig, *, data: RunFeeds,
                    strategy: tf.distribute.Strategy, resume: bool,
                    allow_changes: Sequence[str],
                    extra_callbacks: Sequence[tf.keras.callbacks.Callback] = (),
                    verbose: int = 1) -> Teacher:
    """The run's teacher; with ``"auto"`` train it here (resumable, no analysis callbacks).
    A teacher step finished by an earlier process is read back, its ``model.h5`` checked
    and, when missing or unreadable, written again from its final weights."""
    if config.teacher is None:
        return Teacher(None, None, None)
    if config.teacher != "auto":
        return Teacher(str(config.teacher), None, None)
    step, path = teacher_step(config), run / TEACHER_FILE
    trained = train_step(run, step, data=data, strategy=strategy, resume=resume,
                         allow_changes=allow_changes, analysis_callbacks=False,
                         extra_callbacks=extra_callbacks, model_path=path, verbose=verbose)
    if trained.model is None:
        recover_model_file(path, build=step.build_kwargs(data.info),
                           weights=run / step.name / "final.weights.h5", strategy=strategy)
    return Teacher(str(path), trained.model, trained.result)
