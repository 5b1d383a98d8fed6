"""Training: the paper's optimizers and weight decay, schedules, distillation, strategies,
and runs: :func:`train` on a :class:`~larq_adam.config.RunConfig`, the one-/two-step
schemes, checkpoints and resume (:mod:`.steps`, loaded on first use;
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

_LAZY = {name: "steps" for name in ("train", "one_step", "two_step", "run_step", "Step",
                                     "StepResult", "RunResult", "TrainingDivergedError",
                                     "RecoveryWarning", "ALLOW_CHANGES")}
_LAZY["steps"] = None

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
    """Import ``larq_adam.training.steps`` on first use of its names."""
    if name in _LAZY:
        module = importlib.import_module("larq_adam.training.steps")
        value = module if _LAZY[name] is None else getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'larq_adam.training' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
