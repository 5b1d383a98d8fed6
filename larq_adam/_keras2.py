"""The one place that selects Keras 2 for TensorFlow.

Larq 0.14 is built on Keras 2 (the ``tf-keras`` package). TensorFlow >= 2.16 hands out
Keras 3 as ``tf.keras`` unless ``TF_USE_LEGACY_KERAS=1`` is set before ``tf.keras`` is
first resolved. Importing :mod:`larq_adam` sets it, so users need not. If TensorFlow was
imported earlier and already resolved ``tf.keras`` to Keras 3, nothing can be switched
any more in this process, and we raise a KerasVersionError (an ImportError) that says how to fix it.

When TensorFlow is not imported yet, setting the variable is all it takes, and nothing is
imported here: the ``larq-adam`` command answers ``--help`` without loading TensorFlow.
"""
import os
import sys

FIX = (
    "Fix: import larq_adam before tensorflow (or anything that imports it), or run with "
    "the environment variable TF_USE_LEGACY_KERAS=1 set, e.g. "
    "`TF_USE_LEGACY_KERAS=1 python your_script.py`."
)


def ensure_keras2() -> None:
    """Make ``tf.keras`` Keras 2, or raise ImportError if Keras 3 is already in use."""
    previous = os.environ.get("TF_USE_LEGACY_KERAS")
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    if "tensorflow" not in sys.modules:
        return  # tf.keras will resolve to Keras 2 when TensorFlow is imported
    import tensorflow as tf

    # Resolving tf.keras fixes the choice for this process. Judge by where its layers come
    # from: TensorFlow renames the module object itself once `tensorflow.keras` is imported.
    module = tf.keras.layers.Layer.__module__
    if not module.startswith("tf_keras"):
        version = tf.keras.version() if hasattr(tf.keras, "version") else "3"
        from larq_adam.errors import KerasVersionError

        raise KerasVersionError(
            f"larq_adam needs Keras 2 (tf-keras), but tf.keras is already Keras {version} "
            f"({module}): TensorFlow resolved tf.keras before larq_adam was imported "
            f"(TF_USE_LEGACY_KERAS was {previous!r} then). " + FIX
        )


def started_as_command() -> bool:
    """True while the ``larq-adam`` console script or ``python -m larq_adam`` starts up:
    then the package loads TensorFlow only when a command runs."""
    argv0 = sys.argv[0] if sys.argv else ""
    return argv0 == "-m" or os.path.basename(argv0) in ("larq-adam", "larq-adam.exe")


ensure_keras2()
