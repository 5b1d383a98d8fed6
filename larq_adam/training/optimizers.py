"""The paper's optimizers, with the authors' coupled L2 weight decay on the latent weights.

:func:`make_optimizer` builds every optimizer of the paper (Table 5, Sec. 4-5) with PyTorch's
semantics, since the paper's numbers come from PyTorch:

==========  =========  ==================================================================
name        default lr  what it is (each choice mirrors ``torch.optim`` unless noted)
==========  =========  ==================================================================
adam        1e-3       Adam, betas (0.9, 0.999), eps 1e-8 added to the bias-corrected
                       ``sqrt(v_hat)`` (PyTorch; Keras' own default adds ``eps_hat``).
                       The paper's main recipe passes 1.25e-3 at batch 256.
amsgrad     1e-3       the same with ``amsgrad=True`` (max of the second moments).
sgd         0.1        SGD, momentum 0.9, PyTorch's form ``b = mu*b + g; w -= lr*b``
                       (Keras folds lr into the buffer; the two differ when lr changes).
rmsprop     1e-2       RMSprop, alpha (Keras ``rho``) 0.99, eps 1e-8 added *outside* the
                       square root, no momentum, not centred (Keras: rho 0.9, eps 1e-7
                       inside the root).
adagrad     1e-2       AdaGrad, initial accumulator 0, eps 1e-10 outside the root (Keras:
                       0.1 and 1e-7 inside).
adadelta    1.0        AdaDelta, rho 0.9, eps 1e-6 (Keras: lr 1e-3, rho 0.95, eps 1e-7;
                       the update formula is the same as PyTorch's).
adabound    1e-3       AdaBound (Luo et al. 2019), bounds converging to ``final_lr=0.1``
                       (see :class:`AdaBound`).
bop         1e-3       Larq's Bop (threshold 1e-8, gamma 1e-4: Larq's defaults) on the
                       binary (``precision == 1``) kernels through ``lq.optimizers.
                       CaseOptimizer``; a legacy Keras Adam (eps 1e-8, Keras' eps_hat
                       placement: the legacy class has no PyTorch mode) for the rest.
==========  =========  ==================================================================

**Weight decay** (DESIGN.md, authors' code): coupled L2 as PyTorch's
``Adam(params, weight_decay=wd)``: ``g <- g + wd * w`` before the optimizer's update, for
the variables of :func:`decay_variables` (every rank-4 trainable variable: all conv kernels
including the real stem, LearnableBias / RPReLU shifts) and for no other variable (FC, BN,
PReLU slopes get plain updates). ``wd`` may be negative (Table 1). The decay is added to the
*aggregated* gradient (once, not once per replica), after any Keras gradient clipping, and
never to the loss, so the reported loss is the data loss. For ``bop`` the decay applies to
the Adam part only: Bop's binary kernels are flipped by sign and have no magnitude to decay.

**Precision.** A float64 model trains in float64 throughout: ``make_optimizer(model=M)``
with float64 variables gives a float64 learning rate (variable or schedule) and every
constant (betas, epsilon, momentum, rho, the decay coefficient) is made in the variable's
dtype from the Python number (``tf.constant``, not ``tf.cast`` of a number, which rounds
through float32 first). Float32 and mixed-precision models get the float32 values they
always had.

The returned optimizers are ordinary Keras optimizers (classes registered as
``larq_adam>NAME``): they work in ``model.fit``, under ``strategy.scope()`` and with
``tf.train.Checkpoint(optimizer=opt)``.

>>> opt = make_optimizer("adam", learning_rate=1.25e-3, weight_decay=5e-6, model=model,
...                      schedule="linear", epochs=256, steps_per_epoch=5004)
"""
import contextlib
import math
import warnings
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Union

import larq as lq
import tensorflow as tf

from larq_adam.registry import register
from larq_adam import keras_internals, vocabulary
from larq_adam.errors import UserInputError, WrongTypeError
from larq_adam.training.schedules import CosineDecay, LinearDecay

__all__ = [
    "OPTIMIZERS",
    "DEFAULT_LEARNING_RATES",
    "make_optimizer",
    "decay_variables",
    "AdaBound",
    "Adam",
    "SGD",
    "RMSprop",
    "Adagrad",
    "Adadelta",
    "LegacyAdam",
    "BopCaseOptimizer",
]

_Schedule = tf.keras.optimizers.schedules.LearningRateSchedule

