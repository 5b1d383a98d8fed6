"""The analysis functions (Eq. 3-7, Fig. 3-7) against independent numpy computations."""
import larq as lq
import numpy as np
import pytest
import tensorflow as tf

import larq_adam as la
from larq_adam.analysis import latent
from larq_adam.layers import LearnableBias, MeanScaledSign


def _np_sign(x):
    return np.where(np.asarray(x) >= 0, 1.0, -1.0)


def _np_ff(before, after):
    # Eq. 4: |sign(a) - sign(b)| / 2 per weight; Eq. 5: sum over layers / N_total.
    num = sum(np.sum(np.abs(_np_sign(a) - _np_sign(b)) / 2) for a, b in zip(before, after))
    return num / sum(np.size(a) for a in before)


def _small_model(stage="bnn"):
    q = la.stages.quantizers
    inp = tf.keras.Input((8, 8, 3))
    x = tf.keras.layers.Conv2D(4, 3, padding="same", name="stem")(inp)
    x = LearnableBias(name="lb1")(x)
    x = lq.layers.QuantConv2D(6, 3, padding="same", use_bias=False, name="qc1", **q(stage, "reactnet"))(x)
    inner_in = tf.keras.Input((8, 8, 6))
    y = LearnableBias(name="lb2")(inner_in)
    y = lq.layers.QuantDepthwiseConv2D(3, padding="same", use_bias=False, name="qdw",
                                       input_quantizer=q(stage, "reactnet")["input_quantizer"],
                                       depthwise_quantizer=q(stage, "reactnet")["kernel_quantizer"])(y)
    inner = tf.keras.Model(inner_in, y, name="inner")
    x = inner(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    x = lq.layers.QuantDense(5, name="qd", **q(stage, "reactnet"))(x)
    out = tf.keras.layers.Dense(3, name="fc")(x)
    return tf.keras.Model(inp, out)


# --------------------------------------------------------------------------- model access
@pytest.mark.parametrize("stage", ["fp", "ba", "bw", "bnn"])
def test_binary_layers_finds_quant_layers_in_order_including_nested_in_every_stage(stage):
    model = _small_model(stage)
    assert [l.name for l in la.analysis.binarizable_layers(model)] == ["qc1", "qdw", "qd"]
    kernels = la.analysis.binary_kernels(model)
    assert [tuple(k.shape) for k in kernels] == [(3, 3, 4, 6), (3, 3, 6, 1), (6, 5)]
    assert all(isinstance(k, tf.Variable) for k in kernels)
    assert not any(isinstance(k, lq.quantized_variable.QuantizedVariable) for k in kernels)


def test_binary_kernels_read_latent_values_even_inside_quantized_scope():
    model = _small_model("bnn")
    layer = model.get_layer("qc1")
    w = np.linspace(-3, 3, 3 * 3 * 4 * 6).reshape(3, 3, 4, 6).astype("float32")
    layer.kernel.assign(w)
    with lq.context.quantized_scope(True):
        quantized = layer.kernel.numpy()
        latent_read = la.analysis.binary_kernels(model)[0].numpy()
    assert not np.allclose(quantized, w)  # the quantized view is mean-scaled signs
    np.testing.assert_array_equal(latent_read, w)


def test_binary_layers_trainable_only_skips_frozen_models():
    student, teacher = _small_model(), _small_model()
    teacher.trainable = False
    inp = tf.keras.Input((8, 8, 3))
    both = tf.keras.Model(inp, [student(inp), teacher(inp)])
    assert len(la.analysis.binarizable_layers(both)) == 6
    assert len(la.analysis.binarizable_layers(both, trainable_only=True)) == 3


def test_binary_layers_rejects_non_models():
    with pytest.raises(TypeError, match="Keras model"):
        la.analysis.binarizable_layers(np.zeros(3))


# --------------------------------------------------------------------------- FF / C2I
def test_flip_fraction_matches_numpy_with_zeros_a_layer_that_never_flips_and_big_weights():
    rng = np.random.default_rng(0)
    before = [rng.normal(size=(3, 3, 4, 8)), rng.normal(size=(16, 5)) * 3, np.zeros((2, 3))]
    after = [before[0] + rng.normal(scale=0.5, size=before[0].shape),
             before[1].copy(),                       # a layer that never flips
             np.array([[0.0, -0.0, -1e-9], [5.0, -5.0, 0.0]])]
    # zeros (and -0.0) are +1: 0 -> 0 and 0 -> -0.0 are no flip, 0 -> -1e-9 is a flip
    expected = _np_ff(before, after)
    assert la.analysis.flip_fraction(before, after) == pytest.approx(expected, abs=1e-15)
    manual_third = 2  # -1e-9 and -5.0 flipped from 0
    flips0 = np.sum(_np_sign(before[0]) != _np_sign(after[0]))
    assert expected == pytest.approx((flips0 + 0 + manual_third) / (288 + 80 + 6))
    # tensors and variables are accepted too
    tf_before = [tf.constant(b, tf.float32) for b in before]
    tf_after = [tf.Variable(a, dtype=tf.float32) for a in after]
    assert la.analysis.flip_fraction(tf_before, tf_after) == pytest.approx(expected)


def test_flip_fraction_is_zero_for_no_change_and_one_for_all_flipped():
    w = np.array([[-2.0, 0.0], [0.5, 3.0]])
    assert la.analysis.flip_fraction(w, w) == 0.0
    assert la.analysis.flip_fraction(w, -w - 1e-3) == 1.0


def test_flip_fraction_rejects_mismatched_inputs():
    with pytest.raises(ValueError, match="same layers"):
        la.analysis.flip_fraction([np.zeros(3)], [np.zeros(3), np.zeros(3)])
    with pytest.raises(ValueError, match="shape"):
        la.analysis.flip_fraction([np.zeros(3)], [np.zeros(4)])


def test_c2i_ratio_is_one_minus_flipped_share_as_in_table_1():
    rng = np.random.default_rng(1)
    init = [rng.normal(size=(3, 3, 2, 4)), rng.normal(size=(10,))]
    final = [rng.normal(size=(3, 3, 2, 4)), init[1] * 2.0]
    flipped = sum(np.sum(_np_sign(a) != _np_sign(b)) for a, b in zip(init, final))
    expected = 1.0 - flipped / (72 + 10)
    assert la.analysis.c2i_ratio(init, final) == pytest.approx(expected)
    # unlike Eq. 7 as printed (>= 0.5), values below 0.5 are possible (Table 1: 0.4810)
    assert la.analysis.c2i_ratio([np.array([1.0, 1.0, -1.0])], [np.array([-1.0, -1.0, -1.0])]) == pytest.approx(1 / 3)


# --------------------------------------------------------------------------- CAM / SDAM
def test_cam_sdam_and_update_cam_match_numpy_loops():
    rng = np.random.default_rng(2)
    k = rng.normal(size=(3, 3, 5, 7)) * 2.5  # beyond +-1
    k[..., 3] = 0.0                          # a dead channel
    expected = np.array([np.mean(np.abs(k[:, :, :, o])) for o in range(7)])
    np.testing.assert_allclose(la.analysis.cam(k), expected, rtol=1e-12)
    assert la.analysis.cam(k)[3] == 0.0
    mean = expected.mean()
    assert la.analysis.sdam(k) == pytest.approx(np.sqrt(np.mean((expected - mean) ** 2)))
    k2 = k + rng.normal(scale=0.01, size=k.shape)
    np.testing.assert_allclose(
        la.analysis.update_cam(k, k2),
        [np.mean(np.abs(k2[..., o] - k[..., o])) for o in range(7)], rtol=1e-10)
    dense = rng.normal(size=(6, 4))
    np.testing.assert_allclose(la.analysis.cam(tf.constant(dense)), np.abs(dense).mean(0), rtol=1e-6)


def test_cam_rejects_vectors():
    with pytest.raises(ValueError, match="output-channel"):
        la.analysis.cam(np.ones(4))


def test_channel_view_gives_depthwise_output_channels():
    layer = lq.layers.QuantDepthwiseConv2D(3, depth_multiplier=2)
    layer.build((None, 5, 5, 4))
    k = np.arange(3 * 3 * 4 * 2, dtype="float32").reshape(3, 3, 4, 2) - 30
    view = latent.channel_view(layer, tf.constant(k))
    got = la.analysis.cam(view)
    expected = [np.mean(np.abs(k[:, :, c, m])) for c in range(4) for m in range(2)]
    np.testing.assert_allclose(got, expected, rtol=1e-6)


# --------------------------------------------------------------------------- saturation, histogram
def test_saturation_counts_strictly_beyond_the_bound_pooled():
    a = np.array([-1.5, -1.0, 0.0, 1.0, 1.0001, 3.0])
    b = tf.constant([[0.5, -2.0]])
    assert la.analysis.saturation(a) == pytest.approx(3 / 6)
    assert la.analysis.saturation([a, b]) == pytest.approx(4 / 8)
    assert la.analysis.saturation(a, bound=2.0) == pytest.approx(1 / 6)


def test_histogram_matches_numpy_and_counts_outside_values_apart():
    rng = np.random.default_rng(3)
    # values at bin centres, so float rounding cannot move them between bins
    centres = -2 + 0.02 * (np.arange(200) + 0.5)
    values = np.concatenate([rng.choice(centres, size=5000), [-2.0, 2.0, -7.0, 2.5, 9.0]])
    h = la.analysis.histogram([values[:2000], values[2000:]], bins=200, range=(-2, 2))
    inside = values[(values >= -2) & (values <= 2)]
    expected, edges = np.histogram(inside, bins=200, range=(-2, 2))
    np.testing.assert_array_equal(h.counts, expected)
    np.testing.assert_allclose(h.edges, edges)
    assert (h.below, h.above) == (1, 2)
    assert h.counts.sum() + h.below + h.above == values.size
    assert np.isclose(h.edges[50], -1.0) and np.isclose(h.edges[150], 1.0)


def test_histogram_rejects_bad_range():
    with pytest.raises(ValueError, match="hi > lo"):
        la.analysis.histogram(np.zeros(3), range=(1, 1))
