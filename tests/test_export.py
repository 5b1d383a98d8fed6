"""Export to LCE: binary ops where the Keras model is binary, same numbers as Keras.

The real models (ReActNet-A, StrongBaseline at 32 px) are converted once per module; the
224-px ReActNet-A conversion (40-60 s and more) is marked slow.
"""
import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import larq as lq
import numpy as np
import pytest
import tensorflow as tf

import larq_adam as la
from larq_adam import export as ex
from larq_adam.export.rewrite import _zero_padding_correction
from larq_adam.layers import LearnableBias, MeanScaledSign, RPReLU
from larq_adam.quantized import fully_binary_layers

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


trained_looking = ex.randomize_like_trained


def _bconv(filters, kernel, stride, pad_values, name):
    return lq.layers.QuantConv2D(
        filters, kernel, strides=stride, padding="same" if kernel > 1 else "valid",
        pad_values=pad_values if kernel > 1 else 0.0, use_bias=False,
        input_quantizer="approx_sign", kernel_quantizer=MeanScaledSign(), name=name)


def tiny_reactnet(hw=8, pad_values=1.0, extra=None, classes=10):
    """A 4-block ReActNet-like BNN: 8 -> 8 -> 4 -> 2 -> 2 px; the last 3x3 conv runs on
    a 2x2 input with stride 1 (the LCE 0.16 zero-padding bug's case)."""
    x = inputs = tf.keras.Input((hw, hw, 3))
    x = tf.keras.layers.Conv2D(16, 3, padding="same", use_bias=False, name="stem")(x)
    x = tf.keras.layers.BatchNormalization(name="stem_bn")(x)
    channels = 16
    for i, (out, stride) in enumerate([(16, 1), (32, 2), (32, 2), (32, 1)]):
        y = LearnableBias(name=f"b{i}_move1")(x)
        y = _bconv(channels, 3, stride, pad_values, f"b{i}_conv3x3")(y)
        y = tf.keras.layers.BatchNormalization(name=f"b{i}_bn1")(y)
        short = tf.keras.layers.AveragePooling2D(2, name=f"b{i}_pool")(x) if stride == 2 else x
        x = RPReLU(name=f"b{i}_rprelu1")(tf.keras.layers.Add()([short, y]))
        y = LearnableBias(name=f"b{i}_move2")(x)
        y = _bconv(out, 1, 1, 0.0, f"b{i}_conv1x1")(y)
        y = tf.keras.layers.BatchNormalization(name=f"b{i}_bn2")(y)
        short = x if out == channels else tf.keras.layers.Concatenate()([x, x])
        # always a residual add: a 4-D constant ADD (RPReLU shift) right after a binary
        # conv + BN is fused into LceBconv2d wrongly and fails at run time in LCE 0.16
        x = RPReLU(name=f"b{i}_rprelu2")(tf.keras.layers.Add()([short, y]))
        channels = out
    if extra is not None:
        x = extra(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    outputs = tf.keras.layers.Dense(classes, name="fc")(x)
    return trained_looking(tf.keras.Model(inputs, outputs, name="tiny_reactnet"))


def _images(n=16, hw=8, seed=1):
    return np.random.default_rng(seed).normal(size=(n, hw, hw, 3)).astype("float32")


def _mnist_images(n=32):
    ds, _ = la.data.load("mnist5k", split="test", batch_size=n)
    return next(iter(ds))[0].numpy()


# ----------------------------------------------------------------------------- real models


@pytest.fixture(scope="module")
def reactnet32(tmp_path_factory):
    # the reference's zero padding: block13's 3x3 conv runs on 2x2 maps, which LCE 0.16
    # miscomputes unless to_lce works around it (lce_ready)
    model = trained_looking(la.models.build_model(
        "reactnet_a", stage="bnn", input_shape=(32, 32, 3), num_classes=10, width=0.25,
        pad_values=0.0))
    info = ex.to_lce(model, tmp_path_factory.mktemp("r32") / "model.tflite")
    return model, info


@pytest.fixture(scope="module")
def strong32(tmp_path_factory):
    model = trained_looking(la.models.build_model(
        "strong_baseline", stage="bnn", input_shape=(32, 32, 3), num_classes=10, width=0.25))
    info = ex.to_lce(model, tmp_path_factory.mktemp("s32") / "model.tflite")
    return model, info


@pytest.mark.parametrize("fixture", ["reactnet32", "strong32"])
def test_every_binary_conv_of_the_bnn_models_becomes_an_lce_bconv(fixture, request):
    model, info = request.getfixturevalue(fixture)
    report = ex.op_report(info["path"], model=model)
    n_binary = len(fully_binary_layers(model))
    assert n_binary > 10
    assert report["binary_convs"] == n_binary == report["keras_binary_layers"]
    assert report["not_binary"] == []
    assert report["ops"]["LceQuantize"] >= 1
    assert report["binary_mac_share"] > 0.95  # only the stem / downsampling / FC are real
    prelus = [l for l in model.layers if isinstance(l, (la.layers.RPReLU, tf.keras.layers.PReLU))]
    assert report["ops"].get("PRELU", 0) == len(prelus) > 0  # each (R)PReLU is one op


@pytest.mark.parametrize("fixture", ["reactnet32", "strong32"])
def test_bnn_models_compute_the_keras_logits_on_mnist5k(fixture, request):
    model, info = request.getfixturevalue(fixture)
    result = ex.verify(model, info["path"], _mnist_images(32), noise_factor=0)
    assert result["passed"] and result["criterion"] == "exact"
    assert result["top1_agreement"] == 1.0
    assert result["rel_max_diff"] < 2e-5  # correct conversions measure 1e-6..1e-5
    assert result["logit_scale"] > 0.1  # the check is not trivially met by zero logits


@pytest.mark.slow
def test_reactnet_a_224_is_binary_and_equal_to_keras(tmp_path):
    model = trained_looking(la.models.build_model("reactnet_a", stage="bnn"))
    info = ex.to_lce(model, tmp_path / "model.tflite")
    report = ex.op_report(info["path"], model=model)
    assert report["binary_convs"] == len(fully_binary_layers(model)) == 31
    assert report["binary_mac_share"] > 0.98
    ex.verify(model, info["path"], _images(3, hw=224), use_indirect_bgemm=True)


# ----------------------------------------------------------------------------- small nets


class _Holder:
    """A Distiller-like object: to_lce must export its student."""

    def __init__(self, student):
        self.student = student


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny net (pad_values=1) exported once, through a Distiller-like holder."""
    holder = _Holder(tiny_reactnet())
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        info = ex.to_lce(holder, tmp_path_factory.mktemp("tiny") / "sub" / "m.tflite")
    return holder.student, info, out.getvalue()


@pytest.fixture(scope="module")
def tiny_float(tiny, tmp_path_factory):
    model, _, _ = tiny
    return ex.to_tflite_float(model, tmp_path_factory.mktemp("tiny") / "f.tflite",
                              verbose=False)


def test_lce_file_is_written_with_size_time_and_progress(tiny):
    _, info, printed = tiny
    assert os.path.getsize(info["path"]) == info["bytes"] > 0 and info["seconds"] > 0
    assert "converting" in printed and "written" in printed and " s" in printed


def test_distiller_like_objects_export_their_student(tiny):
    model, info, _ = tiny
    report = ex.op_report(info["path"], model=_Holder(model))
    assert report["binary_convs"] == report["keras_binary_layers"] == 8


@pytest.mark.parametrize("indirect", [False, True])
def test_exact_conversion_passes_verify_with_both_bconv_kernels(tiny, indirect):
    model, info, _ = tiny
    result = ex.verify(model, info["path"], _images(), use_indirect_bgemm=indirect)
    assert result["passed"] and result["criterion"] == "exact"
    assert result["rel_max_diff"] < 1e-5


def test_verify_tolerance_is_relative_to_the_logit_scale(tiny):
    model, info, _ = tiny
    result = ex.verify(model, info["path"], _images(), rtol=1e-3, atol=0.0)
    assert result["tolerance"] == pytest.approx(1e-3 * result["logit_scale"])
    # an absolute tolerance far below the float error fails (the check can fail)
    with pytest.raises(ex.ExportMismatchError, match="disagrees"):
        ex.verify(model, info["path"], _images(), rtol=0.0, atol=1e-12, noise_factor=0)


def test_verify_accepts_differences_within_keras_float_sensitivity(tiny):
    """Near-zero pre-activations flip sign under rounding changes; deep nets (224 px) then
    differ from Keras by about as much as Keras differs from itself with 1e-6 weight noise."""
    model, info, _ = tiny
    images = _images()
    before = [w.copy() for w in model.get_weights()]
    result = ex.verify(model, info["path"], images, rtol=0.0, atol=0.0, noise_factor=1e9)
    assert result["passed"] and result["criterion"] == "float sensitivity"
    assert result["keras_noise_max"] >= 0
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_verify_rejects_images_of_the_wrong_shape(tiny):
    model, info, _ = tiny
    with pytest.raises(ValueError, match=r"shape \(N, 8, 8, 3\)"):
        ex.verify(model, info["path"], _images(hw=16))


def test_float_twin_has_no_binary_op_and_computes_the_fp_network(tiny, tiny_float):
    model, lce, _ = tiny
    report = ex.op_report(tiny_float["path"])
    assert report["binary_convs"] == 0 and "LceQuantize" not in report["ops"]
    assert report["float_convs"] == 9  # stem + 8 formerly binary convs
    assert report["total_macs"] == ex.op_report(lce["path"])["total_macs"]
    assert tiny_float["bytes"] > 3 * lce["bytes"]  # tiny net: flatbuffer overhead dominates
    twin = ex.float_twin(model)
    assert not fully_binary_layers(twin) and len(fully_binary_layers(model)) == 8
    assert ex.verify(twin, tiny_float["path"], _images())["criterion"] == "exact"


def test_conversion_from_the_serving_function_writes_the_converters_own_bytes(tiny, tiny_float):
    """``to_lce`` / ``to_tflite_float`` convert :func:`save_serving`'s SavedModel (the
    inference function alone); the LCE file is byte for byte what LCE's
    ``convert_keras_model`` writes from Keras' full save, the float file what TFLite's
    ``from_keras_model`` writes but for one byte: the conversion metadata's model type
    (1, a SavedModel, against 2, a Keras model)."""
    import larq_compute_engine as lce

    model, info, _ = tiny
    assert Path(info["path"]).read_bytes() == lce.convert_keras_model(ex.lce_ready(model))
    ours = np.frombuffer(Path(tiny_float["path"]).read_bytes(), np.uint8)
    keras = np.frombuffer(tf.lite.TFLiteConverter.from_keras_model(
        ex.float_twin(model)).convert(), np.uint8)
    assert ours.shape == keras.shape
    differ = np.flatnonzero(ours != keras)
    assert len(differ) == 1 and (ours[differ[0]], keras[differ[0]]) == (1, 2)


def test_a_mixed_precision_model_is_refused_before_conversion(tmp_path):
    tf.keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        inputs = tf.keras.Input((4,))
        model = tf.keras.Model(inputs, tf.keras.layers.Dense(2)(inputs))
    finally:  # None: the policy follows floatx again, as before (float64 tests set floatx)
        tf.keras.mixed_precision.set_global_policy(None)
    with pytest.raises(la.errors.UnsupportedError, match="mixed_bfloat16.*float32 models"):
        ex.to_lce(model, tmp_path / "m.tflite", verbose=False)
    assert not (tmp_path / "m.tflite").exists()


def test_benchmark_reports_latency_and_size(tiny, tiny_float):
    _, lce, _ = tiny
    b = ex.benchmark(lce["path"], threads=1, runs=5, warmup=1)
    assert b["bytes"] == lce["bytes"] and b["runs"] == 5
    assert 0 < b["min_ms"] <= b["p10_ms"] <= b["median_ms"] <= b["p90_ms"] <= b["max_ms"]
    for engine in ("lce", "tflite"):
        assert ex.benchmark(tiny_float["path"], runs=2, interpreter=engine)["median_ms"] > 0
    with pytest.raises(ValueError, match="interpreter"):
        ex.benchmark(lce["path"], interpreter="onnx")


def test_binary_dense_and_depthwise_are_caught_as_not_binary(tmp_path):
    def extra(x):
        x = lq.layers.QuantDepthwiseConv2D(3, padding="same", use_bias=False,
                                           input_quantizer="ste_sign",
                                           depthwise_quantizer="ste_sign", name="bin_dw")(x)
        x = tf.keras.layers.Flatten()(x)
        x = lq.layers.QuantDense(32, input_quantizer="ste_sign",
                                 kernel_quantizer=MeanScaledSign(), name="bin_dense")(x)
        return tf.keras.layers.Reshape((1, 1, 32))(x)

    model = tiny_reactnet(extra=extra)
    info = ex.to_lce(model, tmp_path / "m.tflite", verbose=False)
    assert ex.op_report(info["path"])["binary_convs"] == 8  # without the model: counts only
    with pytest.raises(ex.NotBinaryError, match="bin_dense") as err:
        ex.op_report(info["path"], model=model)
    assert "bin_dw" in str(err.value) and "b0_conv3x3" not in str(err.value)


def test_zero_padding_bug_on_2x2_inputs_is_caught_by_verify(tmp_path):
    """LCE 0.16 converts a zero-padded binary 3x3 conv on a 2x2 map to wrong numbers; a raw
    conversion (without lce_ready) shows it, and verify catches it."""
    import larq_compute_engine as lce

    bad = tiny_reactnet(pad_values=0.0)
    path = tmp_path / "raw.tflite"
    path.write_bytes(lce.convert_keras_model(bad))
    assert ex.op_report(path, model=bad)["binary_convs"] == 8  # binary, yet wrong
    with pytest.raises(ex.ExportMismatchError, match="disagrees"):
        ex.verify(bad, path, _images())
    report = ex.verify(bad, path, _images(), raise_on_mismatch=False)
    assert not report["passed"] and report["rel_max_diff"] > 100 * ex.DEFAULT_RTOL
    assert report["max_abs_diff"] > 100 * report["keras_noise_max"]


def test_to_lce_exports_zero_padding_exactly_with_at_most_one_extra_add(tmp_path, tiny):
    model = tiny_reactnet(pad_values=0.0)
    ready = ex.lce_ready(model)
    corrected = [l for l in ready.layers if isinstance(l, ex.CorrectedAdd)]
    assert len(corrected) == 1  # b3's 3x3 conv runs on 2x2 maps; b2's runs on 4x4
    assert ready.get_layer("b3_conv3x3").pad_values == 1.0
    assert ready.get_layer("b2_conv3x3").pad_values == 0.0
    np.testing.assert_allclose(ready(_images()).numpy(), model(_images()).numpy(), atol=1e-5)
    ready.save(tmp_path / "ready.h5")  # CorrectedAdd is registered: the copy loads again
    again = ex.load_model(tmp_path / "ready.h5")
    np.testing.assert_allclose(again(_images()).numpy(), ready(_images()).numpy(), atol=1e-6)

    info = ex.to_lce(model, tmp_path / "zero.tflite", verbose=False)
    result = ex.verify(model, info["path"], _images(), noise_factor=0)
    assert result["criterion"] == "exact" and result["rel_max_diff"] < 1e-5
    report = ex.op_report(info["path"], model=model)
    assert report["binary_convs"] == report["keras_binary_layers"] == 8
    # against the same network padded with +1 (no correction): at most one ADD more (here
    # none: the converter folds the constant into the RPReLU shift that follows the Add)
    _, one_padded, _ = tiny
    ops_one = ex.op_report(one_padded["path"])["ops"]
    assert ops_one["ADD"] <= report["ops"]["ADD"] <= ops_one["ADD"] + 1
    assert {k: v for k, v in report["ops"].items() if k != "ADD"} == \
        {k: v for k, v in ops_one.items() if k != "ADD"}


def test_zero_padding_correction_is_the_convolution_of_the_padded_border():
    layer = _bconv(4, 3, 1, 0.0, "c")
    x = tf.keras.Input((2, 2, 3))
    layer(x)
    layer.kernel.assign(np.random.default_rng(0).normal(size=(3, 3, 3, 4)))
    s = np.sign(np.random.default_rng(1).normal(size=(1, 2, 2, 3)))
    wb = MeanScaledSign()(tf.constant(layer.kernel.numpy())).numpy()
    conv = lambda v: tf.nn.conv2d(np.pad(s, [(0, 0), (1, 1), (1, 1), (0, 0)],
                                         constant_values=v), wb, 1, "VALID").numpy()
    np.testing.assert_allclose(conv(1.0) - _zero_padding_correction(layer), conv(0.0),
                               atol=1e-5)


def test_models_without_binary_layers_export_with_a_warning(tmp_path):
    real = ex.float_twin(tiny_reactnet())  # the tiny net without quantizers: a small file
    with pytest.warns(UserWarning, match="no fully binary layer"):
        ex.to_lce(real, tmp_path / "real.tflite", verbose=False)


@pytest.mark.slow  # two conversions in a fresh process: ~40-70 s on 2 shared cores
def test_recipe_exports_a_run_dir_with_its_contract(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    tiny_reactnet(hw=32).save(run / "final_model.h5")
    (run / "config.json").write_text(json.dumps({"data": "mnist5k", "width": 0.25}))
    cmd = [sys.executable, os.path.join(REPO, "recipes", "export.py"), str(run),
           "--images", "8"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    for name in ("model.tflite", "model_float.tflite", "model.json", "export.json"):
        assert (run / name).exists(), name
    result = ex.ExportResult.load(run)
    assert result.passed and "mnist5k" in result.images and "export PASSED" in done.stdout
    assert done.stderr.count("starved weights") <= 1


@pytest.mark.parametrize("dtype,bytes_per_weight", [("float16", 2), ("int8", 1)])
def test_compact_classifier_stores_the_fc_smaller_and_verifies_exactly(tiny, tmp_path, dtype,
                                                                       bytes_per_weight):
    from larq_adam.export import compact

    model, info, _ = tiny
    with open(info["path"], "rb") as f:
        original = f.read()
    small, names = compact.compact_classifier(original, dtype)
    assert len(names) == 1
    fc_weights = int(np.prod(model.get_layer("fc").kernel.shape))

    def weight_bytes(flatbuffer):
        from tensorflow.lite.tools import flatbuffer_utils
        parsed = flatbuffer_utils.read_model_from_bytearray(bytearray(flatbuffer))
        return sum(len(b.data) for b in parsed.buffers if b.data is not None)

    assert weight_bytes(original) - weight_bytes(small) == fc_weights * (4 - bytes_per_weight)
    path = tmp_path / f"{dtype}.tflite"
    path.write_bytes(small)
    ops = ex.op_report(path, model=model)
    assert ops["ops"]["DEQUANTIZE"] == 1 and ops["binary_convs"] == 8
    exact = ex.verify(model, path, _images(), classifier=dtype, noise_factor=0)
    assert exact["criterion"] == "exact" and exact["rel_max_diff"] < 1e-5
    rounded = ex.verify(model, path, _images(), raise_on_mismatch=False, noise_factor=0)
    assert 0 < rounded["rel_max_diff"] < (1e-3 if dtype == "float16" else 2e-2)
    stored = compact.as_stored(model, dtype).get_layer("fc").kernel.numpy()
    assert not np.array_equal(stored, model.get_layer("fc").kernel.numpy())


# ----------------------------------------------------------------------------- a run's export


def test_export_run_takes_the_callers_config_model_and_images(tmp_path):
    """``la.export.export_run`` with what the caller holds: no model file, no config.json;
    the contract's classes and normalisation come from the config's dataset."""
    from larq_adam.config import RunConfig

    model = tiny_reactnet(hw=32)
    config = RunConfig(data="mnist5k", width=0.25)
    images, labels = la.data.balanced_sample("mnist5k", 8, split="test")
    result = la.export.export_run(tmp_path, config=config, model=model,
                                  data=(images, labels), float_twin=False, bench_runs=1)
    assert result.passed and result.images == "images given by the caller"
    assert result.verify["num_images"] == 8 and result.source is None
    info = la.data.info("mnist5k", "test")
    contract = json.loads((tmp_path / "model.json").read_text())
    assert contract["classes"]["names_known"]
    assert contract["classes"]["names"] == list(info.class_names)
    assert json.dumps(list(info.mean)) in json.dumps(contract["preprocessing"])
    assert not (tmp_path / "model_float.tflite").exists()


def test_data_info_is_what_load_returns_without_a_pipeline():
    for split, holdout in (("test", 0.0), ("train", 0.1), ("holdout", 0.1)):
        _, loaded = la.data.load("mnist5k", split, 64, holdout=holdout)
        assert la.data.info("mnist5k", split, holdout=holdout) == loaded
    assert la.data.info("mnist5k", "test", image_size=40).input_shape == (40, 40, 3)
    with pytest.raises(ValueError, match="Unknown split 'dev'"):
        la.data.info("mnist5k", "dev")
