"""BatchNorm statistics re-estimated over a dataset, and what they change in accuracy.

A BN layer evaluates with its moving statistics, exponential averages of the training
batches' statistics (PyTorch momentum 0.1: about the last ten batches). When the weights
move fast, those averages lag behind the network they normalise; estimating the
statistics again over a pass of the training split with the final weights removes the lag
without changing a weight (as ``torch.optim.swa_utils.update_bn`` does after SWA).
:func:`recalibrate_bn` does that: every batch is run in training mode (each BN normalises
with its batch statistics, as in training) and every layer's moving mean and variance
become the plain average of its per-batch statistics, computed by the layer's own update
rule (so ``BatchNorm``'s cropped window and unbiased variance hold).
"""
import dataclasses
from typing import Dict, Iterable, List, Optional, Tuple

import numpy as np
import tensorflow as tf

from larq_adam.eager_first import EagerFirst
from larq_adam.errors import UserInputError

__all__ = ["recalibrate_bn", "bn_layers", "moving_statistics", "set_moving_statistics",
           "top1_accuracy", "BNRecalibration"]

_BN = (tf.keras.layers.BatchNormalization,)


@dataclasses.dataclass(frozen=True)
class BNRecalibration:
    """What :func:`recalibrate_bn` did: ``layers`` re-estimated over ``batches`` batches,
    and the largest relative change of a moving mean / variance it made."""

    layers: int
    batches: int
    max_mean_change: float
    max_variance_change: float


def bn_layers(model: tf.keras.Model) -> List[tf.keras.layers.Layer]:
    """Every BatchNormalization layer of ``model``, nested models included."""
    found: List[tf.keras.layers.Layer] = []
    for layer in model.submodules if hasattr(model, "submodules") else []:
        if isinstance(layer, _BN) and layer not in found:
            found.append(layer)
    return found


def moving_statistics(model: tf.keras.Model) -> Dict[str, Tuple[np.ndarray, np.ndarray]]:
    """``{layer name: (moving mean, moving variance)}`` of ``model``'s BN layers."""
    return {layer.name: (layer.moving_mean.numpy(), layer.moving_variance.numpy())
            for layer in bn_layers(model)}


def set_moving_statistics(model: tf.keras.Model,
                          saved: Dict[str, Tuple[np.ndarray, np.ndarray]]) -> None:
    """Put back statistics taken by :func:`moving_statistics`."""
    for layer in bn_layers(model):
        mean, variance = saved[layer.name]
        layer.moving_mean.assign(mean)
        layer.moving_variance.assign(variance)


def top1_accuracy(model: tf.keras.Model, dataset: Iterable) -> float:
    """Top-1 of ``model`` (inference mode: BN with its moving statistics) over batches of
    ``(images, labels)``, without compiling the model."""
    correct = total = 0

    @tf.function(reduce_retracing=True)
    def hits(images, labels):
        predicted = tf.argmax(model(images, training=False), axis=-1, output_type=tf.int32)
        return tf.reduce_sum(tf.cast(predicted == tf.cast(labels, tf.int32), tf.int32))

    for images, labels in dataset:
        correct += int(hits(images, labels))
        total += int(labels.shape[0])
    return correct / max(total, 1)


def _relative_change(old: np.ndarray, new: np.ndarray) -> float:
    scale = np.maximum(np.abs(old), np.abs(new))
    diff = np.abs(new - old) / np.where(scale > 0, scale, 1.0)
    return float(diff.max()) if diff.size else 0.0


# Batches re-estimation runs eagerly before it traces its function (larq_adam.eager_first).
EAGER_BATCHES = 2


def _batch_statistics_fn(model: tf.keras.Model, layers: List[tf.keras.layers.Layer]):
    """A function of one batch and its index: every layer's statistics of that batch, as
    the layer's update rule writes them into moving variables that start at zero with
    momentum 0; eager for the first :data:`EAGER_BATCHES` batches, traced after them."""
    variables = [v for layer in layers for v in (layer.moving_mean, layer.moving_variance)]

    def statistics(images):
        for v in variables:
            v.assign(tf.zeros_like(v))
        model(images, training=True)
        return [tf.identity(v) for v in variables]

    return EagerFirst(statistics, eager=EAGER_BATCHES, reduce_retracing=True)


def recalibrate_bn(model: tf.keras.Model, dataset: Iterable, *,
                   steps: Optional[int] = None) -> BNRecalibration:
    """Re-estimate the moving mean and variance of every BN layer of ``model`` as the
    average of its batch statistics over ``dataset`` (batches of ``(images, labels)`` or of
    images; ``steps``: at most this many batches), each batch run in training mode with the
    weights unchanged. The BN layers' momentum is restored afterwards; nothing but the
    moving statistics changes. Batches weigh equally, as in ``update_bn``.

    The statistics are those Sec. 4's BN layers evaluate with; this removes the lag of
    their exponential averages behind fast-moving weights (see DESIGN.md, "BN statistics").
    """
    layers = bn_layers(model)
    if not layers:
        raise UserInputError(f"model {model.name!r} has no BatchNormalization layer, so "
                             "there are no statistics to re-estimate")
    before = [(layer.moving_mean.numpy(), layer.moving_variance.numpy()) for layer in layers]
    momenta = [layer.momentum for layer in layers]
    sums: Optional[List[np.ndarray]] = None
    batches = 0
    try:
        for layer in layers:
            layer.momentum = 0.0  # read when the function traces: the update writes the batch's
        statistics = _batch_statistics_fn(model, layers)
        for batch in dataset:
            if steps is not None and batches >= steps:
                break
            images = batch[0] if isinstance(batch, (tuple, list)) else batch
            values = [v.numpy().astype(np.float64) for v in statistics(batches, images)]
            sums = values if sums is None else [s + v for s, v in zip(sums, values)]
            batches += 1
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
    if sums is None:
        for layer, (mean, variance) in zip(layers, before):
            layer.moving_mean.assign(mean)
            layer.moving_variance.assign(variance)
        raise UserInputError("recalibrate_bn: the dataset gave no batch; pass the training "
                             "split (a tf.data.Dataset of (images, labels) batches)")
    return _assign_averages(layers, before, sums, batches)


def _assign_averages(layers, before, sums: List[np.ndarray], batches: int) -> BNRecalibration:
    mean_change = variance_change = 0.0
    for i, (layer, (old_mean, old_variance)) in enumerate(zip(layers, before)):
        mean, variance = sums[2 * i] / batches, sums[2 * i + 1] / batches
        layer.moving_mean.assign(mean.astype(old_mean.dtype))
        layer.moving_variance.assign(variance.astype(old_variance.dtype))
        mean_change = max(mean_change, _relative_change(old_mean, mean))
        variance_change = max(variance_change, _relative_change(old_variance, variance))
    return BNRecalibration(len(layers), batches, mean_change, variance_change)