#: Default learning rates when ``learning_rate=None`` (Table 5: the frameworks' defaults),
#: the optimizer names and the schedules: :mod:`larq_adam.vocabulary`'s.
DEFAULT_LEARNING_RATES = vocabulary.DEFAULT_LEARNING_RATES
OPTIMIZERS = vocabulary.OPTIMIZERS
SCHEDULES = vocabulary.SCHEDULES


# --------------------------------------------------------------------------- decay group
def decay_variables(model: tf.keras.Model) -> List[tf.Variable]:
    """The reference's weight-decay group: every rank-4 trainable variable of ``model``.

    That is all conv kernels (binarized ones and the real stem / shortcut convs) and the
    LearnableBias / RPReLU shifts (stored ``(1, 1, 1, C)``); not the FC kernel, BN
    parameters or PReLU slopes (DESIGN.md "Weight decay"). The model must be built.
    """
    if not isinstance(model, tf.keras.layers.Layer):
        raise WrongTypeError(f"model must be a tf.keras.Model, got {type(model).__name__}")
    if not getattr(model, "built", True) or not model.weights:
        raise UserInputError(
            f"model {model.name!r} has no weights yet, so its weight-decay group cannot be "
            "identified: build it first (model.build(input_shape) or call it on a batch), "
            "then create the optimizer"
        )
    return [v for v in model.trainable_variables if v.shape.rank == 4]


class _CoupledDecay:
    """Mixin: add ``wd * w`` to the aggregated gradient of the decay group."""

    def _init_decay(self, coupled_weight_decay, decay_variables, decay_variable_names):
        wd = float(coupled_weight_decay)
        if not math.isfinite(wd):
            raise UserInputError(f"weight_decay must be finite, got {coupled_weight_decay!r}")
        self.coupled_weight_decay = wd
        variables = list(decay_variables or [])
        names = [v.name for v in variables] if variables else list(decay_variable_names or [])
        # Plain python containers of strings: nothing here is tracked by checkpoints.
        self._decay_keys = frozenset(keras_internals.variable_key(v) for v in variables)
        self._decay_names = frozenset(names)
        if wd != 0.0 and not self._decay_keys and not self._decay_names:
            warnings.warn(
                "weight_decay != 0 but the decay group is empty: no variable will be decayed",
                stacklevel=3,
            )

    def _in_decay_group(self, variable) -> bool:
        if self._decay_keys:
            return keras_internals.variable_key(variable) in self._decay_keys
        return variable.name in self._decay_names

    def _add_coupled_decay(self, grads_and_vars):
        grads_and_vars = list(grads_and_vars)
        if self.coupled_weight_decay == 0.0:
            return grads_and_vars
        out, matched = [], 0
        for grad, var in grads_and_vars:
            if grad is not None and self._in_decay_group(var):
                matched += 1
                if isinstance(grad, tf.IndexedSlices):
                    grad = tf.convert_to_tensor(grad)
                grad = grad + _const(self.coupled_weight_decay, grad.dtype) * var
            out.append((grad, var))
        if matched == 0 and (self._decay_keys or self._decay_names):
            raise UserInputError(
                "weight decay is set but none of the variables being trained is in the "
                "optimizer's decay group: create the optimizer with make_optimizer(..., "
                "model=M) for the model M whose variables it trains, after M is built"
            )
        return out

    def _decay_config(self):
        return {
            "coupled_weight_decay": self.coupled_weight_decay,
            "decay_variable_names": sorted(self._decay_names),
        }


class _StepScalars:
    """The scalars every variable's update of one ``apply_gradients`` shares (the learning
    rate in the variable's dtype, Adam's and AdaBound's bias corrections and constants),
    made once per dtype and graph instead of once per variable.

    Keras' ``update_step`` runs once per variable, and Adam's ``b^t`` terms and constants
    are about fifteen graph operations: made per variable, they were about a third of a
    ReActNet-A x0.125 train step's traced operations (202 variables; 25,500 operations in
    two traces before, 16,300 after) and half of its optimizer's tracing time. The values
    are the same operations on the same inputs: ``iterations`` changes only after every
    variable is updated. A plain object, so nothing here is tracked by checkpoints."""

    def __init__(self) -> None:
        self._values: Optional[Dict[Any, Any]] = None

    @contextlib.contextmanager
    def step(self) -> Iterator[None]:
        """Shares the values made inside one ``apply_gradients`` call, and forgets them
        after it (a value belongs to that call's graph)."""
        self._values = {}
        try:
            yield
        finally:
            self._values = None

    def get(self, name: str, dtype: tf.DType, make: Callable[[], Any]) -> Any:
        """``make()``, made once per ``name``, ``dtype`` and graph inside :meth:`step`
        (every call outside it makes a fresh value)."""
        if self._values is None:
            return make()
        key = (name, dtype, id(tf.compat.v1.get_default_graph()))
        if key not in self._values:
            self._values[key] = make()
        return self._values[key]


