"""Strategies by name; a two-replica MirroredStrategy fit in a subprocess."""
import json
import os
import subprocess
import sys
import textwrap

import pytest
import tensorflow as tf

from larq_adam.training import configure_cpu_devices, strategy


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="valid names are.*multiworker"):
        strategy("horovod")


def test_default_is_the_current_default_strategy():
    assert strategy() is tf.distribute.get_strategy()


def test_multiworker_without_or_with_bad_tf_config_says_how_to_set_it(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(RuntimeError, match="TF_CONFIG.*not set.*cluster"):
        strategy("multiworker")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        strategy("multiworker")
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1"]},
                                                "task": {"type": "worker", "index": 3}}))
    with pytest.raises(ValueError, match="does not name a member"):
        strategy("multiworker")


def test_tpu_without_a_tpu_raises_a_clear_error():
    with pytest.raises(RuntimeError, match="no TPU is reachable"):
        strategy("tpu")


def test_configure_cpu_devices_after_initialisation_raises():
    n = len(tf.config.list_logical_devices("CPU"))  # devices are initialised now
    configure_cpu_devices(n)  # the count in effect: a no-op
    with pytest.raises(RuntimeError, match="too late"):
        configure_cpu_devices(n + 1)
    with pytest.raises(ValueError, match="positive integer"):
        configure_cpu_devices(0)


_SCRIPT = textwrap.dedent(
    """
    import larq_adam
    from larq_adam.training import Distiller, configure_cpu_devices, make_optimizer, strategy
    configure_cpu_devices(2)  # before TensorFlow initialises its devices
    import larq as lq
    import numpy as np
    import tensorflow as tf
    from larq_adam.layers import LearnableBias, MeanScaledSign

    mirrored = strategy("mirrored")
    assert mirrored.num_replicas_in_sync == 2, mirrored.num_replicas_in_sync
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6, 6, 1)).astype("float32")
    y = rng.integers(0, 3, 64)
    loss = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def net(bn):
        inp = tf.keras.Input((6, 6, 1))
        h = LearnableBias(name="shift")(inp)
        h = lq.layers.QuantConv2D(4, 3, name="bconv", kernel_quantizer=MeanScaledSign(),
                                  input_quantizer="ste_sign")(h)
        if bn:
            h = tf.keras.layers.BatchNormalization()(h)
        h = tf.keras.layers.Flatten()(h)
        return tf.keras.Model(inp, tf.keras.layers.Dense(3, name="fc")(h))

    # 1. Coupled decay is added once per step, not once per replica: with a large decay
    #    (and no BN, whose batch statistics are per replica) two replicas must give the
    #    same weights as one device on the same global batches.
    init = net(False).get_weights()
    results = []
    for s in (strategy("default"), mirrored):
        with s.scope():
            model = net(False)
            model.set_weights(init)
            model.compile(make_optimizer("sgd", 0.05, weight_decay=0.5, model=model), loss)
        model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        results.append(model.get_weights())
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)

    # 2. Bop through the CaseOptimizer, and a Distiller, train under the strategy.
    with mirrored.scope():
        model = net(True)
        bop = make_optimizer("bop", weight_decay=1e-4, model=model)
        model.compile(bop, loss)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert bop.iterations.numpy() == 4, bop.iterations.numpy()

    with mirrored.scope():
        teacher, student = net(True), net(True)
        teacher_before = [w.numpy() for w in teacher.weights]
        distiller = Distiller(student, teacher)
        distiller.compile(make_optimizer("adam", 1e-2, weight_decay=1e-4, model=student),
                          steps_per_execution=2)
    history = distiller.fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert set(history.history) == {"loss", "accuracy"}, history.history
    assert np.all(np.isfinite(history.history["loss"]))
    for a, b in zip(teacher_before, teacher.weights):
        np.testing.assert_array_equal(a, b.numpy())
    # The reported loss is the global-batch mean, the same as evaluated on one device.
    logged = distiller.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)["loss"]
    from larq_adam.training import distribution_loss
    direct = float(distribution_loss(teacher(x, training=False), student(x, training=False)))
    assert abs(logged - direct) < 1e-4 * max(1.0, direct), (logged, direct)
    print("MIRRORED-OK")
    """
)


def test_mirrored_fit_with_decay_bop_and_distiller_on_two_logical_cpus():
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0 and "MIRRORED-OK" in done.stdout, done.stderr[-4000:]
