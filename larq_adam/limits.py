"""The ranges of every numeric setting, and a lower bound of a training run's memory.

Both are plain Python (no TensorFlow), so the command line checks them before TensorFlow
loads and before a run folder is touched:

* :data:`RANGES` and :func:`check_range`: e.g. a batch size of 1e20, a width of 100 or a
  seed of 1e30 is one line naming the setting, its range and the value;
* :func:`training_bytes`: parameters (weights, gradients, Adam's two moments: 16 bytes a
  parameter in float32) plus one float32 copy of every block's output for a batch. It is
  a lower bound (the backward pass keeps more), for ReActNet-A, StrongBaseline and the
  ResNet teachers; :func:`check_memory` refuses a run whose bound exceeds this machine's
  memory, with the estimate.
"""
import math
import os
from typing import Dict, Optional, Tuple

from larq_adam.errors import UserInputError

__all__ = ["RANGES", "check_range", "machine_memory", "parameter_count", "checkpoint_bytes",
           "training_bytes", "check_memory"]

#: setting -> (smallest, largest, kind); kind "int" or "float" (floats: the smallest is
#: exclusive when it is 0 and the setting must be > 0)
RANGES: Dict[str, Tuple[float, float, str]] = {
    "batch_size": (1, 2 ** 20, "int"),
    "image_size": (1, 4096, "int"),
    "epochs": (1, 100_000, "int"),
    "teacher_epochs": (1, 100_000, "int"),
    "max_steps_per_epoch": (1, 2 ** 31 - 1, "int"),
    "seed": (0, 2 ** 32 - 1, "int"),
    "width": (0.0, 16.0, "float"),
    "teacher_width": (0.0, 16.0, "float"),
    "learning_rate": (0.0, 1e3, "float"),
    "holdout": (0.0, 0.5, "float"),
    "images": (1, 100_000, "int"),
    "bench_runs": (1, 100_000, "int"),
}

#: (output channels at width 1, downsampling factor from the input) of every block
_REACTNET = ((32, 2), (64, 2), (128, 4), (128, 4), (256, 8), (256, 8), *((512, 16),) * 6,
             (1024, 32), (1024, 32))
_RESNET18 = ((64, 4), (64, 4), (64, 4), (128, 8), (128, 8), (256, 16), (256, 16),
             (512, 32), (512, 32))
_RESNET34 = ((64, 4),) * 4 + ((128, 8),) * 4 + ((256, 16),) * 6 + ((512, 32),) * 3
#: model -> (parameters at width 1 without the classifier, classifier inputs at width 1,
#: blocks, smallest image side with a stride-2 stem)
_MODELS = {
    "reactnet_a": (28.3e6, 1024, _REACTNET, 65),
    "strong_baseline": (11.2e6, 512, _RESNET18, 65),
    "resnet18": (11.2e6, 512, _RESNET18, 65),
    "resnet34": (21.3e6, 512, _RESNET34, 65),
}


def check_range(name: str, value, *, flag: Optional[str] = None) -> None:
    """Raise :class:`UserInputError` when ``value`` is outside ``RANGES[name]`` (or of the
    wrong kind); ``flag`` names it in the message (default: ``name``)."""
    low, high, kind = RANGES[name]
    label = flag or name
    if kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
        valid = f"an integer in [{low}, {high}]"
    else:
        ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
              and math.isfinite(value) and low < value <= high)
        valid = f"a number in ({low:g}, {high:g}]"
    if not ok:
        raise UserInputError(f"{label} must be {valid}, got {value!r}")


def machine_memory() -> Optional[int]:
    """This machine's physical memory in bytes (None where the system does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def parameter_count(model: str, *, width: float, num_classes: int = 1000
                    ) -> Optional[float]:
    """About how many parameters ``model`` has at ``width`` (None for a model this module
    does not describe)."""
    if model not in _MODELS:
        return None
    params, features, _, _ = _MODELS[model]
    return params * width * width + features * width * num_classes


def checkpoint_bytes(parameters: float) -> float:
    """About the disk a step's next writes take for a model of ``parameters`` float32
    weights: a checkpoint (weights and Adam's two moments) and a weights file, plus 1 MB of
    records and logs."""
    return 4.0 * parameters * 4 + 1e6


def training_bytes(model: str, *, width: float, image_size: int, batch_size: int,
                   num_classes: int = 1000) -> Optional[float]:
    """A lower bound of the memory a training step of ``model`` takes (bytes), or None
    for a model this module does not describe (larq-zoo's)."""
    if model not in _MODELS:
        return None
    _, _, blocks, stride2_from = _MODELS[model]
    count = parameter_count(model, width=width, num_classes=num_classes)
    side = image_size if image_size >= stride2_from else 2 * image_size
    per_image = sum(c * width * max(1.0, side / step) ** 2 for c, step in blocks)
    return 16.0 * count + 4.0 * per_image * batch_size


def check_memory(model: str, *, width: float, image_size: int, batch_size: int,
                 num_classes: int = 1000) -> None:
    """Raise :class:`UserInputError` when :func:`training_bytes` exceeds this machine's
    memory, naming the estimate and the settings that drive it."""
    from larq_adam.disk import human_bytes

    need = training_bytes(model, width=width, image_size=image_size, batch_size=batch_size,
                          num_classes=num_classes)
    have = machine_memory()
    if need is None or have is None or need <= have:
        return
    raise UserInputError(
        f"{model} at width {width:g}, {image_size} px and batch {batch_size} needs at least "
        f"{human_bytes(need)} to train (parameters, Adam's state and one copy of the "
        f"activations), more than this machine's {human_bytes(have)}: lower --width, "
        f"--image-size or --batch-size")
