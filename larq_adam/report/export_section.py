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
from larq_adam.formats import finite, megabytes, ms, number
from larq_adam.run_files import read_json

__all__ = ["EXPORT_FILE", "EXPORT_HEADING", "read_export", "export_section",
           "verification_verdict"]

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
    return number(value, spec)


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
              f"{number(ops.get('binary_macs'), '.1f', scale=1e-6)} M of "
              f"{number(ops.get('total_macs'), '.1f', scale=1e-6)} M "
              f"({number(ops.get('binary_mac_share'), '.1f', scale=100)}%; "
              f"{number(ops.get('binary_conv_mac_share'), '.1f', scale=100)}% of convolution "
              "MACs).", ""]
    if ops.get("not_binary"):
        lines += [f"**Not binary in the converted model:** {', '.join(ops['not_binary'])}.", ""]
    return lines


def _pct(value: Any) -> str:
    """A share in [0, 1] as ``"100.0%"`` (``"-"`` when not recorded)."""
    return number(value, ".1f", scale=100, suffix="%")


def _criterion(ver: Mapping[str, Any]) -> str:
    """The criterion the verification record names (``"exact"``, ``"float sensitivity"``
    or ``"none"``); a record without one is read from its numbers (``"exact"`` when
    ``max_abs_diff <= tolerance``), else ``"not recorded"``."""
    if ver.get("criterion"):
        return str(ver["criterion"])
    mx, tol = ver.get("max_abs_diff"), ver.get("tolerance")
    if finite(mx) and finite(tol) and float(mx) <= float(tol):
        return "exact"
    return "not recorded"


def _exact_clause(ver: Mapping[str, Any]) -> str:
    """``max |LCE - Keras| 1.17 > exact tolerance 0.00119 (988x)`` (or ``<=``)."""
    mx, tol = ver.get("max_abs_diff"), ver.get("tolerance")
    if not (finite(mx) and finite(tol)):
        return f"max |LCE - Keras| {_g(mx)}, exact tolerance {_g(tol)}"
    if float(mx) <= float(tol):
        return f"max |LCE - Keras| {_g(mx)} <= exact tolerance {_g(tol)}"
    over = f", {float(mx) / float(tol):.0f}x" if float(tol) > 0 else ""
    return f"max |LCE - Keras| {_g(mx)} > exact tolerance {_g(tol)}{over}"


def _needed(ver: Mapping[str, Any]) -> Any:
    """The top-1 agreement the verification required (``None`` when not recorded)."""
    return ver.get("needed_top1_agreement", ver.get("min_top1_agreement"))


def _top1_clause(ver: Mapping[str, Any], *, named: bool = True) -> str:
    """``top-1 agreement 100.0%, needed 99.0%`` (without the name: ``100.0%, needed
    99.0%``)."""
    needed = _needed(ver)
    return (("top-1 agreement " if named else "") + _pct(ver.get("top1_agreement"))
            + (f", needed {_pct(needed)}" if finite(needed) else ""))


def _times(value: Any, unit: Any) -> str:
    """``"0.96x "`` of ``value`` against ``unit`` (empty when either is missing)."""
    if finite(value) and finite(unit) and float(unit) > 0:
        return f"{float(value) / float(unit):.2g}x "
    return ""


def _sensitivity_clause(ver: Mapping[str, Any]) -> str:
    """The fallback criterion's numbers: LCE's difference against Keras' own change when
    every weight moves by 1e-6 relative (``""`` when that was not measured)."""
    if not finite(ver.get("keras_noise_max")):
        return ""
    mx, mean = ver.get("max_abs_diff"), ver.get("mean_abs_diff")
    nmax, nmean = ver["keras_noise_max"], ver.get("keras_noise_mean")
    return (f"max |LCE - Keras| {_g(mx)} is {_times(mx, nmax)}Keras' own max change "
            f"{_g(nmax)} and the mean {_g(mean)} is {_times(mean, nmean)}its mean change "
            f"{_g(nmean)} when every weight moves by 1e-6 relative")