class _NewDecay(_CoupledDecay):
    """Coupled decay for Keras' (non-legacy) optimizers, applied after aggregation; a
    constant learning rate is held in ``constants_dtype`` (float64 for float64 models)."""

    def _take_dtype(self, kwargs) -> None:
        """Pops ``constants_dtype`` from ``kwargs``; call before the base ``__init__``, which
        builds the learning-rate variable."""
        self._constants_dtype = tf.as_dtype(kwargs.pop("constants_dtype", "float32")).name
        self._scalars = _StepScalars()

    def _shared(self, name: str, dtype: tf.DType, make: Callable[[], Any]) -> Any:
        """``make()``, made once per ``apply_gradients`` call for ``dtype``
        (:class:`_StepScalars`)."""
        return self._scalars.get(name, dtype, make)

    def _learning_rate_in(self, dtype: tf.DType) -> tf.Tensor:
        """This step's learning rate (the schedule at ``iterations``) in ``dtype``."""
        return self._shared("lr", dtype, lambda: tf.cast(self.learning_rate, dtype))

    # Keras' own hook (no public way to give the learning-rate variable a dtype; see
    # larq_adam.keras_internals)
    def _build_learning_rate(self, learning_rate):
        dtype = getattr(self, "_constants_dtype", "float32")
        if dtype == "float32" or isinstance(learning_rate, _Schedule):
            return super()._build_learning_rate(learning_rate)
        with tf.init_scope():
            return tf.Variable(learning_rate, name="learning_rate", dtype=dtype,
                               trainable=False)

    def _decay_config(self):
        return {**super()._decay_config(), "constants_dtype": self._constants_dtype}

    def apply_gradients(
        self, grads_and_vars, name=None, skip_gradients_aggregation=False, **kwargs
    ):
        grads_and_vars = list(grads_and_vars)
        aggregate = kwargs.pop("experimental_aggregate_gradients", True)
        if aggregate and not skip_gradients_aggregation and grads_and_vars:
            if not keras_internals.uses_dtensor(self):
                grads_and_vars = self.aggregate_gradients(grads_and_vars)
        grads_and_vars = self._add_coupled_decay(grads_and_vars)
        with self._scalars.step():
            return super().apply_gradients(
                grads_and_vars, name=name, skip_gradients_aggregation=True, **kwargs
            )


def _dense(grad):
    return tf.convert_to_tensor(grad) if isinstance(grad, tf.IndexedSlices) else grad


def _const(value, dtype) -> tf.Tensor:
    """``value`` in ``dtype``: a Python number straight from its double (``tf.cast`` of a
    number goes through a float32 tensor first), a tensor or variable cast."""
    if isinstance(value, (int, float)):
        return tf.constant(value, dtype=dtype)
    return tf.cast(value, dtype)


def _pop_decay_kwargs(kwargs):
    return (
        kwargs.pop("coupled_weight_decay", 0.0),
        kwargs.pop("decay_variables", None),
        kwargs.pop("decay_variable_names", None),
    )


