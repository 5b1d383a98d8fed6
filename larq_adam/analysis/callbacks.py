"""Keras callbacks that measure the paper's BNN-optimisation figures during ``fit``.

Each callback adds its numbers to the epoch's ``logs`` in ``on_epoch_end``, so ``History``,
``CSVLogger`` and ``TensorBoard`` record them (put those callbacks AFTER these in the list;
``History`` always comes last). Given ``record_dir``, each also writes per-layer detail for
the report's figures (format: :mod:`larq_adam.analysis.records`).

=============================  ==========================================  ================
callback                       ``logs`` keys                               paper
=============================  ==========================================  ================
:class:`FlipFlopRatio`         ``ff_ratio``, ``ff_ratio_run``              Eq. 4-5, Table 1
:class:`C2IRatio`              ``c2i_ratio``                               Eq. 6-7, Table 1
:class:`CAMStats`              ``cam_min``, ``sdam``, ``update_cam_mean``  Eq. 3, Fig. 4-5
:class:`ActivationSaturation`  ``saturation``, ``saturation/<layer>``      Fig. 3
:class:`WeightHistograms`      ``latent_abs_gt1``                          Fig. 7
=============================  ==========================================  ================

State that spans epochs - :class:`FlipFlopRatio`'s running totals (``ff_ratio_run``) and
:class:`C2IRatio`'s reference signs - lives in variables that ``checkpoint_state(model)``
returns as one trackable: put it in the training's ``tf.train.Checkpoint`` and a resumed
training measures as if it had never stopped (``reset_state()`` starts them afresh).

"Binarized layers" are the trainable layers :func:`~larq_adam.analysis.binarizable_layers`
finds (Larq ``QuantConv2D`` etc. in every stage; a frozen teacher in a distillation model is
skipped). All read the *latent* weights. Per-iteration work (FlipFlopRatio, and one
snapshot per epoch in CAMStats) runs in-graph with no host synchronisation; everything
else runs once per epoch. The callbacks work under ``tf.distribute`` strategies (the
mirrored copies of a variable are equal, and the callbacks read one of them).

``steps_per_execution > 1``: Keras then calls the batch hooks once per N steps, so the
per-iteration measurements (:class:`FlipFlopRatio`, and :class:`CAMStats`' update CAM) can
not see every iteration; they raise ``ValueError`` at the start of ``fit`` (compile with
``steps_per_execution=1``, or ``CAMStats(update=False)``). The epoch-end ones work with any.

Example:
    >>> cbs = default_callbacks(probe_images=x[:64], record_dir="run/analysis")  # doctest: +SKIP
    >>> history = model.fit(ds, epochs=3, callbacks=cbs)                          # doctest: +SKIP
    >>> history.history["ff_ratio"], history.history["c2i_ratio"]                # doctest: +SKIP
"""
import os
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import tensorflow as tf

from larq_adam.registry import register
from larq_adam import keras_internals
from larq_adam.analysis import latent, records
from larq_adam.eager_first import EagerFirst
from larq_adam.errors import UserInputError, WrongTypeError

__all__ = [
    "FlipFlopRatio",
    "C2IRatio",
    "CAMStats",
    "ActivationSaturation",
    "WeightHistograms",
    "default_callbacks",
    "analysis_first",
]



# Epochs of a fit whose epoch-end measurements run eagerly (larq_adam.eager_first).
EAGER_EPOCHS = 2


def _epoch_function(fn, **function_options) -> EagerFirst:
    """An epoch-end measurement, called with the epoch: eager in a ``fit``'s first
    :data:`EAGER_EPOCHS` epochs, traced after them."""
    return EagerFirst(fn, eager=EAGER_EPOCHS, **function_options)


class _AnalysisCallback(tf.keras.callbacks.Callback):
    """Shared plumbing: layer lookup, the steps-per-execution check and record saving."""

    def __init__(self, record_dir: Optional[str] = None):
        super().__init__()
        self.record_dir = None if record_dir is None else os.fspath(record_dir)
        # The batch hooks never read `logs`: let Keras keep them as tensors (no host sync).
        self._supports_tf_logs = True

    def get_config(self) -> Dict[str, Any]:
        return {"record_dir": self.record_dir}

    def set_model(self, model: tf.keras.Model) -> None:
        super().set_model(model)
        _put_analysis_first()

    @classmethod
    def from_config(cls, config: Dict[str, Any]):
        return cls(**config)

    def _binary_layers(self, model: Optional[tf.keras.Model] = None) -> list:
        model = self.model if model is None else model
        layers = latent.binarizable_layers(model, trainable_only=True)
        if not layers:
            raise UserInputError(
                f"{type(self).__name__}: the model has no trainable binarized layers "
                f"({', '.join(t.__name__ for t in latent.BINARY_LAYER_TYPES)}); the analysis "
                "callbacks measure the latent weights of such layers"
            )
        return layers

    def _require_single_step(self, fix: str) -> None:
        spe = getattr(self.model, "steps_per_execution", None)
        n = 1 if spe is None else int(spe.numpy())
        if n > 1 or getattr(self.model, "autotune_steps_per_execution", False):
            raise UserInputError(
                f"{type(self).__name__} measures every iteration, but the model was compiled "
                f"with steps_per_execution={'auto' if n == 1 else n}, so Keras calls the batch "
                f"hooks only once per {'several' if n == 1 else n} steps and iterations would "
                f"be missed; fix: compile with steps_per_execution=1{fix}"
            )

    def _save(self, kind: str, epoch: int, arrays: Dict[str, Any]) -> None:
        if self.record_dir is not None:
            records.save_record(self.record_dir, kind, epoch, arrays)


