"""Images per second per CPU core of the ImageNet training input pipeline, against a
PIL / numpy pipeline of the same transforms (what a PyTorch DataLoader worker does).

What is timed, per image: JPEG decode, random resized crop to 224 px, the PCA "Lighting"
colour noise, random horizontal flip, normalisation, then batching (256 by default):

- ``tf tfrecord``: the tfds-style path. The JPEG bytes sit in TFRecord shards of
  ``tf.train.Example`` (``image``: encoded bytes, ``label``: int64), as tfds stores
  ImageNet; they are read with a parallel interleave over the shards and a parse map
  (what ``tfds.load(..., decoders={"image": SkipDecoding()})`` does), shuffled, then fed
  through the project's own pass / transform code (``larq_adam.data.batched_passes`` and
  ``make_transform``, i.e. ``imagenet_train``: the crop window drawn from the JPEG
  header and only that window decoded with ``tf.image.decode_and_crop_jpeg``).
- ``tf folder``: ``larq_adam.data.load("folder:ROOT", "train", ...)`` unchanged: one
  sub-folder per class, files read by a parallel map, then the same transform.
- ``torch PIL``: ``torch.utils.data.DataLoader`` with ``num_workers`` worker processes
  (started with "spawn"), each running what torchvision's ``ImageFolder`` + the authors'
  transforms do, without torchvision: ``PIL.Image.open(...).convert("RGB")`` (a full
  decode), ``RandomResizedCrop(224)`` (crop then bilinear resize), the authors' 8-bit
  ``Lighting`` in numpy, flip, ``ToTensor`` + ``Normalize`` in numpy, then the default
  collate into a (B, 3, 224, 224) float32 tensor.

Both TF paths run at 1 and 2 tf.data threads (``tf.data.Options().threading``:
``private_threadpool_size`` = threads, ``max_intra_op_parallelism`` = 1,
``autotune.cpu_budget`` = threads), every ``map`` / ``interleave`` at AUTOTUNE and the
batches prefetched; the PIL side runs 1 and 2 worker processes. The configurations
alternate within each round (``--rounds``), so a load change on a shared machine hits
all of them. Each measurement starts a fresh iterator, discards ``--warmup`` batches
(start-up, autotuning, worker spawn), then times ``--batches`` batches. Two figures per
measurement:

- ``img/s/thread``: images per wall-clock second divided by the threads (workers);
  lower than the per-core figure when other processes share the cores.
- ``img/CPU-s``: images per CPU-second used by the process and its children (psutil,
  user + system, all threads): what one fully busy core delivers. The cores an
  accelerator needs are computed from this figure.
- ``cores used``: CPU-seconds per wall-clock second; below the threads when the
  machine's cores are shared (then only the per-CPU-second figure is comparable).

The JPEGs are generated: smooth random colour fields (five octaves of bicubically
upsampled noise) plus pixel noise, 500x375 (a quarter of them 375x500), quality 90,
about 96 kB each (ImageNet's training JPEGs average about 110 kB). Files are read from
the page cache: storage and network reads are not part of the figure.

The accelerator's demand is an assumption (no wall time is given in the paper): see
:func:`training_rate`; one ReActNet-A training image costs 2 x (3 x 4.829e9 + 3.664e9)
= 36.3 GFLOP (the binary convolutions run as float convolutions on an accelerator;
forward + backward = 3 forwards; the recipes distil from a ResNet-34 teacher, forward
only), and the accelerator sustains ``--utilisation`` (20%) of its dense bf16 peak.

    python bench/input_pipeline.py                 # 2 rounds, batch 256, 1 and 2 threads
    python bench/input_pipeline.py --quick         # a few small batches (seconds)
    python bench/input_pipeline.py --workdir /tmp/jpegs --rounds 3 --breakdown 1000

``--breakdown N`` then times each step of the TF transform alone (read, full decode,
crop-window decode, + float and antialiased resize, + Lighting and flip), one thread,
in CPU milliseconds per image: where the pipeline's time goes.
"""
import argparse
import dataclasses
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

