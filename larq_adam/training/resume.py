"""What a resumed step needs: its own seed, checked checkpoints, allowed changes.

(The input pipeline's position is restored by :func:`larq_adam.data.load` with
``epoch=E``: epoch ``E``'s order and augmentation depend on the seed and ``E`` alone.)

* :func:`step_seed`: the seed a step's weights are initialised with, from the run's seed
  and the step's name, so it does not depend on what ran before it in the process (a
  resumed run skips the finished steps).
* :func:`restore_newest`: restores the newest checkpoint that reads back whole. A truncated
  data file or a garbage ``.index`` sends it to the previous checkpoint (with a
  :class:`RecoveryWarning` that says so); a garbage ``checkpoint`` state file is rebuilt
  from the ``ckpt-N`` files present rather than read as "no checkpoint".
* :func:`allowed_settings` / :func:`check_settings`: a resume refuses other settings than
  the run's, except those named in ``allow_changes`` (``--allow-changes`` on the command
  line), e.g. a lower learning rate after the loss diverged.
"""
import os
import warnings
import zlib
from pathlib import Path
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from larq_adam import keras_internals, vocabulary
from larq_adam.errors import CorruptFileError, RunStateError, UserInputError

__all__ = [
    "ALLOW_CHANGES",
    "RecoveryWarning",
    "step_seed",
    "checkpoint_numbers",
    "checkpoint_problem",
    "restore_newest",
    "allowed_settings",
    "check_settings",
]

#: ``--allow-changes`` names -> the settings they let a resume change.
ALLOW_CHANGES: Dict[str, Tuple[str, ...]] = vocabulary.ALLOW_CHANGES
_CKPT_PREFIX = "ckpt-"
_CORRUPT_PREFIX = "corrupt-"


class RecoveryWarning(UserWarning):
    """A resume fell back to an earlier checkpoint or rebuilt a file, and says which."""


def step_seed(seed: int, name: str) -> int:
    """A 31-bit seed for the step ``name`` of a run seeded ``seed``: the same in every
    process, different between steps."""
    entropy = [int(seed) % 2**64, zlib.crc32(name.encode())]
    return int(np.random.SeedSequence(entropy).generate_state(1, np.uint32)[0] >> 1)


def checkpoint_numbers(ckpt_dir: Path) -> List[int]:
    """The numbers ``N`` of the ``ckpt-N.index`` files in ``ckpt_dir``, newest first."""
    if not ckpt_dir.is_dir():
        return []
    numbers = []
    for p in ckpt_dir.glob(f"{_CKPT_PREFIX}*.index"):
        tail = p.name[len(_CKPT_PREFIX):-len(".index")]
        if tail.isdigit():
            numbers.append(int(tail))
    return sorted(numbers, reverse=True)


def checkpoint_problem(prefix: Path) -> Optional[str]:
    """Why the checkpoint ``prefix`` (``.../ckpt-N``) does not read back, or ``None``:
    every tensor is read, so a truncated or damaged data file (checksums) shows here."""
    try:
        reader = tf.train.load_checkpoint(str(prefix))
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    except Exception as err:  # noqa: BLE001 - TF raises OpError, IndexError, ValueError...
        return f"{type(err).__name__}: {str(err).splitlines()[0][:160]}" if str(err) else \
            type(err).__name__
    return None


def _state_file_problem(ckpt_dir: Path) -> Optional[str]:
    state = ckpt_dir / "checkpoint"
    if not state.exists():
        return None
    from google.protobuf import text_format

    try:
        text_format.Merge(state.read_text(errors="replace"), keras_internals.CheckpointState())
    except text_format.ParseError as err:
        return str(err).splitlines()[0][:120]
    return None


def _set_aside(prefix: Path) -> None:
    """Rename a damaged checkpoint's files to ``corrupt-ckpt-N...`` (kept for inspection,
    never read again, never in the way of the next save)."""
    for p in prefix.parent.glob(prefix.name + ".*"):
        os.replace(p, p.with_name(_CORRUPT_PREFIX + p.name))


def _write_state(ckpt_dir: Path, good: Sequence[int]) -> None:
    paths = [str(ckpt_dir / f"{_CKPT_PREFIX}{n}") for n in sorted(good)]
    tf.compat.v1.train.update_checkpoint_state(
        str(ckpt_dir), paths[-1], all_model_checkpoint_paths=paths)


