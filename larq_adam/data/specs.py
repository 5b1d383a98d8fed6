"""What each dataset name means (splits, aliases, preset, normalisation, native size), the
:class:`DatasetInfo` record :func:`larq_adam.data.load` returns, the data errors, and the
checks of ``load``'s names and numbers."""
import dataclasses
import math
from typing import Dict, Optional, Tuple

import numpy as np

from larq_adam import dataset_names
from larq_adam.errors import (MissingFileError, UserInputError)


# Per-channel mean / std of images scaled to [0, 1].
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # the usual ImageNet train-set statistics


IMAGENET_STD = (0.229, 0.224, 0.225)


CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)  # CIFAR-10 train set


CIFAR10_STD = (0.2470, 0.2435, 0.2616)


CIFAR100_MEAN = (0.5071, 0.4865, 0.4409)  # CIFAR-100 train set


CIFAR100_STD = (0.2673, 0.2564, 0.2762)


# mnist5k: measured on its default train split (split_seed=0, 4,000 digits) after the
# 2-px padding to 32x32 (padding lowers them from MNIST's usual 0.1307 / 0.3081);
# tests/test_data.py recomputes them.
MNIST5K_MEAN = (0.1004,) * 3


MNIST5K_STD = (0.2754,) * 3


PRESETS = ("auto", "imagenet", "cifar", "none")


DEFAULT_IMAGE_SIZE = 224  # for datasets whose images have no fixed size


@dataclasses.dataclass(frozen=True)
class Spec:
    """Static facts about one named dataset."""

    splits: Tuple[str, ...]  # canonical split names
    aliases: Dict[str, str]  # accepted alias -> canonical split
    preset: str  # what augment="auto" picks
    mean: Tuple[float, ...]
    std: Tuple[float, ...]
    native_size: Optional[int]  # fixed image side, None when images vary in size


SPECS = {
    "mnist5k": Spec(("train", "test"), {"validation": "test"}, "none",
                     MNIST5K_MEAN, MNIST5K_STD, 32),
    "cifar10": Spec(("train", "test"), {"validation": "test"}, "cifar",
                     CIFAR10_MEAN, CIFAR10_STD, 32),
    "cifar100": Spec(("train", "test"), {"validation": "test"}, "cifar",
                      CIFAR100_MEAN, CIFAR100_STD, 32),
    # ImageNet's tfds "test" split has no labels, so "test" means the labelled validation set.
    "imagenette": Spec(("train", "validation"), {"test": "validation", "val": "validation"},
                        "imagenet", IMAGENET_MEAN, IMAGENET_STD, None),
    "imagenet2012": Spec(("train", "validation"), {"test": "validation", "val": "validation"},
                          "imagenet", IMAGENET_MEAN, IMAGENET_STD, None),
    "folder": Spec(("train", "test"), {"validation": "test", "val": "test"}, "imagenet",
                    IMAGENET_MEAN, IMAGENET_STD, None),
    # any tfds image-classification set by name ("tfds:NAME"): its own splits, ImageNet's
    # normalisation and preset, 224 px unless image_size is given
    "tfds": Spec(("train", "validation", "test"), {"val": "validation"}, "imagenet",
                  IMAGENET_MEAN, IMAGENET_STD, None),
}


TFDS_NAMES = ("cifar10", "cifar100", "imagenette", "imagenet2012")


