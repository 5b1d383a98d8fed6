"""A seeded, class-balanced sample of any split or dataset (the export's verification
images, the report's examples)."""
import math
from typing import Dict, Optional, Tuple, Union

import numpy as np
import tensorflow as tf

from larq_adam.errors import UserInputError
from larq_adam.data.specs import parse_name, check_positive_int
from larq_adam.data.order import balanced_order, pick_balanced
from larq_adam.data.load import load


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
    check_positive_int("n", n)
    if isinstance(data, str):
        kind, _ = parse_name(data)
        ds, info = load(data, split, batch_size=min(n, 256), image_size=image_size,
                        data_dir=data_dir, shuffle=kind in ("mnist5k", "folder"),
                        seed=seed, epoch=0, augment="none" if split == "train" else "auto")
        num_classes = info.num_classes
    else:
        ds = data.unbatch() if len(data.element_spec[1].shape) == 1 else data
        ds = ds.batch(256)
    images, labels = _fill_quotas(ds, n, num_classes)
    keep = pick_balanced(labels, n, seed)
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
