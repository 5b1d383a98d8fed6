"""Room and permission to write: checked before a run writes, and failed writes explained.

* :func:`check_room`: raises :class:`~larq_adam.errors.DiskWriteError` when the file system
  holding a folder has less free space than a write needs (e.g. the next checkpoint);
* :func:`check_writable`: the folder (or its nearest existing parent) accepts a new file;
* :func:`write_error`: the one-line :class:`~larq_adam.errors.DiskWriteError` that a full
  disk (``ENOSPC``, ``EDQUOT``), a read-only file system (``EROFS``) or a missing
  permission (``EACCES``, ``EPERM``) becomes, naming the file and the fix; ``None`` for
  any other error. It also reads TensorFlow's and h5py's errors, which carry the cause in
  their message rather than an ``errno``.
"""
import errno
import os
import shutil
import tempfile
from pathlib import Path
from typing import Optional, Union

from larq_adam.errors import DiskWriteError

__all__ = ["FULL", "DENIED", "check_room", "check_writable", "write_error", "human_bytes"]

PathLike = Union[str, os.PathLike]
FULL = (errno.ENOSPC, errno.EDQUOT)
DENIED = (errno.EROFS, errno.EACCES, errno.EPERM)
#: message fragments of the same causes in errors that carry no errno (TensorFlow's C++
#: file system, HDF5)
_TEXT = {errno.ENOSPC: ("no space left on device", "errno 28", "errno = 28"),
         errno.EROFS: ("read-only file system", "errno 30", "errno = 30"),
         errno.EACCES: ("permission denied", "errno 13", "errno = 13")}


def human_bytes(n: float) -> str:
    """``n`` bytes in a few characters (``"1.2 GB"``)."""
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000.0
    return f"{n:.1f} PB"


def _existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_room(folder: PathLike, need_bytes: float, *, what: str) -> None:
    """Raise :class:`DiskWriteError` when the file system of ``folder`` (or of its nearest
    existing parent) has fewer than ``need_bytes`` free; ``what`` names the write."""
    where = _existing(Path(folder))
    free = shutil.disk_usage(where).free
    if free < need_bytes:
        raise DiskWriteError(
            f"{Path(folder)}: {what} needs about {human_bytes(need_bytes)} but "
            f"only {human_bytes(free)} is free on its disk: free space there (or pass another "
            f"--run-dir), then run again with --resume", code=errno.ENOSPC,
            filename=os.fspath(folder))


def check_writable(folder: PathLike) -> None:
    """Raise :class:`DiskWriteError` when a file cannot be created in ``folder`` (or in
    its nearest existing parent, where the folder would be created)."""
    where = _existing(Path(folder))
    if where.is_file():
        raise DiskWriteError(f"{where} is a file, so the folder {folder} cannot be made "
                             "there: pass another --run-dir", code=errno.ENOTDIR,
                             filename=os.fspath(where))
    try:
        with tempfile.TemporaryFile(dir=where):
            pass
    except OSError as err:
        converted = write_error(err, path=where)
        raise (converted or err) from None


def _cause(err: BaseException) -> Optional[int]:
    number = getattr(err, "errno", None)
    if number in FULL + DENIED:
        return number
    text = str(err).lower()
    for code, fragments in _TEXT.items():
        if any(f in text for f in fragments):
            return code
    return None


def write_error(err: BaseException, *, path: Optional[PathLike] = None
                ) -> Optional[DiskWriteError]:
    """The :class:`DiskWriteError` that ``err`` stands for (a full disk, a read-only file
    system, no permission), naming ``path`` (default: the error's own file name); ``None``
    when ``err`` is something else. An error that is one already is returned as it is."""
    if isinstance(err, DiskWriteError):
        return err
    code = _cause(err)
    if code is None:
        return None
    name = path or getattr(err, "filename", None) or "a file"
    if code in FULL:
        message = (f"{name}: the disk is full (no space left for this write): free space on "
                   "that disk (or use a folder on another one), then run the command again "
                   "(a training with --resume); nothing half-written is kept")
    elif code == errno.EROFS:
        message = (f"{name}: the file system is read-only, so it cannot be written: keep the "
                   "run folder (and the working directory) on a writable disk, e.g. copy the "
                   "run folder there and run on the copy")
    else:
        message = (f"{name}: permission denied for this write: the user running the command "
                   "needs write permission there (chmod u+w), or use a folder on a writable "
                   "disk")
    return DiskWriteError(message, code=code,
                          filename=None if name == "a file" else os.fspath(name))
