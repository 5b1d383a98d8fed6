"""Write whole files atomically: to a temporary name in the same folder, then renamed.

A process killed while writing leaves at most a temporary ``.partial-<pid>-<name>`` file
beside the target, never a half-written target: a reader sees the old file or the new one,
whole. ``os.replace`` is atomic within one file system, and the temporary file is in the
target's folder, so it is on the same one. The temporary name keeps the target's extension
(``.h5``, ``.json``, ``.png``, ``.npz``), so writers that pick the format from the name
(Keras, matplotlib, numpy) write the same format.

Helpers: :func:`atomic_path` (a context manager for any writer), :func:`atomic_write_bytes`,
:func:`atomic_write_text`, :func:`atomic_write_json`, :func:`atomic_save_model` (a whole
Keras model, HDF5 or ``.keras``), :func:`atomic_save_weights` and
:func:`remove_partial_files` (clears the leftovers of killed writers from a folder).

Example:
    >>> from larq_adam.atomic import atomic_path, atomic_write_json
    >>> atomic_write_json("runs/x/result.json", {"test_accuracy": 0.61})  # doctest: +SKIP
    >>> with atomic_path("runs/x/figure.png") as tmp:                    # doctest: +SKIP
    ...     fig.savefig(tmp)
"""
import contextlib
import json
import os
import warnings
from pathlib import Path
from typing import Any, Iterator, List, Union

from larq_adam.errors import MissingFileError, UserInputError

__all__ = [
    "PARTIAL_PREFIX",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_json",
    "atomic_save_model",
    "atomic_save_weights",
    "remove_partial_files",
]

PathLike = Union[str, os.PathLike]
PARTIAL_PREFIX = ".partial-"
MODEL_EXTENSIONS = (".h5", ".hdf5", ".keras")


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block ends normally the file written
    there is flushed to disk and renamed to ``path``. On an exception it is removed and
    ``path`` is left as it was. The folder is created when missing.

    Raises:
        FileNotFoundError: the block wrote nothing at the temporary path.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{PARTIAL_PREFIX}{os.getpid()}-{target.name}")
    try:
        yield tmp
        if not tmp.is_file():
            raise MissingFileError(f"nothing was written to {tmp}, the temporary file of "
                                    f"{target}")
        _fsync(tmp)
        os.replace(tmp, target)
    finally:
        if tmp.is_file():
            tmp.unlink()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: PathLike, text: str, *, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically; returns the path."""
    return atomic_write_bytes(path, text.encode(encoding))


def atomic_write_json(path: PathLike, value: Any, *, indent: int = 2) -> Path:
    """Write ``value`` as JSON (``default=str`` for paths and the like) atomically."""
    return atomic_write_text(path, json.dumps(value, indent=indent, default=str) + "\n")


def atomic_save_model(model, path: PathLike, **save_kwargs) -> Path:
    """Save a whole Keras model atomically: HDF5 for ``.h5`` / ``.hdf5`` (the format LCE's
    converter and older tools read; Keras' advice to prefer its own format is muted) or
    the Keras zip format for ``.keras``. ``save_kwargs`` go to ``model.save`` (e.g.
    ``include_optimizer=False``)."""
    target = Path(path)
    if target.suffix.lower() not in MODEL_EXTENSIONS:
        raise UserInputError(f"atomic_save_model writes one file: give a path ending in "
                         f"{', '.join(MODEL_EXTENSIONS)}, got {str(target)!r}")
    with atomic_path(target) as tmp, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*HDF5 file via `model.save\\(\\)`.*")
        model.save(str(tmp), **save_kwargs)
    return target


def atomic_save_weights(model, path: PathLike) -> Path:
    """``model.save_weights`` to an HDF5 file (``.h5``) atomically; returns the path."""
    target = Path(path)
    if not target.name.endswith(".h5"):
        raise UserInputError(f"atomic_save_weights writes HDF5: give a path ending in .h5, got "
                         f"{str(target)!r}")
    with atomic_path(target) as tmp:
        model.save_weights(str(tmp))
    return target


def remove_partial_files(folder: PathLike) -> List[Path]:
    """Delete the temporary files that killed writers left under ``folder`` and its
    sub-folders, except hidden ones (``.workers/``: other processes' own folders); returns
    them. Call it only when no other process writes into those folders."""
    root = Path(folder)
    if not root.is_dir():
        return []
    removed = []
    for path, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        removed += [Path(path) / f for f in files if f.startswith(PARTIAL_PREFIX)]
    for p in removed:
        p.unlink()
    return removed
