"""The report's ``## Export`` section, rendered from ``RUN/export.json``.

``export.json`` is what the export wrote (an ``ExportResult`` as JSON): the LCE and float
files, the check of the LCE interpreter against Keras (DESIGN.md, "Verification
criterion"), the op report (every fully binary layer an ``LceBconv2d``, the share of MACs
done in binary ops, Table 3's BOPs), the latencies on this CPU and, when given, on a
device (LCE's ``lce_benchmark_model``), the deployment contract ``model.json`` and the
warnings. It is read as a plain dict: any part may be missing and any number ``null``.
"""
import os
from pathlib import Path
from typing import Any, List, Mapping, Optional, Sequence

from larq_adam.errors import CorruptFileError
from larq_adam.report.cells import finite, megabytes, ms
from larq_adam.run_files import read_json

__all__ = ["EXPORT_FILE", "EXPORT_HEADING", "read_export", "export_section"]

EXPORT_FILE = "export.json"
EXPORT_HEADING = "## Export"
_EXPORT_FIX = "export the run again (larq-adam export RUN), which writes it again"
_PARTS = ("lce", "float", "verify", "ops", "bench_lce", "bench_float", "device_log")
_FILES = (("LCE", "lce", "bench_lce"), ("float TFLite", "float", "bench_float"))


def read_export(run_dir: Path) -> Optional[Mapping[str, Any]]:
    """``RUN/export.json`` as a dict, ``None`` when the run was not exported;
    :class:`~larq_adam.errors.CorruptFileError` (one line) when it is damaged."""
    path = Path(run_dir) / EXPORT_FILE
    if not path.exists():
        return None
    record = read_json(path, fix=_EXPORT_FIX)
    for key in _PARTS:
        if record.get(key) is not None and not isinstance(record[key], dict):
            raise CorruptFileError(f"{path} is not an export result ('{key}' is "
                                   f"{type(record[key]).__name__}, not an object): "
                                   f"{_EXPORT_FIX}")
    if not isinstance(record.get("warnings", []), list):
        raise CorruptFileError(f"{path} is not an export result ('warnings' is not a list): "
                               f"{_EXPORT_FIX}")
    return record


def _g(value: Any, spec: str = ".3g") -> str:
    return format(float(value), spec) if finite(value) else "-"


def _file_row(label: str, info: Mapping[str, Any], bench: Optional[Mapping[str, Any]]) -> str:
    lat, how = "-", "-"
    if bench:
        lat = f"{ms(bench.get('median_ms'))} ({_g(bench.get('p10_ms'), '.2f')}-" \
              f"{_g(bench.get('p90_ms'), '.2f')})"
        how = (f"{bench.get('interpreter') or '-'}, {bench.get('threads') or '-'} threads, "
               f"{bench.get('runs') or '-'} runs")
    name = os.path.basename(str(info.get("path") or "-"))
    return (f"| {label} `{name}` | {megabytes(info.get('bytes'))} | "
            f"{_g(info.get('seconds'), '.1f')} s | {lat} | {how} |")


def _ratios(export: Mapping[str, Any]) -> List[str]:
    lce, flt = export.get("lce") or {}, export.get("float") or {}
    lb, fb = lce.get("bytes"), flt.get("bytes")
    if not (finite(lb) and finite(fb) and float(lb) > 0 and float(fb) > 0):
        return []
    text = f"size LCE/float {float(lb) / float(fb):.3f} (1/{float(fb) / float(lb):.1f})"
    b_lce, b_flt = export.get("bench_lce") or {}, export.get("bench_float") or {}
    lm, fm = b_lce.get("median_ms"), b_flt.get("median_ms")
    if finite(lm) and finite(fm) and float(fm) > 0:
        text += f"; latency LCE/float {float(lm) / float(fm):.2f}"
    return [text, ""]


def _files_block(export: Mapping[str, Any]) -> List[str]:
    """The converted files: size, conversion time, latency on this CPU."""
    rows = [_file_row(label, export[key], export.get(bench))
            for label, key, bench in _FILES if export.get(key)]
    if not rows:
        return []
    lines = ["| file | size | conversion | latency median (p10-p90) | interpreter |",
             "|---|---|---|---|---|", *rows, ""]
    lines += _ratios(export)
    if export.get("bench_lce") or export.get("bench_float"):
        lines += ["Latency on this machine's CPU (x86: not LCE's optimized ARM path).", ""]
    return lines


def _device_line(log: Optional[Mapping[str, Any]]) -> List[str]:
    """``On the device: ...`` from the log of LCE's ``lce_benchmark_model``."""
    if not log:
        return []
    spread = [f"{k} {ms(log.get(k + '_ms'))}" for k in ("min", "max", "std")
              if finite(log.get(k + "_ms"))]
    parts = [f"average {ms(log.get('avg_ms'))}" + (f" ({', '.join(spread)})" if spread else "")]
    if finite(log.get("runs")):
        parts.append(f"{int(log['runs'])} runs")
    if finite(log.get("threads")):
        parts.append(f"{int(log['threads'])} threads")
    if finite(log.get("init_ms")):
        parts.append(f"initialisation {ms(log['init_ms'])}")
    if finite(log.get("peak_memory_mb")):
        parts.append(f"peak memory {float(log['peak_memory_mb']):.1f} MB")
    model = f" (`{os.path.basename(str(log['model']))}`)" if log.get("model") else ""
    return [f"On the device{model}: {', '.join(parts)}.", ""]


