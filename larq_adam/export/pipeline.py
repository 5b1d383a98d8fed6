"""The whole export as one call: :func:`check` converts, proves and describes a BNN.

``check(model, images, out_dir)`` writes ``model.tflite`` (LCE: Table 3's binary convs as
``LceBconv2d``), ``model_float.tflite`` (the FP-stage twin), ``model.json`` (the deployment
contract) and ``export.json`` (the :class:`ExportResult`, which the report renders) into
``out_dir``, and returns the :class:`ExportResult`.
"""
import dataclasses
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from larq_adam.export import compact
from larq_adam.atomic import atomic_write_json
from larq_adam.errors import CorruptFileError, UserInputError, WrongTypeError
from larq_adam.export import device_log as device_logs
from larq_adam.export.base import PathLike, student
from larq_adam.export.bench import benchmark
from larq_adam.export.contract import (check_normalization, to_pixels, with_preprocessing,
                                       write_contract)
from larq_adam.export.convert import no_binary_warning, to_lce, to_tflite_float
from larq_adam.export.loading import larq_warnings_once
from larq_adam.export.ops import op_report
from larq_adam.export.verification import compare_with_keras
from larq_adam.run_files import read_json

__all__ = ["EXPORT_FILE", "LCE_FILE", "FLOAT_FILE", "CONTRACT_FILE",
           "DEFAULT_BENCHMARK_RUNS", "ExportResult", "check"]

EXPORT_FILE = "export.json"
LCE_FILE = "model.tflite"
FLOAT_FILE = "model_float.tflite"
CONTRACT_FILE = "model.json"
DEFAULT_BENCHMARK_RUNS = 10
_DICT_PARTS = ("lce", "float", "verify", "ops", "bench_lce", "bench_float", "device_log")
_FIX = "export the model again (la.export.check or larq-adam export RUN), which rewrites it"


@dataclasses.dataclass
class ExportResult:
    """What :func:`check` found (``export.json``): the dicts of ``to_lce`` (``lce``),
    ``to_tflite_float`` (``float``), ``verify``, ``op_report`` (``ops``) and ``benchmark``
    (``bench_lce``, ``bench_float``), the contract's path, the device log's timing
    (:func:`larq_adam.export.device_log.parse`) and warnings; any part may be ``None``.
    ``passed``: the file computes what Keras computes and no fully binary layer (Eq. 1-2)
    stayed float."""

    source: Optional[str] = None
    images: Optional[str] = None
    lce: Optional[Dict[str, Any]] = None
    float: Optional[Dict[str, Any]] = None
    verify: Optional[Dict[str, Any]] = None
    ops: Optional[Dict[str, Any]] = None
    bench_lce: Optional[Dict[str, Any]] = None
    bench_float: Optional[Dict[str, Any]] = None
    contract: Optional[str] = None
    device_log: Optional[Dict[str, Any]] = None
    warnings: List[str] = dataclasses.field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.verify and self.verify.get("passed")
                    and not (self.ops or {}).get("not_binary"))

    def to_json(self) -> Dict[str, Any]:
        return {**dataclasses.asdict(self), "passed": self.passed}

    @classmethod
    def from_json(cls, record: Dict[str, Any]) -> "ExportResult":
        """The result in ``record``; ``TypeError`` naming a part of the wrong type."""
        fields = {f.name for f in dataclasses.fields(cls)}
        for key, value in record.items():
            if key in _DICT_PARTS and value is not None and not isinstance(value, dict):
                raise WrongTypeError(f"'{key}' is {type(value).__name__}, not an object")
            if key in ("source", "images", "contract") and value is not None \
                    and not isinstance(value, str):
                raise WrongTypeError(f"'{key}' is {type(value).__name__}, not a string")
        warnings = record.get("warnings", [])
        if not isinstance(warnings, list) or not all(isinstance(w, str) for w in warnings):
            raise WrongTypeError("'warnings' is not a list of strings")
        return cls(**{k: v for k, v in record.items() if k in fields})

    @classmethod
    def load(cls, path: PathLike) -> "ExportResult":
        """Read an ``export.json`` (or the folder holding it); one line naming a missing or
        damaged file."""
        path = Path(path)
        path = path / EXPORT_FILE if path.is_dir() else path
        if not path.is_file():
            raise UserInputError(f"no export result at {path}; {_FIX}")
        record = read_json(path, fix=_FIX)
        try:
            return cls.from_json(record)
        except TypeError as err:
            raise CorruptFileError(f"{path} is not an export result ({err}); {_FIX}") from None

    def save(self, path: PathLike) -> str:
        """Write :meth:`to_json` to ``path`` atomically; returns the path."""
        atomic_write_json(path, self.to_json())
        return os.fspath(path)

    def summary(self) -> str:
        """A few lines: the verdict, files, binary ops, verification, latency, warnings."""
        lines = [f"export {'PASSED' if self.passed else 'FAILED'}"
                 + (f" ({self.source})" if self.source else "")]
        lines += _files_line(self.lce, self.float) + _ops_line(self.ops)
        lines += _verify_line(self.verify, self.images)
        lines += _latency_line(self.bench_lce, self.bench_float, self.device_log)
        if self.contract:
            lines.append(f"  contract: {self.contract}")
        return "\n".join(lines + [f"  warning: {w}" for w in self.warnings])


