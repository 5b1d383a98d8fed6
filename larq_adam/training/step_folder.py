"""A step's folder on disk: what a resume reads back, checks, cuts back or writes again.

``RUN/<step>/`` holds ``config.json`` (the step's settings), ``checkpoints/`` (model,
optimizer, epoch, elapsed seconds and the analysis state), ``history.csv``, ``records/``,
``logs/``, ``best.weights.h5``, ``final.weights.h5`` and, once the step is done,
``result.json``. Every reader names a damaged file and its fix
(:class:`~larq_adam.errors.CorruptFileError`).
"""
import contextlib
import os
import warnings
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple

import tensorflow as tf

from larq_adam import models
from larq_adam.analysis.records import trim_records
from larq_adam.atomic import atomic_save_model, atomic_write_json, atomic_write_text
from larq_adam.errors import CorruptFileError, RunStateError
from larq_adam.results import StepResult
from larq_adam.run_files import h5_problem, read_history, read_json, trim_history
from larq_adam.training import resume as resume_lib
from larq_adam.training.resume import RecoveryWarning

__all__ = ["history_fix", "read_finished", "claim_step_dir", "compare_settings",
           "saved_run_settings", "load_weights",
           "cut_back_to_checkpoint", "recover_model_file", "prune_checkpoints",
           "link_same_weights"]


def history_fix(step_dir: Path) -> str:
    """The fix for a damaged ``history.csv``: train the step again from its first epoch."""
    return (f"delete {step_dir / 'checkpoints'} and {step_dir / 'history.csv'} and run again "
            "with --resume to train this step again from its first epoch")


def read_finished(step_dir: Path) -> Optional[StepResult]:
    """The saved result of a finished step (``result.json`` and ``history.csv``), or None
    when the step has not finished."""
    path = step_dir / "result.json"
    if not path.exists():
        return None
    saved = read_json(path, fix=f"delete it and run again with --resume: the step's last "
                                f"checkpoint is read again and {path.name} rewritten")
    history = read_history(step_dir / "history.csv", fix=history_fix(step_dir))
    try:
        return StepResult.from_json({**saved, "dir": str(step_dir)}, history=history)
    except (KeyError, TypeError, ValueError) as err:
        raise CorruptFileError(f"{path} is not a step result ({type(err).__name__}: {err}): "
                               f"delete it and run again with --resume: the step's last "
                               f"checkpoint is read again and {path.name} rewritten") from None


def _relocatable(settings: Dict[str, Any]) -> Dict[str, Any]:
    """Settings with their paths cut to the last two parts (``step1/best.weights.h5``), so
    a run folder that was moved or copied still resumes."""
    out = dict(settings)
    for key in ("init_from", "teacher"):
        if out.get(key):
            out[key] = "/".join(Path(out[key]).parts[-2:])
    return out


def claim_step_dir(step_dir: Path, settings: Dict[str, Any], *, resume: bool,
                   allow_changes: Sequence[str]) -> None:
    """Check that ``step_dir`` may hold a step with ``settings`` (empty, or resumed with
    the saved settings but for ``allow_changes``) and write its ``config.json`` (with the
    changes a resume was allowed, if any)."""
    config_path = step_dir / "config.json"
    if not resume and step_dir.exists() and any(step_dir.iterdir()):
        raise RunStateError(f"{step_dir} already holds a run; add --resume to continue it, "
                            "or pass another --run-dir (or delete the folder) to start afresh")
    record = dict(settings)
    if resume and config_path.exists():
        saved, changes = compare_settings(step_dir, settings, allow_changes=allow_changes)
        record["changes"] = list(saved.get("changes", [])) + (
            [{k: list(v) for k, v in changes.items()}] if changes else [])
    step_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(config_path, record)


