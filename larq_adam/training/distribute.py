"""``tf.distribute`` strategies by name, so recipes scale from a laptop to GPUs and TPUs.

Build models, optimizers (:func:`~larq_adam.training.make_optimizer`) and
:class:`~larq_adam.training.Distiller` under ``strategy.scope()``:

>>> s = strategy("mirrored")
>>> with s.scope():
...     model = build(...); opt = make_optimizer("adam", model=model, weight_decay=5e-6)
...     model.compile(optimizer=opt, loss=...)
>>> model.fit(ds)   # the global batch is split over the replicas

To test multi-replica code on one CPU, split it first (before TensorFlow uses any device):
``configure_cpu_devices(2); strategy("mirrored")`` gives two replicas.
"""
import os
import shutil
from pathlib import Path
from typing import Optional, Union

import tensorflow as tf

from larq_adam import vocabulary
from larq_adam.errors import SetupError, UserInputError
from larq_adam.tf_config import check_tf_config

__all__ = ["STRATEGIES", "strategy", "configure_cpu_devices", "worker_run_dir"]

STRATEGIES = vocabulary.STRATEGIES

def _check_tf_config() -> None:
    check_tf_config()


def _tpu_strategy(tpu: Optional[str]) -> tf.distribute.Strategy:
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except Exception as error:  # the resolver raises ValueError/RuntimeError/NotFoundError
        raise SetupError(
            f"strategy('tpu'): no TPU is reachable ({type(error).__name__}: {error}). Run on a "
            "TPU VM or Colab TPU runtime, or pass tpu='NAME' / set TPU_NAME for a TPU node; use "
            "strategy('mirrored') for GPUs/CPUs"
        ) from error
    return tf.distribute.TPUStrategy(resolver)


def strategy(name: str = "default", tpu: Optional[str] = None) -> tf.distribute.Strategy:
    """A ``tf.distribute.Strategy`` by name.

    Args:
        name: "default" (the current default strategy: one device, or the enclosing
            strategy's), "mirrored" (``MirroredStrategy`` over all local GPUs, or over all
            logical CPUs when there is no GPU), "multiworker"
            (``MultiWorkerMirroredStrategy`` from ``TF_CONFIG``; RuntimeError if it is
            missing, ValueError if it is malformed), "tpu" (``TPUClusterResolver`` +
            ``initialize_tpu_system`` + ``TPUStrategy``; RuntimeError if no TPU).
        tpu: TPU name/address for "tpu" (default: the resolver's discovery); the name
            "tpu:ADDRESS" sets it too.

    Returns:
        The strategy; build models and optimizers under its ``scope()``.
    """
    if isinstance(name, str) and name.lower().startswith("tpu:"):
        name, tpu = "tpu", name.split(":", 1)[1]  # "tpu:ADDRESS", as the recipes take it
    if not isinstance(name, str) or name.lower() not in STRATEGIES:
        raise UserInputError(f"unknown strategy {name!r}: valid names are {list(STRATEGIES)}")
    name = name.lower()
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = gpus or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy(devices=[d.name for d in devices])
    if name == "multiworker":
        _check_tf_config()
        return tf.distribute.MultiWorkerMirroredStrategy()
    return _tpu_strategy(tpu)


def configure_cpu_devices(n: int) -> None:
    """Split the (first) physical CPU into ``n`` logical devices.

    Must be called before TensorFlow initialises its devices (before any op, tensor or
    ``list_logical_devices``): afterwards the configuration is frozen. Calling it again
    with the count already in effect is a no-op.

    Raises:
        ValueError: ``n`` is not a positive integer.
        RuntimeError: devices were already initialised with another count.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise UserInputError(f"n must be a positive integer (number of logical CPUs), got {n!r}")
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(n)]
        )
    except RuntimeError as error:
        current = len(tf.config.list_logical_devices("CPU"))
        if current == n:
            return
        raise SetupError(
            f"configure_cpu_devices({n}) came too late: TensorFlow has already initialised "
            f"its devices ({current} logical CPU(s)). Call it at the start of the program, "
            "before creating any tensor, model or strategy (e.g. in a fresh subprocess)"
        ) from error


def worker_run_dir(run_dir: Union[str, "os.PathLike[str]"], strat: tf.distribute.Strategy,
                   *, resume: bool = False) -> Path:
    """The folder this process writes a run into: ``run_dir`` itself, except on the
    non-chief workers of a ``MultiWorkerMirroredStrategy``, which write a private copy in
    ``run_dir/.workers/<task type>-<index>``. Every worker must save its checkpoints (the
    save takes part in the strategy's collectives) but only the chief's files are the
    run's. With ``resume`` a non-chief worker first replaces its copy with the chief's
    folder, so every worker continues from the same epoch, step and files (the run folder
    must be on storage all workers see, as for any multi-worker checkpointing)."""
    run_dir = Path(run_dir)
    if not isinstance(strat, tf.distribute.MultiWorkerMirroredStrategy):
        return run_dir
    if strat.extended.should_checkpoint:
        return run_dir
    resolver = strat.cluster_resolver
    private = run_dir / ".workers" / f"{resolver.task_type}-{resolver.task_id}"
    if resume and run_dir.is_dir():
        shutil.rmtree(private, ignore_errors=True)
        shutil.copytree(run_dir, private,
                        ignore=shutil.ignore_patterns(".workers", ".partial-*", ".lock"))
    return private
