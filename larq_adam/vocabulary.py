"""The names a run is described in, in plain Python (no TensorFlow): one home for every
choice list that :class:`~larq_adam.config.RunConfig`, the command line, the optimizer and
strategy tables, the model registry and resume read.

Sec. 3.3's schemes (:data:`KINDS`), Table 4's orders (:data:`ORDERS`), the binarization
stages of Eq. 1-2 (:data:`STAGES`), the optimizers of Sec. 4.1 with their default learning
rates (:data:`DEFAULT_LEARNING_RATES`), the learning-rate schedules, the ``tf.distribute``
strategies and the networks (:data:`STUDENTS`, :data:`TEACHERS`). The modules that
implement them check at import that their tables hold exactly these names (a test pins
each), so a name added in one place and not the other fails at once.
"""
from typing import Dict, Tuple

__all__ = ["KINDS", "ORDERS", "STAGES", "INITS", "SELECT_ON", "TEACHER_CHOICES",
           "DEFAULT_LEARNING_RATES", "OPTIMIZERS", "SCHEDULES", "STRATEGIES", "STUDENTS",
           "TEACHERS", "MODELS", "PYTORCH_IMPORTABLE", "ALLOW_CHANGES", "SCHEME_SETTINGS", "same_names"]

#: a run's schemes: one step in one stage, or the paper's two steps (Sec. 3.3)
KINDS = ("one_step", "two_step")
#: two-step orders -> (step 1 stage, step 2 stage), Table 4
ORDERS: Dict[str, Tuple[str, str]] = {"babw": ("ba", "bnn"), "bwba": ("bw", "bnn")}
#: binarization stages: real, binary activations, binary weights, both (Eq. 1-2)
STAGES = ("fp", "ba", "bw", "bnn")
#: step 2 starts from step 1's best or final weights
INITS = ("best", "final")
#: what the best weights (and step 2's start) are chosen on: a validation split that is not
#: the test split, or the test split (the authors' ImageNet protocol)
SELECT_ON = ("validation", "test")
#: ``teacher`` values beside a model path: train one, or no distillation
TEACHER_CHOICES = ("auto", "none")
#: the optimizers of Sec. 4.1 (and Bop) with the learning rate each starts from by default
DEFAULT_LEARNING_RATES: Dict[str, float] = {
    "adam": 1e-3, "amsgrad": 1e-3, "sgd": 0.1, "rmsprop": 1e-2, "adagrad": 1e-2,
    "adadelta": 1.0, "adabound": 1e-3, "bop": 1e-3,
}
OPTIMIZERS = tuple(DEFAULT_LEARNING_RATES)
#: learning-rate schedules per step (``linear`` to 0 is the paper's)
SCHEDULES = ("constant", "linear", "cosine")
#: ``tf.distribute`` strategies by name (``tpu:ADDRESS`` names a TPU too)
STRATEGIES = ("default", "mirrored", "multiworker", "tpu")
#: binary networks: the paper's two and larq-zoo's three
STUDENTS = ("reactnet_a", "strong_baseline", "quicknet", "real_to_bin", "birealnet")
#: real-valued teachers (torchvision's ResNets)
TEACHERS = ("resnet18", "resnet34")
MODELS = tuple(sorted(STUDENTS + TEACHERS))
#: networks whose PyTorch checkpoints load (the authors' ReActNet-A, torchvision's ResNets)
PYTORCH_IMPORTABLE = ("reactnet_a", "resnet18", "resnet34")
#: ``allow_changes`` names -> the settings each lets a resume change
ALLOW_CHANGES: Dict[str, Tuple[str, ...]] = {
    "lr": ("learning_rate",),
    "learning_rate": ("learning_rate",),
    "weight_decay": ("weight_decay", "step1_weight_decay", "step2_weight_decay"),
}
#: settings that belong to one scheme only (``one_step``/``two_step`` refuse the other's)
SCHEME_SETTINGS: Dict[str, Tuple[str, ...]] = {
    "one_step": ("stage", "weight_decay"),
    "two_step": ("order", "step1_weight_decay", "step2_weight_decay", "init"),
}


def same_names(table, names, *, what: str) -> None:
    """Check at import that an implementation's ``table`` (a mapping or sequence of names)
    holds exactly ``names``; AssertionError naming the difference (a defect, not input)."""
    got, want = set(table), set(names)
    if got != want:
        raise AssertionError(f"{what}: larq_adam.vocabulary lists {sorted(want)}, the table "
                             f"has {sorted(got)}; add or remove the name in both")
