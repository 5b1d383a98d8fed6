"""BN statistics re-estimated over a dataset (larq_adam.training.bn_stats)."""
import numpy as np
import pytest
import tensorflow as tf

import larq_adam  # noqa: F401  (Keras 2)
from larq_adam.errors import UserInputError
from larq_adam.models._common import batch_norm
from larq_adam.training.bn_stats import recalibrate_bn


def _model(dtype="float64"):
    tf.keras.backend.set_floatx(dtype)
    try:
        inputs = tf.keras.Input((4, 4, 3), dtype=dtype)
        x = tf.keras.layers.Conv2D(5, 3, padding="same", dtype=dtype)(inputs)
        x = batch_norm("bn1")(x)
        x = tf.keras.layers.ReLU(dtype=dtype)(x)
        outputs = tf.keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9,
                                                     name="bn2", dtype=dtype)(x)
        return tf.keras.Model(inputs, outputs)
    finally:
        tf.keras.backend.set_floatx("float32")


def _batches(n=5, size=6, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(1.5, 2.0, (size, 4, 4, 3)) for _ in range(n)]


def test_recalibrated_statistics_are_the_average_of_the_batch_statistics():
    model = _model()
    conv = model.layers[1]
    weights = [w.copy() for w in model.get_weights()]
    batches = _batches()
    result = recalibrate_bn(model, [(b, np.zeros(len(b))) for b in batches])
    # the first BN's input does not depend on any BN: its statistics in numpy
    feats = [conv(b).numpy().reshape(-1, 5) for b in batches]
    mean = np.mean([f.mean(0) for f in feats], axis=0)
    var = np.mean([f.var(0, ddof=1) for f in feats], axis=0)  # PyTorch's unbiased variance
    bn1 = model.get_layer("bn1")
    np.testing.assert_allclose(bn1.moving_mean.numpy(), mean, rtol=1e-12)
    np.testing.assert_allclose(bn1.moving_variance.numpy(), var, rtol=1e-12)
    assert (result.layers, result.batches) == (2, 5)
    assert bn1.momentum == 0.9 and model.get_layer("bn2").momentum == 0.9
    trainable = [w.name for w in model.weights if "moving" not in w.name]
    for w, old in zip(model.weights, weights):
        if w.name in trainable:
            np.testing.assert_array_equal(w.numpy(), old)


def test_steps_caps_the_batches_and_an_empty_dataset_changes_nothing():
    model = _model()
    assert recalibrate_bn(model, _batches(n=4), steps=2).batches == 2
    saved = [v.numpy().copy() for v in model.get_layer("bn2").weights]
    with pytest.raises(UserInputError, match="no batch"):
        recalibrate_bn(model, [])
    for v, old in zip(model.get_layer("bn2").weights, saved):
        np.testing.assert_array_equal(v.numpy(), old)


def test_recalibration_equals_torch_update_bn():
    """torch.optim.swa_utils.update_bn: running stats as the cumulative average of the
    batches' statistics (momentum None), on the same BN layer in float64."""
    torch = pytest.importorskip("torch")
    from torch.optim.swa_utils import update_bn

    batches = _batches(n=4, size=8, seed=3)
    tf.keras.backend.set_floatx("float64")
    try:
        inputs = tf.keras.Input((4, 4, 3), dtype="float64")
        model = tf.keras.Model(inputs, batch_norm("bn")(inputs))
    finally:
        tf.keras.backend.set_floatx("float32")
    recalibrate_bn(model, batches)
    bn = torch.nn.BatchNorm2d(3, eps=1e-5, momentum=0.1).double()
    update_bn([torch.from_numpy(b.transpose(0, 3, 1, 2)) for b in batches], bn)
    layer = model.get_layer("bn")
    np.testing.assert_allclose(layer.moving_mean.numpy(), bn.running_mean.numpy(), rtol=1e-13)
    np.testing.assert_allclose(layer.moving_variance.numpy(), bn.running_var.numpy(),
                               rtol=1e-13)


def test_a_model_without_batch_norm_is_refused_in_one_line():
    inputs = tf.keras.Input((3,))
    with pytest.raises(UserInputError, match="no BatchNormalization"):
        recalibrate_bn(tf.keras.Model(inputs, tf.keras.layers.Dense(2)(inputs)), _batches())