def _choose(ckpt_dir: Path, label: str) -> Tuple[Optional[int], List[Tuple[int, str]]]:
    """The newest readable checkpoint number (or None) and the damaged ones above it."""
    bad: List[Tuple[int, str]] = []
    numbers = checkpoint_numbers(ckpt_dir)
    for n in numbers:
        problem = checkpoint_problem(ckpt_dir / f"{_CKPT_PREFIX}{n}")
        if problem is None:
            return n, bad
        bad.append((n, problem))
    if bad:
        newest = ckpt_dir / f"{_CKPT_PREFIX}{bad[0][0]}"
        raise CorruptFileError(
            f"{newest}.index/.data-* do not read back ({bad[0][1]}) and {label} has no "
            f"earlier readable checkpoint: delete the folder {ckpt_dir} and run again with "
            "--resume to train this step again from its first epoch")
    return None, bad


def restore_newest(ckpt: tf.train.Checkpoint, ckpt_dir: Path, *, label: str) -> Optional[str]:
    """Restore ``ckpt`` from the newest readable ``ckpt-N`` in ``ckpt_dir``; returns its
    path, or ``None`` when there is no checkpoint.

    Damaged newer checkpoints are renamed ``corrupt-ckpt-N.*`` and a
    :class:`RecoveryWarning` names them and the one used; an unreadable ``checkpoint``
    state file is rebuilt (also with a warning). Raises :class:`CorruptFileError` when
    checkpoints exist but none reads back. ``label`` names the step in messages.
    """
    chosen, bad = _choose(ckpt_dir, label)
    state_problem = _state_file_problem(ckpt_dir)
    if chosen is None:
        return None
    prefix = ckpt_dir / f"{_CKPT_PREFIX}{chosen}"
    for n, problem in bad:
        _set_aside(ckpt_dir / f"{_CKPT_PREFIX}{n}")
        warnings.warn(f"{label}: checkpoint {ckpt_dir / f'{_CKPT_PREFIX}{n}'} does not read "
                      f"back ({problem}); renamed it {_CORRUPT_PREFIX}{_CKPT_PREFIX}{n}.* and "
                      f"resuming from {prefix} instead", RecoveryWarning, stacklevel=2)
    if state_problem:
        warnings.warn(f"{label}: {ckpt_dir / 'checkpoint'} is unreadable ({state_problem}); "
                      f"rebuilt it from the ckpt-N files, resuming from {prefix}",
                      RecoveryWarning, stacklevel=2)
    if bad or state_problem or tf.train.latest_checkpoint(str(ckpt_dir)) != str(prefix):
        _write_state(ckpt_dir, [n for n in checkpoint_numbers(ckpt_dir)])
    ckpt.restore(str(prefix)).expect_partial()
    return str(prefix)


def allowed_settings(allow_changes: Sequence[str]) -> FrozenSet[str]:
    """The setting names that ``allow_changes`` (``--allow-changes`` names, see
    :data:`ALLOW_CHANGES`) lets a resume change; :class:`UserInputError` for an unknown
    name."""
    if isinstance(allow_changes, str):
        allow_changes = [allow_changes]
    keys = set()
    for name in allow_changes:
        if name not in ALLOW_CHANGES:
            raise UserInputError(f"--allow-changes {name!r} is not a setting a resume may "
                                 f"change; valid: {', '.join(ALLOW_CHANGES)}")
        keys.update(ALLOW_CHANGES[name])
    return frozenset(keys)


def _changeable_names(keys: Sequence[str]) -> List[str]:
    return sorted({n for n, ks in ALLOW_CHANGES.items() if n != "learning_rate"
                   for k in keys if k in ks})


def check_settings(saved: Mapping[str, Any], now: Mapping[str, Any], *, where: str,
                   allowed: FrozenSet[str],
                   ignore: Sequence[str] = ()) -> Dict[str, Tuple[Any, Any]]:
    """Compare a resume's settings with the saved ones; returns the allowed changes
    ``{key: (saved, now)}`` or raises :class:`RunStateError` naming the others and the
    fix. Keys in ``ignore`` and keys absent from ``saved`` are not compared."""
    changed = {k: (saved[k], v) for k, v in now.items()
               if k not in ignore and k in saved and saved[k] != v}
    refused = {k: ab for k, ab in changed.items() if k not in allowed}
    if refused:
        listed = "; ".join(f"{k}: saved {a!r}, now {b!r}" for k, (a, b) in refused.items())
        names = _changeable_names(list(refused))
        hint = (f" (a learning rate or weight decay may change with --allow-changes "
                f"{' '.join(names)})" if names else "")
        raise RunStateError(f"--resume: {where} was started with other settings ({listed}): "
                            f"run again with the saved settings{hint}, or use another "
                            "--run-dir")
    return changed
