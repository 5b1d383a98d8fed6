"""Class-per-subfolder image trees (``folder:PATH``): which files form each split, and
checks that every name, file kind and image (whole PNG / JPEG) is what the pipeline reads."""
import concurrent.futures
import os
import stat
from typing import List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from larq_adam.errors import (CorruptFileError, UserInputError)
from larq_adam.data.specs import DataNotFoundError
from larq_adam.data.augment import decode_image
from larq_adam.data.order import balanced_order


IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")


FOLDER_TEST_DIRS = ("test", "val", "validation")


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


_TAIL_BYTES = 1024  # how far from a file's end its end marker is looked for


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
        decode_image(tf.io.read_file(path))
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
