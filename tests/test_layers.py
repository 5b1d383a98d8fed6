"""Gradients of the quantizers against hand-computed values, and layer serialisation."""
import larq as lq
import numpy as np
import pytest
import tensorflow as tf

import larq_adam as la
from larq_adam import layers as la_layers
from larq_adam.layers import MeanScaledSign
from larq_adam.stages import activation_quantizer, quantizers

X = np.array([-2.0, -1.0, -0.75, -0.25, 0.0, 0.5, 1.0, 1.5], dtype=np.float32)


def _value_and_grad(fn, x, dy=None):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
        loss = tf.reduce_sum(y * (1.0 if dy is None else dy))
    return y.numpy(), tape.gradient(loss, x).numpy()


def test_approx_sign_forward_is_sign_with_plus_one_at_zero_and_gradient_is_2_minus_2_abs_x():
    y, g = _value_and_grad(activation_quantizer("reactnet"), X)
    np.testing.assert_array_equal(y, [-1, -1, -1, -1, 1, 1, 1, 1])
    # d/dx of the reference's piecewise polynomial: 2 - 2|x| on [-1, 1], 0 outside.
    expected = [0.0, 0.0, 0.5, 1.5, 2.0, 1.0, 0.0, 0.0]
    np.testing.assert_allclose(g, expected, atol=1e-6)


def test_strong_baseline_sign_uses_the_clipped_straight_through_gradient():
    y, g = _value_and_grad(activation_quantizer("strong_baseline"), X)
    np.testing.assert_array_equal(y, [-1, -1, -1, -1, 1, 1, 1, 1])
    np.testing.assert_array_equal(g, [0, 1, 1, 1, 1, 1, 1, 0])


def test_mean_scaled_sign_forward_is_per_output_channel_mean_abs_times_sign():
    w = np.array([[[[0.5, -3.0]], [[0.0, 1.0]]], [[[-1.5, 2.0]], [[-0.2, 0.0]]]],
                 dtype=np.float32)  # (2, 2, 1, 2): two output channels
    y = la_layers.MeanScaledSign()(tf.constant(w)).numpy()
    mean = np.abs(w).reshape(-1, 2).mean(axis=0)  # channel 0: 0.55, channel 1: 1.5
    np.testing.assert_allclose(mean, [0.55, 1.5], rtol=1e-6)
    expected = mean * np.where(w >= 0, 1.0, -1.0)  # sign(0) = +1
    np.testing.assert_allclose(y, expected, rtol=1e-6)


def test_mean_scaled_sign_gradient_is_the_clip_ste_and_ignores_the_scale():
    rng = np.random.RandomState(0)
    w = np.array([[-2.0, 0.3], [-1.0, 1.0], [0.0, 1.0001], [0.999, -5.0]], dtype=np.float32)
    dy = rng.randn(*w.shape).astype(np.float32)
    _, g = _value_and_grad(la_layers.MeanScaledSign(), w, dy)
    mask = (np.abs(w) <= 1.0).astype(np.float32)
    np.testing.assert_allclose(g, dy * mask, rtol=1e-6)
    # Scaling the in-range entries leaves the mask, and so the gradient, unchanged even
    # though the forward scale changes (no gradient through mean|W|, not scaled by it).
    w2 = np.where(np.abs(w) <= 1.0, w * 0.5, w * 3.0).astype(np.float32)
    y1, _ = _value_and_grad(la_layers.MeanScaledSign(), w, dy)
    y2, g2 = _value_and_grad(la_layers.MeanScaledSign(), w2, dy)
    assert not np.allclose(y1, y2)
    np.testing.assert_allclose(g2, g, rtol=1e-6)


def test_stage_quantizers_are_fresh_instances_of_the_right_kind():
    a, b = quantizers("bnn", "reactnet"), quantizers("bnn", "reactnet")
    assert a["input_quantizer"] is not b["input_quantizer"]
    assert isinstance(a["kernel_quantizer"], la_layers.MeanScaledSign)
    assert quantizers("ba", "strong_baseline")["kernel_quantizer"] is None
    assert quantizers("bw", "reactnet")["input_quantizer"] is None


