"""One writer per run folder: an advisory ``fcntl.flock`` lock on ``RUN/.lock``.

``larq-adam train``, ``export`` and ``report`` and :func:`larq_adam.training.train` take
the lock of the folder they write for as long as they write. A second writer is refused
with one line naming the holder's process id (written into the lock file by the holder).
The kernel releases the lock when its holder ends, however it ends (SIGKILL, a lost
machine's reboot), so a lock left by a dead process never blocks: there is nothing to
clean up by hand.

The lock is re-entrant within one process: a command that holds it may call a library
function that takes it again (the lock file names the holder, and the holder empties the
file before it lets go, so a stale id never reads as this process).

Example:
    >>> from larq_adam.run_lock import run_lock
    >>> with run_lock("runs/x", command="larq-adam report"):   # doctest: +SKIP
    ...     write_the_report()
"""
import contextlib
import errno
import fcntl
import os
from pathlib import Path
from typing import Iterator, Optional, Union

from larq_adam.disk import write_error
from larq_adam.errors import RunLockedError

__all__ = ["LOCK_FILE", "run_lock", "lock_holder"]

LOCK_FILE = ".lock"
PathLike = Union[str, os.PathLike]


def lock_holder(run_dir: PathLike) -> Optional[str]:
    """What the lock file of ``run_dir`` says about its holder (``"pid 123 (larq-adam
    train)"``), or None when it says nothing (no lock file, or an empty one)."""
    path = Path(run_dir) / LOCK_FILE
    try:
        text = path.read_text(errors="replace").strip()
    except OSError:
        return None
    return text or None


def _pid_of(holder: Optional[str]) -> Optional[int]:
    parts = (holder or "").split()
    return int(parts[1]) if len(parts) > 1 and parts[0] == "pid" and parts[1].isdigit() \
        else None


def _open(path: Path, create: bool) -> int:
    try:
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        converted = write_error(err, path=path)
        raise (converted or err) from None


def _missing_top(folder: Path) -> Optional[Path]:
    """The highest of ``folder`` and its parents that does not exist (None: it exists)."""
    top = None
    for path in (folder, *folder.parents):
        if path.exists():
            break
        top = path
    return top


def _remove_if_only_lock(folder: Path, top: Optional[Path]) -> None:
    """Remove the folders this lock created (``folder`` up to ``top``) when nothing but
    the lock file was written into them: a command refused before it wrote leaves no
    trace."""
    if top is None:
        return
    try:
        if [p.name for p in folder.iterdir()] != [LOCK_FILE]:
            return
        (folder / LOCK_FILE).unlink()
        for path in (folder, *folder.parents):
            path.rmdir()
            if path == top:
                break
    except OSError:
        pass  # another process wrote there meanwhile, or the folder is gone: leave it


@contextlib.contextmanager
def run_lock(run_dir: PathLike, *, command: str = "larq-adam", create: bool = True
             ) -> Iterator[Path]:
    """Hold the writer's lock of ``run_dir`` for the block; yields the lock file's path.
    ``create``: make the folder when it is missing (else the call fails with
    ``FileNotFoundError``); folders made here are removed again when the block wrote
    nothing into them. ``command`` is written beside the pid for the next caller.

    Raises:
        RunLockedError: another process holds the lock (the message names its pid).
        DiskWriteError: the folder cannot be created or written (read-only, no permission,
            full).
    """
    folder = Path(run_dir)
    top = _missing_top(folder)
    fd = _open(folder / LOCK_FILE, create)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            holder = lock_holder(folder)
            if _pid_of(holder) == os.getpid():
                yield folder / LOCK_FILE  # this process holds it already (an outer call)
                return
            raise RunLockedError(
                f"{folder} is being written by another process "
                f"({holder or 'its pid is not written yet'}): wait for it to finish or stop "
                f"it, then run again (a lock left by a process that died never blocks)"
            ) from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()} ({command})\n".encode(), 0)
        except OSError as err:
            raise (write_error(err, path=folder / LOCK_FILE) or err) from None
        try:
            yield folder / LOCK_FILE
        finally:
            os.ftruncate(fd, 0)  # a stale pid must never read as a later holder's
            fcntl.flock(fd, fcntl.LOCK_UN)
            _remove_if_only_lock(folder, top)
    finally:
        os.close(fd)
