"""Model registry: the paper's BNNs in any binarization stage, and real teachers.

>>> import larq_adam as la
>>> la.models.available()
['birealnet', 'quicknet', 'reactnet_a', 'real_to_bin', 'resnet18', 'resnet34', 'strong_baseline']
>>> model = la.models.build_model("reactnet_a", stage="ba", input_shape=(32, 32, 3),
...                               num_classes=10, width=0.25)

Every model returns logits. A BNN family built in any stage has the same layers, names
and variable shapes, so ``bnn.set_weights(ba.get_weights())`` moves step 1 into step 2.
"""
from typing import Callable, Dict, List, Optional, Sequence

import tensorflow as tf

from larq_adam import keras_internals
from larq_adam.models import precision
from larq_adam.models._common import count_ops
from larq_adam.models.pytorch_import import from_pytorch
from larq_adam.models.reactnet import reactnet_a
from larq_adam.models.strong_baseline import strong_baseline
from larq_adam.models.teachers import resnet18, resnet34
from larq_adam.models.zoo import birealnet, quicknet, real_to_bin
from larq_adam import vocabulary
from larq_adam.stages import Stage, StageLike
from larq_adam.errors import UserInputError

__all__ = ["available", "build_model", "count_ops", "from_pytorch", "is_teacher", "reactnet_a",
           "strong_baseline", "resnet18", "resnet34"]

_BNNS: Dict[str, Callable[..., tf.keras.Model]] = {
    "reactnet_a": reactnet_a,
    "strong_baseline": strong_baseline,
    "quicknet": quicknet,  # larq-zoo's networks (models/zoo.py)
    "real_to_bin": real_to_bin,
    "birealnet": birealnet,
}
_TEACHERS: Dict[str, Callable[..., tf.keras.Model]] = {
    "resnet18": resnet18,
    "resnet34": resnet34,
}
vocabulary.same_names(_BNNS, vocabulary.STUDENTS, what="larq_adam.models' binary networks")
vocabulary.same_names(_TEACHERS, vocabulary.TEACHERS, what="larq_adam.models' teachers")


def available() -> List[str]:
    """Names accepted by :func:`build_model`, sorted."""
    return sorted({**_BNNS, **_TEACHERS})


def is_teacher(name: str) -> bool:
    """True for the real-valued teacher networks (which have no binary stage)."""
    return name in _TEACHERS


def build_model(
    name: str,
    stage: Optional[StageLike] = None,
    input_shape: Sequence[int] = (224, 224, 3),
    num_classes: int = 1000,
    width: float = 1.0,
    pad_values: float = 0.0,
    dtype_policy: Optional[str] = None,
    **kwargs,
) -> tf.keras.Model:
    """Build model ``name`` in binarization ``stage`` (DESIGN.md; Tables 2-4).

    Args:
        name: one of :func:`available`.
        stage: "fp", "ba", "bw", "bnn" (any case, or a :class:`larq_adam.Stage`).
            ``None`` means "bnn" for the BNNs and "fp" for the teachers; a teacher
            rejects a binary stage.
        input_shape: ``(H, W, C)``; sides <= 64 px give the small-image form.
        num_classes: number of logits.
        width: channel multiplier (1.0 = the paper's network).
        pad_values: padding value of binarized 3x3-conv inputs (0 = reference, 1 = LCE's
            fast path); BNNs only (must stay 0 for teachers).
        dtype_policy: a Keras mixed-precision policy for this model only, e.g.
            ``"mixed_bfloat16"`` (variables stay float32, layers compute in bfloat16, for
            GPUs, TPUs and CPUs with bf16 units; on a CPU without them it is slower than
            float32 and warns, :mod:`larq_adam.models.precision`); the logits are cast
            back to float32. ``None``
            (default) is float32 throughout, as the reference; ``"float64"`` builds a
            float64 model (no cast) for equality checks against a float64 reference.
            Weights move between policies with ``set_weights``; export a float32 build (LCE converts float32).
        **kwargs: family options, e.g. ``small_input``, ``symmetric_padding``, ``name``.

    Raises:
        ValueError: unknown name or stage, bad shape, or a binary stage for a teacher.
    """
    if dtype_policy is not None:
        policy = tf.keras.mixed_precision.Policy(dtype_policy)  # ValueError if unknown
        precision.warn_if_bf16_is_emulated(policy)
        with keras_internals.policy_scope(policy):
            model = build_model(name, stage, input_shape, num_classes, width, pad_values,
                                **kwargs)
        if policy.compute_dtype == policy.variable_dtype:  # "float64": the equality checks
            return model
        logits = tf.keras.layers.Activation("linear", dtype="float32", name="logits_float32")(
            model.output)
        return tf.keras.Model(model.input, logits, name=model.name)
    if name in _BNNS:
        stage = Stage("bnn" if stage is None else stage)
        return _BNNS[name](stage=stage, input_shape=input_shape, num_classes=num_classes,
                           width=width, pad_values=pad_values, **kwargs)
    if name in _TEACHERS:
        stage = Stage("fp" if stage is None else stage)
        if stage is not Stage.FP:
            raise UserInputError(
                f"{name!r} is a real-valued teacher: build it with stage='fp' (or None), "
                f"not {stage.value!r}"
            )
        if pad_values != 0.0:
            raise UserInputError(f"pad_values applies to binary convs only; {name!r} has none")
        return _TEACHERS[name](input_shape=input_shape, num_classes=num_classes,
                               width=width, **kwargs)
    raise UserInputError(f"unknown model {name!r}; available models are {available()}")