@pytest.mark.parametrize(
    "make",
    [
        lambda: la_layers.LearnableBias(bias_initializer="random_normal", name="lb"),
        lambda: la_layers.RPReLU(alpha_initializer=0.1, name="rp"),
        lambda: la_layers.RSign(bias_initializer="random_normal", name="rs"),
        lambda: la_layers.ChannelScale(scale_initializer="random_normal", name="cs"),
    ],
    ids=["LearnableBias", "RPReLU", "RSign", "ChannelScale"],
)
def test_layers_round_trip_through_keras_serialisation(make):
    layer = make()
    x = tf.random.normal((2, 4, 4, 3), seed=1)
    y = layer(x)
    for v in layer.weights:  # non-trivial values so a lost weight shows
        v.assign(tf.random.normal(v.shape, seed=2))
    y = layer(x)
    clone = tf.keras.layers.deserialize(tf.keras.layers.serialize(layer))
    assert type(clone) is type(layer) and clone.name == layer.name
    clone(x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(clone(x).numpy(), layer(x).numpy(), rtol=1e-6)
    assert clone.get_config() == layer.get_config()
    del y


def test_channel_scale_multiplies_each_channel_by_its_own_learned_variable():
    layer = la_layers.ChannelScale()
    x = tf.ones((1, 2, 2, 3))
    layer(x)
    layer.scale.assign([1.0, -2.0, 0.5])
    np.testing.assert_allclose(layer(x).numpy()[0, 0, 0], [1.0, -2.0, 0.5])
    assert isinstance(layer.scale, tf.Variable) and layer.scale.trainable
    assert layer.scale.shape.rank == 1  # outside the 4-D weight-decay group


def test_mean_scaled_sign_serialises_by_alias_and_in_a_quant_conv():
    import larq as lq

    q = lq.quantizers.get("mean_scaled_sign")
    assert isinstance(q, la_layers.MeanScaledSign)
    conv = lq.layers.QuantConv2D(2, 3, kernel_quantizer=la_layers.MeanScaledSign(),
                                 input_quantizer="approx_sign")
    clone = lq.layers.QuantConv2D.from_config(conv.get_config())
    assert isinstance(clone.kernel_quantizer, la_layers.MeanScaledSign)


@pytest.mark.parametrize("pad_values", [0.0, 1.0])
def test_gemm_conv_on_maps_smaller_than_the_kernel_equals_quantconv2d(pad_values):
    from larq_adam.layers import GemmQuantConv2D

    kwargs = dict(filters=6, kernel_size=3, padding="same", pad_values=pad_values,
                  use_bias=False, input_quantizer="approx_sign")
    x = tf.constant(np.random.default_rng(0).normal(size=(4, 2, 2, 5)), tf.float32)
    plain = lq.layers.QuantConv2D(kernel_quantizer=MeanScaledSign(), **kwargs)
    gemm = GemmQuantConv2D(kernel_quantizer=MeanScaledSign(), **kwargs)
    plain(x), gemm(x)
    gemm.set_weights(plain.get_weights())
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        a, b = plain(x), gemm(x)
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)
    for u, v in zip(tape.gradient(a, [x, plain.kernel]), tape.gradient(b, [x, gemm.kernel])):
        np.testing.assert_allclose(u.numpy(), v.numpy(), atol=1e-4)


def test_models_use_the_gemm_conv_only_for_stride_1_convs_on_maps_smaller_than_the_kernel():
    from larq_adam.layers import GemmQuantConv2D

    model = la.models.build_model("reactnet_a", stage="bnn", input_shape=(32, 32, 3),
                                  num_classes=10, width=0.125)
    gemm = [l.name for l in model.layers if isinstance(l, GemmQuantConv2D)]
    assert gemm == ["block13_conv3x3"]  # 2x2 maps at 32 px; block12 is stride 2 on 4x4