def compare_settings(step_dir: Path, settings: Dict[str, Any], *,
                     allow_changes: Sequence[str]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """``(saved settings, allowed changes)`` of the step in ``step_dir`` against
    ``settings``; :class:`RunStateError` for other changes, or when a finished step's
    ``config.json`` is missing (its settings could not be checked)."""
    config_path = step_dir / "config.json"
    if not config_path.exists():
        raise RunStateError(
            f"{config_path} is missing, so the settings of the finished step in {step_dir} "
            "cannot be checked against these: restore that file, or train in another "
            "--run-dir (a finished run is never rewritten with other settings)")
    saved = read_json(config_path, fix="delete it and run again with --resume (the step's "
                                       "checkpoints hold its state)")
    changes = resume_lib.check_settings(
        _relocatable(saved), _relocatable(dict(settings)), where=str(step_dir),
        allowed=resume_lib.allowed_settings(allow_changes), ignore=("run",))
    return saved, changes


def saved_run_settings(step_dirs: Sequence[Path]) -> Optional[Tuple[Path, Dict[str, Any]]]:
    """``(file, the run's configuration)`` from the last of ``step_dirs`` whose
    ``config.json`` keeps it (the newest: each resume rewrites the step it trains), or
    None when none does."""
    for step_dir in reversed(list(step_dirs)):
        path = step_dir / "config.json"
        if path.exists():
            record = read_json(path, fix="delete the run folder's steps from this one on and "
                                         "run again with --resume")
            if isinstance(record.get("run"), dict):
                return path, record["run"]
    return None


def load_weights(model: tf.keras.Model, path: str) -> None:
    """``model.load_weights(path)``, after checking that the file reads back."""
    problem = h5_problem(path, whole_model=False)
    if problem:
        source = Path(path).parent
        fix = (f"delete {source / 'result.json'} and run again with --resume to write "
               f"{Path(path).name} again from {source.name}'s last checkpoint"
               if Path(path).name == "final.weights.h5" else
               "start the run again in another --run-dir (or with init='final')")
        raise CorruptFileError(f"{path} cannot be read ({problem}): {fix}")
    model.load_weights(path)


def cut_back_to_checkpoint(step_dir: Path, epochs_done: int) -> None:
    """Keep the history rows and analysis records of the checkpointed epochs only: an
    epoch cut short by a kill is trained, logged and measured again."""
    trim_history(step_dir / "history.csv", epochs_done, fix=history_fix(step_dir))
    trim_records(str(step_dir / "records"), epochs_done)


def recover_model_file(path: Path, *, build: Dict[str, Any], weights: Path,
                       strategy: Optional[tf.distribute.Strategy] = None) -> None:
    """The recovery path of a whole-model file that a finished step wrote (the teacher's
    ``model.h5``, the run's ``final_model.h5``): when it is missing or unreadable (cut
    short by a kill before writes were atomic), build the model (``build``: keyword
    arguments of :func:`larq_adam.models.build_model`), load the step's ``weights`` and
    write it again, with a :class:`RecoveryWarning` when a damaged file was there."""
    problem = h5_problem(path, whole_model=True)
    if problem is None:
        return
    if path.exists():
        warnings.warn(f"{path} cannot be read ({problem}); writing it again from {weights}",
                      RecoveryWarning, stacklevel=2)
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        model = models.build_model(**build)
    load_weights(model, str(weights))
    atomic_save_model(model, path, include_optimizer=False)


def prune_checkpoints(step_dir: Path, slim: Optional[tf.train.Checkpoint] = None) -> int:
    """Keep only the newest checkpoint of a finished step (older ones guard an epoch in
    progress against a damaged newest file; a finished step is read back from
    ``result.json``); returns the number of checkpoints removed. ``slim``: the step's
    checkpoint without the optimizer (model, epoch, elapsed time, analysis state), written
    over the newest one: all that a finished step is read again from (its optimizer state
    is a third of a float model per Adam slot, and no epoch is left to train with it).

    The state file is rewritten (atomically) before any file goes, so a kill in between
    leaves only files that the next call removes."""
    folder = step_dir / "checkpoints"
    state = tf.train.get_checkpoint_state(str(folder)) if folder.is_dir() else None
    if state is None or not state.model_checkpoint_path:
        return 0
    newest = Path(state.model_checkpoint_path).name
    others = [p for p in [*folder.glob("ckpt-*"), *folder.glob(_SLIM_PREFIX + "*")]
              if p.name.split(".", 1)[0] != newest]
    if len(state.all_model_checkpoint_paths) > 1 or others:  # the state file's text format
        atomic_write_text(folder / "checkpoint", f'model_checkpoint_path: "{newest}"\n'
                                                 f'all_model_checkpoint_paths: "{newest}"\n')
    removed = set()
    for path in others:
        path.unlink()
        if path.name.startswith("ckpt-"):
            removed.add(path.name.split(".", 1)[0])
    if slim is not None:
        written = Path(slim.write(str(folder / f"{_SLIM_PREFIX}{newest}")))
        for part in sorted(folder.glob(written.name + ".*"), key=lambda p: p.suffix == ".index"):
            part.replace(folder / (newest + part.name[len(written.name):]))
    return len(removed)


_SLIM_PREFIX = "slim-"


def link_same_weights(source: Path, same: Path) -> None:
    """Make ``same`` a hard link to ``source`` when both hold the same weights (a step whose
    best epoch is its last: ``best.weights.h5`` and ``final.weights.h5``), so they are stored
    once; replaced atomically, and left as it is where the file system has no hard links.
    Every later write of either file renames a new file into place, which breaks the link."""
    if not same.is_file():
        return
    temporary = same.with_name(same.name + ".link")
    try:
        temporary.unlink(missing_ok=True)
        os.link(source, temporary)
    except OSError:
        return
    os.replace(temporary, same)
