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
