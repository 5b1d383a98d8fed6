"""SIGINT and SIGTERM stop training at a batch boundary, keeping the last whole checkpoint.

:func:`stop_signals` installs a handler for the duration of one ``fit`` (and restores the
previous ones after it) that only notes the signal; :class:`StopOnSignal` then raises
:class:`~larq_adam.errors.TrainingInterrupted` at the end of the batch in flight, so the
epoch's checkpoint is not written from a partial epoch and the previous one, whole, is
what a resume continues from. A signal that arrives while an epoch ends (validation,
checkpoint) lets that epoch's checkpoint finish and stops after ``fit``
(:func:`raise_if_stopped`). A second signal stops at once.

A cluster's preemption notice is the same SIGTERM, so a preempted worker stops the same
way; each worker's checkpoint is its run folder's, and ``--resume`` continues from it.

Handlers can only be installed in the main thread; elsewhere the signals keep their
previous behaviour.
"""
import contextlib
import signal
import threading
from typing import Callable, Iterator, Optional, Sequence

import tensorflow as tf

from larq_adam.errors import TrainingInterrupted

__all__ = ["STOP_SIGNALS", "SignalStop", "stop_signals", "StopOnSignal", "raise_if_stopped"]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class SignalStop:
    """The stop signal that arrived during a fit (``signum``; None until one does)."""

    def __init__(self) -> None:
        self.signum: Optional[int] = None


def _message(signum: int, step: str, where: str, last: Optional[str]) -> str:
    kept = (f"kept the last complete checkpoint {last}" if last
            else "no epoch was complete, so the step starts again from its first epoch")
    return (f"training stopped by {signal.Signals(signum).name} {where} of step {step!r}; "
            f"{kept}; resume with --resume (resume=True in Python) for the uninterrupted "
            "result")


@contextlib.contextmanager
def stop_signals(signals: Sequence[int] = STOP_SIGNALS) -> Iterator[SignalStop]:
    """For the block, ``signals`` only set the yielded :class:`SignalStop` (a second one
    raises :class:`TrainingInterrupted` at once); the previous handlers come back after."""
    stop = SignalStop()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum, _frame):
        if stop.signum is not None:
            raise TrainingInterrupted(f"training stopped at once by a second "
                                      f"{signal.Signals(signum).name}", signum=signum)
        stop.signum = signum

    previous = {s: signal.signal(s, handler) for s in signals}
    try:
        yield stop
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


class StopOnSignal(tf.keras.callbacks.Callback):
    """Raises :class:`TrainingInterrupted` from ``on_train_batch_end`` once ``stop`` holds
    a signal, before the epoch's end (and its checkpoint) can run. ``last_checkpoint``
    gives the newest saved checkpoint's path."""

    runs_before_analysis = True  # ends training before a batch is measured

    def __init__(self, stop: SignalStop, step: str,
                 last_checkpoint: Callable[[], Optional[str]]):
        super().__init__()
        self.stop = stop
        self.step = step
        self.last_checkpoint = last_checkpoint
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.stop.signum is not None:
            where = f"after batch {batch + 1} of epoch {self._epoch + 1}"
            raise TrainingInterrupted(
                _message(self.stop.signum, self.step, where, self.last_checkpoint()),
                signum=self.stop.signum, checkpoint=self.last_checkpoint())


def raise_if_stopped(stop: SignalStop, step: str, last: Optional[str]) -> None:
    """After ``fit``: raise :class:`TrainingInterrupted` when a signal arrived while the
    last epoch ended (its checkpoint ``last`` is whole)."""
    if stop.signum is not None:
        raise TrainingInterrupted(_message(stop.signum, step, "at the end of an epoch", last),
                                  signum=stop.signum, checkpoint=last)
