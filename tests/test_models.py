"""Model factories: structure counts (Table 3), padding, stages, weight moves, save/load."""
import logging

import larq as lq
import numpy as np
import pytest
import tensorflow as tf

import larq_adam as la
from larq_adam.models import _common
from larq_adam.stages import Stage

SMALL = dict(input_shape=(32, 32, 3), num_classes=10, width=0.25)
BNN_FAMILIES = ["reactnet_a", "strong_baseline"]
STAGES = ["fp", "ba", "bw", "bnn"]


def _images(n=2, shape=(32, 32, 3), seed=0):
    return np.random.RandomState(seed).randn(n, *shape).astype(np.float32)


def _randomise(model, seed=0):
    """Non-trivial values everywhere (incl. BN statistics and latent weights beyond +-1)."""
    rng = np.random.RandomState(seed)
    model.set_weights([rng.randn(*w.shape).astype(np.float32) * 0.5
                       for w in model.get_weights()])
    for layer in model.layers:  # keep BN variances positive
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            layer.moving_variance.assign(np.abs(layer.moving_variance.numpy()) + 0.5)


_BUILT = {}


def _small(name, stage):
    """Small models are built once per module (building dominates these tests' time);
    tests that change weights randomise them first, so order does not matter."""
    if (name, stage) not in _BUILT:
        _BUILT[name, stage] = la.models.build_model(name, stage, **SMALL)
    return _BUILT[name, stage]


def _binary_convs(model):
    return [l for l in model.layers if isinstance(l, lq.layers.QuantConv2D)]


# ------------------------------------------------------------------ registry and errors

def test_available_lists_the_paper_models_and_teachers():
    assert set(la.models.available()) >= {"reactnet_a", "strong_baseline", "resnet18",
                                          "resnet34"}


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(name="resnet50"), "available models"),
        (dict(name="reactnet_a", stage="binary"), "valid stages"),
        (dict(name="reactnet_a", input_shape=(32, 32)), "input_shape"),
        (dict(name="strong_baseline", input_shape=(4, 4, 3)), "too small"),
        (dict(name="reactnet_a", width=0), "width"),
        (dict(name="reactnet_a", num_classes=0), "num_classes"),
        (dict(name="resnet18", stage="bnn"), "teacher"),
    ],
)
def test_bad_arguments_raise_value_errors_naming_the_fix(kwargs, match):
    kwargs = {**SMALL, **kwargs}
    with pytest.raises(ValueError, match=match):
        la.models.build_model(**kwargs)


def test_teachers_build_for_default_or_fp_stage():
    for stage in (None, Stage.FP):
        m = la.models.build_model("resnet18", stage=stage, **SMALL)
        assert not _binary_convs(m)


# ------------------------------------------------------------------ Table 3 and counts

def test_reactnet_a_imagenet_has_the_reference_parameter_count_and_table3_ops():
    model = la.models.build_model("reactnet_a", "bnn")
    trainable = sum(int(np.prod(v.shape)) for v in model.trainable_weights)
    assert trainable == 29_343_592
    ops = la.models.count_ops(model)
    assert abs(ops["binary_macs"] / 4.82e9 - 1) < 0.02
    assert abs(ops["float_macs"] / 1.2e7 - 1) < 0.05
    assert model.output_shape == (None, 1000)
    assert model.get_layer("stem_conv").output_shape == (None, 112, 112, 32)


def test_strong_baseline_imagenet_matches_table3_bops_and_flops():
    model = la.models.build_model("strong_baseline", "bnn")
    ops = la.models.count_ops(model)
    assert abs(ops["binary_macs"] / 1.68e9 - 1) < 0.05
    assert abs(ops["float_ops"] / 1.54e8 - 1) < 0.05
    # Its real layers (stem, 1x1 shortcuts, FC) are Bi-RealNet-18's: Table 3's 1.39e8.
    assert abs(ops["float_macs"] / 1.39e8 - 1) < 0.02
    assert model.get_layer("stem_pool").output_shape == (None, 56, 56, 64)


