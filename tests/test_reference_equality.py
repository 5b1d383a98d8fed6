"""ReActNet-A computes what the authors' PyTorch code computes, in training as in inference.

The PyTorch side is :mod:`larq_adam.torch_reference` (the authors' parameter names and
layouts); weights move with :func:`larq_adam.models.from_pytorch`. In float64 on both sides
(a BNN is discontinuous at 0: float32 rounding flips near-zero signs and the difference
cascades): eval-mode and training-mode logits within 1e-10 of the logit scale, the moving
statistics after a training-mode pass, and every weight after one step of the project's
Adam with coupled weight decay 5e-6 on the 4-D group against ``torch.optim.Adam`` on the
same group, within 1e-9 (one float32-rounded constant in the update shows as lr x 6.6e-6).
The 96-px inputs use the ImageNet form (stride-2 stem).
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tensorflow as tf  # noqa: E402

import larq_adam as la  # noqa: E402
from larq_adam.torch_reference import randomize_like_trained  # noqa: E402
from larq_adam.torch_reference.reactnet import ReActNetA, weight_decay_groups  # noqa: E402

LOGIT_RTOL = 1e-10
WEIGHT_ATOL = 1e-9  # float64 throughout: measured 4e-11 (BA) and 1.1e-10 (BNN)


def _pair(stage, px, pad_values=0.0, seed=0):
    torch.manual_seed(seed)
    ref = ReActNetA(num_classes=10, width=0.25, stem_stride=1 if px <= 64 else 2,
                    stage=stage, pad_value=pad_values).double()
    randomize_like_trained(ref, seed=seed)
    net = la.models.from_pytorch(ref.state_dict(), model="reactnet_a", stage=stage,
                                 input_shape=(px, px, 3), pad_values=pad_values,
                                 dtype_policy="float64")
    x = np.random.default_rng(seed).normal(size=(6, px, px, 3))
    return ref, net, x


def _torch_logits(ref, x):
    return ref(torch.from_numpy(x.transpose(0, 3, 1, 2))).detach().numpy()


def _rel(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


@pytest.mark.parametrize("stage,px,pad_values", [
    ("fp", 32, 0.0), ("ba", 32, 0.0), ("bw", 32, 0.0), ("bnn", 32, 0.0), ("bnn", 32, 1.0),
    ("ba", 96, 0.0), ("bnn", 96, 0.0)])
def test_logits_equal_the_reference_in_eval_and_training_mode(stage, px, pad_values):
    ref, net, x = _pair(stage, px, pad_values)
    ref.eval()
    assert _rel(net(x, training=False).numpy(), _torch_logits(ref, x)) < LOGIT_RTOL
    ref.train()  # batch statistics: from the first stride-2 block on they must cover
    train_ref = _torch_logits(ref, x)  # exactly the reference's output positions
    assert _rel(net(x, training=True).numpy(), train_ref) < LOGIT_RTOL
    # the moving statistics moved like BatchNorm2d's (unbiased variance, momentum 0.1)
    for i, block in enumerate(ref.feature[1:], start=1):
        bn = net.get_layer(f"block{i:02d}_bn1")
        np.testing.assert_allclose(bn.moving_variance.numpy(),
                                   block.bn1.running_var.numpy(), rtol=1e-12)
        np.testing.assert_allclose(bn.moving_mean.numpy(),
                                   block.bn1.running_mean.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("stage,px", [("ba", 32), ("bnn", 96)])
def test_one_adam_step_with_weight_decay_moves_every_weight_as_the_reference(stage, px):
    ref, net, x = _pair(stage, px, seed=1)
    y = np.arange(len(x)) % 10
    decayed, other = weight_decay_groups(ref)
    opt = torch.optim.Adam([{"params": other}, {"params": decayed, "weight_decay": 5e-6}],
                           lr=1e-3)
    ref.train()
    loss = torch.nn.functional.cross_entropy(
        ref(torch.from_numpy(x.transpose(0, 3, 1, 2))), torch.from_numpy(y))
    loss.backward()
    opt.step()

    keras_opt = la.training.make_optimizer("adam", learning_rate=1e-3, weight_decay=5e-6,
                                           model=net)
    assert len(la.training.decay_variables(net)) == len(decayed) == 110
    with tf.GradientTape() as tape:
        keras_loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
            y, net(x, training=True)))
    grads = tape.gradient(keras_loss, net.trainable_variables)
    start = {w.name: w.numpy() for w in net.weights if w.name.endswith("conv3x3/kernel:0")}
    keras_opt.apply_gradients(zip(grads, net.trainable_variables))
    assert float(keras_loss) == pytest.approx(float(loss.detach()), rel=1e-12)

    stepped = la.models.from_pytorch(ref.state_dict(), model="reactnet_a", stage=stage,
                                     input_shape=x.shape[1:], dtype_policy="float64")
    moved = [np.abs(a - b).max() for a, b in zip(stepped.get_weights(), net.get_weights())]
    print(f"one Adam step, {stage} {px}px: max |dw| {max(moved):.1e}")
    assert max(moved) < WEIGHT_ATOL
    after = {w.name: w.numpy() for w in net.weights if w.name in start}
    assert len(start) == 13 and all(np.abs(after[k] - start[k]).max() > 1e-4 for k in start)


def test_float32_eval_logits_are_within_the_export_tolerance():
    ref, _, x = _pair("bnn", 32, seed=2)
    ref.eval()
    net32 = la.models.from_pytorch(ref.state_dict(), model="reactnet_a", stage="bnn",
                                   input_shape=(32, 32, 3))
    got = net32(x.astype("float32"), training=False).numpy()
    want = _torch_logits(ref, x)
    scale = np.abs(want).max()
    assert np.abs(got - want).max() <= la.export.DEFAULT_ATOL + la.export.DEFAULT_RTOL * scale
