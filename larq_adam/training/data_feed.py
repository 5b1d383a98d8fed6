"""A run's input: the train epochs, the validation and test splits and the probe batch,
fed to ``fit``.

Every epoch's order and augmentation are functions of the run's seed and the epoch number
(:func:`larq_adam.data.load` with ``epoch=E``), so a resumed step replays exactly what the
uninterrupted one saw. The batch size is global (the paper's 256 on ImageNet).

Under ``MultiWorkerMirroredStrategy`` every worker builds the same epoch and keeps, of each
global batch, its replicas' contiguous shares (``batch_slice``), chosen before the images
are decoded and augmented; ``strategy.distribute_datasets_from_function`` hands each local
replica its share, with tf.data's auto-sharding off. Global batch ``k`` of the cluster is
then global batch ``k`` of one process, split over the replicas as ``MirroredStrategy``
splits it (replica ``r`` takes examples ``r * b .. (r + 1) * b - 1``, ``b`` the per-replica
batch). The test split is fed the same way, so each worker evaluates its share and the
metrics, summed over the workers, are those of the whole split.
"""
import dataclasses
import functools
from typing import Any, Callable, Optional, Tuple

import numpy as np
import tensorflow as tf

from larq_adam import data as data_lib
from larq_adam.config import RunConfig
from larq_adam.errors import UserInputError

__all__ = ["RunFeeds", "load_run_feeds", "splits_by_worker", "check_batch_split",
           "replica_slice", "worker_dataset_fn", "train_input", "test_input",
           "validation_input", "selection_split"]

#: ``(first epoch, batch_slice=None) -> epochs back to back`` / ``(batch_slice=None) -> the
#: test split once``: each batch global, or the ``(start, stop)`` share of each.
TrainFeed = Callable[..., tf.data.Dataset]
TestFeed = Callable[..., tf.data.Dataset]


@dataclasses.dataclass(frozen=True)
class RunFeeds:
    """A run's input feeds: ``train(first_epoch, batch_slice=None)`` gives the epochs from
    ``first_epoch`` on, back to back; ``validation(batch_slice=None)`` the split that
    ``fit`` validates on and the best weights are chosen on, and ``test(batch_slice=None)``
    the test split, both in their stored order; ``probe`` a class-balanced batch for the
    saturation measurement (Fig. 3). ``batch_size`` is the global batch; the step counts
    count global batches. ``selection`` says which split selects (:func:`selection_split`).
    """

    train: TrainFeed
    test: TestFeed
    info: Any
    probe: np.ndarray
    batch_size: int
    steps_per_epoch: int
    test_steps: int
    validation: Optional[TestFeed] = None
    validation_steps: int = 0
    selection: str = "test"

    @property
    def selects_on_test(self) -> bool:
        """Whether the validation split is the test split (the authors' ImageNet protocol)."""
        return self.validation is None


def _capped(batches: int, cap: Optional[int]) -> int:
    return batches if cap is None else min(batches, int(cap))


def selection_split(config: RunConfig) -> Tuple[Optional[str], float, str]:
    """``(split, holdout, description)`` of the split a run selects its best weights on
    (and ``fit`` validates on): with ``select_on="test"`` none of its own (the test split,
    the authors' protocol on ImageNet, whose val split is also what they report); else the
    dataset's own validation split where it has one besides its test split (``tfds:NAME``
    sets with both), or ``config.holdout`` of every class of train held out."""
    if config.select_on == "test":
        return None, 0.0, "test split (also the reported one: the authors' ImageNet protocol)"
    if data_lib.has_own_validation(config.data, data_dir=config.data_dir):
        return "validation", 0.0, "the dataset's validation split (the test split reported)"
    return (data_lib.HOLDOUT_SPLIT, config.holdout,
            f"{config.holdout:.0%} of each class of train held out (the same for every "
            "seed; the test split reported)")


def load_run_feeds(config: RunConfig) -> RunFeeds:
    """The data of a run: train epochs (each a function of the seed and its number), the
    validation split (:func:`selection_split`) and the test split in their stored order,
    and a class-balanced probe batch of 32 test images."""
    common = dict(image_size=config.image_size, data_dir=config.data_dir, seed=config.seed,
                  max_batches=config.max_steps_per_epoch)
    name, batch = config.data, config.batch_size
    test_info = data_lib.info(name, "test", image_size=config.image_size,
                              data_dir=config.data_dir, check_files=True)
    val_split, holdout, selection = selection_split(config)
    fixed = dict(common, holdout=holdout)  # the held-out part: one for every seed
    _, train_info = data_lib.load(name, "train", batch, shuffle=True, epoch=0, **fixed)

    def train(first_epoch: int, batch_slice: Optional[Tuple[int, int]] = None):
        return data_lib.load(name, "train", batch, shuffle=True, epoch=first_epoch,
                             repeat=True, check_files=False, batch_slice=batch_slice,
                             **fixed)[0]  # the split was checked once, above

    def split_feed(split: str, **kwargs) -> TestFeed:
        def feed(batch_slice: Optional[Tuple[int, int]] = None):
            return data_lib.load(name, split, batch, shuffle=False, epoch=0,
                                 check_files=False, batch_slice=batch_slice, **kwargs)[0]
        return feed

    validation, validation_steps = None, 0
    if val_split is not None:
        val_info = data_lib.info(name, val_split, image_size=config.image_size,
                                 data_dir=config.data_dir, holdout=holdout)
        validation = split_feed(val_split, **fixed)
        validation_steps = _capped(val_info.steps_per_epoch(batch), config.max_steps_per_epoch)
    probe, _ = data_lib.balanced_sample(name, 32, seed=config.seed, split="test",
                                        image_size=config.image_size,
                                        data_dir=config.data_dir)
    return RunFeeds(train, split_feed("test", **common), train_info, probe, batch,
                   _capped(train_info.steps_per_epoch(batch), config.max_steps_per_epoch),
                   _capped(test_info.steps_per_epoch(batch), config.max_steps_per_epoch),
                   validation, validation_steps, selection)


