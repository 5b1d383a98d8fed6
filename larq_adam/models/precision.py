"""Whether a bfloat16 policy can pay on this machine.

``build_model(dtype_policy="mixed_bfloat16")`` computes the convolutions in bfloat16. GPUs,
TPUs and CPUs with bf16 units (AVX512-BF16, AMX) run them natively; on any other x86 CPU
oneDNN emulates them and they are slower than float32's: ReActNet-A BNN at 32 px, batch 64,
2 threads of an AVX-512 CPU without bf16 units trained at 18.7 img/s against float32's 37
(``bench/train_step.py``), its convolution kernels 1.4-2.5x slower (``bench/step_ops.py``).
:func:`warn_if_bf16_is_emulated` says so in one line when a model is built that way.
"""
import warnings
from typing import Optional

import tensorflow as tf

__all__ = ["EmulatedBfloat16Warning", "accelerator_visible", "cpu_has_bf16_units",
           "warn_if_bf16_is_emulated"]

CPUINFO = "/proc/cpuinfo"
_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


class EmulatedBfloat16Warning(UserWarning):
    """A bfloat16 model is built where no device computes bfloat16 natively."""


def cpu_has_bf16_units(cpuinfo: Optional[str] = None) -> Optional[bool]:
    """Whether the CPU lists a bf16 unit (``avx512_bf16`` or ``amx_bf16``) among the flags
    of ``cpuinfo`` (default :data:`CPUINFO`, Linux' ``/proc/cpuinfo``); ``None`` where that
    file cannot be read or lists no x86 flags (another OS, an ARM CPU)."""
    try:
        with open(cpuinfo or CPUINFO, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return any(flag in line.split() for flag in _BF16_FLAGS)
    except OSError:
        return None
    return None


def accelerator_visible() -> bool:
    """Whether TensorFlow sees a GPU or a TPU (where bfloat16 is native)."""
    return bool(tf.config.list_physical_devices("GPU") or tf.config.list_physical_devices("TPU"))


def warn_if_bf16_is_emulated(
    policy: tf.keras.mixed_precision.Policy, *, cpuinfo: Optional[str] = None
) -> bool:
    """Warns (:class:`EmulatedBfloat16Warning`) when ``policy`` computes in bfloat16, no GPU
    or TPU is visible and the CPU has no bf16 units; returns whether it warned."""
    if policy.compute_dtype != "bfloat16" or cpu_has_bf16_units(cpuinfo) is not False:
        return False
    if accelerator_visible():
        return False
    warnings.warn(
        f"dtype_policy={policy.name!r}: this CPU has no bf16 units (no avx512_bf16 or "
        f"amx_bf16 in {cpuinfo or CPUINFO}) and no GPU or TPU is visible, so bfloat16 "
        f"convolutions are emulated and slower than float32's; build with "
        f"dtype_policy=None for speed here",
        EmulatedBfloat16Warning, stacklevel=3)
    return True
