"""Learning-rate schedules of the paper's recipes, as serialisable Keras schedules.

* :class:`LinearDecay` - the paper's linear decay per epoch (Sec. 5 / the authors' code:
  ``LambdaLR(lambda e: 1 - e / E)``), with an option for the released code's off-by-one.
* :class:`CosineDecay` - cosine annealing to zero over ``epochs`` (per step by default).
* :class:`WarmUp` - a linear warm-up that multiplies any schedule over its first steps.

Every schedule takes the optimizer's step counter (``optimizer.iterations``, 0 for the first
update) and is registered under ``larq_adam>NAME`` with a ``get_config``. Each computes in
its ``dtype`` ("float32" by default; "float64" for float64 models, which ``make_optimizer``
picks from the model's variables).

>>> s = LinearDecay(1e-3, epochs=4, steps_per_epoch=10)
>>> [round(float(s(step)), 6) for step in (0, 9, 10, 39)]
[0.001, 0.001, 0.00075, 0.00025]
"""
import math
from typing import Union

import tensorflow as tf

from larq_adam.registry import register
from larq_adam.errors import UserInputError, WrongTypeError

__all__ = ["LinearDecay", "CosineDecay", "WarmUp"]

_Schedule = tf.keras.optimizers.schedules.LearningRateSchedule


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise WrongTypeError(f"{name} must be a positive integer, got {value!r}")
    if int(value) <= 0:
        raise UserInputError(
            f"{name} must be > 0, got {value!r}: pass the number of training epochs / "
            f"optimizer steps per epoch (e.g. ceil(num_examples / batch_size))"
        )
    return int(value)


def _dtype(value) -> str:
    dtype = tf.as_dtype(value)
    if dtype not in (tf.float32, tf.float64):
        raise UserInputError(f"a schedule computes in float32 or float64, not {dtype.name}")
    return dtype.name


def _learning_rate(value, name: str = "initial_learning_rate") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise WrongTypeError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise UserInputError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


@register
class LinearDecay(_Schedule):
    """The paper's linear decay, piecewise constant per epoch.

    ``lr(step) = initial_learning_rate * (1 - e / epochs)`` with ``e = step //
    steps_per_epoch``: epoch 0 trains at the full rate and the last epoch at ``lr / E``.
    Beyond ``epochs`` the rate stays at 0.

    ``exact_reference=True`` reproduces the authors' released code, which calls
    ``scheduler.step()`` *before* each epoch's training loop, so epoch ``e`` trains at
    ``lr * (1 - (e + 1) / E)``: the first epoch already at ``lr * (1 - 1/E)`` and the last
    epoch at 0 (it does not learn).

    Args:
        initial_learning_rate: the rate ``lr`` (e.g. 1.25e-3 at batch 256, DESIGN.md).
        epochs: ``E``, the number of epochs of the step (256 on ImageNet).
        steps_per_epoch: optimizer updates per epoch.
        exact_reference: use the released code's off-by-one (see above).
        dtype: "float32" or "float64", what the rate is computed in.
    """

    def __init__(
        self,
        initial_learning_rate: float,
        epochs: int,
        steps_per_epoch: int,
        exact_reference: bool = False,
        name: str = "LinearDecay",
        dtype: str = "float32",
    ):
        super().__init__()
        self.initial_learning_rate = _learning_rate(initial_learning_rate)
        self.epochs = _positive_int(epochs, "epochs")
        self.steps_per_epoch = _positive_int(steps_per_epoch, "steps_per_epoch")
        self.exact_reference = bool(exact_reference)
        self.name = name
        self.dtype = _dtype(dtype)

    def __call__(self, step):
        with tf.name_scope(self.name):
            step = tf.cast(step, self.dtype)
            epoch = tf.floor(step / float(self.steps_per_epoch))
            if self.exact_reference:
                epoch = epoch + 1.0
            factor = tf.maximum(1.0 - epoch / float(self.epochs), 0.0)
            return self.initial_learning_rate * factor

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "epochs": self.epochs,
            "steps_per_epoch": self.steps_per_epoch,
            "exact_reference": self.exact_reference,
            "name": self.name,
            "dtype": self.dtype,
        }


