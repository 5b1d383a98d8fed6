"""larq-zoo's QuickNet, Real-to-Binary Net and Bi-RealNet as students (models/zoo.py): built by
larq-zoo's factories in every stage, computing larq-zoo's function, loading its weights,
trained by two-step with the analysis callbacks, exported with LCE."""
import json
import socket
from typing import Sequence

import larq as lq
import numpy as np
import pytest
import tensorflow as tf

import larq_adam as la
from larq_adam import quantized
from larq_adam.errors import CorruptFileError, MissingDependencyError, UserInputError
from larq_adam.layers import MeanScaledSign

SHAPE = (32, 32, 3)
# network: (width, the larq-zoo factory, its Fields at that width, larq-zoo's pad value)
NETS = {
    "quicknet": (0.25, "larq_zoo.sota.quicknet.QuickNetFactory",
                 dict(section_filters=(16, 32, 64, 128)), 1.0),
    "birealnet": (0.25, "larq_zoo.literature.birealnet.BiRealNetFactory",
                  dict(filters=16), 0.0),
    "real_to_bin": (1.0, "larq_zoo.literature.real_to_bin_nets.RealToBinNetBNNFactory",
                    {}, 0.0),
}
BINARIZED = 16  # binary 3x3 convs of each network


def _build(net, stage="bnn", **kwargs):
    kwargs.setdefault("width", NETS[net][0])
    return la.models.build_model(net, stage=stage, input_shape=SHAPE, num_classes=10, **kwargs)


def _zoo_factory(net):
    module, _, cls = NETS[net][1].rpartition(".")
    return getattr(__import__(module, fromlist=[cls]), cls)


def _images(n=4, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, size=(n, *SHAPE)).astype("float32")


@pytest.mark.parametrize("net", sorted(NETS))
def test_every_stage_has_the_same_layers_and_binarizes_only_larq_zoos_binary_convs(net):
    models = {stage: _build(net, stage) for stage in ("fp", "ba", "bw", "bnn")}
    names = [layer.name for layer in models["bnn"].layers]
    shapes = [w.shape for w in models["bnn"].weights]
    for stage, model in models.items():
        assert [layer.name for layer in model.layers] == names
        assert [w.shape for w in model.weights] == shapes
        layers = quantized.binarizable_layers(model)
        assert len(layers) == BINARIZED, stage  # no real stem / transition / classifier
        assert all(isinstance(l.kernel_quantizer, MeanScaledSign) == (stage in ("bw", "bnn"))
                   and quantized.is_binary_quantizer(l.input_quantizer) == (stage in ("ba", "bnn"))
                   and l.kernel_constraint is None for l in layers)  # Fig. 7: unclipped
        assert len(quantized.fully_binary_layers(model)) == (BINARIZED if stage == "bnn" else 0)
        assert model.layers[-1].get_config()["activation"] == "linear"  # logits
        assert model.output_shape == (None, 10)
    ops = {stage: la.models.count_ops(m) for stage, m in models.items()}
    assert ops["bnn"]["binary_macs"] == lq.models.ModelProfile(models["bnn"]).op_count("mac", 1)
    assert ops["bnn"]["binary_macs"] > 0 == ops["ba"]["binary_macs"] == ops["fp"]["binary_macs"]
    assert ops["fp"]["float_macs"] == ops["bnn"]["float_macs"] + ops["bnn"]["binary_macs"]
    models["bnn"].set_weights(models["ba"].get_weights())  # step 1 -> step 2
    assert not any(isinstance(layer, tf.keras.layers.Lambda) for layer in models["bnn"].layers)


@pytest.mark.parametrize("net", ["birealnet", "quicknet",
                                 pytest.param("real_to_bin", marks=pytest.mark.slow)])
