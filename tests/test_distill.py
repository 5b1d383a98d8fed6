"""Distillation: the distribution loss and a Distiller that trains the student only."""
import math

import larq as lq
import numpy as np
import pytest
import tensorflow as tf

from larq_adam.layers import MeanScaledSign
from larq_adam.training import Distiller, distribution_loss, make_optimizer


def test_distribution_loss_equals_hand_computed_value():
    # Example 1: teacher softmax([0, ln 3]) = [1/4, 3/4]; student log_softmax([0, 0]) =
    #   [-ln 2, -ln 2]  ->  ln 2 = 0.693147.
    # Example 2: teacher [1/2, 1/2]; student log_softmax([0, ln 3]) = [ln 1/4, ln 3/4]
    #   ->  (ln 4 + ln 4/3) / 2 = 0.836988.      Batch mean: 0.765068.
    teacher = [[0.0, math.log(3.0)], [0.0, 0.0]]
    student = [[0.0, 0.0], [0.0, math.log(3.0)]]
    assert float(distribution_loss(teacher, student)) == pytest.approx(0.765068, abs=1e-6)


def test_distribution_loss_gradient_is_softmax_difference_and_none_to_teacher():
    teacher = tf.constant([[1.0, -2.0, 0.5]])
    student = tf.constant([[0.2, 0.1, -1.0]])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([teacher, student])
        loss = distribution_loss(teacher, student)
    expected = tf.nn.softmax(student) - tf.nn.softmax(teacher)
    np.testing.assert_allclose(tape.gradient(loss, student), expected, atol=1e-6)
    assert tape.gradient(loss, teacher) is None


def test_distribution_loss_rejects_mismatched_classes():
    with pytest.raises(ValueError, match="same number of classes"):
        distribution_loss(tf.zeros((2, 3)), tf.zeros((2, 4)))


def _student():
    inp = tf.keras.Input((8, 8, 1))
    x = lq.layers.QuantConv2D(8, 3, padding="same", use_bias=False, name="bconv",
                              kernel_quantizer=MeanScaledSign(), input_quantizer="ste_sign")(inp)
    x = tf.keras.layers.BatchNormalization(name="bn")(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    return tf.keras.Model(inp, tf.keras.layers.Dense(3, name="fc")(x), name="student")


def _teacher():
    inp = tf.keras.Input((8, 8, 1))
    x = tf.keras.layers.Conv2D(4, 3, padding="same", name="t_conv")(inp)
    x = tf.keras.layers.BatchNormalization(name="t_bn")(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    return tf.keras.Model(inp, tf.keras.layers.Dense(3, name="t_fc")(x), name="teacher")


def _data(n=48):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 8, 8, 1)).astype("float32"), rng.integers(0, 3, n)


def test_distiller_trains_student_only_and_reports_promised_metrics(tmp_path):
    x, y = _data()
    student, teacher = _student(), _teacher()
    teacher_before = [w.numpy() for w in teacher.weights]  # incl. BN moving statistics
    student_before = [w.numpy() for w in student.trainable_weights]
    distiller = Distiller(student, teacher)
    opt = make_optimizer("adam", 1e-2, weight_decay=1e-4, model=student)
    distiller.compile(optimizer=opt, metrics=["accuracy"], steps_per_execution=2)
    history = distiller.fit(x, y, batch_size=8, epochs=2, verbose=0,
                            validation_data=(x, y))
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(history.history["loss"]) == 2
    for before, after in zip(teacher_before, teacher.weights):
        np.testing.assert_array_equal(before, after.numpy())
    assert all(np.abs(b - a.numpy()).max() > 0
               for b, a in zip(student_before, student.trainable_weights))

    # evaluate's loss is the distribution loss; predict gives the student's logits.
    logits = student(x, training=False)
    expected = float(distribution_loss(teacher(x, training=False), logits))
    results = distiller.evaluate(x, y, batch_size=48, verbose=0, return_dict=True)
    assert results["loss"] == pytest.approx(expected, rel=1e-5)
    accuracy = np.mean(np.argmax(logits, -1) == y)
    assert results["accuracy"] == pytest.approx(accuracy)
    np.testing.assert_allclose(distiller.predict(x, verbose=0), logits, atol=1e-5)

    path = str(tmp_path / "student.keras")
    distiller.save_student(path)
    reloaded = tf.keras.models.load_model(path)
    assert reloaded.name == "student" and len(reloaded.weights) == len(student.weights)
    np.testing.assert_allclose(reloaded(x, training=False), logits, atol=1e-5)


def test_distiller_extra_compiled_metrics_and_config_round_trip():
    x, y = _data(16)
    distiller = Distiller(_student(), _teacher())
    distiller.compile("adam", metrics=[tf.keras.metrics.SparseTopKCategoricalAccuracy(2, name="top2")])
    history = distiller.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert set(history.history) == {"loss", "accuracy", "top2"}
    clone = Distiller.from_config(distiller.get_config())
    assert [v.shape for v in clone.student.weights] == [v.shape for v in distiller.student.weights]
    assert not clone.teacher.trainable


def test_distiller_rejects_a_loss_and_non_models():
    with pytest.raises(ValueError, match="distribution loss"):
        Distiller(_student(), _teacher()).compile("adam", loss="mse")
    with pytest.raises(TypeError, match="tf.keras.Model"):
        Distiller(_student(), lambda x: x)