@register
class CosineDecay(tf.keras.optimizers.schedules.CosineDecay):
    """Cosine annealing from ``initial_learning_rate`` to 0 over ``epochs``: Keras' own
    ``CosineDecay`` counted in epochs.

    ``lr(step) = lr * 0.5 * (1 + cos(pi * min(s, S) / S))`` with ``S = epochs *
    steps_per_epoch`` and ``s = step`` (per step, the default: smooth, as
    ``CosineAnnealingLR`` stepped every iteration), or, with ``per_epoch=True``,
    ``S = epochs`` and ``s = step // steps_per_epoch`` (constant within an epoch, as
    ``CosineAnnealingLR`` stepped every epoch).

    Args:
        initial_learning_rate: the starting rate.
        epochs: epochs over which the rate anneals to zero.
        steps_per_epoch: optimizer updates per epoch.
        per_epoch: piecewise constant per epoch instead of per step.
        dtype: "float32" (Keras' own computation) or "float64".
    """

    def __init__(
        self,
        initial_learning_rate: float,
        epochs: int,
        steps_per_epoch: int,
        per_epoch: bool = False,
        name: str = "CosineDecay",
        dtype: str = "float32",
    ):
        self.epochs = _positive_int(epochs, "epochs")
        self.steps_per_epoch = _positive_int(steps_per_epoch, "steps_per_epoch")
        self.per_epoch = bool(per_epoch)
        self.dtype = _dtype(dtype)
        super().__init__(_learning_rate(initial_learning_rate),
                         self.epochs if self.per_epoch else self.epochs * self.steps_per_epoch,
                         alpha=0.0, name=name)

    def __call__(self, step):
        if self.per_epoch:
            step = tf.math.floordiv(tf.cast(step, tf.int64), self.steps_per_epoch)
        if self.dtype == "float32":
            return super().__call__(step)
        with tf.name_scope(self.name):  # Keras' formula (alpha 0, no warm-up) in float64
            done = tf.minimum(tf.cast(step, self.dtype), float(self.decay_steps))
            cosine = 0.5 * (1.0 + tf.cos(math.pi * done / float(self.decay_steps)))
            return self.initial_learning_rate * cosine

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "epochs": self.epochs,
            "steps_per_epoch": self.steps_per_epoch,
            "per_epoch": self.per_epoch,
            "name": self.name,
            "dtype": self.dtype,
        }


@register
class WarmUp(_Schedule):
    """Linear warm-up on top of another schedule (or a constant rate).

    ``lr(step) = schedule(step) * min(1, (step + 1) / warmup_steps)``: the first update runs
    at ``1 / warmup_steps`` of the wrapped rate, update ``warmup_steps - 1`` and later at the
    full wrapped rate. The wrapped schedule keeps its own clock (warm-up overlaps its start
    rather than delaying it), so the total length of the schedule is unchanged.

    Args:
        schedule: a ``LearningRateSchedule`` or a float learning rate.
        warmup_steps: number of warm-up updates (> 0).
        dtype: "float32" or "float64", what the rate is computed in.
    """

    def __init__(
        self,
        schedule: Union[_Schedule, float],
        warmup_steps: int,
        name: str = "WarmUp",
        dtype: str = "float32",
    ):
        super().__init__()
        if isinstance(schedule, dict):
            schedule = tf.keras.optimizers.schedules.deserialize(schedule)
        if not isinstance(schedule, _Schedule):
            schedule = _learning_rate(schedule, "schedule")
        self.schedule = schedule
        self.warmup_steps = _positive_int(warmup_steps, "warmup_steps")
        self.name = name
        self.dtype = _dtype(dtype)

    @property
    def initial_learning_rate(self) -> float:
        """The wrapped schedule's nominal rate (used by AdaBound's bound scaling)."""
        if isinstance(self.schedule, _Schedule):
            nominal = getattr(self.schedule, "initial_learning_rate", None)
            return float(nominal if nominal is not None else self.schedule(0))
        return self.schedule

    def __call__(self, step):
        with tf.name_scope(self.name):
            step = tf.cast(step, self.dtype)
            inner = self.schedule(step) if isinstance(self.schedule, _Schedule) else self.schedule
            factor = tf.minimum((step + 1.0) / float(self.warmup_steps), 1.0)
            inner = tf.cast(inner, self.dtype) if tf.is_tensor(inner) else inner
            return inner * factor

    def get_config(self):
        schedule = self.schedule
        if isinstance(schedule, _Schedule):
            schedule = tf.keras.optimizers.schedules.serialize(schedule)
        return {"schedule": schedule, "warmup_steps": self.warmup_steps, "name": self.name,
                "dtype": self.dtype}
