"""Binarization stages and the Larq quantizers each one implies.

The paper's two-step schemes move a network through stages (Sec. 3.3.3, Table 4):

* ``FP``  - nothing binary (a real-valued network of the same layout);
* ``BA``  - binary activations, real weights (step 1 of BABW);
* ``BW``  - binary weights, real activations (step 1 of BWBA);
* ``BNN`` - both binary (step 2 of either order, or one-step training).

A model built in any stage has the same layers, names and variable shapes; only the
quantizers of its binarizable ``QuantConv2D`` layers differ, so weights move between stages
with ``set_weights``.

Example:
    >>> from larq_adam.stages import Stage, quantizers
    >>> Stage("BA").binary_activations, Stage("ba").binary_weights
    (True, False)
    >>> sorted(quantizers("bnn", "reactnet"))
    ['input_quantizer', 'kernel_quantizer']
"""
import enum
from typing import Dict, Optional, Union

import larq as lq
import tensorflow as tf

from larq_adam import vocabulary
from larq_adam.errors import UserInputError

# Families differ only in the activation's gradient (DESIGN.md, "Binarization").
FAMILIES = ("reactnet", "strong_baseline")


class Stage(str, enum.Enum):
    """Which of weights and activations are binary; strings ("ba", "BNN") are accepted."""

    FP = "fp"
    BA = "ba"
    BW = "bw"
    BNN = "bnn"

    @classmethod
    def _missing_(cls, value):
        if isinstance(value, str):
            key = value.strip().lower()
            for member in cls:
                if member.value == key:
                    return member
        valid = ", ".join(repr(m.value) for m in cls)
        raise UserInputError(f"unknown stage {value!r}; valid stages are {valid} (any case)")

    @property
    def binary_activations(self) -> bool:
        return self in (Stage.BA, Stage.BNN)

    @property
    def binary_weights(self) -> bool:
        return self in (Stage.BW, Stage.BNN)

    def __str__(self) -> str:
        return self.value


vocabulary.same_names([s.value for s in Stage], vocabulary.STAGES, what="Stage")

StageLike = Union[Stage, str]


def activation_quantizer(family: str) -> tf.keras.layers.Layer:
    """A fresh binary activation quantizer (Eq. 1: sign with +1 at 0) for ``family``.

    ReActNet uses the piecewise-polynomial ApproxSign gradient (Larq ``approx_sign``);
    StrongBaseline uses sign with the clipped straight-through estimator (``ste_sign``).
    """
    _check_family(family)
    if family == "reactnet":
        return lq.quantizers.ApproxSign()
    return lq.quantizers.SteSign(clip_value=1.0)


def quantizers(stage: StageLike, family: str) -> Dict[str, Optional[tf.keras.layers.Layer]]:
    """``input_quantizer`` and ``kernel_quantizer`` for a binarizable conv in ``stage``.

    Each call returns fresh quantizer instances (Larq needs one per layer). The kernel
    quantizer is :class:`larq_adam.layers.MeanScaledSign` (Eq. 2).
    """
    from larq_adam.layers import MeanScaledSign  # layers imports stages' neighbours only

    stage = Stage(stage)
    _check_family(family)
    return {
        "input_quantizer": activation_quantizer(family) if stage.binary_activations else None,
        "kernel_quantizer": MeanScaledSign() if stage.binary_weights else None,
    }


def _check_family(family: str) -> None:
    if family not in FAMILIES:
        raise UserInputError(f"unknown model family {family!r}; valid families are {FAMILIES}")
