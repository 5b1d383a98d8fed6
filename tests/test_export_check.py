"""``la.export.check``: one call converts, proves and describes a BNN (export.json,
model.json), optionally with the normalisation inside the graph (uint8 pixels in)."""
import json
import logging
import os

import numpy as np
import pytest
import tensorflow as tf

import larq_adam as la
from larq_adam import export as ex
from larq_adam.data import MNIST5K_MEAN, MNIST5K_STD
from larq_adam.errors import UserInputError
from test_export import tiny_reactnet
from test_export_device_log import LOG

NORM = (MNIST5K_MEAN, MNIST5K_STD)
CLASSES = [f"digit {i}" for i in range(10)]


def _pixels_and_images(n=12, hw=8, seed=3):
    """uint8 pixels and the normalised float images the training pipeline makes of them."""
    pixels = np.random.default_rng(seed).integers(0, 256, (n, hw, hw, 3)).astype(np.uint8)
    images = (tf.cast(pixels, tf.float32) * (1 / 255) - MNIST5K_MEAN) / MNIST5K_STD
    return pixels, images.numpy()


class _LarqRecords(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture(scope="module")
def checked(tmp_path_factory):
    """The tiny BNN through check() once, with labels, names, normalisation, device log."""
    out = tmp_path_factory.mktemp("check")
    (out / "device.log").write_text(LOG)
    model = tiny_reactnet()
    _, images = _pixels_and_images()
    labels = np.arange(len(images)) % 10
    result = ex.check(model, images, out, labels=labels, class_names=CLASSES,
                      normalization=NORM, benchmark_runs=2, source="final_model.h5",
                      images_from="test pixels", device_log=out / "device.log")
    return model, images, labels, out, result


def test_check_writes_the_four_files_and_passes(checked):
    model, images, _, out, result = checked
    for name in ("model.tflite", "model_float.tflite", "model.json", "export.json"):
        assert (out / name).is_file(), name
    assert result.passed and result.verify["criterion"] == "exact"
    assert result.ops["binary_convs"] == result.ops["keras_binary_layers"] == 8
    assert result.bench_lce["runs"] == result.bench_float["runs"] == 2
    assert result.device_log["runs"] == 341 and result.warnings == []
    assert result.source == "final_model.h5" and result.images == "test pixels"
    assert "export PASSED" in result.summary() and "8 LceBconv2d" in result.summary()


def test_export_json_round_trips_and_records_the_verdict(checked):
    *_, out, result = checked
    record = json.loads((out / "export.json").read_text())
    assert record["passed"] is True and record["contract"] == str(out / "model.json")
    assert ex.ExportResult.load(out) == result == ex.ExportResult.from_json(result.to_json())
    failed = ex.ExportResult.from_json({**record, "ops": {**record["ops"],
                                                          "not_binary": ["x (QuantDense)"]}})
    assert not failed.passed  # a binary layer left float fails the export


def test_model_json_is_the_deployment_contract(checked):
    model, images, labels, out, result = checked
    contract = json.loads((out / "model.json").read_text())
    assert contract["model"] == "model.tflite"
    assert contract["input"]["shape"] == [1, 8, 8, 3] and contract["input"]["dtype"] == "float32"
    assert contract["output"]["shape"] == [1, 10]
    pre = contract["preprocessing"]
    assert pre["mean"] == list(MNIST5K_MEAN) and pre["std"] == list(MNIST5K_STD)
    assert pre["in_graph"] is False
    assert contract["classes"] == {"count": 10, "names_known": True, "names": CLASSES}
    keras_top1 = float(np.mean(model(images).numpy().argmax(-1) == labels))
    assert contract["accuracy"]["keras_top1"] == pytest.approx(keras_top1)
    assert contract["accuracy"]["lce_top1"] == pytest.approx(keras_top1)  # exact conversion
    assert contract["accuracy"]["images"] == len(labels)
    assert set(contract["versions"]) >= {"larq_compute_engine", "tensorflow", "larq_adam"}
    assert contract["versions"]["larq_compute_engine"].startswith("0.")
    assert contract["ops"]["binary_convs"] == 8 and 0 < contract["ops"]["binary_mac_share"] < 1
    assert contract["classifier"] == "float32"
    assert contract["files"] == {name: os.path.getsize(out / name)
                                 for name in ("model.tflite", "model_float.tflite")}


def test_uint8_input_puts_the_normalisation_into_the_graph(tmp_path):
    """Zero padding (a nested lce_ready rewrite) and a float16 classifier behind the
    preprocessing: the file takes the pixels and computes what Keras computes on the
    normalised images."""
    model = tiny_reactnet(pad_values=0.0)
    pixels, images = _pixels_and_images()
    np.testing.assert_array_equal(ex.to_pixels(images, NORM), pixels)
    records = _LarqRecords()
    logging.getLogger("larq.layers_base").addHandler(records)
    try:
        result = ex.check(model, images, tmp_path, normalization=NORM, uint8_input=True,
                          classifier="float16", benchmark_runs=1, float_twin=False)
    finally:
        logging.getLogger("larq.layers_base").removeHandler(records)
    assert len(records.messages) <= 1  # the rebuilds for LCE do not repeat Larq's warning
    assert result.passed and result.verify["criterion"] == "exact"
    assert result.float is None and result.bench_float is None
    contract = json.loads((tmp_path / "model.json").read_text())
    assert contract["input"]["dtype"] == "uint8" and contract["preprocessing"]["in_graph"]
    assert contract["classifier"] == "float16" and contract["accuracy"] is None
    assert contract["classes"]["names_known"] is False
    from larq_compute_engine.tflite.python.interpreter import Interpreter
    got = Interpreter((tmp_path / "model.tflite").read_bytes()).predict(pixels)
    want = la.export.compact.as_stored(model, "float16")(images).numpy()
    assert np.abs(got - want).max() <= ex.DEFAULT_ATOL + ex.DEFAULT_RTOL * np.abs(want).max()
    with pytest.raises(UserInputError, match="takes uint8 pixels"):
        ex.verify(ex.with_preprocessing(model, NORM), tmp_path / "model.tflite", images)


def test_a_model_without_binary_layers_exports_with_the_warning(tmp_path):
    real = ex.float_twin(tiny_reactnet())
    _, images = _pixels_and_images(n=4)
    with pytest.warns(ex.NoBinaryLayerWarning):
        result = ex.check(real, images, tmp_path, benchmark_runs=0, float_twin=False)
    assert result.ops["binary_convs"] == 0 and result.bench_lce is None
    assert len(result.warnings) == 1 and "no fully binary layer" in result.warnings[0]
    assert "no fully binary layer" in json.loads((tmp_path / "export.json").read_text())[
        "warnings"][0]


@pytest.mark.parametrize("kwargs,match", [
    ({"labels": [1, 2]}, "2 labels for 4 images"),
    ({"uint8_input": True}, "needs normalization"),
    ({"normalization": ((0.1, 0.2), (1.0, 1.0))}, "normalization must be"),
    ({"normalization": (0.1, 0.0)}, "positive stds"),
    ({"classifier": "int4"}, "classifier storage must be one of"),
    ({"benchmark_runs": -1}, "benchmark_runs must be"),
    ({"device_log": "nowhere.log"}, "no device log at"),
])
def test_bad_arguments_fail_in_one_line_before_anything_is_converted(tmp_path, kwargs,
                                                                     match):
    _, images = _pixels_and_images(n=4)
    with pytest.raises(UserInputError, match=match) as err:
        ex.check(tiny_reactnet(), images, tmp_path / "out", **kwargs)
    assert "\n" not in str(err.value) and not (tmp_path / "out").exists()


def test_larq_starved_weights_warning_is_shown_once_when_loading(tmp_path):
    path = tmp_path / "m.h5"
    tiny_reactnet().save(path)
    records = _LarqRecords()
    logger = logging.getLogger("larq.layers_base")
    logger.addHandler(records)
    try:
        tf.keras.models.load_model(path, compile=False)
        plain = len(records.messages)
        records.messages.clear()
        model = ex.load_model(path)
        with ex.larq_warnings_once():  # rebuilding the binary layers again
            tf.keras.models.clone_model(model)
    finally:
        logger.removeHandler(records)
    assert plain == 8  # one per binary conv without the filter
    assert len(records.messages) == 2 and all("starved" in m for m in records.messages)
    assert not logger.filters  # the filter is gone after the block


def test_unreadable_model_files_are_named_in_one_line(tmp_path):
    bad = tmp_path / "final_model.h5"
    bad.write_text("not a model")
    with pytest.raises(la.errors.CorruptFileError, match="final_model.h5 is not a readable"):
        ex.load_model(bad)
    with pytest.raises(UserInputError, match="no model at"):
        ex.load_model(tmp_path / "missing.h5")