def _ops_block(ops: Optional[Mapping[str, Any]]) -> List[str]:
    """The converted file's ops and its share of binary MACs (Table 3's BOPs)."""
    if not ops:
        return []
    lines = []
    if ops.get("ops"):
        lines += ["Ops: " + ", ".join(f"{k} {v}" for k, v in ops["ops"].items()) + ".", ""]
    keras = ops.get("keras_binary_layers")
    lines += [f"Binary convolutions: {ops.get('binary_convs', '-')} `LceBconv2d`"
              + (f" for {keras} fully binary Keras layers" if keras is not None else "")
              + f"; float convs {ops.get('float_convs', '-')}, fully connected "
              f"{ops.get('fully_connected', '-')}. Binary MACs "
              f"{_g(_scaled(ops.get('binary_macs'), 1e-6), '.1f')} M of "
              f"{_g(_scaled(ops.get('total_macs'), 1e-6), '.1f')} M "
              f"({_g(_scaled(ops.get('binary_mac_share'), 100), '.1f')}%; "
              f"{_g(_scaled(ops.get('binary_conv_mac_share'), 100), '.1f')}% of convolution "
              "MACs).", ""]
    if ops.get("not_binary"):
        lines += [f"**Not binary in the converted model:** {', '.join(ops['not_binary'])}.", ""]
    return lines


def _scaled(value: Any, factor: float) -> Optional[float]:
    return float(value) * factor if finite(value) else None


def _verify_block(ver: Optional[Mapping[str, Any]], images: Any) -> List[str]:
    """The LCE interpreter against Keras (``training=False``) on real images."""
    if not ver:
        return []
    status = (f"PASSED, {ver.get('criterion') or 'exact'}" if ver.get("passed") else "FAILED")
    text = (f"Verification ({status}) on {ver.get('num_images', '-')} {images or 'images'}: "
            f"max |LCE - Keras| {_g(ver.get('max_abs_diff'))} "
            f"({_g(ver.get('rel_max_diff'), '.2g')} of max |logit| "
            f"{_g(ver.get('logit_scale'))}; tolerance {_g(ver.get('tolerance'))}), mean "
            f"{_g(ver.get('mean_abs_diff'))}, top-1 agreement "
            f"{_g(_scaled(ver.get('top1_agreement'), 100), '.1f')}%.")
    if finite(ver.get("keras_noise_max")):
        text += (" Keras' own float sensitivity (weights x (1 + 1e-6 noise)): max "
                 f"{_g(ver['keras_noise_max'])}, mean {_g(ver.get('keras_noise_mean'))}.")
    return [text, ""]


def _relative(path: Any, run_dir: Path) -> str:
    """``path`` as seen from ``report.md`` in ``run_dir`` (relative paths are kept)."""
    path = Path(str(path))
    return Path(os.path.relpath(path, run_dir) if path.is_absolute() else path).as_posix()


def _contract_line(contract: Any, run_dir: Path) -> List[str]:
    """A link to the deployment contract ``model.json`` (relative to the report)."""
    if not contract:
        return []
    return [f"Deployment contract: [{Path(str(contract)).name}]"
            f"({_relative(contract, run_dir)}).", ""]


def _warnings_block(warnings: Optional[Sequence[Any]]) -> List[str]:
    if not warnings:
        return []
    return ["Warnings:", "", *(f"- {str(w).strip()}" for w in warnings), ""]


def export_section(export: Mapping[str, Any], *, run_dir: Path) -> str:
    """The ``## Export`` section of ``report.md`` from the dict in ``RUN/export.json``:
    the overall result, the model exported, the files (size, conversion time, latency on
    this CPU), the latency on a device, the ops and binary MACs (Table 3's BOPs), the
    verification against Keras, the link to ``model.json`` and the warnings. Missing parts
    are left out."""
    lines = [EXPORT_HEADING, ""]
    if export.get("passed") is not None:
        lines += [f"Export {'PASSED' if export['passed'] else 'FAILED'}.", ""]
    if export.get("source"):
        lines += [f"Model: `{_relative(export['source'], Path(run_dir))}`", ""]
    lines += _files_block(export)
    lines += _device_line(export.get("device_log"))
    lines += _ops_block(export.get("ops"))
    lines += _verify_block(export.get("verify"), export.get("images"))
    lines += _contract_line(export.get("contract"), Path(run_dir))
    lines += _warnings_block(export.get("warnings"))
    return "\n".join(lines).rstrip() + "\n"