def analysis_first(callbacks: Sequence[tf.keras.callbacks.Callback]
                   ) -> List[tf.keras.callbacks.Callback]:
    """``callbacks`` with the analysis callbacks moved ahead of every other one (each group
    in its own order), except those with a true ``runs_before_analysis`` attribute (the
    stops on a NaN loss or a signal, which end training before a batch is measured): then
    every logger, early stop or checkpoint sees the epoch's FF / C2I / CAM values in
    ``logs``, wherever it stood. ``fit`` applies it by itself (:meth:`set_model`)."""
    first = [c for c in callbacks if getattr(c, "runs_before_analysis", False)]
    analysis = [c for c in callbacks if isinstance(c, _AnalysisCallback) and c not in first]
    rest = [c for c in callbacks if c not in first and c not in analysis]
    return [*first, *analysis, *rest]


def _put_analysis_first() -> None:
    """Reorder the callback list ``fit`` is setting up with :func:`analysis_first`. Keras
    has no public way for a callback to see its list: the list is the ``self`` of
    ``CallbackList.set_model``, a caller of ``set_model`` here (a few frames up); when no
    such caller is found (a ``set_model`` called directly) nothing changes."""
    frame = sys._getframe(2)
    for _ in range(4):
        if frame is None:
            return
        owner = frame.f_locals.get("self")
        if isinstance(owner, tf.keras.callbacks.CallbackList):
            ordered = analysis_first(owner.callbacks)
            if ordered != list(owner.callbacks):
                owner.callbacks = ordered
            return
        frame = frame.f_back


def _sign_flips(before: Sequence[tf.Tensor], after: Sequence[tf.Tensor]) -> tf.Tensor:
    """Eq. 4 / Eq. 6 in-graph: per layer, how many weights have another sign (Eq. 1, as
    booleans from :func:`latent.sign_positive`) ``after`` than ``before`` (int64, shape ``(L,)``)."""
    return tf.stack([tf.math.count_nonzero(tf.not_equal(a, b), dtype=tf.int64)
                     for b, a in zip(before, after)])


def _pooled_share(counts: np.ndarray, sizes: np.ndarray, steps: int = 1) -> float:
    """Eq. 5 / Eq. 7's pooling: counted weights over ``N_total`` (all layers' weights
    together, so every weight counts equally) times ``steps`` iterations; NaN for none."""
    total = int(sizes.sum()) * int(steps)
    return int(np.sum(counts)) / total if total else float("nan")


def _kernel_key(kernels: Sequence[tf.Variable]) -> Tuple[int, ...]:
    """Which variables a callback's state was built for (the student's kernels are the
    same variables whether ``fit`` runs the model or a distillation model around it)."""
    return tuple(id(k) for k in kernels)


