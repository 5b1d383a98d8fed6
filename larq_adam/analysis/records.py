"""Per-epoch analysis records: how the callbacks save them and how the report reads them.

A callback given ``record_dir`` writes one ``.npz`` file per epoch::

    record_dir/
      ff_epoch0000.npz           FlipFlopRatio       (Eq. 4-5, Table 1)
      c2i_epoch0000.npz          C2IRatio            (Eq. 6-7, Table 1)
      cam_epoch0000.npz          CAMStats            (Eq. 3, Fig. 4-5)
      saturation_epoch0000.npz   ActivationSaturation (Fig. 3)
      weights_epoch0000.npz      WeightHistograms    (Fig. 7)

The number is the Keras epoch index passed to ``on_epoch_end`` (0-based, the same as the
``epoch`` column of ``CSVLogger``; a resumed ``fit(initial_epoch=k)`` continues from ``k``).

Every file holds ``epoch`` (int) and ``layer_names`` (the binarized layers it covers, in
model order). Arrays of one value per layer have shape ``(L,)`` or ``(L, bins)``; arrays
whose length differs between layers (one value per output channel) are stored under
``NAME__000``, ``NAME__001``, ... and :func:`load_records` returns them as one list ``NAME``
(indexed like ``layer_names``). Keys per kind:

* ``ff``: ``sizes`` (L,) weights per layer; ``flips`` (L,) sign changes summed over this
  epoch's iterations; ``steps`` iterations in the epoch; ``run_flips`` (L,), ``run_steps``
  the same since training began. ``ff_ratio = flips.sum() / (sizes.sum() * steps)``.
* ``c2i``: ``sizes`` (L,); ``flipped`` (L,) weights whose sign differs from the reference;
  ``c2i_ratio = 1 - flipped.sum() / sizes.sum()``.
* ``cam``: ``cam`` list of (C_out,) per-channel CAM of the latent weights; ``update_cam``
  list of (C_out,) per-channel CAM of one iteration's update (the epoch's last; empty
  arrays when no update was measured); ``first_weights`` float16 (C_out, n) latent weights
  of the first layer, channel by channel (``n`` capped, see ``CAMStats``) for Fig. 4's scatter.
* ``saturation``: ``saturated`` (L,) and ``total`` (L,) counts of inputs with |a| > bound;
  ``counts`` (L, bins), ``below`` (L,), ``above`` (L,), ``edges`` (bins + 1,) histograms of
  the inputs; ``bound`` (float).
* ``weights``: ``sizes`` (L,); ``counts`` (L, bins), ``below`` (L,), ``above`` (L,),
  ``edges`` (bins + 1,) latent-weight histograms; ``pooled_counts`` (bins,),
  ``pooled_below``, ``pooled_above`` for all layers together.

Example:
    >>> records = load_records("runs/x/step2/analysis")            # doctest: +SKIP
    >>> ff = records["ff"]                     # {epoch: {"flips": ..., "sizes": ..., ...}}
    >>> records["cam"][0]["cam"][0]            # CAM per output channel, first layer, epoch 0
"""
import os
import re
import zipfile
import zlib
from typing import Any, Dict, List, Mapping

import numpy as np

from larq_adam.atomic import atomic_path
from larq_adam.errors import CorruptFileError, UserInputError

__all__ = ["RECORD_KINDS", "record_path", "save_record", "load_records", "trim_records"]

RECORD_KINDS = ("ff", "c2i", "cam", "saturation", "weights")

_FILE = re.compile(r"^([a-z0-9]+)_epoch(\d{4,})\.npz$")
_PER_LAYER = re.compile(r"^(.+)__(\d{3,})$")


def record_path(record_dir: str, kind: str, epoch: int) -> str:
    """The file one callback writes for one epoch: ``{record_dir}/{kind}_epoch{epoch:04d}.npz``."""
    if not re.fullmatch(r"[a-z0-9]+", kind):
        raise UserInputError(f"record kind must be lower-case letters/digits, got {kind!r}")
    if int(epoch) < 0:
        raise UserInputError(f"epoch must be >= 0, got {epoch}")
    return os.path.join(os.fspath(record_dir), f"{kind}_epoch{int(epoch):04d}.npz")