# --------------------------------------------------------------------------- optimizers
@register
class Adam(_NewDecay, tf.keras.optimizers.Adam):
    """PyTorch's Adam / AMSGrad with coupled L2 decay on a variable group.

    ``adaptive_epsilon=True`` (the default here) makes Keras add ``epsilon`` to the
    bias-corrected ``sqrt(v_hat)``, which is PyTorch's update exactly:
    ``w -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``.

    Args:
        coupled_weight_decay: ``wd`` in ``g + wd * w`` (PyTorch's ``weight_decay``).
        decay_variables: the variables that get the decay (see :func:`decay_variables`).
        decay_variable_names: used instead of ``decay_variables`` after deserialisation.
        Others: as ``tf.keras.optimizers.Adam``.
    """

    def __init__(self, learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 amsgrad=False, adaptive_epsilon=True, name="Adam", **kwargs):
        decay = _pop_decay_kwargs(kwargs)
        self._take_dtype(kwargs)
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2,
                         epsilon=epsilon, amsgrad=amsgrad, adaptive_epsilon=adaptive_epsilon,
                         name=name, **kwargs)
        self._init_decay(*decay)

    def _step_scalars(self, dtype: tf.DType) -> Tuple[tf.Tensor, ...]:
        """``alpha = lr * sqrt(1 - b2^t) / (1 - b1^t)``, ``eps_hat``, ``1 - b1``, ``1 - b2``
        in ``dtype`` for this step (``t = iterations + 1``)."""
        lr = self._learning_rate_in(dtype)
        local_step = tf.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = _const(self.beta_1, dtype), _const(self.beta_2, dtype)
        beta_1_power, beta_2_power = tf.pow(beta_1, local_step), tf.pow(beta_2, local_step)
        alpha = lr * tf.sqrt(1 - beta_2_power) / (1 - beta_1_power)
        epsilon = _const(self.epsilon, dtype)
        epsilon_hat = epsilon * tf.sqrt(1 - beta_2_power) if self.adaptive_epsilon else epsilon
        return (alpha, epsilon_hat, _const(1 - self.beta_1, dtype),
                _const(1 - self.beta_2, dtype))

    def update_step(self, gradient, variable):
        """Keras' Adam step, the same operations in the same order, with ``beta_1``,
        ``beta_2`` and ``epsilon`` made in the variable's dtype (:func:`_const`) and the
        step's scalars made once for all variables (:class:`_StepScalars`)."""
        gradient = _dense(gradient)
        alpha, epsilon_hat, one_minus_b1, one_minus_b2 = self._shared(
            "adam", variable.dtype, lambda: self._step_scalars(variable.dtype))
        m = keras_internals.optimizer_slot(self, "_momentums", variable)
        v = keras_internals.optimizer_slot(self, "_velocities", variable)
        m.assign_add((gradient - m) * one_minus_b1)
        v.assign_add((tf.square(gradient) - v) * one_minus_b2)
        if self.amsgrad:
            v_hat = keras_internals.optimizer_slot(self, "_velocity_hats", variable)
            v_hat.assign(tf.maximum(v_hat, v))
            v = v_hat
        variable.assign_sub((m * alpha) / (tf.sqrt(v) + epsilon_hat))

    def get_config(self):
        return {**super().get_config(), "adaptive_epsilon": self.adaptive_epsilon,
                **self._decay_config()}


@register
class SGD(_NewDecay, tf.keras.optimizers.SGD):
    """SGD with PyTorch's momentum form and coupled L2 decay on a variable group.

    ``b <- momentum * b + g`` (``b = g`` at the first step, as the buffer starts at 0 and
    there is no dampening) and ``w <- w - lr * b``; Nesterov: ``w <- w - lr * (g + mu*b)``.
    """

    def __init__(self, learning_rate=0.1, momentum=0.9, nesterov=False, name="SGD", **kwargs):
        decay = _pop_decay_kwargs(kwargs)
        self._take_dtype(kwargs)
        super().__init__(learning_rate=learning_rate, momentum=momentum, nesterov=nesterov,
                         name=name, **kwargs)
        self._init_decay(*decay)

    def update_step(self, gradient, variable):
        gradient = _dense(gradient)
        lr = self._learning_rate_in(variable.dtype)
        momentum = _const(self.momentum, variable.dtype)
        buf = keras_internals.optimizer_slot(self, "momentums", variable)
        buf.assign(momentum * buf + gradient)
        step = gradient + momentum * buf if self.nesterov else buf
        variable.assign_sub(lr * step)

    def get_config(self):
        return {**super().get_config(), **self._decay_config()}


