"""larq_adam.registry: every Keras object of the package saves as ``larq_adam>Name``, and
files that name the older bare names still load."""
import h5py
import larq as lq
import numpy as np
import tensorflow as tf

import larq_adam as la
from larq_adam import layers, registry

LEGACY = ("MeanScaledSign", "LearnableBias", "RPReLU", "RSign", "ChannelScale", "BatchNorm",
          "GemmQuantConv2D", "CorrectedAdd", "Preprocess")


def _package_classes():
    # import every module that registers something
    la.training.make_optimizer, la.analysis.default_callbacks, la.export.CorrectedAdd
    la.export.contract.Preprocess
    return {cls for cls in tf.keras.utils.get_custom_objects().values()
            if isinstance(cls, type) and cls.__module__.startswith("larq_adam")}


def test_every_package_class_is_registered_under_the_package_name():
    classes = _package_classes()
    assert {c.__name__ for c in classes} >= set(LEGACY)
    names = {c.__name__: tf.keras.utils.get_registered_name(c) for c in classes}
    assert all(name == f"{registry.PACKAGE}>{short}" for short, name in names.items()), names


def test_the_older_bare_names_still_name_the_same_classes():
    objects = tf.keras.utils.get_custom_objects()
    for name in LEGACY:
        assert objects[name] is objects[f"larq_adam>{name}"]
    assert objects["mean_scaled_sign"] is layers.MeanScaledSign  # larq's string alias


def _model():
    x = tf.keras.Input((6, 6, 3))
    y = layers.RSign()(x)
    y = lq.layers.QuantConv2D(4, 3, kernel_quantizer=layers.MeanScaledSign(),
                              kernel_constraint=None, use_bias=False)(y)
    return tf.keras.Model(x, layers.RPReLU()(y))


def test_a_file_saved_with_bare_names_loads_as_one_saved_now(tmp_path):
    model = _model()
    path = tmp_path / "now.h5"
    model.save(path)
    with h5py.File(path, "r+") as f:
        config = f.attrs["model_config"]
        config = config.decode() if isinstance(config, bytes) else config
        assert '"larq_adam>RSign"' in config and '"larq_adam>MeanScaledSign"' in config
        f.attrs["model_config"] = config.replace("larq_adam>", "")  # as saved before
    old = la.export.load_model(path)
    x = np.random.default_rng(0).normal(size=(2, 6, 6, 3)).astype("float32")
    np.testing.assert_array_equal(old(x).numpy(), model(x).numpy())
    assert isinstance(old.layers[1], layers.RSign)
    assert isinstance(old.layers[2].kernel_quantizer, layers.MeanScaledSign)