def _passed_how(ver: Mapping[str, Any]) -> str:
    """How a passed verification passed: ``"exactly (...)"`` or ``"on the fallback
    criterion, Keras' float sensitivity (...), not exactly (...)"``."""
    criterion, top1, exact = _criterion(ver), _top1_clause(ver), _exact_clause(ver)
    if criterion == "exact":
        return f"exactly ({exact}; {top1})"
    if criterion == "float sensitivity":
        sensitivity = _sensitivity_clause(ver)
        return (f"on the fallback criterion, Keras' float sensitivity ({top1}"
                + (f"; {sensitivity}" if sensitivity else "") + f"), not exactly ({exact})")
    return f"on the criterion {criterion!r} ({exact}; {top1})"


def _failed_why(ver: Mapping[str, Any]) -> str:
    """Why a verification failed: the top-1 agreement, or neither criterion holding."""
    criterion, top1 = _criterion(ver), _top1_clause(ver)
    exact, sensitivity = _exact_clause(ver), _sensitivity_clause(ver)
    if criterion in ("exact", "float sensitivity"):
        held = exact if criterion == "exact" else sensitivity
        return (f"on the top-1 agreement ({_top1_clause(ver, named=False)}), though the "
                f"{criterion} criterion holds ({held})")
    fallback = (f"; nor the fallback, Keras' float sensitivity: {sensitivity}"
                if sensitivity else "; the fallback criterion was not tried")
    return f"with neither criterion holding ({exact}{fallback}; {top1})"


def verification_verdict(ver: Mapping[str, Any]) -> str:
    """The verification's outcome naming the criterion that decided it, with its numbers
    (DESIGN.md, "Verification criterion"): ``"PASSED exactly (...)"``, ``"PASSED on the
    fallback criterion, Keras' float sensitivity (...), not exactly (...)"`` or ``"FAILED
    ..."``. Every number is one of the record's (or a ratio of two of them)."""
    if ver.get("passed"):
        return f"PASSED {_passed_how(ver)}"
    return f"FAILED {_failed_why(ver)}"


def _short_verdict(ver: Mapping[str, Any]) -> str:
    """``"PASSED exactly"``, ``"PASSED on the fallback criterion (Keras' float
    sensitivity), not exactly"`` or ``"FAILED"``."""
    if not ver.get("passed"):
        return "FAILED"
    criterion = _criterion(ver)
    if criterion == "exact":
        return "PASSED exactly"
    if criterion == "float sensitivity":
        return "PASSED on the fallback criterion (Keras' float sensitivity), not exactly"
    return f"PASSED on the criterion {criterion!r}"


def _criteria_text(ver: Mapping[str, Any]) -> str:
    """The two criteria with this record's thresholds (DESIGN.md, "Verification
    criterion")."""
    tol, scale = ver.get("tolerance"), ver.get("logit_scale")
    rule = (f"{_g(ver['atol'])} + {_g(ver['rtol'])} x max |logit|"
            if finite(ver.get("atol")) and finite(ver.get("rtol")) else "the tolerance")
    text = (f"exact when max |LCE - Keras| <= {rule} (max |logit| {_g(scale)}: tolerance "
            f"{_g(tol)}), else (the fallback) within a multiple of how far Keras' own logits "
            "move when every weight moves by 1e-6 relative")
    if finite(ver.get("keras_noise_max")):
        text += (f" (here max {_g(ver['keras_noise_max'])}, mean "
                 f"{_g(ver.get('keras_noise_mean'))}"
                 + (f", top-1 changed on {_pct(ver['keras_noise_top1_changed'])} of the images"
                    if finite(ver.get("keras_noise_top1_changed")) else "") + ")")
    if finite(_needed(ver)):
        text += f"; and a top-1 agreement of at least {_pct(_needed(ver))}"
    return text


def _verify_block(ver: Optional[Mapping[str, Any]], images: Any) -> List[str]:
    """The LCE interpreter against Keras (``training=False``) on real images: the
    criteria with their thresholds, the measured differences and the result."""
    if not ver:
        return []
    text = (f"Verification of the LCE interpreter against Keras (`training=False`) on "
            f"{ver.get('num_images', '-')} {images or 'images'}, criteria of DESIGN.md "
            f"(\"Verification criterion\"): {_criteria_text(ver)}. Measured: max |LCE - "
            f"Keras| {_g(ver.get('max_abs_diff'))} ({_g(ver.get('rel_max_diff'), '.2g')} of "
            f"max |logit|), mean {_g(ver.get('mean_abs_diff'))}, top-1 agreement "
            f"{_pct(ver.get('top1_agreement'))}: {_short_verdict(ver)}.")
    return [text, ""]