@register
class RMSprop(_NewDecay, tf.keras.optimizers.RMSprop):
    """RMSprop with PyTorch's defaults and update (``eps`` outside the square root).

    ``v <- rho * v + (1 - rho) * g^2`` (centred: minus the squared running mean of ``g``),
    ``d = sqrt(v) + eps``; without momentum ``w -= lr * g / d``, with momentum
    ``b <- mu * b + g / d; w -= lr * b``.
    """

    def __init__(self, learning_rate=1e-2, rho=0.99, momentum=0.0, epsilon=1e-8,
                 centered=False, name="RMSprop", **kwargs):
        decay = _pop_decay_kwargs(kwargs)
        self._take_dtype(kwargs)
        super().__init__(learning_rate=learning_rate, rho=rho, momentum=momentum,
                         epsilon=epsilon, centered=centered, name=name, **kwargs)
        self._init_decay(*decay)

    def update_step(self, gradient, variable):
        gradient = _dense(gradient)
        lr = self._learning_rate_in(variable.dtype)
        rho = _const(self.rho, variable.dtype)
        index = keras_internals.slot_index(self, variable)  # into Keras' RMSprop slot lists
        velocity = self._velocities[index]
        velocity.assign(rho * velocity + (1 - rho) * tf.square(gradient))
        mean_square = velocity
        if self.centered:
            average = self._average_gradients[index]
            average.assign(rho * average + (1 - rho) * gradient)
            mean_square = velocity - tf.square(average)
        denominator = tf.sqrt(mean_square) + _const(self.epsilon, variable.dtype)
        if self.momentum > 0:
            buf = self._momentums[index]
            buf.assign(_const(self.momentum, variable.dtype) * buf + gradient / denominator)
            variable.assign_sub(lr * buf)
        else:
            variable.assign_sub(lr * gradient / denominator)

    def get_config(self):
        return {**super().get_config(), **self._decay_config()}


@register
class Adagrad(_NewDecay, tf.keras.optimizers.Adagrad):
    """AdaGrad with PyTorch's defaults and update: ``s += g^2; w -= lr*g/(sqrt(s)+eps)``."""

    def __init__(self, learning_rate=1e-2, initial_accumulator_value=0.0, epsilon=1e-10,
                 name="Adagrad", **kwargs):
        decay = _pop_decay_kwargs(kwargs)
        self._take_dtype(kwargs)
        super().__init__(learning_rate=learning_rate,
                         initial_accumulator_value=initial_accumulator_value,
                         epsilon=epsilon, name=name, **kwargs)
        self._init_decay(*decay)

    def update_step(self, grad, variable):
        grad = _dense(grad)
        lr = self._learning_rate_in(variable.dtype)
        accumulator = keras_internals.optimizer_slot(self, "_accumulators", variable)
        accumulator.assign_add(tf.square(grad))
        eps = _const(self.epsilon, variable.dtype)
        variable.assign_sub(lr * grad / (tf.sqrt(accumulator) + eps))

    def get_config(self):
        return {**super().get_config(), **self._decay_config()}


@register
class Adadelta(_NewDecay, tf.keras.optimizers.Adadelta):
    """AdaDelta with PyTorch's defaults (lr 1.0, rho 0.9, eps 1e-6); Keras' update is
    PyTorch's: ``v = rho v + (1-rho) g^2; d = sqrt(u + eps) / sqrt(v + eps) * g;
    u = rho u + (1-rho) d^2; w -= lr * d``."""

    def __init__(self, learning_rate=1.0, rho=0.9, epsilon=1e-6, name="Adadelta", **kwargs):
        decay = _pop_decay_kwargs(kwargs)
        self._take_dtype(kwargs)
        super().__init__(learning_rate=learning_rate, rho=rho, epsilon=epsilon, name=name,
                         **kwargs)
        self._init_decay(*decay)

    def get_config(self):
        return {**super().get_config(), **self._decay_config()}


def _nominal_learning_rate(learning_rate) -> float:
    if isinstance(learning_rate, _Schedule):
        nominal = getattr(learning_rate, "initial_learning_rate", None)
        if nominal is None:
            nominal = learning_rate(0)
        return float(nominal)
    return float(learning_rate)


