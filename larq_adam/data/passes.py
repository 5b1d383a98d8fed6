"""A source's examples as batched passes (epochs): one stateless key per pass, one seed
per example, and a worker's slice of every global batch."""
import math
from typing import Optional, Tuple

import tensorflow as tf

from larq_adam.data.sources import Source


def batched_passes(source: Source, transform, *, seed: int, shuffle: bool, batch_size: int,
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
