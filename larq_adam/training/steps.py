"""The training API in one namespace, as ``la.training`` exposes it: :func:`train` on a
:class:`~larq_adam.config.RunConfig` and the paper's schemes :func:`one_step` /
:func:`two_step` (:mod:`.run`), one :class:`Step` (:mod:`.step`), the run's records
(:mod:`larq_adam.records`) and what a resume may change (:mod:`.resume`).

The modules behind it: :mod:`.run` (the run folder and the order of the steps),
:mod:`.teacher` (the real-valued teacher), :mod:`.step` (one step from build to result),
:mod:`.step_folder` (a step's files), :mod:`.data_feed` (the input, split by worker under
a multi-worker strategy), :mod:`.run_callbacks` and :mod:`.resume`.
"""
from larq_adam.records import RunResult, StepResult
from larq_adam.training.resume import ALLOW_CHANGES, RecoveryWarning
from larq_adam.training.run import one_step, train, two_step
from larq_adam.training.run_callbacks import StepClock, TrainingDivergedError
from larq_adam.training.step import Step, run_step

__all__ = ["train", "one_step", "two_step", "run_step", "Step", "StepResult", "RunResult",
           "StepClock", "TrainingDivergedError", "RecoveryWarning", "ALLOW_CHANGES"]