@register
class AdaBound(_NewDecay, tf.keras.optimizers.Optimizer):
    """AdaBound (Luo et al., ICLR 2019, arXiv:1902.09843), as the authors' reference code.

    Adam's moments ``m, v`` (and ``v_max`` with ``amsbound=True``); the per-element step
    size ``lr * sqrt(1 - b2^t) / (1 - b1^t) / (sqrt(v) + eps)`` is clipped to
    ``[lower_t, upper_t]`` with ``lower_t = final_lr' * (1 - 1 / (gamma * t + 1))`` and
    ``upper_t = final_lr' * (1 + 1 / (gamma * t))``, both converging to ``final_lr'``, and
    ``w -= clip(...) * m``. ``final_lr' = final_lr * lr_t / base_lr`` follows a learning-rate
    schedule, as the reference does (``base_lr`` is the rate at creation: the float, or the
    schedule's ``initial_learning_rate``). ``t`` counts from 1.

    This is the released implementation (``pip install adabound``), which Table 5 used: it
    bias-corrects the moments, while the paper's Algorithm 2 instead divides the clipped
    step by ``sqrt(t)``; ``eps`` is added to ``sqrt(v)`` without bias correction.
    """

    def __init__(self, learning_rate=1e-3, final_lr=0.1, beta_1=0.9, beta_2=0.999,
                 gamma=1e-3, epsilon=1e-8, amsbound=False, base_learning_rate=None,
                 name="AdaBound", **kwargs):
        decay = _pop_decay_kwargs(kwargs)
        self._take_dtype(kwargs)
        super().__init__(name=name, **kwargs)
        self._learning_rate = self._build_learning_rate(learning_rate)
        if base_learning_rate is None:
            base_learning_rate = _nominal_learning_rate(learning_rate)
        if not base_learning_rate > 0:
            raise UserInputError(f"AdaBound needs a base learning rate > 0, got {base_learning_rate}")
        if not final_lr > 0 or not gamma > 0:
            raise UserInputError(f"final_lr and gamma must be > 0, got {final_lr}, {gamma}")
        self.base_learning_rate = float(base_learning_rate)
        self.final_lr = float(final_lr)
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.gamma = float(gamma)
        self.epsilon = float(epsilon)
        self.amsbound = bool(amsbound)
        self._init_decay(*decay)

    def build(self, var_list):
        super().build(var_list)
        if getattr(self, "_built", False):
            return
        self._built = True
        self._m = [self.add_variable_from_reference(v, "m") for v in var_list]
        self._v = [self.add_variable_from_reference(v, "v") for v in var_list]
        if self.amsbound:
            self._v_max = [self.add_variable_from_reference(v, "v_max") for v in var_list]

    def _step_scalars(self, dtype: tf.DType) -> Tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """This step's ``lr_t * sqrt(1 - b2^t) / (1 - b1^t)`` and the bounds ``lower_t``,
        ``upper_t`` in ``dtype`` (``t = iterations + 1``)."""
        lr = self._learning_rate_in(dtype)
        t = tf.cast(self.iterations + 1, dtype)
        step_size = lr * tf.sqrt(1 - tf.pow(_const(self.beta_2, dtype), t)) / (
            1 - tf.pow(_const(self.beta_1, dtype), t)
        )
        final_lr = self.final_lr * lr / self.base_learning_rate
        lower = final_lr * (1 - 1 / (self.gamma * t + 1))
        upper = final_lr * (1 + 1 / (self.gamma * t))
        return step_size, lower, upper

    def update_step(self, gradient, variable):
        gradient = _dense(gradient)
        step_size, lower, upper = self._shared(
            "adabound", variable.dtype, lambda: self._step_scalars(variable.dtype))
        index = keras_internals.slot_index(self, variable)
        m, v = self._m[index], self._v[index]
        m.assign(self.beta_1 * m + (1 - self.beta_1) * gradient)
        v.assign(self.beta_2 * v + (1 - self.beta_2) * tf.square(gradient))
        second = v
        if self.amsbound:
            v_max = self._v_max[index]
            v_max.assign(tf.maximum(v_max, v))
            second = v_max
        eta = tf.clip_by_value(step_size / (tf.sqrt(second) + self.epsilon), lower, upper)
        variable.assign_sub(eta * m)

    def get_config(self):
        return {
            **super().get_config(),
            "learning_rate": self._serialize_hyperparameter(self._learning_rate),
            "final_lr": self.final_lr,
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "gamma": self.gamma,
            "epsilon": self.epsilon,
            "amsbound": self.amsbound,
            "base_learning_rate": self.base_learning_rate,
            **self._decay_config(),
        }


@register
class LegacyAdam(_CoupledDecay, tf.keras.optimizers.legacy.Adam):
    """Legacy Keras Adam (for Larq's CaseOptimizer) with coupled L2 decay on a group.

    The decay is added in ``_transform_gradients``, i.e. after cross-replica aggregation.
    """

    def __init__(self, learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 amsgrad=False, name="Adam", **kwargs):
        decay = _pop_decay_kwargs(kwargs)
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2,
                         epsilon=epsilon, amsgrad=amsgrad, name=name, **kwargs)
        self._init_decay(*decay)

    def _transform_gradients(self, grads_and_vars):
        return self._add_coupled_decay(super()._transform_gradients(grads_and_vars))

    def get_config(self):
        return {**super().get_config(), **self._decay_config()}


