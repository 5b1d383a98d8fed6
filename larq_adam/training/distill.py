"""Knowledge distillation as the paper trains its BNNs (ReActNet's distribution loss).

The student learns only from the teacher's soft outputs (DESIGN.md "Distillation"):
``L = mean_batch( -sum_c softmax(z_teacher)_c * log_softmax(z_student)_c )``, with no
hard-label term; the teacher is frozen and runs in inference mode (BN uses its moving
statistics). :class:`Distiller` wraps a student and a teacher into a ``tf.keras.Model``
whose ``compile``/``fit``/``evaluate`` work as usual.

>>> distiller = Distiller(student, teacher)
>>> distiller.compile(optimizer=make_optimizer("adam", 1.25e-3, 5e-6, model=student))
>>> distiller.fit(train_ds, epochs=2, validation_data=val_ds)  # logs loss, accuracy
>>> distiller.save_student("student.keras")
"""

import tensorflow as tf

from larq_adam.errors import UnsupportedError, UserInputError, WrongTypeError

__all__ = ["distribution_loss", "per_example_distribution_loss", "Distiller"]


def per_example_distribution_loss(teacher_logits, student_logits) -> tf.Tensor:
    """``-sum_c softmax(teacher)_c * log_softmax(student)_c`` for each example (shape (N,)).

    The teacher's probabilities carry no gradient (the teacher is a fixed target). Computed
    in float64 for float64 student logits, else in float32 (bfloat16 logits included).
    """
    teacher_logits = tf.convert_to_tensor(teacher_logits)
    student_logits = tf.convert_to_tensor(student_logits)
    if teacher_logits.shape.rank is not None and student_logits.shape.rank is not None:
        if not teacher_logits.shape.is_compatible_with(student_logits.shape):
            raise UserInputError(
                f"teacher and student logits must have the same shape (batch, classes), got "
                f"{teacher_logits.shape} and {student_logits.shape}: give both models the "
                "same number of classes"
            )
    dtype = student_logits.dtype if student_logits.dtype.is_floating else tf.float32
    compute = tf.float64 if dtype == tf.float64 else tf.float32  # bfloat16: in float32
    target = tf.stop_gradient(tf.nn.softmax(tf.cast(teacher_logits, compute), axis=-1))
    log_probs = tf.nn.log_softmax(tf.cast(student_logits, compute), axis=-1)
    return tf.cast(-tf.reduce_sum(target * log_probs, axis=-1), dtype)


def distribution_loss(teacher_logits, student_logits) -> tf.Tensor:
    """ReActNet's distribution loss (the paper's distillation loss), a scalar.

    The batch mean of :func:`per_example_distribution_loss`; no hard-label term.

    >>> float(distribution_loss([[0.0, 0.0]], [[0.0, 0.0]]))  # doctest: +ELLIPSIS
    0.693...
    """
    return tf.reduce_mean(per_example_distribution_loss(teacher_logits, student_logits))