def save_record(record_dir: str, kind: str, epoch: int, arrays: Mapping[str, Any]) -> str:
    """Write one record (see the module docstring for the format); returns its path.

    Values that are lists of arrays are stored per layer as ``NAME__000``, ``NAME__001``...
    The write is atomic (a temporary file renamed into place).
    """
    path = record_path(record_dir, kind, epoch)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    flat: Dict[str, np.ndarray] = {"epoch": np.asarray(int(epoch))}
    for key, value in arrays.items():
        if "__" in key:
            raise UserInputError(f"record key {key!r} may not contain '__' (reserved for lists)")
        if key == "layer_names":
            flat[key] = np.asarray([str(v) for v in value], dtype=np.str_)
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                flat[f"{key}__{i:03d}"] = np.asarray(item)
            flat[f"{key}__count"] = np.asarray(len(value))
        else:
            flat[key] = np.asarray(value)
    with atomic_path(path) as tmp:
        np.savez(tmp, **flat)
    return path


def _record_fix(path: str) -> str:
    return (f"delete {path} (the report leaves that epoch out) or train the step again to "
            "measure it anew")


def _load_one(path: str) -> Dict[str, Any]:
    """One record; :class:`CorruptFileError` naming the file when it is not a whole
    ``.npz`` of plain arrays (truncated, garbage, pickled objects) or not a record's shape.
    Nothing is unpickled."""
    try:
        return _read_arrays(path)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, TypeError,
            zlib.error) as err:
        reason = " ".join(str(err).split()) or type(err).__name__
        raise CorruptFileError(f"{path} is not a readable analysis record ({reason[:160]}): "
                               f"{_record_fix(path)}") from None


def _read_arrays(path: str) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    lists: Dict[str, Dict[int, np.ndarray]] = {}
    counts: Dict[str, int] = {}
    with np.load(path, allow_pickle=False) as data:
        if not hasattr(data, "files"):
            raise UserInputError("it holds one array, not the named arrays of a record")
        for key in data.files:
            value = data[key]
            if value.dtype == object:
                raise UserInputError(f"array {key!r} holds Python objects")
            if key in ("epoch",) or key.endswith("__count"):
                if value.ndim != 0 or value.dtype.kind not in "iu":
                    raise UserInputError(f"{key!r} is not one integer (shape {value.shape}, "
                                     f"{value.dtype})")
            if key == "layer_names" and (value.ndim != 1 or value.dtype.kind != "U"):
                raise UserInputError(f"'layer_names' is not a list of names (shape "
                                 f"{value.shape}, {value.dtype})")
            if key.endswith("__count"):
                counts[key[: -len("__count")]] = int(value)
                continue
            match = _PER_LAYER.match(key)
            if match:
                lists.setdefault(match.group(1), {})[int(match.group(2))] = value
            elif key == "layer_names":
                out[key] = [str(v) for v in value.tolist()]
            elif key == "epoch":
                out[key] = int(value)
            else:
                out[key] = value
    if "epoch" not in out:
        raise UserInputError("it has no 'epoch'")
    for name in set(lists) | set(counts):
        items = lists.get(name, {})
        out[name] = [items[i] for i in range(counts.get(name, len(items)))]
    return out


def load_records(record_dir: str) -> Dict[str, Dict[int, Dict[str, Any]]]:
    """Read back everything the analysis callbacks saved in ``record_dir``.

    Returns ``{kind: {epoch: record}}`` with kinds as in :data:`RECORD_KINDS` (only those
    present; unknown kinds written with :func:`save_record` are included too) and epochs in
    increasing order. Each record is a dict of numpy arrays, with ``layer_names`` a list of
    str, ``epoch`` an int and per-layer lists restored (see the module docstring).
    """
    if not os.path.isdir(record_dir):
        raise UserInputError(
            f"record_dir {record_dir!r} is not a directory; pass the record_dir given to the "
            "analysis callbacks"
        )
    found: Dict[str, Dict[int, str]] = {}
    for name in os.listdir(record_dir):
        match = _FILE.match(name)
        if match:
            found.setdefault(match.group(1), {})[int(match.group(2))] = name
    return {
        kind: {e: _load_one(os.path.join(record_dir, files[e])) for e in sorted(files)}
        for kind, files in sorted(found.items())
    }


def trim_records(record_dir: str, epochs_done: int) -> List[str]:
    """Delete the records of epochs ``>= epochs_done`` (those of an epoch a kill cut short
    before its checkpoint, which a resumed training measures again); returns the deleted
    paths. A missing ``record_dir`` holds nothing to delete."""
    if not os.path.isdir(record_dir):
        return []
    deleted = []
    for name in sorted(os.listdir(record_dir)):
        match = _FILE.match(name)
        if match and int(match.group(2)) >= epochs_done:
            os.remove(os.path.join(record_dir, name))
            deleted.append(os.path.join(record_dir, name))
    return deleted