# --------------------------------------------------------------------------- FF ratio
@register
class FlipFlopRatio(_AnalysisCallback):
    """Eq. 4-5: the flip-flop (FF) ratio, counted at every iteration in-graph.

    After each training iteration ``t`` the FF ratio of that iteration is the share of all
    latent weights of the binarized layers (pooled: weights, not layers, count equally)
    whose sign differs from before the update (sign(0) = +1). The callback keeps the
    previous signs in boolean variables and int64 flip counters on the device; a
    ``tf.function`` run from ``on_train_batch_end`` updates them without returning anything,
    so no step waits for the host. Counters are read once per epoch.

    Logs:
        ``ff_ratio``: the mean over this epoch's iterations of the per-iteration FF ratio
        (= flips in the epoch / (N_total * iterations), exact integer counts).
        ``ff_ratio_run``: the same mean over all iterations since training began (Table 1
        reports this mean over the whole training). "Since training began" spans every
        ``fit`` call made with this callback instance on the same model, and a training
        resumed from a ``tf.train.Checkpoint`` holding :meth:`checkpoint_state`.

    The latent signs are read when each ``fit`` starts, so weight changes made between
    ``fit`` calls are not counted as flips. Needs ``steps_per_execution=1``.

    Args:
        record_dir: if given, per-layer flip counts are saved each epoch (``ff`` records).
    """

    def __init__(self, record_dir: Optional[str] = None):
        super().__init__(record_dir)
        self._state_for = None  # the kernels the variables below belong to

    def checkpoint_state(self, model: Optional[tf.keras.Model] = None) -> tf.Module:
        """The running totals behind ``ff_ratio_run`` (``run_flips`` per binarized layer,
        ``run_steps``) as variables of one trackable, built now for ``model``'s binarized
        layers (default: the model being trained). Put it in the training's
        ``tf.train.Checkpoint``: restoring the checkpoint continues the totals."""
        self._build_state(model)
        return self._totals

    def reset_state(self) -> None:
        """Start the running totals again from zero (a new training)."""
        self._totals.run_flips.assign(tf.zeros_like(self._totals.run_flips))
        self._totals.run_steps.assign(0)

    def _build_state(self, model: Optional[tf.keras.Model] = None) -> None:
        layers = self._binary_layers(model)
        kernels = [latent.kernel_of(layer) for layer in layers]
        if self._state_for == _kernel_key(kernels):
            return
        self._state_for = _kernel_key(kernels)
        self._names = [layer.name for layer in layers]
        self._sizes = np.array([int(np.prod(k.shape)) for k in kernels], dtype=np.int64)
        n = len(kernels)
        with tf.init_scope():
            self._prev = [tf.Variable(tf.zeros(k.shape, tf.bool), trainable=False,
                                      name="ff_prev_sign") for k in kernels]
            self._epoch_flips = tf.Variable(tf.zeros((n,), tf.int64), trainable=False,
                                            name="ff_epoch_flips")
            self._epoch_steps = tf.Variable(0, dtype=tf.int64, trainable=False)
            self._totals = tf.Module(name="ff_ratio_totals")
            self._totals.run_flips = tf.Variable(tf.zeros((n,), tf.int64), trainable=False,
                                                 name="ff_run_flips")
            self._totals.run_steps = tf.Variable(0, dtype=tf.int64, trainable=False,
                                                 name="ff_run_steps")

        def snapshot():
            for prev, kernel in zip(self._prev, kernels):
                prev.assign(latent.sign_positive(kernel))

        def count():
            now = [latent.sign_positive(kernel) for kernel in kernels]
            flips = _sign_flips(self._prev, now)
            for prev, signs in zip(self._prev, now):
                prev.assign(signs)
            self._epoch_flips.assign_add(flips)
            self._totals.run_flips.assign_add(flips)
            self._epoch_steps.assign_add(1)
            self._totals.run_steps.assign_add(1)

        self._snapshot, self._count = tf.function(snapshot), tf.function(count)

    def on_train_begin(self, logs=None):
        self._require_single_step("")
        self._build_state()
        self._snapshot()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_flips.assign(tf.zeros_like(self._epoch_flips))
        self._epoch_steps.assign(0)

    def on_train_batch_end(self, batch, logs=None):
        self._count()

    def on_epoch_end(self, epoch, logs=None):
        flips, run_flips = self._epoch_flips.numpy(), self._totals.run_flips.numpy()
        steps, run_steps = int(self._epoch_steps.numpy()), int(self._totals.run_steps.numpy())
        if logs is not None:
            logs["ff_ratio"] = _pooled_share(flips, self._sizes, steps)
            logs["ff_ratio_run"] = _pooled_share(run_flips, self._sizes, run_steps)
        self._save("ff", epoch, dict(layer_names=self._names, sizes=self._sizes, flips=flips,
                                     steps=steps, run_flips=run_flips, run_steps=run_steps))


# --------------------------------------------------------------------------- C2I ratio
ReferenceLike = Union[None, str, tf.keras.Model, Sequence[Any]]


