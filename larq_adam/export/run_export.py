"""Export a trained run: its final model, verified on its own data, the files in its folder.

:func:`export_run` is :func:`~larq_adam.export.check` fed from a run: the model
(``RUN/final_model.h5``, or the model the caller holds), the deployment contract's class
names and normalisation from the run's dataset (:func:`larq_adam.data.info`, no pipeline
built), and class-balanced test images of that dataset to verify on (or the caller's). The
command line (``larq-adam export``, ``larq-adam train``) and the recipes call it.
"""
import os
import warnings
from pathlib import Path
from typing import Any, Optional, Tuple, Union

from larq_adam.run_files import MODEL_NAMES, find_model

__all__ = ["MODEL_NAMES", "VERIFY_SEED", "VerifyData", "find_model", "verification_data",
           "export_run"]

PathLike = Union[str, "os.PathLike[str]"]
#: the verification images are the same on every export of a run
VERIFY_SEED = 0
#: ``(images, labels or None, DatasetInfo or None, description)``
VerifyData = Tuple[Any, Any, Any, str]


def verification_data(config: Any, model: Any, n: int, *,
                      given: Optional[Tuple[Any, Any]] = None) -> VerifyData:
    """``n`` class-balanced test images of the run's dataset (``config``, a
    :class:`~larq_adam.config.RunConfig`) at the model's input size, or ``given``
    ``(images, labels)``, with the dataset's info and a description; random images (a
    warning says why) when there is no config or its data cannot be read."""
    import numpy as np

    import larq_adam as la

    size = int(model.input_shape[1])
    info = None
    if config is not None:
        try:
            info = la.data.info(config.data, "test", image_size=size, data_dir=config.data_dir)
            if given is not None:
                return (*given, info, "images given by the caller")
            images, labels = la.data.balanced_sample(
                config.data, n, seed=VERIFY_SEED, split="test", image_size=size,
                data_dir=config.data_dir)
            return images, labels, info, f"{config.data} test images (class-balanced)"
        except (ImportError, OSError, ValueError) as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            then = ("model.json gets no class names" if given is not None
                    else "verifying on random images")
            warnings.warn(f"cannot read {config.data!r} ({first}); {then}", stacklevel=2)
    if given is not None:
        return (*given, info, "images given by the caller")
    rng = np.random.default_rng(VERIFY_SEED)
    images = rng.normal(size=(n, *model.input_shape[1:])).astype("float32")
    return images, None, None, "random images"


def export_run(path: PathLike, *, config: Any = None, model: Any = None,
               data: Optional[Tuple[Any, Any]] = None, images: int = 256,
               bench_runs: int = 10, classifier: str = "float32", uint8_input: bool = False,
               device_log: Optional[PathLike] = None, trust_model: bool = False,
               float_twin: bool = True) -> Any:
    """Export a run folder's (or a model file's) model with :func:`~larq_adam.export.check`
    (Table 3's binary ops, verified against Keras); the files land in the run folder.

    ``config`` (the run's :class:`~larq_adam.config.RunConfig`; read from
    ``RUN/config.json`` when not given) names the dataset the contract and the
    verification images come from; ``model`` is exported instead of loading the file
    (``path`` is then the folder the files go to; a loaded file with ``Lambda`` layers or
    unknown classes is refused unless ``trust_model``);
    ``data=(images, labels)`` verifies on those instead of ``images`` class-balanced test
    images. ``float_twin=False`` skips the float TFLite file (size and latency comparison
    only). Returns the :class:`~larq_adam.export.ExportResult`."""
    import larq_adam as la
    from larq_adam.config import RunConfig

    if model is None:
        model_path, run_dir = find_model(path)
        model = la.export.load_model(model_path, trust=trust_model, opt_in="--trust-model")
        source = os.fspath(model_path)
    else:  # the caller's model; ``path`` is the run folder (or its model file)
        run_dir = Path(path).parent if Path(path).is_file() else Path(path)
        source = None
    if config is None and (run_dir / "config.json").exists():
        config = RunConfig.load(run_dir)
    x, y, info, described = verification_data(config, model, images, given=data)
    return la.export.check(
        model, x, run_dir, labels=y,
        class_names=None if info is None else list(info.class_names),
        normalization=None if info is None else (tuple(info.mean), tuple(info.std)),
        classifier=classifier, uint8_input=uint8_input, benchmark_runs=bench_runs,
        source=source, images_from=described, device_log=device_log,
        float_twin=float_twin)
