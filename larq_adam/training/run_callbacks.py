"""The Keras callbacks a training step runs besides the analysis ones, in list order:

1. :class:`StopOnNonFinite` (first): a NaN or infinite loss stops training on the batch it
   appears in, before any other callback sees it (the analysis callbacks' epoch-end
   histograms would otherwise fail on NaN weights), with :class:`TrainingDivergedError`.
2. (the analysis callbacks, :class:`LearningRateLogger`)
3. :class:`TensorBoardScalars` and ``CSVLogger``: every ``logs`` key the callbacks before
   them added, each epoch.
4. :class:`BestWeights`: keeps the weights of the epoch with the best validation top-1
   (``val_accuracy``), as the paper's step 2 starts from step 1's ``model_best``.
5. :class:`EpochCheckpoint`: the step's ``tf.train.Checkpoint`` (model, optimizer, epoch,
   elapsed seconds, the analysis state) after every epoch.
"""
import math
import time
from pathlib import Path
from typing import Callable, Optional

import tensorflow as tf

from larq_adam.atomic import atomic_save_weights
from larq_adam.errors import RunStateError

__all__ = [
    "TrainingDivergedError",
    "StepClock",
    "StopOnNonFinite",
    "LearningRateLogger",
    "TensorBoardScalars",
    "BestWeights",
    "EpochCheckpoint",
]


class TrainingDivergedError(RunStateError):
    """The loss became NaN or infinite; the last good checkpoint is kept and named."""


class StepClock:
    """Seconds spent on a step, over all the processes that worked on it: the seconds
    saved with the last checkpoint (``before``) plus those of this process."""

    def __init__(self):
        self.started = time.time()
        self.before = 0.0

    def total(self) -> float:
        return self.before + time.time() - self.started


def divergence_message(step: str, loss: float, epoch: int, batch: Optional[int],
                       last: Optional[str]) -> str:
    """One line: what diverged where, the checkpoint kept, and the command that resumes."""
    where = f"batch {batch + 1} of epoch {epoch + 1}" if batch is not None else \
        f"epoch {epoch + 1}"
    kept = (f"Last good checkpoint: {last}" if last
            else "Last good checkpoint: none (the step restarts from its initial weights)")
    return (f"step {step!r}: the loss became {loss} at {where}; training stopped without "
            f"saving that epoch. {kept}. Resume with `--resume --allow-changes lr` and a "
            "lower `--lr` (or `--allow-changes weight_decay` and a smaller weight decay).")


def _finite(value) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return True  # not a number: nothing to judge


class StopOnNonFinite(tf.keras.callbacks.Callback):
    """Raises :class:`TrainingDivergedError` from ``on_train_batch_end`` when ``loss`` (the
    epoch's running mean, so NaN from the first bad batch on) is not finite. Put it first
    in the callback list. ``last_checkpoint`` gives the newest saved checkpoint's path."""

    runs_before_analysis = True  # ends training before a batch is measured

    def __init__(self, step: str, last_checkpoint: Callable[[], Optional[str]]):
        super().__init__()
        self.step = step
        self.last_checkpoint = last_checkpoint
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not _finite(loss):
            raise TrainingDivergedError(divergence_message(
                self.step, float(loss), self._epoch, batch, self.last_checkpoint()))


class LearningRateLogger(tf.keras.callbacks.Callback):
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


class TensorBoardScalars(tf.keras.callbacks.TensorBoard):
    """Keras' ``TensorBoard`` callback for a step's epoch scalars: every key of the epoch's
    ``logs`` (loss, accuracy, ``lr`` and the analysis keys: ``ff_ratio``, ``c2i_ratio``,
    ``cam_min_first``, ...) as ``epoch_<key>`` in ``log_dir/train``, the ``val_`` keys as
    ``epoch_<key>`` in ``log_dir/validation``, flushed at each epoch end so a killed step
    keeps them. No graph, profile or per-batch summaries. Put it after the callbacks that
    add keys to ``logs``. The latent-weight histograms (Fig. 7,
    :class:`~larq_adam.analysis.WeightHistograms`) go to ``log_dir`` itself; a resumed
    step adds event files to the same folders, its epochs numbered on."""

    def __init__(self, log_dir: str):
        super().__init__(log_dir=log_dir, histogram_freq=0, write_graph=False,
                         write_steps_per_second=False, update_freq="epoch", profile_batch=0)

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        for writer in self._writers.values():  # Keras' train / validation writers
            writer.flush()


class BestWeights(tf.keras.callbacks.Callback):
    """Saves ``model``'s weights (atomically) to ``path`` whenever ``val_accuracy`` beats
    ``best`` (the best of the epochs already done; -inf for a new step). The paper's
    two-step recipe starts step 2 from step 1's best-validation model."""

    def __init__(self, model: tf.keras.Model, path: Path, best: float = -math.inf):
        super().__init__()
        self.student = model
        self.path = Path(path)
        self.best = best

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get("val_accuracy")
        if value is not None and _finite(value) and float(value) > self.best:
            self.best = float(value)
            atomic_save_weights(self.student, self.path)


class EpochCheckpoint(tf.keras.callbacks.Callback):
    """Saves the step's checkpoint after every epoch with a finite loss (number = epochs
    done), with the epoch and the step's total seconds so far."""

    def __init__(self, manager: tf.train.CheckpointManager, epoch: tf.Variable,
                 elapsed: tf.Variable, clock: StepClock, step: str):
        super().__init__()
        self.manager = manager
        self.epoch = epoch
        self.elapsed = elapsed
        self.clock = clock
        self.step = step

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not _finite(loss):
            raise TrainingDivergedError(divergence_message(
                self.step, float(loss), epoch, None, self.manager.latest_checkpoint))
        self.epoch.assign(epoch + 1)
        self.elapsed.assign(self.clock.total())
        self.manager.save(checkpoint_number=epoch + 1)
