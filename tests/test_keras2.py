"""Importing larq_adam selects Keras 2 on its own, and fails clearly when it is too late.

Each case runs in a fresh interpreter (``sys.executable``) whose environment lacks
``TF_USE_LEGACY_KERAS``, because this test process has long since chosen its Keras.
"""
import os
import subprocess
import sys
import textwrap

import pytest


def _run(code: str, tmp_path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                          cwd=str(tmp_path), capture_output=True, text=True, timeout=300)


def test_import_larq_adam_gives_keras2_without_any_environment(tmp_path):
    result = _run("""
        import os
        assert "TF_USE_LEGACY_KERAS" not in os.environ
        import larq_adam
        import numpy as np
        import tensorflow as tf
        import larq as lq
        # tf.keras.__name__ reads "tensorflow.keras" once larq ran `from tensorflow.keras
        # import ...`; where the module and its classes come from is what tells Keras 2.
        assert tf.keras.layers.Layer.__module__.startswith("tf_keras."), tf.keras.__name__
        assert "tf_keras" in tf.keras.__file__, tf.keras.__file__
        layer = lq.layers.QuantConv2D(2, 3, input_quantizer="ste_sign",
                                      kernel_quantizer="ste_sign", use_bias=False)
        model = tf.keras.Sequential([tf.keras.Input((5, 5, 1)), layer])
        assert isinstance(layer, tf.keras.layers.Layer)
        x = np.random.RandomState(0).randn(2, 5, 5, 1).astype("float32")
        y = model(x).numpy()
        # +-1 inputs times +-1 weights over 9 taps: odd integers in [-9, 9]
        assert y.shape == (2, 3, 3, 2), y.shape
        assert np.all(np.abs(y) <= 9) and np.all(np.mod(y, 2) == 1), y
        print("KERAS", tf.keras.layers.Layer.__module__)
    """, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "KERAS tf_keras" in result.stdout


def test_import_after_tensorflow_resolved_keras3_raises_import_error_with_the_fix(tmp_path):
    result = _run("""
        import sys
        import tensorflow as tf
        tf.keras.layers  # resolves tf.keras: Keras 3 without TF_USE_LEGACY_KERAS
        print("RESOLVED", tf.keras.__name__)
        try:
            import larq_adam
        except ImportError as err:
            print("IMPORTERROR", err)
            sys.exit(0)
        sys.exit(3)
    """, tmp_path)
    assert result.returncode == 0, (result.returncode, result.stderr[-3000:])
    resolved = result.stdout.split("RESOLVED ")[1].split()[0]
    assert resolved.startswith("keras") and not resolved.startswith("tf_keras")
    message = result.stdout.split("IMPORTERROR ")[1]
    assert "Keras 2" in message and "Keras 3" in message
    assert "import larq_adam before tensorflow" in message
    assert "TF_USE_LEGACY_KERAS=1" in message


def test_import_after_larq_with_legacy_keras_set_is_accepted(tmp_path):
    result = _run("""
        import os
        os.environ["TF_USE_LEGACY_KERAS"] = "1"
        import tensorflow as tf
        import larq  # runs `from tensorflow.keras... import`, which renames tf.keras
        assert tf.keras.layers.Layer.__module__.startswith("tf_keras."), "not Keras 2"
        print("KERAS2", tf.keras.__name__, flush=True)
        import larq_adam
        print("IMPORTED")
    """, tmp_path)
    assert "KERAS2 tensorflow.keras" in result.stdout, result.stderr[-3000:]
    assert result.returncode == 0 and "IMPORTED" in result.stdout, result.stderr[-3000:]
