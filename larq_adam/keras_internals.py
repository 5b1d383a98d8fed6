"""Every use of TensorFlow's and tf-keras' private API outside a subclass's own overrides.

tf-keras 2.19 lacks a public way to do each of these (the comment on each names what is
missing). Keeping them here means a TensorFlow or tf-keras upgrade that moves one breaks
this module alone, and ``tests/test_keras_internals.py`` names which. What cannot move here
are the hooks a subclass overrides (``_build_learning_rate`` and ``_apply_gradients`` of the
optimizers in :mod:`larq_adam.training.optimizers`, ``_get_training_value`` of
:class:`larq_adam.layers.BatchNorm`): each carries a comment that points to this module.
"""
from typing import Any, List

import tensorflow as tf
from tensorflow.python.checkpoint.checkpoint_management import CheckpointState
from tf_keras.src.mixed_precision.policy import policy_scope
from tf_keras.src.utils.control_flow_util import constant_value, smart_cond

__all__ = ["CheckpointState", "policy_scope", "constant_value", "smart_cond", "variable_key",
           "slot_index", "optimizer_slot", "uses_dtensor", "is_functional", "direct_sublayers"]

# CheckpointState: the proto of a checkpoint folder's "checkpoint" file. Public TensorFlow
#   only reads it (tf.train.get_checkpoint_state), logging and returning None on a damaged
#   file instead of saying what is wrong with it; resume parses it to name the damage.
# policy_scope: a dtype policy for the layers built inside a block. Public Keras 2 has only
#   the global tf.keras.mixed_precision.set_global_policy, which a caller's policy would lose.
# constant_value / smart_cond: a `training` argument that may be a Python bool or a tensor,
#   as every Keras layer's call handles it; TensorFlow has tf.cond, which always traces both
#   branches, and no public smart_cond.


def variable_key(variable: Any) -> str:
    """The key Keras' optimizers file a variable's slots under, shared by the variable, its
    ``MirroredVariable`` container under a distribution strategy and a Larq
    ``QuantizedVariable`` wrapping either (it forwards attributes to its latent variable).

    tf-keras has no public key: optimizers index slots by ``_var_key``, i.e. ``_unique_id``,
    and a replica's component reaches its container only through ``_distributed_container``.
    """
    if hasattr(variable, "_distributed_container"):
        container = variable._distributed_container()
        if container is not None:
            variable = container
    return variable._unique_id


def slot_index(optimizer: tf.keras.optimizers.Optimizer, variable: tf.Variable) -> int:
    """Where ``variable``'s slots sit in a tf-keras optimizer's slot lists (its position in
    the ``var_list`` the optimizer was built with): ``_index_dict[_var_key(v)]``. Keras 2's
    optimizers keep each slot kind in such a list and have no public accessor (the legacy
    optimizers' ``get_slot`` was not carried over)."""
    return optimizer._index_dict[optimizer._var_key(variable)]


def optimizer_slot(optimizer: tf.keras.optimizers.Optimizer, slots: str,
                   variable: tf.Variable) -> tf.Variable:
    """One slot variable of ``variable``: ``slots`` names the list attribute the tf-keras
    optimizer keeps it in (e.g. Adam's ``"_momentums"``, :func:`slot_index`)."""
    return getattr(optimizer, slots)[slot_index(optimizer, variable)]


def uses_dtensor(optimizer: tf.keras.optimizers.Optimizer) -> bool:
    """Whether a tf-keras optimizer runs under DTensor, where it must not aggregate gradients
    across replicas itself (``_mesh`` / ``_run_with_dtensor``; not public)."""
    return bool(getattr(optimizer, "_mesh", None) or getattr(optimizer, "_run_with_dtensor",
                                                              False))


def is_functional(model: Any) -> bool:
    """Whether ``model`` is a functional Keras model (or a Sequential one with its input),
    whose layers' ``input`` can be reached: ``_is_graph_network``. Public tf-keras has no
    such test (``tf.keras.Model`` covers subclassed models too and ``Functional`` is not
    exported)."""
    return bool(getattr(model, "_is_graph_network", False))


def direct_sublayers(layer: tf.keras.layers.Layer) -> List[tf.keras.layers.Layer]:
    """The layers a composite custom layer tracks directly (not their sub-layers):
    ``_flatten_layers(include_self=False, recursive=False)``. Public Keras offers
    ``Model.layers`` (models only) and ``tf.Module.submodules`` (all depths)."""
    found = layer._flatten_layers(include_self=False, recursive=False)
    return [m for m in found if isinstance(m, tf.keras.layers.Layer)]