JPEG_TFDS_NAMES = ("imagenette", "imagenet2012")  # read as bytes, decoded in the crop


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What :func:`load` produced.

    Attributes:
        name: the dataset name as given (``"folder:PATH"`` keeps its path).
        split: the canonical split name (aliases resolved, a tfds slice kept).
        num_classes: number of classes; labels are ``0 .. num_classes - 1``.
        input_shape: ``(H, W, C)`` of one image as the pipeline yields it.
        num_examples: examples in the split (one pass, before batching / repeating).
        class_names: one name per label.
        augment: the preset that was applied (``"auto"`` resolved).
        mean, std: the per-channel normalisation applied to images scaled to [0, 1].
    """

    name: str
    split: str
    num_classes: int
    input_shape: Tuple[int, int, int]
    num_examples: int
    class_names: Tuple[str, ...]
    augment: str = "none"
    mean: Tuple[float, ...] = (0.0, 0.0, 0.0)
    std: Tuple[float, ...] = (1.0, 1.0, 1.0)

    def steps_per_epoch(self, batch_size: int, drop_remainder: bool = False) -> int:
        """Batches in one pass over the split at ``batch_size``."""
        check_positive_int("batch_size", batch_size)
        if drop_remainder:
            return self.num_examples // batch_size
        return math.ceil(self.num_examples / batch_size)


class DataNotFoundError(MissingFileError):
    """A dataset's files are missing (names what is missing and where it must go)."""


class ManualDownloadError(DataNotFoundError):
    """A dataset that tfds cannot download lacks its manually downloaded files."""


def parse_name(name: str) -> Tuple[str, Optional[str]]:
    """``(kind, folder path / tfds name or None)`` for a dataset name, ``kind`` a key of
    :data:`SPECS`; UserInputError if unknown (:func:`larq_adam.dataset_names.parse_name`,
    which the command line calls before TensorFlow loads)."""
    return dataset_names.parse_name(name)


def spec_of(name: str) -> Spec:
    return SPECS[parse_name(name)[0]]


def canonical_split(name: str, spec: Spec, split: str, allow_slices: bool) -> str:
    """Resolve aliases; keep a tfds slice suffix (``train[:10%]``) where allowed."""
    base, bracket, rest = str(split).partition("[")
    base = spec.aliases.get(base, base)
    if base not in spec.splits or (bracket and not allow_slices):
        valid = ", ".join([*spec.splits, *(f"{a} (= {c})" for a, c in spec.aliases.items())])
        slices = " (tfds slices such as 'train[:10%]' also work)" if allow_slices else ""
        raise UserInputError(f"Unknown split {split!r} for dataset {name!r}. "
                             f"Valid splits: {valid}{slices}.")
    return base + bracket + rest


def resolve_preset(augment: str, spec: Spec) -> str:
    if augment not in PRESETS:
        raise UserInputError(f"Unknown augmentation preset {augment!r}. "
                             f"Valid presets: {', '.join(PRESETS)}.")
    return spec.preset if augment == "auto" else augment


def is_number(value) -> bool:
    return (isinstance(value, (int, float, np.integer, np.floating))
            and not isinstance(value, bool) and math.isfinite(value))


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def check_positive_int(what: str, value) -> None:
    if not _is_int(value) or value < 1:
        raise UserInputError(f"{what} must be an int >= 1, got {value!r}.")


def check_load_numbers(batch_size, image_size, seed, epoch, max_batches,
                        batch_slice=None) -> None:
    check_positive_int("batch_size", batch_size)
    if batch_slice is not None and not (
            len(batch_slice) == 2 and all(_is_int(v) for v in batch_slice)
            and 0 <= batch_slice[0] < batch_slice[1] <= batch_size):
        raise UserInputError(f"batch_slice must be (start, stop) with 0 <= start < stop <= "
                             f"batch_size {batch_size}, got {batch_slice!r}.")
    if image_size is not None and (not _is_int(image_size) or image_size < 1):
        raise UserInputError(f"image_size must be a positive int or None, got {image_size!r}.")
    if not _is_int(seed) or seed < 0:
        raise UserInputError(f"seed must be an int >= 0, got {seed!r}.")
    if epoch is not None and (not _is_int(epoch) or epoch < 0):
        raise UserInputError(f"epoch must be None or an int >= 0, got {epoch!r}.")
    if max_batches is not None:
        check_positive_int("max_batches (None for no cap)", max_batches)