IMAGE_SIZE = 224
JPEG_QUALITY = 90
LANDSCAPE_HW = (375, 500)
PORTRAIT_SHARE = 0.25
# (cells across the longer side, amplitude in 8-bit levels) of the smooth colour field.
OCTAVES = ((3, 60), (12, 35), (48, 22), (160, 16), (250, 14))
LUMA_NOISE = 11.0
CHROMA_NOISE = 4.0
CHANNEL_MIX = np.array([[1.0, 0.6, 0.4], [0.6, 1.0, 0.6], [0.4, 0.6, 1.0]], np.float32)
VAL_PER_CLASS = 1  # the folder layout's val/ split (not timed)
SPAWN_POOL_FROM = 200  # images generated in worker processes from this many on
CPU_TICK_S = 0.01  # resolution of the CPU times the kernel reports
TFRECORD_SHARDS = 8
TFDS_CYCLE_LENGTH = 16  # tfds' ReadConfig defaults: interleave 16 files, 16 records each
TFDS_BLOCK_LENGTH = 16

# ImageNet's normalisation and PCA, as larq_adam.data (repeated here so that the PIL
# worker processes need no TensorFlow).
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
LIGHTING_ALPHASTD = 0.1
EIGVAL = np.array([0.2175, 0.0188, 0.0045], np.float32)
EIGVEC = np.array([[-0.5675, 0.7192, 0.4009],
                   [-0.5808, -0.0045, -0.8140],
                   [-0.5836, -0.6948, 0.4203]], np.float32)

# MACs per 224-px image forward, from larq_adam.models.count_ops: ReActNet-A (BNN stage:
# binary_macs 4.817e9 + float_macs 1.186e7; the BA stage has the same total as float
# MACs) and the ResNet-34 teacher of the ImageNet recipes.
STUDENT_MACS = 4.817e9 + 1.186e7
TEACHER_MACS = 3.664e9
UTILISATION = 0.20  # ResNet-50 (4.1 GMACs) trains at ~2,700 img/s with AMP on an A100:
# 2,700 x 6 x 4.1e9 = 66 TFLOP/s, 21% of the A100's 312 TFLOP/s dense bf16.


@dataclasses.dataclass(frozen=True)
class Accelerator:
    """An accelerator by its dense bf16 peak (FLOP/s) and the host cores it comes with."""

    name: str
    peak_flops: float
    host_vcpus_per_device: float


ACCELERATORS = (
    Accelerator("A100 SXM (bf16 312 TFLOP/s)", 312e12, 96 / 8),   # 8-GPU VMs: 96 vCPUs
    Accelerator("H100 SXM (bf16 989 TFLOP/s)", 989e12, 192 / 8),  # 8-GPU VMs: 192 vCPUs
    Accelerator("TPU v4 chip (bf16 275 TFLOP/s)", 275e12, 240 / 4),  # v4-8 VM: 240 vCPUs
)


@dataclasses.dataclass(frozen=True)
class Rate:
    """One timed measurement."""

    pipeline: str
    threads: int
    images: int
    wall_s: float
    cpu_s: float

    @property
    def per_second(self) -> float:
        return self.images / self.wall_s

    @property
    def per_thread(self) -> float:
        return self.per_second / self.threads

    @property
    def per_cpu_second(self) -> float:
        return self.images / max(self.cpu_s, CPU_TICK_S)

    @property
    def cores_used(self) -> float:
        return self.cpu_s / self.wall_s


@dataclasses.dataclass(frozen=True)
class Corpus:
    """The generated images: ``(path, label)`` of the train split, the folder root, the
    TFRecord shards and the class count."""

    train: List[Tuple[str, int]]
    folder_root: str
    shards: List[str]
    num_classes: int
    mean_bytes: float


# ----------------------------------------------------------------------------- images


