"""Keras model files are read as data: a ``Lambda`` layer (marshalled code that plain
``load_model`` runs from an ``.h5`` file) or a class from an unknown module is refused in one
line and runs nothing; ``trust=True`` opens it; the project's own models load."""
import json
import zipfile

import pytest
import tensorflow as tf

import larq_adam as la
from larq_adam import errors, keras_files


def _lambda_model(marker):
    """A model whose Lambda creates ``marker`` whenever Keras rebuilds and calls it."""
    path = str(marker)
    inputs = tf.keras.Input((4,))
    x = tf.keras.layers.Lambda(lambda t: (open(path, "w").close(), t)[1])(inputs)
    return tf.keras.Model(inputs, tf.keras.layers.Dense(2)(x))


def test_an_h5_with_a_lambda_layer_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "created_by_the_lambda"
    _lambda_model(marker).save(tmp_path / "model.h5")
    marker.unlink()
    with pytest.raises(errors.UntrustedFileError) as info:
        la.export.load_model(tmp_path / "model.h5", opt_in="--trust-model")
    message = str(info.value)
    assert "\n" not in message and "Lambda layer ('lambda')" in message
    assert "--trust-model" in message and not marker.exists()
    # the opt-in loads it (and so runs the Lambda: that is what trusting means)
    assert la.export.load_model(tmp_path / "model.h5", trust=True).output_shape == (None, 2)
    assert marker.exists()


def test_a_keras_file_naming_a_foreign_module_is_refused(tmp_path):
    model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(2)])
    model.save(tmp_path / "model.keras")
    with zipfile.ZipFile(tmp_path / "model.keras") as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(files["config.json"])
    config["config"]["layers"][-1].update(module="os", class_name="system")
    files["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(tmp_path / "evil.keras", "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    assert keras_files.untrusted_parts(tmp_path / "model.keras") == []
    with pytest.raises(errors.UntrustedFileError, match=r"class 'system' from module 'os'"):
        keras_files.load_model(tmp_path / "evil.keras")


def test_a_deeply_nested_configuration_is_one_line(tmp_path):
    import h5py

    path = tmp_path / "deep.h5"
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = "[" * 100_000 + "]" * 100_000
    with pytest.raises(errors.UntrustedFileError, match="not valid JSON"):
        keras_files.untrusted_parts(path)


def test_the_projects_models_load_as_data(tmp_path):
    net = la.models.build_model("reactnet_a", stage="bnn", input_shape=(32, 32, 3),
                                num_classes=10, width=0.125)
    net.save(tmp_path / "final_model.h5")
    assert keras_files.untrusted_parts(tmp_path / "final_model.h5") == []
    assert la.export.load_model(tmp_path / "final_model.h5").count_params() == net.count_params()


def test_export_and_report_commands_refuse_a_lambda_model_in_one_line(tmp_path, capsys):
    from larq_adam.cli import main as cli

    marker = tmp_path / "created_by_the_lambda"
    _lambda_model(marker).save(tmp_path / "final_model.h5")
    marker.unlink()
    assert cli.main(["export", str(tmp_path / "final_model.h5")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Lambda layer" in err and "--trust-model" in err
    assert not marker.exists() and not (tmp_path / "model.tflite").exists()
    assert cli.main(["report", str(tmp_path)]) == 0  # the report notes it, reads nothing
    report = (tmp_path / "report.md").read_text()
    assert "Lambda layer" in report and "--trust-model" in report and not marker.exists()
