"""A float64 model trains in float64 throughout: two epochs x three iterations of distilled
step-1 (BA) training of ReActNet-A through the project's ``fit`` (``Distiller``, Adam with the
coupled decay, the linear schedule with ``exact_reference``) against the same loop in
PyTorch as the authors' ``train.py`` runs it (``torch_reference``, ``torch.optim.Adam`` with
their two parameter groups, ``LambdaLR`` stepped at the start of every epoch, the
distribution loss against fixed teacher logits). Binary activations amplify any rounding, so
one float32 constant (a beta, the decay coefficient, the learning rate) shows as 1e-3 of the
weight scale here."""
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tensorflow as tf  # noqa: E402

import larq_adam as la  # noqa: E402
from larq_adam.torch_reference import randomize_like_trained  # noqa: E402
from larq_adam.torch_reference.reactnet import ReActNetA, weight_decay_groups  # noqa: E402

EPOCHS, ITERATIONS, BATCH, PX, CLASSES = 2, 3, 8, 32, 10
SCHEDULE_EPOCHS, LR, DECAY = 4, 1.25e-3, 5e-6


def _data(seed=0):
    rng = np.random.default_rng(seed)
    n = ITERATIONS * BATCH
    return rng.normal(size=(n, PX, PX, 3)), rng.integers(0, CLASSES, size=n)


def _teacher(seed=0):
    """A fixed real-valued float64 teacher (pooled pixels -> logits)."""
    inputs = tf.keras.Input((PX, PX, 3), dtype="float64")
    x = tf.keras.layers.GlobalAveragePooling2D(dtype="float64")(inputs)
    logits = tf.keras.layers.Dense(CLASSES, dtype="float64")(x)
    teacher = tf.keras.Model(inputs, logits)
    rng = np.random.default_rng(seed + 1)
    teacher.set_weights([rng.normal(size=(3, CLASSES)) * 5, rng.normal(size=CLASSES)])
    return teacher


class _Record(tf.keras.callbacks.Callback):
    """Per-iteration loss (from the epoch's running mean, a float64 metric here) and the
    learning rate the step used."""

    def __init__(self):
        super().__init__()
        self.losses, self.rates, self._means = [], [], []

    def on_epoch_begin(self, epoch, logs=None):
        self._means = []

    def on_train_batch_end(self, batch, logs=None):
        mean = float(self.model.loss_tracker.result().numpy())
        previous = self._means[-1] if self._means else 0.0
        self.losses.append((batch + 1) * mean - batch * previous)
        self._means.append(mean)
        self.rates.append(float(self.model.optimizer.learning_rate.numpy()))


def _keras_loop(net, teacher, x, y):
    opt = la.training.make_optimizer(
        "adam", learning_rate=LR, weight_decay=DECAY, model=net, schedule="linear",
        epochs=SCHEDULE_EPOCHS, steps_per_epoch=ITERATIONS, exact_reference=True)
    distiller = la.training.Distiller(net, teacher)
    distiller.compile(opt)
    record = _Record()
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH)
    distiller.fit(data, epochs=EPOCHS, verbose=0, callbacks=[record])
    return record


def _torch_loop(ref, teacher_logits, x):
    decayed, other = weight_decay_groups(ref)
    opt = torch.optim.Adam([{"params": other}, {"params": decayed, "weight_decay": DECAY}],
                           lr=LR, betas=(0.9, 0.999))
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 1.0 - e / SCHEDULE_EPOCHS)
    images = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    soft = torch.softmax(torch.from_numpy(teacher_logits), dim=1)
    losses, rates = [], []
    for _ in range(EPOCHS):
        ref.train()
        with warnings.catch_warnings():  # the release steps the scheduler before training
            warnings.simplefilter("ignore", UserWarning)
            schedule.step()
        for i in range(ITERATIONS):
            part = slice(i * BATCH, (i + 1) * BATCH)
            log_probs = torch.log_softmax(ref(images[part]), dim=1)
            loss = -(soft[part] * log_probs).sum(dim=1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            rates.append(opt.param_groups[1]["lr"])
    return losses, rates


def test_float64_distilled_training_follows_the_reference_loop_iteration_by_iteration():
    torch.manual_seed(0)
    ref = randomize_like_trained(
        ReActNetA(num_classes=CLASSES, width=0.25, stem_stride=1, stage="ba").double(), seed=4)
    net = la.models.from_pytorch(ref.state_dict(), stage="ba", input_shape=(PX, PX, 3),
                                 dtype_policy="float64")
    teacher = _teacher()
    x, y = _data()
    before = dict(zip([w.name for w in net.weights], net.get_weights()))
    record = _keras_loop(net, teacher, x, y)
    losses, rates = _torch_loop(ref, teacher(x).numpy(), x)

    rel_loss = [abs(a - b) / abs(b) for a, b in zip(record.losses, losses)]
    print("iteration  lr  loss(project)  loss(reference)  rel diff")
    for i, (lr, a, b, r) in enumerate(zip(rates, record.losses, losses, rel_loss)):
        print(f"{i}  {lr:.6g}  {a:.15f}  {b:.15f}  {r:.1e}")
    assert len(losses) == len(record.losses) == EPOCHS * ITERATIONS
    assert record.rates == rates  # the same learning rate at every iteration, to the bit
    assert rates[0] == LR * (1 - 1 / SCHEDULE_EPOCHS) and rates[-1] == LR * (1 - 2 / SCHEDULE_EPOCHS)
    assert max(rel_loss) < 1e-10

    stepped = la.models.from_pytorch(ref.state_dict(), stage="ba", input_shape=(PX, PX, 3),
                                     dtype_policy="float64")
    names = [w.name for w in stepped.weights]
    rel_weight = {name: float(np.abs(a - b).max() / max(np.abs(a).max(), 1e-12))
                  for name, a, b in zip(names, stepped.get_weights(), net.get_weights())}
    worst = max(rel_weight, key=rel_weight.get)
    print(f"weights and BN statistics: worst {worst} {rel_weight[worst]:.1e} of its scale")
    assert rel_weight[worst] < 1e-8
    moved = [n for n in names if n.endswith("conv3x3/kernel:0")]
    after = dict(zip(names, net.get_weights()))
    assert len(moved) == 13 and all(np.abs(after[n] - before[n]).max() > 1e-5 for n in moved)