def splits_by_worker(strategy: tf.distribute.Strategy) -> bool:
    """Whether each worker of ``strategy`` takes its own share of every global batch (a
    ``MultiWorkerMirroredStrategy``); other strategies split the global batches as Keras
    feeds them (one input pipeline)."""
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def check_batch_split(batch_size: int, strategy: tf.distribute.Strategy) -> None:
    """A multi-worker global batch must split evenly over the replicas (one line)."""
    replicas = strategy.num_replicas_in_sync
    if splits_by_worker(strategy) and batch_size % replicas:
        raise UserInputError(f"batch_size {batch_size} does not split evenly over the "
                             f"{replicas} replicas of the cluster; pass a multiple of "
                             f"{replicas}")


def replica_slice(ctx: tf.distribute.InputContext, global_batch: int) -> Tuple[int, int, int]:
    """``(start, stop, per_replica)``: the positions of each global batch that the
    replicas fed by input pipeline ``ctx.input_pipeline_id`` take, contiguous and in
    replica order, and the per-replica batch size."""
    per_replica = ctx.get_per_replica_batch_size(global_batch)
    local = ctx.num_replicas_in_sync // ctx.num_input_pipelines
    start = ctx.input_pipeline_id * local * per_replica
    return start, start + local * per_replica, per_replica


def _per_replica(ds: tf.data.Dataset, per_replica: int, local: int) -> tf.data.Dataset:
    """Each worker batch as ``local`` consecutive per-replica batches (the distributed
    iterator gives a worker's replicas its elements in turn)."""
    if local == 1:
        return ds

    def split(images, labels):
        parts = tf.data.Dataset.range(local)
        return parts.map(lambda r: (images[r * per_replica:(r + 1) * per_replica],
                                    labels[r * per_replica:(r + 1) * per_replica]))

    return ds.flat_map(split)


def worker_dataset_fn(feed: Callable[..., tf.data.Dataset], global_batch: int
                      ) -> Callable[[tf.distribute.InputContext], tf.data.Dataset]:
    """The ``dataset_fn`` of ``distribute_datasets_from_function``: ``feed``'s dataset with
    only the share of every global batch that ``ctx``'s replicas take, one per-replica
    batch per element, auto-sharding off."""
    def dataset_fn(ctx: tf.distribute.InputContext) -> tf.data.Dataset:
        start, stop, per_replica = replica_slice(ctx, global_batch)
        ds = _per_replica(feed(batch_slice=(start, stop)), per_replica,
                          ctx.num_replicas_in_sync // ctx.num_input_pipelines)
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = \
            tf.data.experimental.AutoShardPolicy.OFF
        return ds.with_options(options)

    return dataset_fn


def train_input(data: RunFeeds, strategy: tf.distribute.Strategy, *, first_epoch: int):
    """What ``fit`` trains on from ``first_epoch`` on: the epochs back to back, or under
    a multi-worker strategy each replica's share of them."""
    if not splits_by_worker(strategy):
        return data.train(first_epoch)
    feed = functools.partial(data.train, first_epoch)
    return strategy.distribute_datasets_from_function(worker_dataset_fn(feed, data.batch_size))


def test_input(data: RunFeeds, strategy: tf.distribute.Strategy):
    """The test split, or each replica's share of it."""
    if not splits_by_worker(strategy):
        return data.test()
    return strategy.distribute_datasets_from_function(
        worker_dataset_fn(data.test, data.batch_size))


def validation_input(data: RunFeeds, strategy: tf.distribute.Strategy):
    """What ``fit`` validates on and the best weights are chosen on: the validation split
    (the test split when the run selects on it), or each replica's share of it."""
    if data.validation is None:
        return test_input(data, strategy)
    if not splits_by_worker(strategy):
        return data.validation()
    return strategy.distribute_datasets_from_function(
        worker_dataset_fn(data.validation, data.batch_size))