@register
class C2IRatio(_AnalysisCallback):
    """Eq. 6-7: the correlation-to-initialization (C2I) ratio, Table 1's definition.

    ``c2i_ratio = 1 - (weights whose latent sign differs from the reference) / N_total``
    over all binarized layers pooled (see :func:`larq_adam.analysis.c2i_ratio` for why this,
    not Eq. 7 as printed, is Table 1's definition). Logged at every epoch end. The
    reference's signs are boolean variables (:meth:`checkpoint_state`), so a training
    resumed from a checkpoint holding them compares with the same reference.

    Args:
        reference: what "initial" means:
            ``None`` - the latent weights when the state is built: at
            :meth:`checkpoint_state`, or else when the first ``fit`` with this callback
            began;
            a list of arrays - one per binarized layer, in :func:`binary_kernels` order
            (e.g. step 1's final weights);
            a ``tf.keras.Model`` - its binarized layers' latent weights (e.g. step 1's model);
            a path - ``.npz`` with arrays ``arr_0, arr_1, ...`` (``np.savez(path, *kernels)``),
            or a Keras weights file/checkpoint of the same architecture, loaded into a clone
            of the model being trained.
        record_dir: if given, per-layer counts are saved each epoch (``c2i`` records).
    """

    def __init__(self, reference: ReferenceLike = None, record_dir: Optional[str] = None):
        super().__init__(record_dir)
        if reference is not None and not isinstance(
            reference, (str, os.PathLike, tf.keras.Model, list, tuple)
        ):
            raise WrongTypeError(
                "reference must be None, a list of arrays, a tf.keras.Model or a path to saved "
                f"weights; got {type(reference).__name__}"
            )
        self.reference = reference
        self._ref_for = None

    def get_config(self) -> Dict[str, Any]:
        ref = self.reference
        return {
            "reference": os.fspath(ref) if isinstance(ref, (str, os.PathLike)) else None,
            "record_dir": self.record_dir,
        }

    def checkpoint_state(self, model: Optional[tf.keras.Model] = None) -> tf.Module:
        """The reference's latent signs (one boolean variable per binarized layer) as one
        trackable, taken now from ``reference`` for ``model`` (default: the model being
        trained). Put it in the training's ``tf.train.Checkpoint``: restoring the
        checkpoint restores the reference."""
        self._build(model)
        return self._reference

    def reset_state(self) -> None:
        """Take the reference again from ``reference`` (``None``: the weights now)."""
        arrays = self._reference_arrays(self._kernels, self._model_for)
        for signs, array in zip(self._reference.signs, arrays):
            signs.assign(array >= 0)

    def _reference_arrays(self, kernels: List[tf.Variable],
                          model: tf.keras.Model) -> List[np.ndarray]:
        ref = self.reference
        if ref is None:
            return [k.numpy() for k in kernels]
        if isinstance(ref, tf.keras.Model):
            return [k.numpy() for k in latent.binary_kernels(ref, trainable_only=True)]
        if isinstance(ref, (list, tuple)):
            return [latent._to_numpy(a) for a in ref]
        path = os.fspath(ref)
        if path.endswith(".npz"):
            with np.load(path, allow_pickle=False) as data:
                keys = sorted(
                    (k for k in data.files if k.startswith("arr_")), key=lambda k: int(k[4:])
                )
                if not keys:
                    raise UserInputError(
                        f"{path} holds no arr_0, arr_1, ... arrays; save the reference with "
                        "np.savez(path, *[k.numpy() for k in binary_kernels(model)])"
                    )
                return [data[k] for k in keys]
        clone = tf.keras.models.clone_model(model)
        status = clone.load_weights(path)
        if status is not None and hasattr(status, "expect_partial"):
            status.expect_partial()
        return [k.numpy() for k in latent.binary_kernels(clone, trainable_only=True)]

    def _build(self, model: Optional[tf.keras.Model] = None) -> None:
        model = self.model if model is None else model
        layers = self._binary_layers(model)
        kernels = [latent.kernel_of(layer) for layer in layers]
        if self._ref_for == _kernel_key(kernels):
            return  # keep the reference of the first fit ("when training began")
        arrays = self._reference_arrays(kernels, model)
        if len(arrays) != len(kernels) or any(
            tuple(a.shape) != tuple(k.shape) for a, k in zip(arrays, kernels)
        ):
            raise UserInputError(
                f"C2IRatio reference has shapes {[tuple(a.shape) for a in arrays]} but the "
                f"model's binarized kernels have {[tuple(k.shape) for k in kernels]}; pass one "
                "array per binarized layer in binary_kernels(model) order"
            )
        self._ref_for, self._kernels, self._model_for = _kernel_key(kernels), kernels, model
        self._names = [layer.name for layer in layers]
        self._sizes = np.array([a.size for a in arrays], dtype=np.int64)
        with tf.init_scope():
            self._reference = tf.Module(name="c2i_reference")
            self._reference.signs = [tf.Variable(latent.sign_positive(a), trainable=False,
                                                 name="c2i_sign")
                                     for a in arrays]
        self._flipped = _epoch_function(
            lambda: _sign_flips(self._reference.signs,
                                [latent.sign_positive(k) for k in kernels]))

    def on_train_begin(self, logs=None):
        self._build()

    def on_epoch_end(self, epoch, logs=None):
        flipped = self._flipped(epoch).numpy()
        if logs is not None:
            logs["c2i_ratio"] = 1.0 - _pooled_share(flipped, self._sizes)
        self._save(
            "c2i", epoch, dict(layer_names=self._names, sizes=self._sizes, flipped=flipped)
        )