def _verdict_line(export: Mapping[str, Any]) -> List[str]:
    """``Export PASSED exactly (...)`` / ``Export PASSED on the fallback criterion ...`` /
    ``Export FAILED: ...``: the overall result and the criterion that decided it."""
    if export.get("passed") is None:
        return []
    ver = export.get("verify") or {}
    stayed_float = (export.get("ops") or {}).get("not_binary") or []
    if export["passed"]:
        return [f"Export PASSED {_passed_how(ver)}." if ver.get("passed") else "Export PASSED.",
                ""]
    n = len(stayed_float)
    reasons = [f"{n} fully binary layer{'s' if n > 1 else ''} stayed float "
               f"({', '.join(map(str, stayed_float))})"] if stayed_float else []
    if ver:
        reasons.append(f"verification {verification_verdict(ver)}")
    return [f"Export FAILED: {'; '.join(reasons)}." if reasons else "Export FAILED.", ""]


def _find(recorded: Any, run_dir: Path) -> Optional[Path]:
    """The file a path recorded in ``export.json`` names, looked for from ``report.md``'s
    folder ``run_dir``: a relative path inside the run folder first, then the file of that
    name beside the report (the export writes its files into the run folder, which may have
    moved since), then the recorded path itself (absolute, or relative to the working
    directory of this process). ``None`` when none exists."""
    path = Path(str(recorded))
    candidates = ([] if path.is_absolute() else [run_dir / path]) + [run_dir / path.name, path]
    return next((c for c in candidates if c.is_file()), None)


def _from_report(path: Path, run_dir: Path) -> str:
    """``path`` relative to ``report.md``'s folder ``run_dir``, as a link target."""
    return Path(os.path.relpath(path.resolve(), run_dir.resolve())).as_posix()


def _as_recorded(recorded: Any, run_dir: Path) -> str:
    """A recorded path that names no file now: relative to the run folder when it lies
    inside it, else as recorded."""
    path = Path(str(recorded))
    if path.is_absolute() and path.is_relative_to(run_dir.resolve()):
        return path.relative_to(run_dir.resolve()).as_posix()
    return str(recorded)


def _model_line(source: Any, run_dir: Path) -> List[str]:
    """``Model: `final_model.h5```: the exported model, relative to the report."""
    if not source:
        return []
    found = _find(source, run_dir)
    if found is None:
        return [f"Model: `{_as_recorded(source, run_dir)}` (not found from the report's "
                "folder)", ""]
    return [f"Model: `{_from_report(found, run_dir)}`", ""]


def _contract_line(contract: Any, run_dir: Path) -> List[str]:
    """A link to the deployment contract ``model.json``, relative to the report (named
    without a link when it is not there)."""
    if not contract:
        return []
    found = _find(contract, run_dir)
    name = Path(str(contract)).name
    if found is None:
        return [f"Deployment contract: `{name}` is missing from the run folder (export the "
                "run again: larq-adam export RUN).", ""]
    return [f"Deployment contract: [{name}]({_from_report(found, run_dir)}).", ""]


def _warnings_block(warnings: Optional[Sequence[Any]]) -> List[str]:
    if not warnings:
        return []
    return ["Warnings:", "", *(f"- {str(w).strip()}" for w in warnings), ""]


def export_section(export: Mapping[str, Any], *, run_dir: Path) -> str:
    """The ``## Export`` section of ``report.md`` from the dict in ``RUN/export.json``:
    the overall result with the verification criterion that decided it, the model
    exported, the files (size, conversion time, latency on this CPU), the latency on a
    device, the ops and binary MACs (Table 3's BOPs), the verification against Keras, the
    link to ``model.json`` (relative to the report) and the warnings. Missing parts are
    left out."""
    run_dir = Path(run_dir)
    lines = [EXPORT_HEADING, ""]
    lines += _verdict_line(export)
    lines += _model_line(export.get("source"), run_dir)
    lines += _files_block(export)
    lines += _device_line(export.get("device_log"))
    lines += _ops_block(export.get("ops"))
    lines += _verify_block(export.get("verify"), export.get("images"))
    lines += _contract_line(export.get("contract"), run_dir)
    lines += _warnings_block(export.get("warnings"))
    return "\n".join(lines).rstrip() + "\n"