def _files_line(lce: Optional[dict], flt: Optional[dict]) -> List[str]:
    if not lce:
        return []
    text = f"  {os.path.basename(lce['path'])} {lce['bytes'] / 1e6:.3f} MB"
    if flt:
        text += (f", {os.path.basename(flt['path'])} {flt['bytes'] / 1e6:.3f} MB "
                 f"(LCE/float 1/{flt['bytes'] / lce['bytes']:.1f})")
    return [text]


def _ops_line(ops: Optional[dict]) -> List[str]:
    if not ops:
        return []
    return [f"  {ops['binary_convs']} LceBconv2d for {ops.get('keras_binary_layers', '?')} "
            f"fully binary Keras layers; {100 * ops['binary_mac_share']:.1f}% of MACs binary"]


def _verify_line(ver: Optional[dict], images: Optional[str]) -> List[str]:
    if not ver:
        return []
    return [f"  verify on {ver['num_images']} {images or 'images'}: "
            f"{'PASSED, ' + ver['criterion'] if ver['passed'] else 'FAILED'} (max |LCE - "
            f"Keras| {ver['max_abs_diff']:.3g}, {ver['rel_max_diff']:.2g} of the logit scale; "
            f"top-1 agreement {100 * ver['top1_agreement']:.1f}%)"]


def _latency_line(b_lce: Optional[dict], b_flt: Optional[dict], device: Optional[dict]
                  ) -> List[str]:
    parts = [f"{name} {b['median_ms']:.2f} ms" for name, b in (("LCE", b_lce),
                                                                 ("float", b_flt)) if b]
    lines = [f"  latency on this CPU: {', '.join(parts)}"] if parts else []
    if device:
        lines.append(f"  on the device: average {device['avg_ms']:.2f} ms"
                     + (f", {device['threads']} threads" if device.get("threads") else ""))
    return lines


def _inputs(net, images: Any, labels: Any, normalization: Any, uint8_input: bool):
    """(the model to convert, the verification images as it takes them, labels)."""
    images = np.asarray(images)
    if normalization is not None:
        check_normalization(normalization, int(net.input_shape[-1]))
    if labels is not None:
        labels = np.asarray(labels).reshape(-1)
        if len(labels) != len(images):
            raise UserInputError(f"{len(labels)} labels for {len(images)} images; pass one "
                                 "label per verification image")
    if not uint8_input:
        return net, images, labels
    if normalization is None:
        raise UserInputError("uint8_input=True needs normalization=(mean, std) to put into "
                             "the graph; pass the dataset's (la.data.load's info.mean, "
                             "info.std)")
    pixels = images if images.dtype == np.uint8 else to_pixels(images, normalization)
    return with_preprocessing(net, normalization), pixels, labels


