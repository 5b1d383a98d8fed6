"""make_optimizer: PyTorch-exact updates with coupled L2 decay on the reference's group."""
import larq as lq
import numpy as np
import pytest
import tensorflow as tf

from larq_adam.errors import UserInputError
from larq_adam.layers import LearnableBias, MeanScaledSign
from larq_adam.training import OPTIMIZERS, decay_variables, make_optimizer
from larq_adam.training.schedules import LinearDecay


def _mixed_model():
    """Variables of every kind: real conv (4-D), LearnableBias (4-D), BN, Dense (2-D)."""
    inp = tf.keras.Input((4, 4, 2))
    x = tf.keras.layers.Conv2D(3, 3, padding="same", name="stem")(inp)
    x = tf.keras.layers.BatchNormalization(name="bn")(x)
    x = LearnableBias(name="shift")(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    out = tf.keras.layers.Dense(2, name="fc")(x)
    return tf.keras.Model(inp, out)


def _tiny_bnn(num_classes=3):
    inp = tf.keras.Input((8, 8, 1))
    x = lq.layers.QuantConv2D(
        8, 3, padding="same", use_bias=False, name="bconv",
        kernel_quantizer=MeanScaledSign(), input_quantizer="ste_sign",
    )(inp)
    x = tf.keras.layers.BatchNormalization(name="bn")(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    out = tf.keras.layers.Dense(num_classes, name="fc")(x)
    return tf.keras.Model(inp, out)


def _task(n=96):
    """A learnable fixed task: the class is the quadrant row-block with the largest mean."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, 8, 8, 1)).astype("float32")
    y = rng.integers(0, 3, n)
    for i, c in enumerate(y):  # make the class visible in the signs of the input
        x[i, :, :, 0] += np.where(np.arange(8)[None, :] // 3 == c, 1.5, -0.5)
    return x, y


def _set_random_weights(model, rng):
    for v in model.trainable_variables:
        v.assign(rng.normal(size=v.shape).astype("float32"))


def _grads(model, rng):
    return [rng.normal(size=v.shape).astype("float32") for v in model.trainable_variables]


def _run(opt, model, grads_per_step):
    for grads in grads_per_step:
        opt.apply_gradients(zip([tf.constant(g) for g in grads], model.trainable_variables))
    return [v.numpy() for v in model.trainable_variables]


def _torch_adam(w, grads, lr, wd, amsgrad=False, b1=0.9, b2=0.999, eps=1e-8):
    """numpy re-implementation of torch.optim.Adam(weight_decay=wd) on one tensor."""
    w = w.astype("float64")
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    v_max = np.zeros_like(w)
    for t, g in enumerate(grads, start=1):
        g = g + wd * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        if amsgrad:
            v_max = np.maximum(v_max, v)
        second = v_max if amsgrad else v
        denom = np.sqrt(second) / np.sqrt(1 - b2**t) + eps
        w = w - lr / (1 - b1**t) * m / denom
    return w


def _torch_sgd(w, grads, lr, wd, momentum=0.9):
    """numpy torch.optim.SGD(momentum, weight_decay=wd), no dampening / Nesterov."""
    w = w.astype("float64")
    buf = None
    for g in grads:
        g = g + wd * w
        buf = g if buf is None else momentum * buf + g
        w = w - lr * buf
    return w


def _adabound(w, grads, lr, wd, final_lr=0.1, gamma=1e-3, b1=0.9, b2=0.999, eps=1e-8,
              amsbound=False):
    """numpy AdaBound (Luo et al. 2019) as in the authors' released code."""
    w = w.astype("float64")
    m, v, v_max = np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
    for t, g in enumerate(grads, start=1):
        g = g + wd * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        v_max = np.maximum(v_max, v)
        denom = np.sqrt(v_max if amsbound else v) + eps
        step = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        lower = final_lr * (1 - 1 / (gamma * t + 1))
        upper = final_lr * (1 + 1 / (gamma * t))
        w = w - np.clip(step / denom, lower, upper) * m
    return w


REFERENCES = {
    "adam": lambda w, g, lr, wd: _torch_adam(w, g, lr, wd),
    "amsgrad": lambda w, g, lr, wd: _torch_adam(w, g, lr, wd, amsgrad=True),
    "sgd": lambda w, g, lr, wd: _torch_sgd(w, g, lr, wd),
    "adabound": lambda w, g, lr, wd: _adabound(w, g, lr, wd),
}


@pytest.mark.parametrize("name", sorted(REFERENCES))
@pytest.mark.parametrize("wd", [1e-2, 0.0, -3e-2])
def test_update_matches_numpy_reference_with_decay_on_4d_group_only(name, wd):
    model = _mixed_model()
    rng = np.random.default_rng(7)
    _set_random_weights(model, rng)
    # Small gradients on some steps make Adam's epsilon and AdaBound's clipping matter.
    steps = [[g * s for g in _grads(model, rng)] for s in (1.0, 0.01, 3.0, 1e-3, 0.5)]
    initial = [v.numpy() for v in model.trainable_variables]
    group = {v.name for v in decay_variables(model)}
    assert group == {"stem/kernel:0", "shift/bias:0"}
    lr = 0.05 if name == "sgd" else 0.01
    opt = make_optimizer(name, learning_rate=lr, weight_decay=wd, model=model)
    final = _run(opt, model, steps)
    for i, v in enumerate(model.trainable_variables):
        expected = REFERENCES[name](
            initial[i], [s[i] for s in steps], lr, wd if v.name in group else 0.0
        )
        np.testing.assert_allclose(final[i], expected, rtol=2e-5, atol=2e-6, err_msg=v.name)
    if wd != 0:  # the decay made a difference on the group and none elsewhere
        other = make_optimizer(name, learning_rate=lr)
        model2 = _mixed_model()
        for a, b in zip(model2.trainable_variables, initial):
            a.assign(b)
        plain = _run(other, model2, steps)
        for v, a, b in zip(model.trainable_variables, final, plain):
            assert (np.abs(a - b).max() > 1e-6) == (v.name in group), v.name


def _traced_step_ops(name: str, n_variables: int):
    """The op types of one traced ``apply_gradients`` over ``n_variables`` variables (a
    linear schedule, ones as gradients), split into the schedule's own and all, and the
    variables after running it."""
    variables = [tf.Variable(tf.ones((3, 3, 2, 2))) for _ in range(n_variables)]
    opt = make_optimizer(name, learning_rate=0.01, schedule="linear", epochs=10,
                         steps_per_epoch=10)
    opt.build(variables)

    @tf.function
    def step():
        opt.apply_gradients([(tf.ones_like(v), v) for v in variables])

    graph = step.get_concrete_function().graph
    schedule = [op.type for op in graph.get_operations() if "lineardecay" in op.name.lower()]
    step()
    return schedule, [op.type for op in graph.get_operations()], [v.numpy() for v in variables]


@pytest.mark.parametrize("name", ["adam", "amsgrad", "sgd", "rmsprop", "adagrad", "adabound"])
def test_one_step_builds_the_schedule_and_bias_corrections_once_not_per_variable(name):
    """A traced train step makes the learning rate (a schedule) and Adam's and AdaBound's
    ``b^t`` once for all variables of a dtype: with 12 variables as many of those ops as
    with one."""
    one_schedule, one_ops, _ = _traced_step_ops(name, 1)
    schedule, ops, after = _traced_step_ops(name, 12)
    assert one_schedule and schedule == one_schedule
    assert ops.count("Pow") == one_ops.count("Pow")
    for a in after:  # every variable took the same, non-zero update
        np.testing.assert_array_equal(a, after[0])
    assert np.all(after[0] != 1.0)


def test_adabound_bounds_follow_the_schedule_and_amsbound():
    """final_lr scales with lr_t / base_lr, as the reference does under a scheduler."""
    model = _mixed_model()
    rng = np.random.default_rng(3)
    _set_random_weights(model, rng)
    steps = [_grads(model, rng) for _ in range(4)]
    initial = [v.numpy() for v in model.trainable_variables]
    schedule = LinearDecay(0.01, epochs=4, steps_per_epoch=1)
    opt = make_optimizer("adabound", schedule=schedule, amsbound=True, gamma=0.5)
    w = [x.astype("float64") for x in initial]
    m = [np.zeros_like(x) for x in w]
    v = [np.zeros_like(x) for x in w]
    vmax = [np.zeros_like(x) for x in w]
    for t, grads in enumerate(steps, start=1):
        lr = 0.01 * (1 - (t - 1) / 4)
        opt.apply_gradients(zip([tf.constant(g) for g in grads], model.trainable_variables))
        for i, g in enumerate(grads):
            m[i] = 0.9 * m[i] + 0.1 * g
            v[i] = 0.999 * v[i] + 0.001 * g * g
            vmax[i] = np.maximum(vmax[i], v[i])
            final_lr = 0.1 * lr / 0.01
            eta = lr * np.sqrt(1 - 0.999**t) / (1 - 0.9**t) / (np.sqrt(vmax[i]) + 1e-8)
            eta = np.clip(eta, final_lr * (1 - 1 / (0.5 * t + 1)), final_lr * (1 + 1 / (0.5 * t)))
            w[i] = w[i] - eta * m[i]
    for var, expected in zip(model.trainable_variables, w):
        np.testing.assert_allclose(var.numpy(), expected, rtol=2e-5, atol=2e-6)


def test_bop_decays_the_real_part_only_and_flips_binary_kernels():
    model = _tiny_bnn()
    stem_model_vars = {v.name for v in decay_variables(model)}
    assert stem_model_vars == {"bconv/kernel:0"}
    opt = make_optimizer("bop", weight_decay=0.0, model=model, threshold=1e-6, gamma=1e-2)
    assert isinstance(opt, lq.optimizers.CaseOptimizer)
    kernel = model.get_layer("bconv").kernel
    before = np.sign(kernel.numpy())
    grad = [tf.zeros_like(v) if v is not kernel else 10.0 * tf.sign(kernel) * tf.ones_like(v)
            for v in model.trainable_variables]
    opt.apply_gradients(zip(grad, model.trainable_variables))
    # Bop flips a weight when its gradient average agrees in sign with it (descent pushes it
    # across zero) beyond the threshold.
    np.testing.assert_array_equal(np.sign(kernel.numpy()), -before)

    # A real 4-D variable next to binary ones gets the decay through the Adam part.
    inp = tf.keras.Input((4, 4, 1))
    x = tf.keras.layers.Conv2D(2, 3, name="stem")(inp)
    x = lq.layers.QuantConv2D(2, 1, kernel_quantizer=MeanScaledSign(), name="b")(x)
    model = tf.keras.Model(inp, tf.keras.layers.Flatten()(x))
    stem = model.get_layer("stem").kernel
    w0 = stem.numpy().astype("float64")
    opt = make_optimizer("bop", learning_rate=0.1, weight_decay=0.5, model=model)
    grads = [tf.zeros_like(v) for v in model.trainable_variables]
    opt.apply_gradients(zip(grads, model.trainable_variables))
    g = 0.5 * w0  # zero data gradient: the whole gradient is the coupled decay
    m, v = 0.1 * g, 0.001 * g * g
    expected = w0 - 0.1 * np.sqrt(1 - 0.999) / (1 - 0.9) * m / (np.sqrt(v) + 1e-8)
    np.testing.assert_allclose(stem.numpy(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer_trains_a_tiny_bnn_to_falling_loss(name):
    x, y = _task()
    model = _tiny_bnn()
    lr = {"sgd": 0.05, "adadelta": 1.0, "bop": 1e-2}.get(name, 1e-2)
    kwargs = {"threshold": 1e-5, "gamma": 1e-3} if name == "bop" else {}
    opt = make_optimizer(name, learning_rate=lr, weight_decay=1e-5, model=model, **kwargs)
    model.compile(opt, tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    initial = model.evaluate(x, y, verbose=0, batch_size=96)
    model.fit(x, y, epochs=8, batch_size=16, verbose=0, shuffle=False)
    final = model.evaluate(x, y, verbose=0, batch_size=96)
    assert final < 0.9 * initial, (name, initial, final)


@pytest.mark.parametrize("name", ["adam", "adabound", "bop"])
def test_checkpoint_restores_slots_and_iterations(name, tmp_path):
    x, y = _task(32)
    loss = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def fresh():
        tf.keras.utils.set_random_seed(0)
        model = _tiny_bnn()
        opt = make_optimizer(name, learning_rate=1e-2, weight_decay=1e-3, model=model)
        model.compile(opt, loss)
        return model, opt

    model, opt = fresh()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    path = tf.train.Checkpoint(model=model, optimizer=opt).save(str(tmp_path / "ckpt"))
    model2, opt2 = fresh()
    status = tf.train.Checkpoint(model=model2, optimizer=opt2).restore(path)
    status.assert_existing_objects_matched()
    assert int(opt2.iterations) == int(opt.iterations) == 4
    model.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    model2.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    status.assert_consumed()  # the slots created by the first update were restored
    # Identical continuation proves moments (slots) came back, not just the weights.
    for a, b in zip(model.weights, model2.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)


def test_decay_is_not_added_to_the_reported_loss():
    x, y = _task(32)
    model = _tiny_bnn()
    loss = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    expected = float(loss(y, model(x, training=True)))
    model.compile(make_optimizer("adam", 1e-3, weight_decay=1e3, model=model), loss)
    history = model.fit(x, y, batch_size=32, epochs=1, verbose=0, shuffle=False)
    assert history.history["loss"][0] == pytest.approx(expected, rel=1e-5)


def test_optimizer_config_round_trips():
    model = _mixed_model()
    opt = make_optimizer("adabound", 1e-3, weight_decay=-1e-4, model=model,
                         schedule="linear", epochs=3, steps_per_epoch=2)
    clone = tf.keras.optimizers.deserialize(tf.keras.optimizers.serialize(opt))
    assert type(clone) is type(opt)
    assert clone.coupled_weight_decay == -1e-4
    assert clone.get_config()["decay_variable_names"] == ["shift/bias:0", "stem/kernel:0"]
    assert clone.learning_rate is not None


def test_defaults_and_schedules():
    opt = make_optimizer("rmsprop")
    assert float(opt.learning_rate) == pytest.approx(1e-2)
    assert (opt.rho, opt.epsilon, opt.momentum) == (0.99, 1e-8, 0.0)
    opt = make_optimizer("adagrad")
    assert (opt.initial_accumulator_value, opt.epsilon) == (0.0, 1e-10)
    opt = make_optimizer("adadelta")
    assert float(opt.learning_rate) == 1.0 and (opt.rho, opt.epsilon) == (0.9, 1e-6)
    opt = make_optimizer("sgd")
    assert float(opt.learning_rate) == pytest.approx(0.1) and opt.momentum == 0.9
    opt = make_optimizer("adam")
    assert (opt.beta_1, opt.beta_2, opt.epsilon) == (0.9, 0.999, 1e-8)
    opt = make_optimizer("adam", 2e-3, schedule="linear", epochs=4, steps_per_epoch=5,
                         exact_reference=True)
    assert isinstance(opt._learning_rate, LinearDecay)
    assert float(opt._learning_rate(0)) == pytest.approx(1.5e-3)


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="valid names are.*adabound"):
        make_optimizer("lamb")
    with pytest.raises(ValueError, match="pass model="):
        make_optimizer("adam", weight_decay=1e-4)
    with pytest.raises(ValueError, match="epochs and steps_per_epoch"):
        make_optimizer("adam", schedule="linear")
    with pytest.raises(ValueError, match="unknown schedule"):
        make_optimizer("adam", schedule="step")
    with pytest.raises(ValueError, match="learning_rate=None"):
        make_optimizer("adam", 1e-3, schedule=LinearDecay(1e-3, 2, 2))
    unbuilt = tf.keras.Sequential([tf.keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="build it first"):
        make_optimizer("adam", weight_decay=1e-4, model=unbuilt)
    model = _mixed_model()
    opt = make_optimizer("adam", weight_decay=1e-4, model=model)
    other = _mixed_model()
    with pytest.raises(ValueError, match="decay group"):
        opt.apply_gradients(zip(_grads(other, np.random.default_rng(0)),
                                other.trainable_variables))


@pytest.mark.parametrize("lr", [-1e-3, float("nan"), float("inf")])
def test_negative_or_non_finite_learning_rate_is_refused(lr):
    with pytest.raises(UserInputError, match="learning_rate must be a finite number >= 0"):
        make_optimizer("adam", lr)


@pytest.mark.parametrize("lr", ["1e-3", True, [1e-3]])
def test_non_number_learning_rate_is_refused(lr):
    with pytest.raises(TypeError, match="learning_rate must be a number"):
        make_optimizer("sgd", lr)


def test_unknown_optimizer_is_a_user_input_error():
    with pytest.raises(UserInputError, match="valid names are"):
        make_optimizer("adamw")