def test_binary_macs_match_larq_profile_and_exist_only_in_the_bnn_stage():
    for stage in STAGES:
        ops = la.models.count_ops(_small("reactnet_a", stage))
        assert (ops["binary_macs"] > 0) == (stage == "bnn")
    # Without the crop of the symmetric stride-2 padding, Larq's profile counts the same.
    model = la.models.build_model("reactnet_a", "bnn", symmetric_padding=False, **SMALL)
    assert la.models.count_ops(model)["binary_macs"] == \
        lq.models.ModelProfile(model).op_count("mac", 1)


def test_small_inputs_use_the_small_image_stem():
    r = _small("reactnet_a", "bnn")
    assert r.get_layer("stem_conv").output_shape[1:3] == (32, 32)
    for m in (_small("strong_baseline", "bnn"), _small("resnet18", "fp")):
        assert m.get_layer("stem_conv").kernel.shape[:2] == (3, 3)
        assert "stem_pool" not in [l.name for l in m.layers]
    forced = la.models.build_model("resnet18", small_input=False, **SMALL)
    assert "stem_pool" in [l.name for l in forced.layers]


def test_width_keeps_reactnet_channel_doublings_exact():
    model = la.models.build_model("reactnet_a", input_shape=(32, 32, 3), width=0.3)
    assert model.get_layer("block01_concat").output_shape[-1] == 2 * 10
    assert model.get_layer("fc").kernel.shape[0] == 32 * 10


def test_resnet_teachers_have_torchvision_parameter_counts():
    # torchvision resnet18 / resnet34: 11,689,512 / 21,797,672 parameters (BN running
    # statistics are buffers there, non-trainable weights here).
    for name, count in (("resnet18", 11_689_512), ("resnet34", 21_797_672)):
        model = la.models.build_model(name)
        assert sum(int(np.prod(v.shape)) for v in model.trainable_weights) == count


# ------------------------------------------------------------------ padding

def _manual_conv(x, kernel, stride, pad_value, binary_act, binary_w):
    if binary_act:
        x = np.where(x >= 0, 1.0, -1.0).astype(np.float32)
    if binary_w:
        kernel = np.abs(kernel).mean(axis=(0, 1, 2)) * np.where(kernel >= 0, 1.0, -1.0)
    x = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=pad_value)
    return tf.nn.conv2d(x, kernel.astype(np.float32), stride, "VALID").numpy()


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("stride, side", [(1, 8), (2, 8), (2, 7), (1, 2)])
@pytest.mark.parametrize("pad_values", [0.0, 1.0])
def test_binary_conv3x3_pads_symmetrically_like_pytorch(stage, stride, side, pad_values):
    stage = Stage(stage)
    inp = tf.keras.Input((side, side + 2, 3))
    out = _common.binary_conv(inp, 4, 3, stride, stage, "reactnet", pad_values, name="c")
    model = tf.keras.Model(inp, out)
    x = _images(2, (side, side + 2, 3))
    conv = model.get_layer("c")
    kernel = np.random.RandomState(1).randn(*conv.kernel.shape).astype(np.float32)
    conv.kernel.assign(kernel)
    expected = _manual_conv(x, kernel, stride, pad_values if stage.binary_activations else 0.0,
                            stage.binary_activations, stage.binary_weights)
    got = model(x).numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)


# ------------------------------------------------------------------ stages and weight moves

@pytest.mark.parametrize("name", BNN_FAMILIES)
def test_layer_names_and_weight_shapes_are_identical_in_every_stage(name):
    models = {s: _small(name, s) for s in STAGES}
    ref = [(v.name, tuple(v.shape)) for v in models["fp"].weights]
    for stage, model in models.items():
        assert [(v.name, tuple(v.shape)) for v in model.weights] == ref, stage
        assert [l.name for l in model.layers] == [l.name for l in models["fp"].layers]
        convs = _binary_convs(model)
        assert convs
        for c in convs:
            assert (c.input_quantizer is not None) == Stage(stage).binary_activations
            assert (c.kernel_quantizer is not None) == Stage(stage).binary_weights