# --------------------------------------------------------------------------- CAM / SDAM
@register
class CAMStats(_AnalysisCallback):
    """Eq. 3 and Fig. 4-5: channel-wise absolute mean (CAM) statistics of latent weights.

    At each epoch end, for each selected binarized layer, the CAM of every output channel
    (Eq. 3) of the latent kernel and of one iteration's update ``w_{t+1} - w_t``: the latent
    kernels are copied (in-graph, once per epoch) before the epoch's last iteration, in
    ``on_train_batch_begin`` when ``batch == params["steps"] - 1``. When Keras does not know
    the epoch's length, the first epoch copies before every iteration (so the last copy is
    the one used) and later epochs use the first epoch's length.

    Logs (all channels of all selected layers pooled):
        ``cam_min``: the minimum CAM (Fig. 4's grey line, which is for the first binary
        conv: pass ``layers=[name]`` or read the per-layer records for that);
        ``sdam``: the standard deviation (ddof=0) of the pooled CAMs (per-layer SDAM is
        ``np.std`` of one layer's CAM in the records);
        ``update_cam_mean``: the mean update CAM (NaN when no update was measured);
        per layer (Fig. 4 is about the first binary conv): ``cam_min/<layer>`` and
        ``sdam/<layer>`` for each selected layer, and ``cam_min_first`` / ``sdam_first``
        for the first one.

    Args:
        record_dir: if given, per-layer per-channel CAMs, update CAMs and the first layer's
            weights (float16, at most ``max_scatter`` values in total, the first ones of each
            channel) are saved each epoch (``cam`` records).
        layers: ``None`` for all binarized layers, or a list of layer names or indices into
            :func:`binarizable_layers` order.
        update: measure the update CAM (needs ``steps_per_execution=1``).
        max_scatter: cap on the first layer's weights saved per epoch.
    """

    def __init__(
        self,
        record_dir: Optional[str] = None,
        layers: Optional[Sequence[Union[str, int]]] = None,
        update: bool = True,
        max_scatter: int = 16384,
    ):
        super().__init__(record_dir)
        self.layers = None if layers is None else list(layers)
        self.update = bool(update)
        self.max_scatter = int(max_scatter)
        self._state_for = None
        self._epoch_len = None

    def get_config(self) -> Dict[str, Any]:
        return {
            **super().get_config(),
            "layers": self.layers,
            "update": self.update,
            "max_scatter": self.max_scatter,
        }

    def _select(self) -> list:
        all_layers = self._binary_layers()
        if self.layers is None:
            return all_layers
        by_name = {layer.name: layer for layer in all_layers}
        chosen = []
        for item in self.layers:
            if isinstance(item, (int, np.integer)) and -len(all_layers) <= item < len(all_layers):
                chosen.append(all_layers[item])
            elif isinstance(item, str) and item in by_name:
                chosen.append(by_name[item])
            else:
                raise UserInputError(
                    f"CAMStats layers: {item!r} is not a binarized layer name or index; the "
                    f"binarized layers are {list(by_name)}"
                )
        return chosen

    def on_train_begin(self, logs=None):
        if self.update:
            self._require_single_step(" or CAMStats(update=False)")
        self._epoch_len = None  # learnt in the first epoch when Keras does not know it
        layers = self._select()
        kernels = [latent.kernel_of(layer) for layer in layers]
        key = (id(self.model), tuple(id(k) for k in kernels), self._unknown_length())
        if self._state_for == key:
            return
        self._state_for = key
        self._names = [layer.name for layer in layers]
        views = [
            (lambda layer: lambda k: latent.channel_view(layer, k))(layer) for layer in layers
        ]

        def channel_cam(w):
            w = tf.abs(tf.cast(w, tf.float32))
            return tf.reduce_mean(tf.reshape(w, (-1, w.shape[-1])), axis=0)

        def stats(before):
            cams = [channel_cam(view(k)) for view, k in zip(views, kernels)]
            if before is None:
                return cams, []
            return cams, [channel_cam(view(k - b)) for view, k, b in zip(views, kernels, before)]

        if self.update:
            # Two buffers: with an unknown epoch length every iteration is copied, and the
            # copy made before a step that never ran (end of data) must not be used.
            with tf.init_scope():
                self._buffers = [
                    [
                        tf.Variable(tf.zeros(k.shape, k.dtype), trainable=False, name="cam_before")
                        for k in kernels
                    ]
                    for _ in range(2 if self._unknown_length() else 1)
                ]
            self._snapshots = []
            for buffer in self._buffers:

                def snapshot(buffer=buffer):
                    for before, kernel in zip(buffer, kernels):
                        before.assign(kernel)

                self._snapshots.append(tf.function(snapshot))
            self._stats = [
                _epoch_function(lambda buffer=buffer: stats(buffer)) for buffer in self._buffers
            ]
        else:
            self._stats = [_epoch_function(lambda: stats(None))]

        self._kernels, self._views = kernels, views

    def _unknown_length(self) -> bool:
        return not (self.params or {}).get("steps")

    def on_epoch_begin(self, epoch, logs=None):
        self._valid = None  # index of the buffer holding w_t of the last completed step
        self._pending = None
        self._next = 0
        self._batches = 0

    def on_train_batch_begin(self, batch, logs=None):
        if not self.update:
            return
        steps = (self.params or {}).get("steps") or self._epoch_len
        if steps is None or batch == steps - 1:
            self._snapshots[self._next]()
            self._pending = self._next

    def on_train_batch_end(self, batch, logs=None):
        self._batches += 1
        if self._pending is not None:
            self._valid, self._pending = self._pending, None
            self._next = (self._valid + 1) % len(self._snapshots)

    def on_epoch_end(self, epoch, logs=None):
        if self._epoch_len is None and self._batches:
            self._epoch_len = self._batches
        have_update = self.update and self._valid is not None
        cams, ups = self._stats[self._valid if have_update else 0](epoch)
        cams = [c.numpy().astype(np.float64) for c in cams]
        if have_update:
            ups = [u.numpy().astype(np.float64) for u in ups]
        else:
            ups = [np.zeros((0,)) for _ in cams]
        pooled = np.concatenate(cams)
        pooled_up = np.concatenate(ups)
        if logs is not None:
            logs["cam_min"] = float(pooled.min())
            logs["sdam"] = float(pooled.std())
            logs["update_cam_mean"] = float(pooled_up.mean()) if pooled_up.size else float("nan")
            logs["cam_min_first"], logs["sdam_first"] = float(cams[0].min()), float(cams[0].std())
            for name, cam in zip(self._names, cams):
                logs[f"cam_min/{name}"], logs[f"sdam/{name}"] = float(cam.min()), float(cam.std())
        if self.record_dir is not None:
            first = self._views[0](self._kernels[0]).numpy()
            first = first.reshape(-1, first.shape[-1]).T  # (C_out, values per channel)
            per_channel = max(1, self.max_scatter // first.shape[0])
            self._save(
                "cam",
                epoch,
                dict(
                    layer_names=self._names,
                    cam=cams,
                    update_cam=ups,
                    first_weights=first[:, :per_channel].astype(np.float16),
                ),
            )


# --------------------------------------------------------------------------- saturation
def _probe_target(model: tf.keras.Model) -> tf.keras.Model:
    """The functional model whose layer inputs can be reached (the student of a Distiller)."""
    if keras_internals.is_functional(model):
        return model
    candidates = [
        m
        for m in getattr(model, "layers", [])
        if isinstance(m, tf.keras.Model) and latent.binarizable_layers(m, trainable_only=True)
    ]
    if len(candidates) == 1 and keras_internals.is_functional(candidates[0]):
        return candidates[0]
    raise UserInputError(
        f"ActivationSaturation needs a functional (or Sequential) Keras model to reach the "
        f"inputs of the binarized layers through `layer.input`; {type(model).__name__} is a "
        "subclassed model. Build the model with the functional API (or wrap a functional "
        "student model, as la.training.Distiller does)"
    )


def _binary_inputs(model: tf.keras.Model) -> Tuple[list, list]:
    """Symbolic inputs of every binarizable layer of a functional model, nested expanded."""
    tensors, layers = [], []
    for layer in model.layers:
        if isinstance(layer, latent.BINARY_LAYER_TYPES):
            try:
                tensors.append(layer.input)
            except AttributeError as err:
                raise UserInputError(
                    f"cannot reach the input of layer {layer.name!r} ({err}); "
                    "ActivationSaturation needs each binarized layer called exactly once"
                ) from None
            layers.append(layer)
        elif latent.binarizable_layers(layer):
            if not (isinstance(layer, tf.keras.Model) and keras_internals.is_functional(layer)):
                raise UserInputError(
                    f"layer {layer.name!r} contains binarized layers but is not a functional "
                    "model, so their inputs cannot be reached; build it with the functional API"
                )
            try:
                layer.get_input_at(1)
                shared = True
            except (ValueError, IndexError):
                shared = False
            if shared:
                raise UserInputError(
                    f"nested model {layer.name!r} is called more than once; "
                    "ActivationSaturation needs each binarized layer called exactly once"
                )
            inner_tensors, inner_layers = _binary_inputs(layer)
            inner = tf.keras.Model(layer.inputs, inner_tensors)
            out = inner(layer.get_input_at(0))
            tensors.extend(out if isinstance(out, (list, tuple)) else [out])
            layers.extend(inner_layers)
    return tensors, layers


@register
class ActivationSaturation(_AnalysisCallback):
    """Fig. 3 / Sec. 3.2.1: activation saturation, the share of inputs to binary activations
    with ``|a| > 1`` (where the ApproxSign / clip-STE gradient is zero).

    At each epoch end ``probe_images`` run (inference mode, so BatchNorm uses its moving
    statistics) through a sub-model that outputs the input of every binarized layer: the
    pre-sign activations (in ReActNet, after the ``LearnableBias``). Needs a functional
    model (or a model wrapping exactly one functional model with binarized layers, such as
    a distillation model); each binarized layer must be called once.

    Logs:
        ``saturation``: all layers' inputs pooled; ``saturation/<layer name>``: per layer
        (``per_layer_logs=False`` turns these off).

    Args:
        probe_images: a fixed batch of inputs (array or tensor), e.g. 64-256 images.
        record_dir: if given, per-layer counts and histograms (``bins`` on ``range``, with
            bin edges on -1 and +1 by default) are saved each epoch (``saturation`` records).
        bound: the saturation threshold (1 for ApproxSign and the clip-1 STE).
        batch_size: probe images per forward pass.
    """

    def __init__(
        self,
        probe_images,
        record_dir: Optional[str] = None,
        bound: float = 1.0,
        bins: int = 120,
        range: Tuple[float, float] = (-3.0, 3.0),
        batch_size: int = 256,
        per_layer_logs: bool = True,
    ):
        super().__init__(record_dir)
        if probe_images is None or isinstance(probe_images, tf.data.Dataset):
            raise WrongTypeError(
                "ActivationSaturation needs probe_images as one array or tensor of inputs "
                "(e.g. next(iter(dataset))[0]), not "
                f"{'None' if probe_images is None else 'a tf.data.Dataset'}"
            )
        if isinstance(probe_images, (list, tuple)):  # e.g. from get_config
            probe_images = np.asarray(probe_images, dtype=np.float32)
        if len(getattr(probe_images, "shape", ())) < 1 or int(probe_images.shape[0]) < 1:
            raise UserInputError("probe_images must be a non-empty batch (first axis = images)")
        self.probe_images = probe_images
        self.bound = float(bound)
        self.bins = int(bins)
        self.range = (float(range[0]), float(range[1]))
        self.batch_size = int(batch_size)
        self.per_layer_logs = bool(per_layer_logs)
        self._built_for = None

    def get_config(self) -> Dict[str, Any]:
        return {
            "probe_images": np.asarray(self.probe_images).tolist(),
            "record_dir": self.record_dir,
            "bound": self.bound,
            "bins": self.bins,
            "range": list(self.range),
            "batch_size": self.batch_size,
            "per_layer_logs": self.per_layer_logs,
        }

    def on_train_begin(self, logs=None):
        if self._built_for is self.model:
            return
        target = _probe_target(self.model)
        tensors, layers = _binary_inputs(target)
        if not layers:
            raise UserInputError("ActivationSaturation: the model has no binarized layers")
        extractor = tf.keras.Model(target.inputs, tensors, name="binary_layer_inputs")
        lo, hi = self.range

        def stats(x):
            outs = extractor(x, training=False)
            outs = outs if isinstance(outs, (list, tuple)) else [outs]
            result = []
            for a in outs:
                a = tf.cast(a, tf.float32)
                sat = tf.math.count_nonzero(tf.abs(a) > self.bound, dtype=tf.int64)
                size = tf.cast(tf.size(a), tf.int64)
                counts, below, above = latent._tf_histogram(a, lo, hi, self.bins)
                result.append((sat, size, counts, below, above))
            return result

        self._stats = _epoch_function(stats, reduce_retracing=True)
        self._names = [layer.name for layer in layers]
        self._built_for = self.model

    def on_epoch_end(self, epoch, logs=None):
        images = self.probe_images
        n = int(images.shape[0])
        totals = None
        for start in range(0, n, self.batch_size):
            batch = self._stats(epoch, images[start : start + self.batch_size])
            batch = [[np.asarray(v) for v in layer] for layer in batch]
            totals = batch if totals is None else [
                [t + b for t, b in zip(tl, bl)] for tl, bl in zip(totals, batch)
            ]
        saturated = np.array([int(t[0]) for t in totals], dtype=np.int64)
        total = np.array([int(t[1]) for t in totals], dtype=np.int64)
        if logs is not None:
            logs["saturation"] = int(saturated.sum()) / int(total.sum())
            if self.per_layer_logs:
                for name, s, t in zip(self._names, saturated, total):
                    logs[f"saturation/{name}"] = int(s) / int(t)
        self._save(
            "saturation",
            epoch,
            dict(
                layer_names=self._names,
                saturated=saturated,
                total=total,
                counts=np.stack([t[2] for t in totals]),
                below=np.array([int(t[3]) for t in totals], dtype=np.int64),
                above=np.array([int(t[4]) for t in totals], dtype=np.int64),
                edges=np.linspace(self.range[0], self.range[1], self.bins + 1),
                bound=self.bound,
            ),
        )


# --------------------------------------------------------------------------- Fig. 7
def _write_tb_histogram(tag, counts, below, above, edges, low, high, step) -> None:
    """A TensorBoard histogram from fixed-bin counts (``tf.summary.histogram`` builds an
    ``N x buckets`` one-hot matrix, too big for millions of weights). Out-of-range values
    get one bucket on each side, from the minimum / to the maximum."""
    from tensorboard.plugins.histogram import metadata as hist_metadata

    rows = [[edges[i], edges[i + 1], counts[i]] for i in range(len(counts))]
    if below:
        rows.insert(0, [float(low), edges[0], below])
    if above:
        rows.append([edges[-1], float(high), above])
    tf.summary.write(
        tag,
        tf.constant(np.asarray(rows, dtype=np.float64)),
        step=int(step),
        metadata=hist_metadata.create_summary_metadata(display_name=tag, description=""),
    )


@register
class WeightHistograms(_AnalysisCallback):
    """Fig. 7: the distribution of the latent weights of the binarized layers.

    Every ``freq`` epochs (epoch % freq == 0, like TensorBoard's ``histogram_freq``) writes
    a TensorBoard histogram ``latent_weights/<layer>`` (the same fixed bins, plus a bucket
    each side for values outside ``range``) to a file writer in ``log_dir`` and,
    with ``record_dir``, fixed-bin histograms per layer and pooled (``bins`` on ``range``,
    out-of-range values counted apart; ``weights`` records). Every epoch it logs
    ``latent_abs_gt1``, the share of latent weights with ``|w| > 1`` (Fig. 7: good BNNs
    grow latent weights beyond +-1).
    """

    def __init__(
        self,
        log_dir: Optional[str] = None,
        record_dir: Optional[str] = None,
        freq: int = 1,
        bins: int = 200,
        range: Tuple[float, float] = (-2.0, 2.0),
    ):
        super().__init__(record_dir)
        if int(freq) < 1:
            raise UserInputError(f"freq must be >= 1 (every freq-th epoch), got {freq}")
        self.log_dir = None if log_dir is None else os.fspath(log_dir)
        self.freq = int(freq)
        self.bins = int(bins)
        self.range = (float(range[0]), float(range[1]))
        self._built_for = None
        self._writer = None

    def get_config(self) -> Dict[str, Any]:
        return {
            "log_dir": self.log_dir,
            "record_dir": self.record_dir,
            "freq": self.freq,
            "bins": self.bins,
            "range": list(self.range),
        }

    def on_train_begin(self, logs=None):
        layers = self._binary_layers()
        if self._built_for is self.model and len(layers) == len(self._names):
            return
        kernels = [latent.kernel_of(layer) for layer in layers]
        lo, hi = self.range

        def beyond():
            return tf.stack(
                [tf.math.count_nonzero(tf.abs(k) > 1.0, dtype=tf.int64) for k in kernels]
            )

        def hists():
            return [
                (*latent._tf_histogram(k, lo, hi, self.bins), tf.reduce_min(k), tf.reduce_max(k))
                for k in kernels
            ]

        self._beyond, self._hists = _epoch_function(beyond), _epoch_function(hists)
        self._kernels = kernels
        self._names = [layer.name for layer in layers]
        self._sizes = np.array([int(np.prod(k.shape)) for k in kernels], dtype=np.int64)
        self._built_for = self.model
        if self.log_dir is not None and self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["latent_abs_gt1"] = (int(self._beyond(epoch).numpy().sum())
                                      / int(self._sizes.sum()))
        if epoch % self.freq or (self._writer is None and self.record_dir is None):
            return
        hists = [[np.asarray(v) for v in h] for h in self._hists(epoch)]
        edges = np.linspace(self.range[0], self.range[1], self.bins + 1)
        if self._writer is not None:
            with self._writer.as_default():
                for name, (counts, below, above, low, high) in zip(self._names, hists):
                    _write_tb_histogram(
                        f"latent_weights/{name}", counts, below, above, edges, low, high, epoch
                    )
            self._writer.flush()
        if self.record_dir is not None:
            counts = np.stack([h[0] for h in hists])
            below = np.array([int(h[1]) for h in hists], dtype=np.int64)
            above = np.array([int(h[2]) for h in hists], dtype=np.int64)
            self._save(
                "weights",
                epoch,
                dict(
                    layer_names=self._names,
                    sizes=self._sizes,
                    counts=counts,
                    below=below,
                    above=above,
                    edges=edges,
                    pooled_counts=counts.sum(axis=0),
                    pooled_below=int(below.sum()),
                    pooled_above=int(above.sum()),
                ),
            )

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.flush()


def default_callbacks(
    probe_images=None, record_dir: Optional[str] = None, log_dir: Optional[str] = None
) -> List[tf.keras.callbacks.Callback]:
    """All analysis callbacks with their defaults: FF, C2I, CAM, and - when given their
    inputs - saturation (``probe_images``) and weight histograms (``log_dir`` or
    ``record_dir``). They go ahead of the list's loggers by themselves
    (:func:`analysis_first`), so ``CSVLogger`` / ``TensorBoard`` / ``EarlyStopping`` see
    their values wherever they stand."""
    cbs: List[tf.keras.callbacks.Callback] = [
        FlipFlopRatio(record_dir=record_dir),
        C2IRatio(record_dir=record_dir),
        CAMStats(record_dir=record_dir),
    ]
    if probe_images is not None:
        cbs.append(ActivationSaturation(probe_images, record_dir=record_dir))
    if log_dir is not None or record_dir is not None:
        cbs.append(WeightHistograms(log_dir=log_dir, record_dir=record_dir))
    return cbs