def smooth_field(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A natural-looking uint8 (height, width, 3) image: correlated colour noise at
    several scales (bicubic upsampling of small random grids) plus pixel noise."""
    from PIL import Image

    image = np.zeros((height, width, 3), np.float32)
    longer = max(height, width)
    for cells, amplitude in OCTAVES:
        grid_h = max(2, cells * height // longer)
        grid_w = max(2, cells * width // longer)
        grid = rng.normal(0.0, 1.0, (grid_h, grid_w, 3)).astype(np.float32) @ CHANNEL_MIX
        for c in range(3):
            up = Image.fromarray(grid[..., c]).resize((width, height), Image.BICUBIC)
            image[..., c] += amplitude * np.asarray(up)
    image += rng.normal(0.0, LUMA_NOISE, (height, width, 1)).astype(np.float32)
    image += rng.normal(0.0, CHROMA_NOISE, (height, width, 3)).astype(np.float32)
    image += rng.uniform(60.0, 190.0, 3).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8)


def jpeg_bytes(index: int, seed: int) -> bytes:
    """The ``index``-th generated JPEG (quality 90), landscape or portrait."""
    from PIL import Image

    rng = np.random.default_rng([seed, index])
    h, w = LANDSCAPE_HW if rng.uniform() >= PORTRAIT_SHARE else LANDSCAPE_HW[::-1]
    out = io.BytesIO()
    Image.fromarray(smooth_field(rng, h, w)).save(out, "JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


def _write_one(job: Tuple[str, int, int]) -> int:
    path, index, seed = job
    data = jpeg_bytes(index, seed)
    with open(path, "wb") as f:
        f.write(data)
    return len(data)


def write_folder(root: str, num_images: int, num_classes: int, seed: int
                 ) -> List[Tuple[str, int]]:
    """``root/train/cK/*.jpg`` (``num_images``) and ``root/val/cK/*.jpg``, the layout
    ``folder:ROOT`` reads; returns the train split's ``(path, label)``."""
    import multiprocessing

    jobs, train = [], []
    for split, count in (("train", num_images), ("val", VAL_PER_CLASS * num_classes)):
        for i in range(count):
            label = i % num_classes
            directory = os.path.join(root, split, f"c{label:03d}")
            os.makedirs(directory, exist_ok=True)
            path = os.path.join(directory, f"{split}_{i:06d}.jpg")
            jobs.append((path, i + (0 if split == "train" else num_images), seed))
            if split == "train":
                train.append((path, label))
    if len(jobs) < SPAWN_POOL_FROM:
        for job in jobs:
            _write_one(job)
    else:
        with multiprocessing.get_context("spawn").Pool(os.cpu_count() or 1) as pool:
            pool.map(_write_one, jobs, chunksize=16)
    return train


def write_tfrecords(train: Sequence[Tuple[str, int]], out_dir: str, shards: int
                    ) -> List[str]:
    """The train images as ``tf.train.Example`` records (``image``: JPEG bytes,
    ``label``: int64) in ``shards`` TFRecord files, as tfds stores ImageNet."""
    import tensorflow as tf

    os.makedirs(out_dir, exist_ok=True)
    paths = [os.path.join(out_dir, f"train.tfrecord-{s:05d}-of-{shards:05d}")
             for s in range(shards)]
    writers = [tf.io.TFRecordWriter(p) for p in paths]
    for i, (path, label) in enumerate(train):
        with open(path, "rb") as f:
            feature = {
                "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[f.read()])),
                "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
            }
        example = tf.train.Example(features=tf.train.Features(feature=feature))
        writers[i % shards].write(example.SerializeToString())
    for writer in writers:
        writer.close()
    return paths


def make_corpus(workdir: str, num_images: int, num_classes: int, seed: int) -> Corpus:
    """Generate (or reuse, when ``workdir`` holds the same corpus) the images."""
    manifest = os.path.join(workdir, "manifest.json")
    wanted = {"images": num_images, "classes": num_classes, "seed": seed,
              "octaves": [list(o) for o in OCTAVES], "quality": JPEG_QUALITY}
    folder, records = os.path.join(workdir, "folder"), os.path.join(workdir, "tfrecord")
    if os.path.exists(manifest):
        with open(manifest) as f:
            saved = json.load(f)
        if saved.get("wanted") == wanted:
            return Corpus([tuple(t) for t in saved["train"]], folder, saved["shards"],
                          num_classes, saved["mean_bytes"])
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(records, ignore_errors=True)
    train = write_folder(folder, num_images, num_classes, seed)
    shards = write_tfrecords(train, records, min(TFRECORD_SHARDS, num_images))
    mean_bytes = float(np.mean([os.path.getsize(p) for p, _ in train]))
    with open(manifest, "w") as f:
        json.dump({"wanted": wanted, "train": train, "shards": shards,
                   "mean_bytes": mean_bytes}, f)
    return Corpus(train, folder, shards, num_classes, mean_bytes)


# ----------------------------------------------------------------------------- TensorFlow


def thread_options(threads: int) -> Any:
    """tf.data options that confine the pipeline to ``threads`` threads."""
    import tensorflow as tf

    options = tf.data.Options()
    options.threading.private_threadpool_size = threads
    options.threading.max_intra_op_parallelism = 1
    options.autotune.cpu_budget = threads
    return options


def tfrecord_source(corpus: Corpus) -> Any:
    """A ``larq_adam.data.Source`` over the TFRecord shards, read as
    ``larq_adam.data.sources.tfds_source`` reads tfds ImageNet: files interleaved, records parsed to (JPEG bytes, int32 label),
    shuffled per pass with a buffer of up to ``SHUFFLE_BUFFER`` records."""
    import tensorflow as tf

    from larq_adam import data

    spec = {"image": tf.io.FixedLenFeature([], tf.string),
            "label": tf.io.FixedLenFeature([], tf.int64)}

    def parse(record):
        example = tf.io.parse_single_example(record, spec)
        return example["image"], tf.cast(example["label"], tf.int32)

    files = tf.data.Dataset.from_tensor_slices(corpus.shards)
    records = files.interleave(
        tf.data.TFRecordDataset, cycle_length=min(TFDS_CYCLE_LENGTH, len(corpus.shards)),
        block_length=TFDS_BLOCK_LENGTH, num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=False)
    ds = records.map(parse, num_parallel_calls=tf.data.AUTOTUNE)
    n = len(corpus.train)
    buffer = max(1, min(data.SHUFFLE_BUFFER, n))

    def one_pass(shuffle_seed):
        if shuffle_seed is None:
            return ds
        tf.compat.v1.get_default_graph().seed = 1
        return ds.shuffle(buffer, seed=tf.cast(shuffle_seed[0], tf.int64),
                          reshuffle_each_iteration=False)

    names = tuple(f"c{k:03d}" for k in range(corpus.num_classes))
    return data.Source(one_pass, n, names, encoded=True)


def tf_dataset(kind: str, corpus: Corpus, batch_size: int, threads: int) -> Any:
    """The project's training pipeline (``kind``: "tfrecord" or "folder"), repeated,
    on ``threads`` tf.data threads."""
    from larq_adam import data

    if kind == "folder":
        ds, _ = data.load(f"folder:{corpus.folder_root}", "train", batch_size=batch_size,
                          image_size=IMAGE_SIZE, augment="imagenet", seed=0,
                          drop_remainder=True, repeat=True, epoch=0)
    else:
        transform = data.make_transform("imagenet", True, IMAGE_SIZE, encoded=True,
                                         resize=True, mean=data.IMAGENET_MEAN,
                                         std=data.IMAGENET_STD)
        ds = data.batched_passes(tfrecord_source(corpus), transform, seed=0, shuffle=True,
                          batch_size=batch_size, drop_remainder=True, repeat=True,
                          epoch=0, max_batches=None)
    return ds.with_options(thread_options(threads))


def tf_batches(kind: str, corpus: Corpus, batch_size: int, threads: int) -> Iterator[Any]:
    """An iterator over the TF pipeline's batches."""
    return iter(tf_dataset(kind, corpus, batch_size, threads))


def _stage_functions() -> List[Tuple[str, Callable[[Any, Any], Any]]]:
    """``(label, fn(jpeg bytes, seed) -> tensor)`` for :func:`stage_breakdown`, built
    from ``larq_adam.data``'s own pieces."""
    import tensorflow as tf

    from larq_adam import data

    def crop(contents, seed):
        return data.decode_crop(contents, seed)

    return [
        ("read file", lambda contents, seed: tf.strings.length(contents)),
        ("read + full decode_jpeg", lambda contents, seed: tf.io.decode_jpeg(contents, 3)),
        ("read + crop-window decode", crop),
        ("  + float + resize (antialias)",
         lambda contents, seed: data.resize_image(data.to_float_rgb(crop(contents, seed)),
                                             IMAGE_SIZE)),
        ("  + float + resize (no antialias)",
         lambda contents, seed: tf.image.resize(data.to_float_rgb(crop(contents, seed)),
                                                (IMAGE_SIZE, IMAGE_SIZE))),
        ("imagenet_train (+ Lighting, flip)",
         lambda contents, seed: data.imagenet_train(contents, IMAGE_SIZE, seed)),
    ]


def stage_breakdown(corpus: Corpus, images: int) -> List[Tuple[str, float]]:
    """CPU milliseconds per image of each step of the TF transform, one thread, no
    batching: ``(label, ms)`` per entry of :func:`_stage_functions`."""
    import tensorflow as tf

    files = tf.constant([path for path, _ in corpus.train])
    out = []
    for label, fn in _stage_functions():
        def one(i, path, fn=fn):
            seed = tf.stack([tf.cast(i, tf.int64), tf.constant(0, tf.int64)])
            return fn(tf.io.read_file(path), seed)

        ds = tf.data.Dataset.from_tensor_slices(files).repeat().enumerate().map(one)
        it = iter(ds.with_options(thread_options(1)))
        for _ in range(min(50, images)):
            next(it)
        cpu0 = cpu_seconds()
        for _ in range(images):
            next(it)
        out.append((label, 1e3 * max(cpu_seconds() - cpu0, CPU_TICK_S) / images))
    return out


# ----------------------------------------------------------------------------- PIL / numpy


def crop_window(rng: np.random.Generator, height: int, width: int,
                scale: Tuple[float, float] = (0.08, 1.0),
                ratio: Tuple[float, float] = (3 / 4, 4 / 3)) -> Tuple[int, int, int, int]:
    """torchvision's ``RandomResizedCrop.get_params``: ``(top, left, h, w)``."""
    area = height * width
    log_ratio = (np.log(ratio[0]), np.log(ratio[1]))
    for _ in range(10):
        target = area * rng.uniform(*scale)
        aspect = float(np.exp(rng.uniform(*log_ratio)))
        w = int(round(np.sqrt(target * aspect)))
        h = int(round(np.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            return int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)), h, w
    in_ratio = width / height
    if in_ratio < min(ratio):
        w, h = width, int(round(width / min(ratio)))
    elif in_ratio > max(ratio):
        h, w = height, int(round(height * max(ratio)))
    else:
        h, w = height, width
    return (height - h) // 2, (width - w) // 2, h, w


def lighting(image: Any, rng: np.random.Generator) -> Any:
    """The authors' ``Lighting``: the PCA shift added to the 8-bit image, clipped, cast
    back to uint8 (truncating), as a PIL image."""
    from PIL import Image

    alpha = (rng.standard_normal(3) * LIGHTING_ALPHASTD).astype(np.float32)
    shift = EIGVEC @ (alpha * EIGVAL)
    pixels = np.clip(np.add(np.asarray(image), shift), 0, 255)
    return Image.fromarray(pixels.astype(np.uint8), "RGB")


def pil_train_transform(path: str, rng: np.random.Generator) -> np.ndarray:
    """One training image as a DataLoader worker makes it: float32 (3, 224, 224)."""
    from PIL import Image

    with open(path, "rb") as f:
        image = Image.open(f).convert("RGB")
    top, left, h, w = crop_window(rng, image.height, image.width)
    image = image.crop((left, top, left + w, top + h)).resize(
        (IMAGE_SIZE, IMAGE_SIZE), Image.BILINEAR)
    image = lighting(image, rng)
    if rng.uniform() < 0.5:
        image = image.transpose(Image.FLIP_LEFT_RIGHT)
    pixels = np.asarray(image, np.float32).transpose(2, 0, 1) / 255.0
    return (pixels - MEAN[:, None, None]) / STD[:, None, None]


class PilTrainSet:
    """A map-style dataset of ``length`` examples cycling over ``files`` (``(path,
    label)``), each transformed by :func:`pil_train_transform` with its own seed."""

    def __init__(self, files: Sequence[Tuple[str, int]], length: int, seed: int = 0):
        self.files = list(files)
        self.length = length
        self.seed = seed

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> Tuple[np.ndarray, int]:
        path, label = self.files[index % len(self.files)]
        rng = np.random.default_rng([self.seed, index])
        return pil_train_transform(path, rng), label


def pil_batches(corpus: Corpus, batch_size: int, workers: int, total_batches: int
                ) -> Iterator[Any]:
    """A ``torch.utils.data.DataLoader`` over :class:`PilTrainSet` with ``workers``
    spawned worker processes, shuffled, ``total_batches`` batches."""
    import torch.utils.data

    dataset = PilTrainSet(corpus.train, total_batches * batch_size)
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, shuffle=True, num_workers=workers, drop_last=True,
        multiprocessing_context="spawn" if workers else None)
    return iter(loader)


# ----------------------------------------------------------------------------- timing


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and its live children."""
    import psutil

    me = psutil.Process()
    total = sum(me.cpu_times()[:2])
    for child in me.children(recursive=True):
        try:
            total += sum(child.cpu_times()[:2])
        except psutil.Error:
            pass
    return total


def time_batches(pipeline: str, threads: int, batches: Iterator[Any], warmup: int,
                 timed: int, batch_size: int) -> Rate:
    """Discard ``warmup`` batches of ``batches``, then time ``timed`` more."""
    for _ in range(warmup):
        next(batches)
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    for _ in range(timed):
        next(batches)
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    return Rate(pipeline, threads, timed * batch_size, wall, cpu)


Measure = Callable[[], Rate]


def measurements(corpus: Corpus, args: argparse.Namespace) -> List[Tuple[str, Measure]]:
    """The configurations of one round, in the order they alternate."""
    import gc

    out: List[Tuple[str, Measure]] = []

    def tf_measure(kind: str, threads: int) -> Measure:
        def run() -> Rate:
            it = tf_batches(kind, corpus, args.batch_size, threads)
            try:
                return time_batches(f"tf {kind}", threads, it, args.warmup, args.batches,
                                    args.batch_size)
            finally:
                del it
                gc.collect()
        return run

    def pil_measure(workers: int) -> Measure:
        def run() -> Rate:
            warmup = max(args.warmup, workers)
            it = pil_batches(corpus, args.batch_size, workers, warmup + args.batches)
            try:
                return time_batches("torch PIL", workers, it, warmup, args.batches,
                                    args.batch_size)
            finally:
                del it
                gc.collect()
        return run

    for threads in args.threads:
        out.append((f"tf tfrecord/{threads}", tf_measure("tfrecord", threads)))
        if not args.no_torch:
            out.append((f"torch PIL/{threads}", pil_measure(threads)))
        out.append((f"tf folder/{threads}", tf_measure("folder", threads)))
    return out


# ----------------------------------------------------------------------------- demand


def training_flops_per_image(student_macs: float = STUDENT_MACS,
                             teacher_macs: float = TEACHER_MACS) -> float:
    """FLOPs of one ReActNet-A training image on an accelerator: forward + backward
    (3 forwards) of the student with its binary convolutions run as float ones, plus the
    teacher's forward; 2 FLOPs per MAC."""
    return 2.0 * (3.0 * student_macs + teacher_macs)


def training_rate(accelerator: Accelerator, utilisation: float = UTILISATION) -> float:
    """Images per second one accelerator trains at ``utilisation`` of its peak."""
    return accelerator.peak_flops * utilisation / training_flops_per_image()


# ----------------------------------------------------------------------------- report


def _row(pipeline: str, threads: int, per_second: float, per_thread: float,
         per_cpu: float, cores: float) -> str:
    unit = "workers" if pipeline.startswith("torch") else "threads"
    return (f"  {pipeline:<13} {threads} {unit:<8} {per_second:8.1f} {per_thread:13.1f} "
            f"{per_cpu:10.1f} {cores:11.2f}")


def rate_row(rate: Rate) -> str:
    """One measurement as a table row."""
    return _row(rate.pipeline, rate.threads, rate.per_second, rate.per_thread,
                rate.per_cpu_second, rate.cores_used)


HEADER = (f"  {'pipeline':<13} {'parallelism':<10} {'img/s':>8} {'img/s/thread':>13} "
          f"{'img/CPU-s':>10} {'cores used':>11}")


def summarise(rates: Dict[str, List[Rate]], args: argparse.Namespace) -> None:
    """Means over the rounds, TF / PIL ratios and the cores an accelerator needs."""
    print(f"\nmean over {args.rounds} round(s):")
    print(HEADER)
    means: Dict[str, Tuple[float, float]] = {}
    for name, runs in rates.items():
        per_thread = statistics.mean(r.per_thread for r in runs)
        per_cpu = statistics.mean(r.per_cpu_second for r in runs)
        means[name] = (per_thread, per_cpu)
        print(_row(runs[0].pipeline, runs[0].threads,
                   statistics.mean(r.per_second for r in runs), per_thread, per_cpu,
                   statistics.mean(r.cores_used for r in runs)))
    for threads in args.threads:
        pil = means.get(f"torch PIL/{threads}")
        for kind in ("tfrecord", "folder"):
            tf_mean = means.get(f"tf {kind}/{threads}")
            if pil and tf_mean:
                print(f"  tf {kind} / torch PIL at {threads}: "
                      f"{tf_mean[0] / pil[0]:.2f}x per thread, "
                      f"{tf_mean[1] / pil[1]:.2f}x per CPU-second")
    tf_best = max(v[1] for k, v in means.items() if k.startswith("tf "))
    pil_rates = [v[1] for k, v in means.items() if k.startswith("torch")]
    print_demand(tf_best, max(pil_rates) if pil_rates else None, args.utilisation)


def print_demand(tf_per_core: float, pil_per_core: Optional[float], utilisation: float
                 ) -> None:
    """The cores one accelerator needs at the assumed training rates."""
    flops = training_flops_per_image()
    print(f"\ncores one accelerator needs to feed ReActNet-A training (assumed rate = "
          f"peak x {utilisation:.0%} / {flops / 1e9:.1f} GFLOP per image;\n"
          f"  {flops / 1e9:.1f} GFLOP = 2 x (3 x {STUDENT_MACS:.3e} student MACs, binary "
          f"convs as float, fwd+bwd + {TEACHER_MACS:.3e} ResNet-34 teacher MACs, fwd);\n"
          f"  per core: tf {tf_per_core:.0f} img/CPU-s"
          + (f", PIL {pil_per_core:.0f} img/CPU-s" if pil_per_core else "") + "):")
    print(f"  {'accelerator':<32} {'img/s':>7} {'tf cores':>9} {'PIL cores':>10} "
          f"{'host vCPUs':>11}")
    for acc in ACCELERATORS:
        rate = training_rate(acc, utilisation)
        pil = f"{rate / pil_per_core:10.1f}" if pil_per_core else f"{'-':>10}"
        print(f"  {acc.name:<32} {rate:7.0f} {rate / tf_per_core:9.1f} {pil} "
              f"{acc.host_vcpus_per_device:11.0f}")
    print("  (cores: vCPUs of this machine kept fully busy; host vCPUs: per device on "
          "8-GPU cloud VMs / a TPU v4-8 VM, of which the training process needs some too)")


# ----------------------------------------------------------------------------- main


def _parse(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=1536, help="generated training JPEGs")
    p.add_argument("--classes", type=int, default=8, help="class sub-folders")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--batches", type=int, default=8, help="timed batches per measurement")
    p.add_argument("--warmup", type=int, default=2, help="untimed batches first")
    p.add_argument("--rounds", type=int, default=2, help="alternating rounds")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                   help="tf.data threads (and DataLoader workers) to time")
    p.add_argument("--utilisation", type=float, default=UTILISATION,
                   help="fraction of an accelerator's bf16 peak assumed for training")
    p.add_argument("--workdir", default=None,
                   help="where the JPEGs go (kept and reused); default a temporary folder")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated images")
    p.add_argument("--no-torch", action="store_true", help="skip the PIL / DataLoader side")
    p.add_argument("--breakdown", type=int, default=0, metavar="N",
                   help="also time each step of the TF transform alone on N images")
    p.add_argument("--quick", action="store_true",
                   help="48 images, batch 16, 2 timed batches, 1 round, 1 thread")
    args = p.parse_args(argv)
    if args.quick:
        args.images, args.classes, args.batch_size = 48, 4, 16
        args.batches, args.warmup, args.rounds, args.threads = 2, 1, 1, [1]
    for name in ("images", "classes", "batch_size", "batches", "rounds"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.classes < 2 or args.images < args.classes:
        p.error("need --classes >= 2 and --images >= --classes")
    if min(args.threads) < 1 or not 0 < args.utilisation <= 1:
        p.error("--threads must be >= 1 and --utilisation in (0, 1]")
    if args.breakdown < 0:
        p.error("--breakdown must be >= 0")
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parse(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import larq_adam  # noqa: F401  (selects Keras 2 before TensorFlow is imported)

    workdir = args.workdir or tempfile.mkdtemp(prefix="input_pipeline_")
    try:
        t0 = time.perf_counter()
        corpus = make_corpus(workdir, args.images, args.classes, args.seed)
        print(f"input_pipeline: {len(corpus.train)} JPEGs {LANDSCAPE_HW[1]}x"
              f"{LANDSCAPE_HW[0]} ({PORTRAIT_SHARE:.0%} portrait), quality {JPEG_QUALITY}, "
              f"mean {corpus.mean_bytes / 1e3:.0f} kB, in {workdir} "
              f"({time.perf_counter() - t0:.0f} s); batch {args.batch_size}, "
              f"{IMAGE_SIZE} px; {args.rounds} round(s) x {args.batches} timed batches "
              f"after {args.warmup} warm-up; {os.cpu_count()} logical CPUs", flush=True)
        rates: Dict[str, List[Rate]] = {}
        for r in range(args.rounds):
            print(f"round {r + 1}:\n{HEADER}", flush=True)
            for name, run in measurements(corpus, args):
                rate = run()
                rates.setdefault(name, []).append(rate)
                print(rate_row(rate), flush=True)
        summarise(rates, args)
        if args.breakdown:
            print(f"\nCPU ms per image of the TF transform's steps (1 thread, "
                  f"{args.breakdown} images each, unbatched):")
            for label, ms in stage_breakdown(corpus, args.breakdown):
                print(f"  {label:<36} {ms:6.2f} ms  ({1e3 / ms:6.0f} img/CPU-s)")
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
