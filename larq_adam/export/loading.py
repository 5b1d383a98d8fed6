"""Loading a trained model for export: data only unless trusted, Larq's "starved weights"
warning shown once.

Larq logs "Using a binary weight quantizer without setting `kernel_constraint` may result
in starved weights" for every binary layer it builds (31 times for ReActNet-A). The paper's
latent weights are deliberately unclipped (Sec. 3.3: Fig. 7 needs them beyond +-1), so one
notice is enough: :func:`larq_warnings_once` lets the first through and drops the rest,
only inside the block.
"""
import contextlib
import logging
import os
from typing import Iterator

import tensorflow as tf

from larq_adam import keras_files
from larq_adam.errors import CorruptFileError, UntrustedFileError, UserInputError
from larq_adam.export.base import PathLike

__all__ = ["larq_warnings_once", "load_model"]

_LARQ_LOGGER = "larq.layers_base"
_STARVED = "starved weights"


class _FirstOnly(logging.Filter):
    """Passes the first "starved weights" record and drops the ones after it."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if _STARVED not in record.getMessage():
            return True
        self.seen += 1
        return self.seen == 1


@contextlib.contextmanager
def larq_warnings_once() -> Iterator[None]:
    """Inside the block Larq's "starved weights" warning is logged at most once."""
    logger = logging.getLogger(_LARQ_LOGGER)
    only_first = _FirstOnly()
    logger.addFilter(only_first)
    try:
        yield
    finally:
        logger.removeFilter(only_first)


def load_model(path: PathLike, *, trust: bool = False,
               opt_in: str = "trust=True") -> tf.keras.Model:
    """The Keras model saved at ``path`` (``.h5``, ``.keras`` or a SavedModel folder), without
    compiling it, Larq's warning shown once; one line naming the file when it is missing or
    not a readable Keras model. A file with ``Lambda`` layers or unknown classes (code that
    would run on load) is refused unless ``trust`` (:func:`larq_adam.keras_files.load_model`;
    ``opt_in`` names the caller's switch in the refusal)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise UserInputError(f"no model at {path!r}; give a model saved by Keras (a run's "
                             "final_model.h5)")
    try:
        with larq_warnings_once():
            return keras_files.load_model(path, trust=trust, opt_in=opt_in)
    except UntrustedFileError:
        raise
    except (OSError, ValueError, KeyError, TypeError, ImportError) as err:
        reason = " ".join(str(err).split())[:160]
        raise CorruptFileError(
            f"{path} is not a readable Keras model ({type(err).__name__}: {reason}); give a "
            "model saved by Keras, or resume the run (--resume) to write it again") from None