@register
class BopCaseOptimizer(lq.optimizers.CaseOptimizer):
    """Larq's ``CaseOptimizer`` that also counts its own ``iterations``.

    Larq's class applies its inner optimizers but never increments its own step counter,
    so ``optimizer.iterations`` (read by Keras callbacks, schedules and resume logic)
    would stay 0; here it advances once per ``apply_gradients`` like any optimizer.
    """

    # Larq's CaseOptimizer hook (its public apply_gradients gives no place to count the
    # step; see larq_adam.keras_internals)
    def _apply_gradients(self, distribution, grad_var_lists, name, **kwargs):
        applied = super()._apply_gradients(distribution, grad_var_lists, name, **kwargs)
        with tf.control_dependencies([applied]):
            return self.iterations.assign_add(1)


# --------------------------------------------------------------------------- factory
def _learning_rate_schedule(name, learning_rate, schedule, epochs, steps_per_epoch,
                            exact_reference, dtype="float32"):
    if isinstance(schedule, _Schedule):
        if learning_rate is not None:
            raise UserInputError(
                "schedule is a LearningRateSchedule, which sets the learning rate itself: "
                "pass learning_rate=None (or a schedule name with a learning_rate)"
            )
        return schedule
    if learning_rate is None:
        learning_rate = DEFAULT_LEARNING_RATES[name]
    if isinstance(learning_rate, _Schedule):
        raise WrongTypeError(
            "learning_rate must be a number; pass a LearningRateSchedule as schedule=..."
        )
    if not isinstance(schedule, str) or schedule not in SCHEDULES:
        raise UserInputError(
            f"unknown schedule {schedule!r}: use one of {list(SCHEDULES)} or a "
            "tf.keras.optimizers.schedules.LearningRateSchedule instance"
        )
    if schedule == "constant":
        return float(learning_rate)
    if epochs is None or steps_per_epoch is None:
        raise UserInputError(
            f"schedule={schedule!r} needs epochs and steps_per_epoch (got epochs={epochs}, "
            f"steps_per_epoch={steps_per_epoch}): pass both, e.g. steps_per_epoch="
            "ceil(num_examples / batch_size)"
        )
    if schedule == "linear":
        return LinearDecay(learning_rate, epochs, steps_per_epoch,
                           exact_reference=exact_reference, dtype=dtype)
    return CosineDecay(learning_rate, epochs, steps_per_epoch, dtype=dtype)


def _constants_dtype(model) -> str:
    """float64 when the model's variables are (a float64 model trains in float64
    throughout), else float32 (float32 and mixed-precision models)."""
    variables = getattr(model, "trainable_variables", None) or []
    return "float64" if variables and all(v.dtype == tf.float64 for v in variables) else "float32"


def _check_learning_rate(learning_rate) -> None:
    """A learning rate is None (the default), a schedule, or a finite number >= 0."""
    if learning_rate is None or isinstance(learning_rate, _Schedule):
        return
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float)):
        raise WrongTypeError(f"learning_rate must be a number, got {learning_rate!r}")
    if not math.isfinite(learning_rate) or learning_rate < 0:
        raise UserInputError(
            f"learning_rate must be a finite number >= 0, got {learning_rate!r}; the "
            "paper's Adam uses 1.25e-3 at batch 256 (None: the optimizer's default)")


