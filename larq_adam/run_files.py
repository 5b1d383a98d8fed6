"""Reading a run folder's files without trusting them: one clear error per bad file.

The training steps and the report read the same files (``config.json``, ``result.json``,
``history.csv``, Keras ``.h5`` files). Each reader here raises
:class:`~larq_adam.errors.CorruptFileError` with one line that names the file, says what is
wrong with it and what to do (the caller's ``fix``), instead of a parser's traceback.

``history.csv`` is written by Keras' ``CSVLogger`` one row per epoch: a row cut short by a
kill while it was being written can only be the last one and is dropped; a bad row before
the last is corruption.
"""
import csv
import io
import json
import math
import os
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, TypeVar, Union

from larq_adam.atomic import atomic_write_text
from larq_adam.errors import CorruptFileError, RunStateError, UserInputError

__all__ = ["MAX_JSON_DEPTH", "json_depth", "parse_json", "read_json", "read_typed_json", "read_history", "trim_history", "h5_problem",
           "MODEL_NAMES", "find_model"]

T = TypeVar("T")

PathLike = Union[str, os.PathLike]
_MISSING_VALUES = ("", "na", "nan")
#: the deepest nesting of arrays and objects a run folder's JSON may have (the project's
#: own files nest a few levels); deeper is refused before Python's recursion limit is met
MAX_JSON_DEPTH = 64