@pytest.mark.parametrize("name", BNN_FAMILIES)
def test_ba_to_bnn_weight_move_changes_only_what_binarization_says(name):
    ba, bnn = _small(name, "ba"), _small(name, "bnn")
    _randomise(ba)
    bnn.set_weights(ba.get_weights())  # raises on anything missing or left over
    for a, b in zip(ba.weights, bnn.weights):
        assert a.name == b.name
        with lq.context.quantized_scope(False):  # latent values, not binarized ones
            np.testing.assert_array_equal(np.asarray(a.numpy()), np.asarray(b.numpy()))

    # The first binary conv sees the same input in both; its outputs differ exactly by
    # Eq. 2's binarization of the kernel (activations are binary in both stages).
    first = _binary_convs(ba)[0].name
    probe = lambda m: tf.keras.Model(m.input, [m.get_layer(first).input,
                                               m.get_layer(first).output])
    x = _images()
    in_ba, out_ba = [t.numpy() for t in probe(ba)(x)]
    in_bnn, out_bnn = [t.numpy() for t in probe(bnn)(x)]
    np.testing.assert_array_equal(in_ba, in_bnn)
    conv = bnn.get_layer(first)
    assert conv.strides == (1, 1) and conv.kernel_size == (3, 3)
    with lq.context.quantized_scope(False):
        kernel = conv.kernel.numpy()
    expect_ba = _manual_conv(in_ba, kernel, 1, 0.0, True, False)
    expect_bnn = _manual_conv(in_ba, kernel, 1, 0.0, True, True)
    np.testing.assert_allclose(out_ba, expect_ba, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(out_bnn, expect_bnn, rtol=1e-5, atol=1e-4)
    assert not np.allclose(ba(x).numpy(), bnn(x).numpy())


def test_factories_do_not_emit_larq_kernel_constraint_warning(caplog):
    with caplog.at_level(logging.WARNING):
        la.models.build_model("strong_baseline", "bnn", **SMALL)
    assert not [r for r in caplog.records if "kernel_constraint" in r.getMessage()]
    # ...but only locally: Larq still warns for a layer built outside the factories.
    with caplog.at_level(logging.WARNING):
        lq.layers.QuantConv2D(2, 3, kernel_quantizer="ste_sign")
    assert [r for r in caplog.records if "kernel_constraint" in r.getMessage()]


# ------------------------------------------------------------------ save / load

CASES = [(n, s) for n in BNN_FAMILIES for s in STAGES] + [("resnet18", "fp"),
                                                         ("resnet34", "fp")]


@pytest.mark.parametrize("name, stage", CASES)
def test_h5_save_load_reproduces_outputs(name, stage, tmp_path):
    # The h5 format stores get_config() and rebuilds with from_config, so this also
    # covers the config round trip of every layer and quantizer in the model.
    model = _small(name, stage)
    _randomise(model, seed=3)
    x = _images(2)
    expected = model(x, training=False).numpy()
    path = str(tmp_path / "model.h5")
    model.save(path)
    loaded = tf.keras.models.load_model(path)
    np.testing.assert_allclose(loaded(x, training=False).numpy(), expected, rtol=1e-5,
                               atol=1e-5)
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]


@pytest.mark.parametrize("name", BNN_FAMILIES)
def test_get_config_from_config_round_trip_reproduces_outputs(name):
    model = _small(name, "bnn")
    _randomise(model, seed=4)
    x = _images(2)
    clone = tf.keras.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone(x, training=False).numpy(),
                               model(x, training=False).numpy(), rtol=1e-5, atol=1e-5)


def test_mixed_bfloat16_policy_keeps_weights_float32_and_logits_close():
    kw = dict(input_shape=(32, 32, 3), num_classes=10, width=0.25)
    ref = la.models.build_model("reactnet_a", "ba", **kw)
    fast = la.models.build_model("reactnet_a", "ba", dtype_policy="mixed_bfloat16", **kw)
    assert tf.keras.mixed_precision.global_policy().name == "float32"  # scoped, restored
    assert [w.shape for w in fast.weights] == [w.shape for w in ref.weights]
    assert all(w.dtype == tf.float32 for w in fast.weights)
    fast.set_weights(ref.get_weights())
    x = np.random.default_rng(0).normal(size=(4, 32, 32, 3)).astype("float32")
    want, got = ref(x, training=False).numpy(), fast(x, training=False)
    assert got.dtype == tf.float32
    assert np.corrcoef(want.ravel(), got.numpy().ravel())[0, 1] > 0.9  # bf16 rounding only
    with pytest.raises(ValueError):
        la.models.build_model("reactnet_a", "ba", dtype_policy="float7", **kw)
