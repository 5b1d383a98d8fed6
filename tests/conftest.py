"""Shared test set-up: quiet TensorFlow, Keras 2 selected, deterministic seeds."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import larq_adam  # noqa: E402,F401  (selects Keras 2 before anything imports TensorFlow)
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_keras_session():
    """Each test starts from a clean Keras graph and fixed seeds."""
    tf.keras.backend.clear_session()
    tf.keras.utils.set_random_seed(0)
    yield


@pytest.fixture
def load_bench():
    """``load_bench("phases")``: the module ``bench/phases.py``, imported from its file
    (``bench/`` is scripts, not a package)."""
    import importlib.util
    from pathlib import Path

    def load(name):
        path = Path(__file__).resolve().parents[1] / "bench" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(f"{name}_bench", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load
