"""Training: the paper's optimizers and weight decay, schedules, distillation, strategies,
and runs: :func:`train` on a :class:`~larq_adam.config.RunConfig`, the one-/two-step
schemes, checkpoints and resume (:mod:`.run`, :mod:`.step`, :mod:`.resume`, loaded on
first use;
:class:`TrainingDivergedError` when the loss becomes NaN, ``allow_changes`` to resume with a
lower learning rate); :func:`recalibrate_bn` re-estimates BN statistics over a dataset.

>>> import larq_adam as la
>>> opt = la.training.make_optimizer("adam", 1.25e-3, weight_decay=5e-6, model=model)
>>> la.training.Distiller(student, teacher)
"""
import importlib

from larq_adam.training.distill import (
    Distiller,
    distribution_loss,
    per_example_distribution_loss,
)
from larq_adam.training.distribute import STRATEGIES, configure_cpu_devices, strategy
from larq_adam.training.optimizers import (
    DEFAULT_LEARNING_RATES,
    OPTIMIZERS,
    AdaBound,
    decay_variables,
    make_optimizer,
)
from larq_adam.training.schedules import CosineDecay, LinearDecay, WarmUp
from larq_adam.training import bn_stats
from larq_adam.training.bn_stats import recalibrate_bn

# The run API loads on first use (it imports the models and the callbacks): name -> module.
_LAZY = {"train": "larq_adam.training.run", "one_step": "larq_adam.training.run",
         "two_step": "larq_adam.training.run", "run_step": "larq_adam.training.step",
         "Step": "larq_adam.training.step", "StepResult": "larq_adam.results",
         "RunResult": "larq_adam.results", "StepClock": "larq_adam.training.run_callbacks",
         "TrainingDivergedError": "larq_adam.training.run_callbacks",
         "RecoveryWarning": "larq_adam.training.resume",
         "ALLOW_CHANGES": "larq_adam.training.resume"}

__all__ = [
    "make_optimizer",
    "decay_variables",
    "OPTIMIZERS",
    "DEFAULT_LEARNING_RATES",
    "AdaBound",
    "LinearDecay",
    "CosineDecay",
    "WarmUp",
    "distribution_loss",
    "per_example_distribution_loss",
    "Distiller",
    "strategy",
    "STRATEGIES",
    "configure_cpu_devices",
    "recalibrate_bn",
    "bn_stats",
    *_LAZY,
]


def __getattr__(name: str):
    """Import the module of a run API name (:data:`_LAZY`) on its first use."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'larq_adam.training' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