def json_depth(text: str) -> int:
    """The deepest nesting of ``[`` / ``{`` in JSON ``text`` (brackets inside strings not
    counted); linear in the length, no recursion."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def parse_json(text: Union[str, bytes], *, where: str, fix: str) -> Any:
    """The JSON value of ``text``; :class:`CorruptFileError` naming ``where`` when it is
    not JSON, not UTF-8 or nested deeper than :data:`MAX_JSON_DEPTH`."""
    try:
        decoded = text.decode("utf-8") if isinstance(text, bytes) else text
        depth = json_depth(decoded)
        if depth > MAX_JSON_DEPTH:
            raise CorruptFileError(f"{where} nests arrays or objects {depth} deep (at most "
                                   f"{MAX_JSON_DEPTH} are read): {fix}")
        return json.loads(decoded)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as err:
        where_in = f" at line {err.lineno}" if isinstance(err, json.JSONDecodeError) else ""
        reason = getattr(err, "msg", None) or type(err).__name__
        raise CorruptFileError(f"{where} is not valid JSON ({reason}{where_in}; "
                               f"{len(text)} bytes): {fix}") from None


def read_json(path: PathLike, *, fix: str) -> Dict[str, Any]:
    """The JSON object in ``path``; ``FileNotFoundError`` when there is no file,
    :class:`CorruptFileError` (``"<path> is not valid JSON (...): <fix>"``) when it cannot
    be parsed or holds no object."""
    path = Path(path)
    value = parse_json(path.read_bytes(), where=str(path), fix=fix)
    if not isinstance(value, dict):
        raise CorruptFileError(f"{path} holds JSON but not an object: {fix}")
    return value


def read_typed_json(path: PathLike, from_json: Callable[[Dict[str, Any]], T], *, name: str,
                what: str, fix: str) -> T:
    """``from_json`` of the JSON object in ``path`` (``path/name`` when ``path`` is a
    folder): a typed record such as a claims scoreboard or a weight-decay pick.
    ``FileNotFoundError`` when there is no file; :class:`CorruptFileError` (``"<path>
    cannot be read as <what> (...): <fix>"``) when it is not JSON or not such a record."""
    path = Path(path)
    path = path / name if path.is_dir() else path
    record = read_json(path, fix=fix)
    try:
        return from_json(record)
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptFileError(f"{path} cannot be read as {what} ({exc}): {fix}") from None


def _number(value: str) -> Optional[float]:
    if value.strip().lower() in _MISSING_VALUES:
        return float("nan")
    try:
        return float(value)
    except ValueError:
        return None


def _parse_row(header: List[str], row: List[str]) -> Optional[Dict[str, float]]:
    """The row as numbers, or None when it is not one number (or blank) per column."""
    if len(row) != len(header):
        return None
    values = [_number(v) for v in row]
    if any(v is None for v in values):
        return None
    parsed = dict(zip(header, values))
    epoch = parsed.get("epoch", 0.0)
    if not math.isfinite(epoch) or epoch != int(epoch) or epoch < 0:
        return None
    return parsed


def _rows(path: Path, fix: str) -> List[tuple]:
    """``[(line number, raw line, parsed row)]`` of the data rows; a cut last row dropped."""
    lines = path.read_text(errors="replace").splitlines()
    if not lines:
        return []
    header = next(csv.reader([lines[0]]))
    if not header or header[0] != "epoch":
        raise CorruptFileError(f"{path} does not start with the 'epoch,...' header of a "
                               f"Keras CSVLogger file (line 1: {lines[0][:60]!r}): {fix}")
    out = []
    body = [(i + 2, line) for i, line in enumerate(lines[1:]) if line.strip()]
    for k, (number, line) in enumerate(body):
        parsed = _parse_row(header, next(csv.reader(io.StringIO(line)), []))
        if parsed is None:
            if k == len(body) - 1:
                break  # cut short by a kill while it was being written
            raise CorruptFileError(f"{path} line {number} is not a row of {len(header)} "
                                   f"numbers ({line[:60]!r}): {fix}")
        out.append((number, line, parsed))
    return out


def read_history(path: PathLike, *, fix: str) -> List[Dict[str, float]]:
    """The rows of a ``CSVLogger`` file as ``{column: float}`` (blank / ``NA`` -> NaN);
    ``[]`` when the file does not exist. A bad last row (a kill during its write) is
    dropped; a bad row before it raises :class:`CorruptFileError` naming its line."""
    path = Path(path)
    if not path.exists():
        return []
    return [parsed for _, _, parsed in _rows(path, fix)]


def trim_history(path: PathLike, epochs_done: int, *, fix: str) -> None:
    """Keep exactly the rows of epochs ``0 .. epochs_done - 1`` of a ``CSVLogger`` file
    (a kill between an epoch's row and its checkpoint leaves one more; the last of
    duplicate rows wins), rewritten atomically. Raises :class:`CorruptFileError` when the
    row of one of those epochs is missing."""
    path = Path(path)
    if not path.exists():
        if epochs_done:
            raise CorruptFileError(f"{path} is missing but {epochs_done} epoch(s) were "
                                   f"checkpointed: {fix}")
        return
    rows = _rows(path, fix)
    kept: Dict[int, str] = {}
    for _, line, parsed in rows:
        epoch = int(parsed["epoch"])
        if epoch < epochs_done:
            kept[epoch] = line
    missing = [e for e in range(epochs_done) if e not in kept]
    if missing:
        raise CorruptFileError(f"{path} has no row for epoch(s) {missing} (0-based) although "
                               f"{epochs_done} epoch(s) were checkpointed: {fix}")
    header = path.read_text(errors="replace").splitlines()[0]
    text = "\n".join([header, *(kept[e] for e in range(epochs_done))]) + "\n"
    if text != path.read_text(errors="replace"):
        atomic_write_text(path, text)


def h5_problem(path: PathLike, *, whole_model: bool) -> Optional[str]:
    """Why the HDF5 file at ``path`` cannot be used, in a few words; ``None`` when it opens
    (and, with ``whole_model``, holds a Keras model's config). A truncated file fails here:
    HDF5 checks the file's recorded end against its size."""
    import h5py  # imported here: only the readers of model files need it

    path = Path(path)
    if not path.is_file():
        return "it does not exist"
    try:
        with h5py.File(path, "r") as f:
            if whole_model and "model_config" not in f.attrs:
                return "it holds no Keras model (no model_config)"
    except OSError as err:
        return str(err).splitlines()[0]
    return None


#: the model file a finished run folder holds, in the order looked for
MODEL_NAMES = ("final_model.h5", "final_model.keras")


def find_model(path: Union[str, "os.PathLike[str]"]) -> Tuple[Path, Path]:
    """``(model file, folder the export writes)`` for a run folder or a model file;
    UserInputError when ``path`` is neither, RunStateError for a run without its model."""
    target = Path(path)
    if target.is_file():
        return target, target.parent
    if not target.is_dir():
        raise UserInputError(f"{os.fspath(path)!r} is neither a model file nor a run folder; "
                             "give a run folder (e.g. runs/two_step) or a .h5 / .keras file")
    for name in MODEL_NAMES:
        if (target / name).exists():
            return target / name, target
    raise RunStateError(f"no final_model.h5 in {target}; finish the run first (larq-adam "
                        "train --resume --run-dir ...)")
