"""A run's input: the validation split it selects on, and under a multi-worker strategy each
worker's replicas' contiguous shares of every global batch (one process's batches)."""
import numpy as np
import pytest
import tensorflow as tf

from larq_adam import data
from larq_adam.config import RunConfig
from larq_adam.errors import UserInputError
from larq_adam.training import data_feed


def _context(workers: int, worker: int, replicas: int) -> tf.distribute.InputContext:
    return tf.distribute.InputContext(num_input_pipelines=workers, input_pipeline_id=worker,
                                      num_replicas_in_sync=replicas)


def test_replica_slice_is_the_workers_replicas_contiguous_share():
    assert data_feed.replica_slice(_context(2, 0, 2), 32) == (0, 16, 16)
    assert data_feed.replica_slice(_context(2, 1, 2), 32) == (16, 32, 16)
    assert data_feed.replica_slice(_context(2, 1, 4), 32) == (16, 32, 8)  # 2 per worker
    assert data_feed.replica_slice(_context(1, 0, 2), 32) == (0, 32, 16)


@pytest.mark.parametrize("workers,replicas", [(2, 2), (2, 4)])
def test_worker_datasets_put_together_in_replica_order_are_the_global_batches(workers,
                                                                              replicas):
    def feed(batch_slice=None):
        return data.load("mnist5k", "train", 32, epoch=3, augment="cifar", max_batches=3,
                         batch_slice=batch_slice)[0]

    fn = data_feed.worker_dataset_fn(feed, 32)
    per_worker = [list(fn(_context(workers, w, replicas))) for w in range(workers)]
    local = replicas // workers
    for k, (images, labels) in enumerate(feed()):
        parts = [per_worker[w][k * local + r] for w in range(workers) for r in range(local)]
        assert all(int(p[1].shape[0]) == 32 // replicas for p in parts)
        np.testing.assert_array_equal(np.concatenate([p[0] for p in parts]), images)
        np.testing.assert_array_equal(np.concatenate([p[1] for p in parts]), labels)
    assert all(len(w) == 3 * local for w in per_worker)
    options = fn(_context(workers, 0, replicas)).options()
    assert options.experimental_distribute.auto_shard_policy == \
        tf.data.experimental.AutoShardPolicy.OFF


def test_a_global_batch_that_does_not_split_over_the_workers_is_refused():
    class _Cluster(tf.distribute.MultiWorkerMirroredStrategy):
        def __init__(self):  # only what check_batch_split reads
            pass

        num_replicas_in_sync = 4

    data_feed.check_batch_split(32, _Cluster())
    with pytest.raises(UserInputError, match="batch_size 30 does not split evenly over the 4 "
                       "replicas of the cluster; pass a multiple of 4"):
        data_feed.check_batch_split(30, _Cluster())
    data_feed.check_batch_split(30, tf.distribute.get_strategy())  # Keras splits unevenly


def test_a_run_selects_on_a_held_out_part_of_train_and_reports_the_test_split():
    config = RunConfig(data="mnist5k", batch_size=100)
    run = data_feed.load_run_feeds(config)
    assert not run.selects_on_test and "10% of each class of train held out" in run.selection
    assert run.info.num_examples == 3600 and run.steps_per_epoch == 36
    assert run.validation_steps == 4 and run.test_steps == 10
    held = np.concatenate([y.numpy() for _, y in run.validation()])
    assert np.bincount(held).tolist() == [40] * 10


def test_the_imagenet_protocol_selects_on_the_reported_split():
    run = data_feed.load_run_feeds(RunConfig(data="mnist5k", batch_size=100, select_on="test"))
    assert run.selects_on_test and run.validation is None and run.info.num_examples == 4000
    assert data_feed.selection_split(RunConfig(select_on="test"))[0] is None
    with pytest.raises(UserInputError, match="holdout"):
        RunConfig(holdout=0.7)