def make_optimizer(
    name: str,
    learning_rate: Optional[float] = None,
    weight_decay: float = 0.0,
    model: Optional[tf.keras.Model] = None,
    schedule: Union[str, _Schedule] = "constant",
    epochs: Optional[int] = None,
    steps_per_epoch: Optional[int] = None,
    exact_reference: bool = False,
    **kwargs,
) -> tf.keras.optimizers.Optimizer:
    """An optimizer of the paper with coupled L2 decay on the reference's group.

    Args:
        name: one of ``OPTIMIZERS``: adam, sgd, rmsprop, adagrad, adadelta, amsgrad,
            adabound, bop (see the module docstring for each one's settings).
        learning_rate: base rate, a finite number >= 0 (``UserInputError`` otherwise,
            ``TypeError`` for a non-number); ``None`` -> ``DEFAULT_LEARNING_RATES[name]``
            (Table 5's framework defaults; SGD 0.1). For ``bop``, the Adam part's rate.
        weight_decay: PyTorch's coupled ``weight_decay`` (the paper: 5e-6 in BABW step 1,
            0 in step 2; may be negative, Table 1), applied to :func:`decay_variables`.
        model: the built model to be trained; required when ``weight_decay != 0``. When
            its variables are float64 the learning rate, the schedule and every constant
            are float64 too.
        schedule: "constant", "linear" (:class:`LinearDecay`, the paper's), "cosine"
            (:class:`CosineDecay`, per step), or a ``LearningRateSchedule`` instance (then
            ``learning_rate`` must be None).
        epochs, steps_per_epoch: needed by "linear" and "cosine".
        exact_reference: with "linear", the released code's off-by-one (last epoch at 0).
        **kwargs: passed to the optimizer class (e.g. ``beta_1``, ``epsilon``, ``momentum``,
            ``final_lr``, ``amsbound``); for ``bop``, ``threshold`` and ``gamma`` go to
            ``lq.optimizers.Bop`` and the rest to the Adam part.

    Returns:
        A Keras optimizer (a :class:`BopCaseOptimizer`, i.e. a ``lq.optimizers.
        CaseOptimizer``, for ``bop``).
    """
    name = _check_arguments(name, weight_decay, learning_rate, model)
    group = decay_variables(model) if model is not None else []
    dtype = _constants_dtype(model)
    lr = _learning_rate_schedule(name, learning_rate, schedule, epochs, steps_per_epoch,
                                 exact_reference, dtype)
    if name == "bop":
        return _make_bop(lr, weight_decay, group, kwargs)
    cls, fixed = _CLASSES[name]
    return cls(learning_rate=lr, coupled_weight_decay=weight_decay, decay_variables=group,
               constants_dtype=dtype, **fixed, **kwargs)


def _check_arguments(name, weight_decay, learning_rate, model) -> str:
    """The optimizer's name (lower case), after checking the arguments make_optimizer got."""
    if not isinstance(name, str) or name.lower() not in DEFAULT_LEARNING_RATES:
        raise UserInputError(f"unknown optimizer {name!r}: valid names are {list(OPTIMIZERS)}")
    if isinstance(weight_decay, bool) or not isinstance(weight_decay, (int, float)):
        raise WrongTypeError(f"weight_decay must be a number, got {weight_decay!r}")
    if not math.isfinite(weight_decay):
        raise UserInputError(f"weight_decay must be finite, got {weight_decay!r}")
    _check_learning_rate(learning_rate)
    if weight_decay != 0 and model is None:
        raise UserInputError(
            f"weight_decay={weight_decay} needs the model whose conv kernels and shifts it "
            "decays: pass model=<the built tf.keras.Model> (or weight_decay=0)"
        )
    return name.lower()


def _make_bop(lr, weight_decay: float, group: List[tf.Variable], kwargs: Dict[str, Any]
              ) -> "BopCaseOptimizer":
    """Bop on the binary kernels, Adam with the coupled decay on the real 4-D variables."""
    bop_kwargs = {k: kwargs.pop(k) for k in ("threshold", "gamma") if k in kwargs}
    binary_keys = {keras_internals.variable_key(v) for v in group if lq.optimizers.Bop.is_binary_variable(v)}
    real_group = [v for v in group if keras_internals.variable_key(v) not in binary_keys]
    if weight_decay != 0 and not real_group:
        warnings.warn(
            "bop: weight decay applies to the real-valued 4-D variables only (Bop's "
            "binary kernels have no magnitude to decay) and this model has none",
            stacklevel=3,
        )
        weight_decay = 0.0
    adam = LegacyAdam(learning_rate=lr, coupled_weight_decay=weight_decay,
                      decay_variables=real_group, **kwargs)
    return BopCaseOptimizer(
        (lq.optimizers.Bop.is_binary_variable, lq.optimizers.Bop(**bop_kwargs)),
        default_optimizer=adam,
    )


#: optimizer name -> (class, fixed keyword arguments); every class applies the coupled decay
#: of :class:`_CoupledDecay` (Sec. 3.3.1) the same way.
_CLASSES = {
    "adam": (Adam, {}),
    "amsgrad": (Adam, {"amsgrad": True, "name": "AMSGrad"}),
    "sgd": (SGD, {}),
    "rmsprop": (RMSprop, {}),
    "adagrad": (Adagrad, {}),
    "adadelta": (Adadelta, {}),
    "adabound": (AdaBound, {}),
}
