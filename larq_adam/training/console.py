"""What a step prints while it trains, at ``verbose=1``: a header naming the phase, a
progress bar on a terminal, and one short line per epoch with the headline numbers only.

The analysis callbacks put about a hundred per-layer values into an epoch's logs (FF ratio
and saturation per layer, CAM per block, ...); Keras' own progress bar prints all of them.
They stay in ``history.csv`` and TensorBoard; the console gets loss, top-1, validation
top-1, the FF ratio (Eq. 5), the C2I ratio (Sec. 3.3.3) and the learning rate.
``verbose=2`` is Keras' own output with every value.
"""
import sys
import time
from typing import Any, Dict, Mapping, Optional

import tensorflow as tf

__all__ = ["EpochLines", "epoch_line", "phase_header", "HEADLINE"]

#: (logs key, label, format) of the numbers an epoch line shows, in order
HEADLINE = (
    ("loss", "loss", "{:.4f}"),
    ("accuracy", "top-1", "{:.2%}"),
    ("val_accuracy", "val top-1", "{:.2%}"),
    ("ff_ratio_run", "FF", "{:.2e}"),
    ("c2i_ratio", "C2I", "{:.3f}"),
    ("lr", "lr", "{:.2e}"),
)


def epoch_line(epoch: int, epochs: int, logs: Mapping[str, Any], seconds: float) -> str:
    """``epoch 2/3  loss 0.4123  top-1 88.10%  val top-1 85.20%  FF 1.20e-03  C2I 0.970
    lr 3.33e-04  (41 s)``: ``epoch`` 0-based as Keras counts, shown 1-based; a missing or
    non-numeric value is left out."""
    parts = [f"epoch {epoch + 1}/{epochs}"]
    for key, label, form in HEADLINE:
        value = logs.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            parts.append(f"{label} {form.format(float(value))}")
    return "  ".join(parts) + f"  ({seconds:.0f} s)"


def phase_header(name: str, *, stage: str, epochs: int, batches: int, optimizer: str,
                 learning_rate: Optional[float], schedule: str, weight_decay: float,
                 teacher: Optional[str], first_epoch: int = 0) -> str:
    """The line before a step trains: which step, its stage (Table 1), optimizer and
    schedule (Sec. 4.1), coupled weight decay, epochs and the teacher it distils from."""
    resumed = f", resumed at epoch {first_epoch + 1}" if first_epoch else ""
    lr = "its default lr" if learning_rate is None else f"lr {learning_rate:g}"
    return (f"== {name}: stage {stage.upper()}, {optimizer} {lr} {schedule}, "
            f"weight decay {weight_decay:g}, {epochs} epochs x {batches} batches{resumed}, "
            f"teacher {teacher or 'none (cross-entropy on the labels)'} ==")


class EpochLines(tf.keras.callbacks.Callback):
    """One :func:`epoch_line` per epoch, and on a terminal a progress bar of loss and top-1
    while the epoch runs. Put it after the callbacks that add values to the logs (the
    analysis callbacks, :class:`~.run_callbacks.LearningRateLogger`)."""

    def __init__(self, epochs: int, steps_per_epoch: int, *, stream: Any = None,
                 progress: Optional[bool] = None) -> None:
        super().__init__()
        self.epochs, self.steps_per_epoch = int(epochs), int(steps_per_epoch)
        self.stream = stream or sys.stdout
        self.progress = (self.stream.isatty() if progress is None and hasattr(
            self.stream, "isatty") else bool(progress))
        self._bar: Optional[tf.keras.utils.Progbar] = None
        self._started = 0.0

    def on_epoch_begin(self, epoch: int, logs: Optional[Dict[str, Any]] = None) -> None:
        self._started = time.perf_counter()
        if self.progress:
            self._bar = tf.keras.utils.Progbar(self.steps_per_epoch, stateful_metrics=(
                "loss", "accuracy"), unit_name="batch")

    def on_train_batch_end(self, batch: int, logs: Optional[Dict[str, Any]] = None) -> None:
        if self._bar is not None:
            logs = logs or {}
            self._bar.update(batch + 1, [(k, float(logs[k])) for k in ("loss", "accuracy")
                                         if k in logs])

    def on_epoch_end(self, epoch: int, logs: Optional[Dict[str, Any]] = None) -> None:
        self._bar = None
        print(epoch_line(epoch, self.epochs, logs or {}, time.perf_counter() - self._started),
              file=self.stream, flush=True)
