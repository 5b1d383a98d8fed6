"""Single-image latency of a ``.tflite`` in LCE's (or TFLite's) interpreter, and its size.

The paper's case for BNNs is their cost (Table 3: binary against float operations); this
measures it on this machine's CPU, the LCE file against the float twin, side by side.
"""
import time
from typing import Any, Callable, Dict, Union

import numpy as np
import tensorflow as tf

from larq_adam.errors import UserInputError
from larq_adam.export.base import PathLike, read_flatbuffer

__all__ = ["INTERPRETERS", "benchmark"]

INTERPRETERS = ("lce", "tflite")


def _random_input(shape, dtype, rng: np.random.Generator) -> np.ndarray:
    """One input of ``shape``: standard normal floats, or uniform pixels for uint8."""
    if np.dtype(dtype) == np.uint8:
        return rng.integers(0, 256, size=shape).astype(np.uint8)
    return rng.normal(size=shape).astype(dtype)


def _runner(data: bytes, interpreter: str, threads: int, use_indirect_bgemm: bool
            ) -> Callable[[], None]:
    """A function running one inference on a fixed random input."""
    rng = np.random.default_rng(0)
    if interpreter == "lce":
        from larq_compute_engine.tflite.python.interpreter import Interpreter  # lce.testing

        interp = Interpreter(data, num_threads=threads, use_indirect_bgemm=use_indirect_bgemm)
        x = _random_input((1, *interp.input_shapes[0][1:]), interp.input_types[0], rng)
        return lambda: interp.predict(x)
    interp = tf.lite.Interpreter(model_content=data, num_threads=threads)
    interp.allocate_tensors()
    detail = interp.get_input_details()[0]
    x = _random_input(detail["shape"], detail["dtype"], rng)

    def run():
        interp.set_tensor(detail["index"], x)
        interp.invoke()
    return run


def _check_settings(threads: int, runs: int, warmup: int, interpreter: str) -> None:
    if runs < 1 or warmup < 0 or threads < 1:
        raise UserInputError(f"need runs >= 1, warmup >= 0, threads >= 1; got runs={runs}, "
                             f"warmup={warmup}, threads={threads}")
    if interpreter not in INTERPRETERS:
        raise UserInputError(f"interpreter must be one of {', '.join(INTERPRETERS)}, got "
                             f"{interpreter!r}")


def benchmark(path: Union[PathLike, bytes], *, threads: int = 2, runs: int = 20,
              warmup: int = 3, use_indirect_bgemm: bool = True, interpreter: str = "lce"
              ) -> Dict[str, Any]:
    """Single-image latency of a ``.tflite`` and its file size.

    Args:
        path: the ``.tflite`` file or its bytes (LCE or float: LCE's interpreter runs both).
        threads: interpreter threads.
        runs, warmup: timed and untimed inferences on one random input.
        use_indirect_bgemm: LCE's indirect-BGEMM binary kernel - on x86 the fast one
            (measured: 53.8 ms against 171-177 ms by default for ReActNet-A at 224 px).
        interpreter: ``"lce"`` (``larq_compute_engine.testing.Interpreter``) or
            ``"tflite"`` (``tf.lite.Interpreter`` with its default XNNPack delegate; float
            models only).

    Returns:
        dict with ``median_ms``, ``p10_ms``, ``p90_ms``, ``min_ms``, ``max_ms``,
        ``mean_ms``, ``runs``, ``threads``, ``bytes``, ``interpreter``.
    """
    _check_settings(threads, runs, warmup, interpreter)
    data = read_flatbuffer(path)
    run = _runner(data, interpreter, threads, use_indirect_bgemm)
    for _ in range(warmup):
        run()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1e3)
    t = np.asarray(times)
    return {
        "median_ms": float(np.median(t)),
        "p10_ms": float(np.percentile(t, 10)),
        "p90_ms": float(np.percentile(t, 90)),
        "min_ms": float(t.min()),
        "max_ms": float(t.max()),
        "mean_ms": float(t.mean()),
        "runs": runs,
        "threads": threads,
        "bytes": len(data),
        "interpreter": interpreter + (" (indirect bgemm)" if interpreter == "lce"
                                      and use_indirect_bgemm else ""),
    }