def _accuracy(ref: np.ndarray, got: np.ndarray, labels: Optional[np.ndarray],
              images_from: Optional[str]) -> Optional[Dict[str, Any]]:
    """Keras' and the LCE file's top-1 on the verification images (with labels)."""
    if labels is None or ref.ndim != 2:
        return None
    return {"keras_top1": float(np.mean(ref.argmax(-1) == labels)),
            "lce_top1": float(np.mean(got.argmax(-1) == labels)),
            "images": int(len(labels)), "on": images_from}


def _findings(deploy, ops: Dict[str, Any]) -> List[str]:
    """Warnings: nothing became binary (an FP or BA model), or binary layers stayed float."""
    found = [w for w in (no_binary_warning(deploy),) if w]
    if ops.get("not_binary"):
        found.append(f"{len(ops['not_binary'])} fully binary layers stayed float in the LCE "
                     f"file: {', '.join(ops['not_binary'])}; LCE makes only QuantConv2D "
                     "with 1-bit input and kernel quantizers binary")
    return found


def _benchmarks(result: ExportResult, runs: int) -> None:
    if runs:
        result.bench_lce = benchmark(result.lce["path"], runs=runs)
        if result.float:
            result.bench_float = benchmark(result.float["path"], runs=runs)


def _drop_descriptions(out: Path) -> None:
    """Remove the contract and results of an earlier export before its files are
    rewritten: a kill in between leaves files without a description, never a contract
    that describes another file (the new ones are written after the new files)."""
    for name in (CONTRACT_FILE, EXPORT_FILE):
        (out / name).unlink(missing_ok=True)


def _check_options(classifier: str, benchmark_runs: int) -> None:
    compact.check_dtype(classifier)
    if not isinstance(benchmark_runs, int) or isinstance(benchmark_runs, bool) \
            or benchmark_runs < 0:
        raise UserInputError(f"benchmark_runs must be an int >= 0 (0 skips the benchmark), "
                             f"got {benchmark_runs!r}")


def check(model: Any, images: Any, out_dir: PathLike, *, labels: Any = None,
          class_names: Optional[Sequence[str]] = None, normalization: Any = None,
          classifier: str = "float32", uint8_input: bool = False,
          benchmark_runs: int = DEFAULT_BENCHMARK_RUNS, float_twin: bool = True,
          source: Optional[str] = None, images_from: Optional[str] = None,
          device_log: Optional[PathLike] = None) -> ExportResult:
    """Convert ``model`` to LCE (and its FP-stage twin to float TFLite), list the ops
    (Table 3's binary MAC share), verify the file against Keras on ``images`` (the run's
    own test images; DESIGN.md's criterion), time both files, write the deployment
    contract and ``export.json`` into ``out_dir``. ``normalization=(mean, std)`` goes into
    the contract; ``uint8_input=True`` also puts it into the graph (the file takes uint8
    pixels, verified on the pixels of ``images``). ``labels`` add Keras' and LCE's top-1,
    ``device_log`` an ``lce_benchmark_model`` log's timing. A bad argument fails in one
    line before anything is converted; a mismatch is reported, not raised."""
    net = student(model)
    _check_options(classifier, benchmark_runs)
    device = device_logs.read(device_log) if device_log is not None else None
    deploy, x, labels = _inputs(net, images, labels, normalization, uint8_input)
    out = Path(out_dir)
    _drop_descriptions(out)
    result = ExportResult(source=source, images=images_from, device_log=device)
    with larq_warnings_once():
        result.lce = to_lce(deploy, out / LCE_FILE, classifier=classifier)
        if float_twin:
            result.float = to_tflite_float(deploy, out / FLOAT_FILE)
        result.ops = op_report(result.lce["path"], model=deploy, raise_on_missing=False)
        result.verify, ref, got = compare_with_keras(deploy, result.lce["path"], x,
                                                     classifier=classifier)
    _benchmarks(result, benchmark_runs)
    result.contract = write_contract(
        out / CONTRACT_FILE, result.lce, ops=result.ops, normalization=normalization,
        in_graph=uint8_input, class_names=class_names, float_file=result.float,
        accuracy=_accuracy(ref, got, labels, images_from))
    result.warnings = _findings(deploy, result.ops)
    result.save(out / EXPORT_FILE)
    return result