def test_own_quantizers_and_a_weights_file_compute_larq_zoos_network(net, tmp_path):
    _, _, fields, own_pad = NETS[net]
    zoo = _zoo_factory(net)(input_shape=SHAPE, num_classes=10, **fields).build()
    path = tmp_path / f"{net}_weights.h5"
    zoo.save_weights(str(path))  # the format of larq-zoo's released files
    model = _build(net, paper_quantizers=False, pad_values=own_pad, weights=str(path))
    for a, b in zip(zoo.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    x = _images()
    np.testing.assert_allclose(tf.nn.softmax(model(x, training=False)),
                               zoo(x, training=False), rtol=0, atol=1e-6)
    clipped = quantized.binarizable_layers(model)[0]
    assert not isinstance(clipped.kernel_quantizer, MeanScaledSign)
    assert isinstance(clipped.kernel_constraint, lq.constraints.WeightClip)


def test_weights_and_width_problems_are_one_line_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        _build("birealnet", weights=str(tmp_path / "missing.h5"))
    (tmp_path / "bad.h5").write_bytes(b"not hdf5")
    with pytest.raises(CorruptFileError, match="cannot be read as HDF5"):
        _build("birealnet", weights=str(tmp_path / "bad.h5"))
    _build("birealnet", width=0.125).save_weights(str(tmp_path / "narrow.h5"))
    with pytest.warns(UserWarning, match="its own quantizers .* pass paper_quantizers=False"):
        _build("birealnet", width=0.125, weights=str(tmp_path / "narrow.h5"))
    with pytest.raises(UserInputError, match="do not fit larq-zoo's birealnet"):
        _build("birealnet", width=0.25, weights=str(tmp_path / "narrow.h5"),
               paper_quantizers=False)
    with pytest.raises(UserInputError, match="num_classes=1000, input_shape=.224, 224, 3."):
        _build("quicknet", weights="imagenet")
    with pytest.raises(UserInputError, match="fixed width .* use width=1.0"):
        _build("real_to_bin", width=0.5)
    with pytest.raises(ValueError) as info:
        _build("real_to_bin", width=0.5)
    assert "\n" not in str(info.value)


def test_imagenet_weights_offline_is_a_one_line_error(monkeypatch, tmp_path):
    def offline(*args, **kwargs):
        raise socket.gaierror(-3, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", offline)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # no cached download
    with pytest.raises(UserInputError) as info:
        la.models.build_model("birealnet", input_shape=(224, 224, 3), num_classes=1000,
                              weights="imagenet", paper_quantizers=False)
    message = str(info.value)
    assert "\n" not in message and "could not download" in message
    assert "birealnet_weights.h5" in message and "weights=PATH" in message


def test_zookeeper_that_rejects_every_field_is_a_one_line_error_naming_the_fix(monkeypatch):
    from zookeeper.core import utils

    assert utils.type_check(16, int) and utils.type_check((16, 32), Sequence[int])
    monkeypatch.setattr(utils, "type_check", lambda value, expected_type: False)
    with pytest.raises(MissingDependencyError) as info:
        _build("birealnet")
    message = str(info.value)
    assert "\n" not in message and "typeguard" in message and "'typeguard<3'" in message


def test_saved_model_loads_without_larq_zoo_custom_objects(tmp_path):
    model = _build("quicknet")
    assert "blurpool" not in json.dumps(model.get_config())
    path = tmp_path / "quicknet.h5"
    model.save(str(path))
    loaded = tf.keras.models.load_model(str(path), compile=False)
    x = _images()
    np.testing.assert_array_equal(loaded(x, training=False), model(x, training=False))


def _two_step(net, tmp_path, pad_values):
    return la.training.two_step(
        tmp_path / net, order="babw", epochs=1, teacher=None, data="mnist5k", model=net,
        width=NETS[net][0], batch_size=16, max_steps_per_epoch=2, pad_values=pad_values,
        verbose=0)


def _check_analysed(result):
    assert [s.stage for s in result.steps] == ["ba", "bnn"]
    for step in result.steps:
        assert step.ff_ratio is not None and 0.0 <= step.ff_ratio <= 1.0
        assert step.c2i_ratio is not None and 0.0 <= step.c2i_ratio <= 1.0


@pytest.mark.parametrize("net", ["quicknet", *[pytest.param(n, marks=pytest.mark.slow)
                                                for n in ("birealnet", "real_to_bin")]])
def test_analysis_callbacks_measure_the_binarized_convs(net, tmp_path):
    """Sec. 3.3's measurements (Eq. 3-7, Figs. 3 and 7) on every network: a cheap fit."""
    model = _build(net)
    model.compile("adam", tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = _images(8), np.arange(8) % 10
    callbacks = la.analysis.default_callbacks(probe_images=x, record_dir=str(tmp_path))
    logs = model.fit(x, y, batch_size=4, epochs=1, callbacks=callbacks, verbose=0).history
    for key in ("ff_ratio", "c2i_ratio", "cam_min", "saturation", "latent_abs_gt1"):
        assert np.isfinite(logs[key][0]), key
    assert 0.0 <= logs["ff_ratio"][0] <= 1.0 and 0.5 <= logs["c2i_ratio"][0] <= 1.0
    binarized = {layer.name for layer in quantized.binarizable_layers(model)}
    assert {k.split("/", 1)[1] for k in logs if k.startswith("saturation/")} == binarized


def _rounding_flips_only(model, report, images, lce_logits):
    """True when every image LCE computes differently has a pre-sign activation within 1e-5
    of 0 in Keras (a float rounding flip, DESIGN.md "Verification criterion") and no top-1
    class changed."""
    ref = model(images, training=False).numpy()
    bad = np.abs(lce_logits - ref).max(-1) > report["tolerance"]
    layers = quantized.binarizable_layers(model)
    pre_sign = tf.keras.Model(model.input, [layer.input for layer in layers])(images[bad])
    nearest = np.min([np.abs(a.numpy()).reshape(len(a), -1).min(-1) for a in pre_sign], 0)
    return report["top1_agreement"] == 1.0 and bool(np.all(nearest < 1e-5))


@pytest.mark.slow
@pytest.mark.parametrize("net,pad_values", [("quicknet", 1.0), ("birealnet", 0.0),
                                            ("real_to_bin", 1.0)])
def test_two_step_then_lce_export_verifies(net, pad_values, tmp_path):
    result = _two_step(net, tmp_path, pad_values)
    _check_analysed(result)
    final = tf.keras.models.load_model(result.final_model_path, compile=False)
    assert len(quantized.fully_binary_layers(final)) == BINARIZED
    info = la.export.to_lce(final, tmp_path / f"{net}.tflite", verbose=False)
    ds, _ = la.data.load("mnist5k", split="test", batch_size=32)
    images = next(iter(ds))[0].numpy()
    if net != "real_to_bin":
        assert la.export.verify(final, info["path"], images)["criterion"] == "exact"
        return
    # Real-to-Binary binarizes BN outputs directly (no learned shift), so some pre-sign
    # values lie within float32 rounding of 0: one image in 32 flips one sign in LCE.
    report = la.export.verify(final, info["path"], images, raise_on_mismatch=False)
    if not report["passed"]:
        from larq_compute_engine.tflite.python.interpreter import Interpreter
        lce = np.asarray(Interpreter(open(info["path"], "rb").read()).predict(images))
        assert _rounding_flips_only(final, report, images, lce), report
