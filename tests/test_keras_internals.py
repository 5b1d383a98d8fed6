"""larq_adam.keras_internals: each private TensorFlow / tf-keras use still does its job, and
no other module reaches for one."""
import ast
from pathlib import Path

import larq as lq
import numpy as np
import pytest
import tensorflow as tf

import larq_adam as la
from larq_adam import keras_internals as ki

PACKAGE = Path(la.__file__).parent
PRIVATE_ATTRIBUTES = {"_index_dict", "_var_key", "_is_graph_network", "_flatten_layers",
                      "_distributed_container", "_unique_id", "_mesh", "_run_with_dtensor"}
PRIVATE_MODULES = ("tf_keras.src", "tensorflow.python", "keras.src")


def _private_uses(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PRIVATE_MODULES):
            yield f"{path.name}:{node.lineno} imports {node.module}"
        elif isinstance(node, ast.Attribute) and node.attr in PRIVATE_ATTRIBUTES:
            yield f"{path.name}:{node.lineno} reads .{node.attr}"
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
              and node.value in PRIVATE_ATTRIBUTES):
            yield f"{path.name}:{node.lineno} names {node.value!r}"


def test_no_other_module_uses_keras_private_api():
    found = [use for path in sorted(PACKAGE.rglob("*.py")) if path.name != "keras_internals.py"
             for use in _private_uses(path)]
    assert not found, f"go through larq_adam.keras_internals: {found}"


def test_variable_key_is_shared_by_a_mirrored_variable_and_its_components():
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    with strategy.scope():
        v = tf.Variable(1.0)
    assert ki.variable_key(v.values[0]) == ki.variable_key(v) == v._unique_id


def test_optimizer_slot_is_the_moment_adam_updates():
    v = tf.Variable([1.0, -2.0])
    opt = tf.keras.optimizers.Adam(0.1)
    opt.apply_gradients([(tf.constant([0.5, 1.0]), v)])
    m = ki.optimizer_slot(opt, "_momentums", v)
    np.testing.assert_allclose(m.numpy(), [0.05, 0.1], rtol=1e-6)  # (1 - beta_1) * g
    assert ki.slot_index(opt, v) == 0 and not ki.uses_dtensor(opt)


def test_is_functional_tells_functional_from_subclassed_models():
    x = tf.keras.Input((3,))
    functional = tf.keras.Model(x, tf.keras.layers.Dense(2)(x))

    class Sub(tf.keras.Model):
        def call(self, inputs):
            return inputs

    assert ki.is_functional(functional)
    assert ki.is_functional(tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(1)]))
    assert not ki.is_functional(tf.keras.Sequential([tf.keras.layers.Dense(1)]))  # no input yet
    assert not ki.is_functional(Sub())


def test_direct_sublayers_are_one_level_deep():
    class Pair(tf.keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.conv = lq.layers.QuantConv2D(2, 3)
            self.inner = tf.keras.Sequential([tf.keras.layers.Dense(1)])

    assert [type(m).__name__ for m in ki.direct_sublayers(Pair())] == ["QuantConv2D",
                                                                       "Sequential"]


def test_policy_scope_builds_layers_in_its_dtype_only_inside():
    with ki.policy_scope(tf.keras.mixed_precision.Policy("float64")):
        inside = tf.keras.layers.Dense(1)
    assert inside.dtype == "float64" and tf.keras.layers.Dense(1).dtype == "float32"


def test_smart_cond_takes_python_bools_and_tensors():
    assert ki.constant_value(False) is False and ki.constant_value(tf.constant(True))
    assert ki.smart_cond(True, lambda: 1, lambda: 2) == 1
    assert int(ki.smart_cond(tf.constant(False), lambda: tf.constant(1),
                             lambda: tf.constant(2))) == 2


def test_checkpoint_state_parses_the_file_tensorflow_writes(tmp_path):
    from google.protobuf import text_format

    ckpt = tf.train.Checkpoint(v=tf.Variable(1.0))
    tf.train.CheckpointManager(ckpt, str(tmp_path), max_to_keep=1).save()
    state = text_format.Merge((tmp_path / "checkpoint").read_text(), ki.CheckpointState())
    assert state.model_checkpoint_path.endswith("ckpt-1")
    with pytest.raises(text_format.ParseError):
        text_format.Merge("model_checkpoint_path: ", ki.CheckpointState())
