"""The timing a device measured with LCE's ``lce_benchmark_model``, read from its log.

``lce_benchmark_model`` is TFLite's ``benchmark_model`` with LCE's ops (Table 3's binary
convolutions as ``LceBconv2d``), so its log has TFLite's format: parameter lines
(``Num threads: [4]``, ``Graph: [model.tflite]``), one ``count=... first=... curr=...
min=... max=... avg=... std=...`` line for the warm-up and one for the timed runs (in
microseconds), ``Inference timings in us: Init: ..., First inference: ..., Warmup (avg):
..., Inference (avg): ...`` and ``Peak memory footprint (MB): init=... overall=...``.
Lines may carry a logger prefix (``INFO: ``, an Android logcat header).
"""
import os
import re
from typing import Any, Dict, Optional

from larq_adam.errors import CorruptFileError, UserInputError
from larq_adam.export.base import PathLike

__all__ = ["KEYS", "parse", "read"]

#: the keys of :func:`parse`'s dict (``None`` where the log does not say).
KEYS = ("model", "avg_ms", "min_ms", "max_ms", "std_ms", "runs", "threads", "init_ms",
        "peak_memory_mb")

_NUMBER = r"(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"
_STATS = re.compile(r"(?:^|[\s:])count=(\d+)((?:\s+\w+=" + _NUMBER + r")*)\s*$")
_TIMINGS = re.compile(r"inference timings in us:(.*)$", re.IGNORECASE)
_THREADS = re.compile(r"(?:Num threads|#threads used for CPU inference):\s*\[(-?\d+)\]")
_GRAPH = re.compile(r"Graph:\s*\[([^\]]*)\]")
_MEMORY = re.compile(r"(?:Peak memory footprint|Memory footprint delta from the start of "
                     r"the tool) \(MB\):.*?overall=" + _NUMBER)


def _fields(text: str) -> Dict[str, float]:
    """``name=value`` / ``Name: value`` pairs of one line as numbers."""
    pairs = re.findall(r"([A-Za-z][\w ()]*?)\s*[=:]\s*" + _NUMBER, text)
    return {name.strip(): float(value) for name, value in pairs}


def _timed_runs(lines) -> Optional[Dict[str, float]]:
    """The statistics of the timed runs: the last ``count=`` line before the inference
    summary (the first is the warm-up; per-op profiles, ``Timings (microseconds):
    count=...``, come after it)."""
    found = None
    for line in lines:
        if _TIMINGS.search(line):
            break
        match = _STATS.search(line)
        if match and "Timings (microseconds)" not in line:
            found = {"count": float(match.group(1)), **_fields(match.group(2))}
    return found


def _last(pattern: "re.Pattern", lines) -> Optional[str]:
    hits = [m.group(1) for m in map(pattern.search, lines) if m]
    return hits[-1] if hits else None


def _ms(us: Optional[float]) -> Optional[float]:
    return None if us is None else us / 1e3


def parse(text: str) -> Dict[str, Any]:
    """The timing in an ``lce_benchmark_model`` log: ``model`` (the ``Graph`` path),
    ``avg_ms`` / ``min_ms`` / ``max_ms`` / ``std_ms`` and ``runs`` of the timed runs,
    ``threads``, ``init_ms`` and ``peak_memory_mb`` (overall); ``None`` for what the log
    does not say. :class:`~larq_adam.errors.UserInputError` (one line) when the text holds
    no inference timing."""
    lines = text.splitlines()
    stats = _timed_runs(lines) or {}
    summary = _fields(_last(_TIMINGS, lines) or "")
    avg = stats.get("avg", summary.get("Inference (avg)"))
    if avg is None:
        raise UserInputError(
            "the device log holds no inference timing (no 'count=... avg=...' line and no "
            "'Inference timings in us: ...' line); pass the full output of "
            "lce_benchmark_model --graph=model.tflite")
    threads, memory = _last(_THREADS, lines), _last(_MEMORY, lines)
    return {
        "model": _last(_GRAPH, lines) or None,
        "avg_ms": _ms(avg),
        "min_ms": _ms(stats.get("min")),
        "max_ms": _ms(stats.get("max")),
        "std_ms": _ms(stats.get("std")),
        "runs": int(stats["count"]) if "count" in stats else None,
        "threads": int(threads) if threads is not None else None,
        "init_ms": _ms(summary.get("Init")),
        "peak_memory_mb": float(memory) if memory is not None else None,
    }


def read(path: PathLike) -> Dict[str, Any]:
    """:func:`parse` of the log file at ``path``; one line naming the file when it is
    missing, unreadable or holds no timing."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise UserInputError(f"no device log at {path!r}; save the output of "
                             "lce_benchmark_model --graph=model.tflite to a file and pass it")
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError as err:
        raise CorruptFileError(f"{path} cannot be read ({err.strerror}); pass a readable "
                               "lce_benchmark_model log") from None
    try:
        return parse(text)
    except UserInputError as err:
        raise UserInputError(f"{path}: {err}") from None
