"""The report's ``## Export`` section, rendered from a hand-written ``RUN/export.json``."""
import json

import pytest

from larq_adam import report
from larq_adam.errors import CorruptFileError
from test_report import fake_two_step_run


def full_export(run):
    """An export.json with every part (numbers as an export of a small BNN would give)."""
    return {
        "source": str(run / "final_model.h5"),
        "images": "mnist5k test images",
        "lce": {"path": str(run / "model.tflite"), "bytes": 1_000_000, "seconds": 2.0},
        "float": {"path": str(run / "model_float.tflite"), "bytes": 20_000_000, "seconds": 1.0},
        "verify": {"passed": True, "criterion": "exact", "num_images": 8,
                   "max_abs_diff": 1e-6, "rel_max_diff": 1e-7, "logit_scale": 5.0,
                   "tolerance": 5e-4, "mean_abs_diff": 2e-7, "top1_agreement": 1.0},
        "ops": {"ops": {"LceBconv2d": 8, "LceQuantize": 8, "CONV_2D": 1},
                "binary_convs": 8, "keras_binary_layers": 8, "float_convs": 1,
                "fully_connected": 1, "binary_macs": 4_800_000, "total_macs": 5_000_000,
                "binary_mac_share": 0.96, "binary_conv_mac_share": 0.97,
                "not_binary": ["dense_b (QuantDense)"]},
        "bench_lce": {"median_ms": 2.0, "p10_ms": 1.5, "p90_ms": 2.5, "interpreter": "lce",
                      "threads": 1, "runs": 10, "bytes": 1_000_000},
        "bench_float": {"median_ms": 8.0, "p10_ms": 7.5, "p90_ms": 8.5,
                        "interpreter": "tflite", "threads": 1, "runs": 10,
                        "bytes": 20_000_000},
        "contract": str(run / "model.json"),
        "device_log": {"model": "/data/local/tmp/model.tflite", "avg_ms": 12.5, "min_ms": 11.0,
                       "max_ms": 14.0, "std_ms": 0.75, "runs": 50, "threads": 4,
                       "init_ms": 3.0, "peak_memory_mb": 7.5},
        "warnings": ["dense_b stayed float: LCE makes only QuantConv2D binary"],
        "passed": False,
    }


def _section(text):
    start = text.index("## Export")
    end = text.find("\n## ", start + 1)
    return text[start:] if end < 0 else text[start:end]


def test_export_section_shows_files_device_ops_verification_contract_and_warnings(tmp_path):
    run = fake_two_step_run(tmp_path)
    (run / "export.json").write_text(json.dumps(full_export(run)))
    text = report.make_report(run).read_text()
    assert text.index("## Summary") < text.index("Fig. 7") < text.index("## Export")
    section = _section(text)
    for expected in (
            "Export FAILED.", "Model: `final_model.h5`",
            "| LCE `model.tflite` | 1.00 MB | 2.0 s | 2.00 ms (1.50-2.50) | lce, 1 threads, "
            "10 runs |",
            "| float TFLite `model_float.tflite` | 20.00 MB |",
            "size LCE/float 0.050 (1/20.0); latency LCE/float 0.25",
            "On the device (`model.tflite`): average 12.50 ms (min 11.00 ms, max 14.00 ms, "
            "std 0.75 ms), 50 runs, 4 threads, initialisation 3.00 ms, peak memory 7.5 MB.",
            "Ops: LceBconv2d 8, LceQuantize 8, CONV_2D 1.",
            "Binary MACs 4.8 M of 5.0 M (96.0%; 97.0% of convolution MACs)",
            "**Not binary in the converted model:** dense_b (QuantDense).",
            "Verification (PASSED, exact) on 8 mnist5k test images: max |LCE - Keras| 1e-06",
            "top-1 agreement 100.0%",
            "Deployment contract: [model.json](model.json).",
            "- dense_b stayed float: LCE makes only QuantConv2D binary"):
        assert expected in section, expected
    assert "export (no export.json" not in text


def test_export_section_leaves_out_missing_parts_and_null_numbers(tmp_path):
    export = {"verify": {"passed": False, "num_images": 4, "max_abs_diff": 3.0,
                         "rel_max_diff": None, "logit_scale": None, "tolerance": 1e-4,
                         "mean_abs_diff": None, "top1_agreement": 0.5},
              "device_log": {"model": None, "avg_ms": 9.0, "min_ms": None, "max_ms": None,
                             "std_ms": None, "runs": None, "threads": None, "init_ms": None,
                             "peak_memory_mb": None}}
    section = report.export_section(export, run_dir=tmp_path)
    assert section.startswith("## Export\n")
    assert "Verification (FAILED) on 4 images: max |LCE - Keras| 3 (- of max |logit| -;" in section
    assert "On the device: average 9.00 ms." in section
    for absent in ("| file |", "Ops:", "Deployment contract", "Warnings", "Export PASSED",
                   "Export FAILED", "Model:"):
        assert absent not in section, absent
    assert report.export_section({}, run_dir=tmp_path) == "## Export\n"


def test_report_renders_export_json_and_drops_a_section_written_into_report_md(tmp_path):
    run = fake_two_step_run(tmp_path)
    (run / "report.md").write_text("# old\n\nstale text\n\n## Export\n\nold export\n\n"
                                   "## Later\nold\n")
    text = report.make_report(run).read_text()
    assert "stale text" not in text and "## Later" not in text and "## Export" not in text
    assert "export (no export.json" in text  # listed under "Not shown"
    export = full_export(run) | {"passed": True}
    (run / "export.json").write_text(json.dumps(export))
    text = report.make_report(run).read_text()
    assert text.count("## Export") == 1 and "Export PASSED." in text
    assert report.make_report(run).read_text() == text  # regenerating changes nothing


def test_a_damaged_export_json_is_named_in_one_line(tmp_path):
    run = fake_two_step_run(tmp_path)
    (run / "export.json").write_text('{"source": "final_model.h5", "lce": {')
    with pytest.raises(CorruptFileError, match=r"export\.json is not valid JSON .*export") as err:
        report.make_report(run)
    assert "\n" not in str(err.value)


def test_a_folder_with_only_an_export_gets_a_report(tmp_path):
    (tmp_path / "export.json").write_text(json.dumps({"source": "m.h5", "passed": True}))
    text = report.make_report(tmp_path).read_text()
    assert "No training step in this folder" in text
    assert "Export PASSED." in text and "Model: `m.h5`" in text