class Distiller(tf.keras.Model):
    """A Keras model whose ``fit`` trains ``student`` on ``teacher``'s soft outputs.

    * The teacher is frozen (``teacher.trainable = False`` is set on the object passed)
      and always called with ``training=False``; only the student's variables train.
    * Loss: :func:`distribution_loss` plus the student's own ``losses`` (regularisers).
      Under a ``tf.distribute`` strategy it is averaged over the *global* batch
      (``tf.nn.compute_average_loss``), so gradients sum correctly across replicas.
    * Metrics: ``loss`` and ``accuracy`` (sparse categorical accuracy of the student's
      logits against the integer labels), in train and test steps, plus any metrics passed
      to ``compile`` (computed on the labels and the student's logits; a plain
      ``"accuracy"`` there is dropped, since it is always reported).
    * ``call(x)`` / ``predict`` return the student's logits; ``save_student(path)`` saves
      the student alone (also reachable as ``.student``).
    * ``get_config`` returns the two models' configs (``from_config`` rebuilds both);
      for subclassed students/teachers without a config it raises ``NotImplementedError``,
      so save the student with :meth:`save_student` and the weights with
      ``save_weights`` / ``tf.train.Checkpoint``.

    Args:
        student: the model to train (returns logits).
        teacher: a trained real-valued model with the same number of classes (logits).
    """

    def __init__(self, student: tf.keras.Model, teacher: tf.keras.Model, **kwargs):
        super().__init__(**kwargs)
        for role, model in (("student", student), ("teacher", teacher)):
            if not isinstance(model, tf.keras.Model):
                raise WrongTypeError(f"{role} must be a tf.keras.Model, got {type(model).__name__}")
        if student is teacher:
            raise UserInputError("student and teacher must be different models")
        teacher.trainable = False
        self.student = student
        self.teacher = teacher
        # a float64 student reports its loss in float64 (Keras' metrics default to float32)
        metric_dtype = "float64" if student.dtype == "float64" else None
        self.loss_tracker = tf.keras.metrics.Mean(name="loss", dtype=metric_dtype)
        self.accuracy_tracker = tf.keras.metrics.SparseCategoricalAccuracy(name="accuracy")

    def compile(self, optimizer="rmsprop", metrics=None, **kwargs):
        """``Model.compile`` without a loss (the distribution loss is built in)."""
        if kwargs.get("loss") is not None:
            raise UserInputError(
                "Distiller's loss is the distribution loss; do not pass loss= to compile"
            )
        kwargs.pop("loss", None)
        if metrics is not None:
            metrics = [m for m in metrics if not (isinstance(m, str) and m in ("accuracy", "acc"))]
        super().compile(optimizer=optimizer, metrics=metrics or None, **kwargs)

    @property
    def metrics(self):
        compiled = self.compiled_metrics.metrics if getattr(self, "compiled_metrics", None) else []
        return [self.loss_tracker, self.accuracy_tracker, *compiled]

    def call(self, inputs, training=None):
        return self.student(inputs, training=training)

    def _step_loss(self, teacher_logits, student_logits, sample_weight):
        per_example = per_example_distribution_loss(teacher_logits, student_logits)
        loss = tf.nn.compute_average_loss(per_example, sample_weight=sample_weight)
        regularization = self.student.losses
        if regularization:
            loss += tf.nn.scale_regularization_loss(tf.add_n(regularization))
        return per_example, loss

    def _update_metrics(self, per_example, y, student_logits, sample_weight):
        regularization = (
            tf.add_n(self.student.losses) if self.student.losses else tf.constant(0.0)
        )
        self.loss_tracker.update_state(
            per_example + tf.cast(regularization, per_example.dtype), sample_weight=sample_weight
        )
        if y is not None:
            self.accuracy_tracker.update_state(y, student_logits, sample_weight=sample_weight)
            self.compiled_metrics.update_state(y, student_logits, sample_weight)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        x, y, sample_weight = tf.keras.utils.unpack_x_y_sample_weight(data)
        teacher_logits = self.teacher(x, training=False)
        with tf.GradientTape() as tape:
            student_logits = self.student(x, training=True)
            per_example, loss = self._step_loss(teacher_logits, student_logits, sample_weight)
        self.optimizer.minimize(loss, self.student.trainable_variables, tape=tape)
        return self._update_metrics(per_example, y, student_logits, sample_weight)

    def test_step(self, data):
        x, y, sample_weight = tf.keras.utils.unpack_x_y_sample_weight(data)
        teacher_logits = self.teacher(x, training=False)
        student_logits = self.student(x, training=False)
        per_example, _ = self._step_loss(teacher_logits, student_logits, sample_weight)
        return self._update_metrics(per_example, y, student_logits, sample_weight)

    def save_student(self, path: str, **kwargs) -> None:
        """Save the student alone (``student.save(path)``; ``.keras``/``.h5``/SavedModel)."""
        self.student.save(path, **kwargs)

    def get_config(self):
        try:
            return {
                "student": tf.keras.layers.serialize(self.student),
                "teacher": tf.keras.layers.serialize(self.teacher),
                "name": self.name,
            }
        except NotImplementedError as error:
            raise UnsupportedError(
                "Distiller.get_config needs both models to have configs (functional or "
                "Sequential models); save the student with save_student() and weights with "
                f"save_weights() instead ({error})"
            ) from error

    @classmethod
    def from_config(cls, config, custom_objects=None):
        student = tf.keras.layers.deserialize(config["student"], custom_objects=custom_objects)
        teacher = tf.keras.layers.deserialize(config["teacher"], custom_objects=custom_objects)
        return cls(student, teacher, name=config.get("name"))
