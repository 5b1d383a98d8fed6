"""The report's ``## Export`` section, rendered from a hand-written ``RUN/export.json``."""
import json
import re

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
    (run / "model.json").write_text("{}")  # linked only when it is there
    text = report.make_report(run).read_text()
    assert text.index("## Summary") < text.index("Fig. 7") < text.index("## Export")
    section = _section(text)
    for expected in (
            "Export FAILED: 1 fully binary layer stayed float (dense_b (QuantDense)); "
            "verification PASSED exactly (max |LCE - Keras| 1e-06 <= exact tolerance 0.0005; "
            "top-1 agreement 100.0%).",
            "Model: `final_model.h5`",
            "| LCE `model.tflite` | 1.00 MB | 2.0 s | 2.00 ms (1.50-2.50) | lce, 1 threads, "
            "10 runs |",
            "| float TFLite `model_float.tflite` | 20.00 MB |",
            "size LCE/float 0.050 (1/20.0); latency LCE/float 0.25",
            "On the device (`model.tflite`): average 12.50 ms (min 11.00 ms, max 14.00 ms, "
            "std 0.75 ms), 50 runs, 4 threads, initialisation 3.00 ms, peak memory 7.5 MB.",
            "Ops: LceBconv2d 8, LceQuantize 8, CONV_2D 1.",
            "Binary MACs 4.8 M of 5.0 M (96.0%; 97.0% of convolution MACs)",
            "**Not binary in the converted model:** dense_b (QuantDense).",
            "Verification of the LCE interpreter against Keras (`training=False`) on 8 "
            "mnist5k test images, criteria of DESIGN.md",
            "Measured: max |LCE - Keras| 1e-06 (1e-07 of max |logit|), mean 2e-07, top-1 "
            "agreement 100.0%: PASSED exactly.",
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
    assert "Measured: max |LCE - Keras| 3 (- of max |logit|), mean -, top-1 agreement 50.0%: " \
           "FAILED." in section
    assert "on 4 images, criteria of DESIGN.md" in section
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
    assert text.count("## Export") == 1
    assert "Export PASSED exactly (max |LCE - Keras| 1e-06 <= exact tolerance 0.0005; top-1 " \
           "agreement 100.0%)." in text
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


#: the verification record of a main-job export that passed on the fallback criterion
FALLBACK = {"passed": True, "criterion": "float sensitivity", "num_images": 256,
            "max_abs_diff": 1.17, "mean_abs_diff": 0.00337, "logit_scale": 11.8,
            "rel_max_diff": 0.0992, "tolerance": 0.00119, "rtol": 1e-4, "atol": 1e-5,
            "top1_agreement": 1.0, "min_top1_agreement": 0.99, "needed_top1_agreement": 0.99,
            "keras_noise_max": 1.22, "keras_noise_mean": 0.00666,
            "keras_noise_top1_changed": 0.0}


def test_the_export_line_names_the_fallback_criterion_with_its_numbers(tmp_path):
    section = report.export_section({"passed": True, "verify": FALLBACK}, run_dir=tmp_path)
    assert ("Export PASSED on the fallback criterion, Keras' float sensitivity (top-1 "
            "agreement 100.0%, needed 99.0%; max |LCE - Keras| 1.17 is 0.96x Keras' own max "
            "change 1.22 and the mean 0.00337 is 0.51x its mean change 0.00666 when every "
            "weight moves by 1e-6 relative), not exactly (max |LCE - Keras| 1.17 > exact "
            "tolerance 0.00119, 983x).") in section
    assert "exact when max |LCE - Keras| <= 1e-05 + 0.0001 x max |logit| (max |logit| 11.8: " \
           "tolerance 0.00119)" in section
    assert section.rstrip().endswith(
        "top-1 agreement 100.0%: PASSED on the fallback criterion (Keras' float sensitivity), "
        "not exactly.")
    assert "PASSED exactly" not in section


@pytest.mark.parametrize("changes,says", [
    ({"criterion": "none"},
     "FAILED with neither criterion holding (max |LCE - Keras| 1.17 > exact tolerance 0.00119, "
     "983x; nor the fallback, Keras' float sensitivity: max |LCE - Keras| 1.17 is 0.96x"),
    ({"top1_agreement": 0.9},
     "FAILED on the top-1 agreement (90.0%, needed 99.0%), though the float sensitivity "
     "criterion holds"),
    ({"criterion": "none", "keras_noise_max": None},
     "(max |LCE - Keras| 1.17 > exact tolerance 0.00119, 983x; the fallback criterion was "
     "not tried;"),
])
def test_a_failed_verification_says_which_criterion_failed(changes, says):
    verdict = report.verification_verdict(FALLBACK | changes | {"passed": False})
    assert says in verdict


_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)[^)]*\)|<(?:a|img)\s[^>]*(?:href|src)=\"([^\"]+)\"")


def link_targets(md):
    """Every markdown link / image target (and HTML href / src) of a markdown file."""
    return [a or b for a, b in _LINK.findall(md.read_text())]


def assert_links_resolve(md):
    targets = link_targets(md)
    assert targets, "the report has no link at all"
    for target in targets:
        assert not target.startswith("/") and "://" not in target, target
        assert (md.parent / target.split("#")[0]).exists(), f"{target} from {md.parent}"


@pytest.mark.parametrize("recorded", ["cwd", "moved"])
def test_every_link_in_report_md_resolves_from_its_own_folder(tmp_path, monkeypatch, recorded):
    """The export ran with a run folder relative to its working directory (or in a folder
    since moved); the report is made from there and from another working directory."""
    work = tmp_path / "work"
    run = fake_two_step_run(work / "runs")
    for name in ("model.json", "model.tflite", "final_model.h5"):
        (run / name).write_text("x")
    base = "runs/run" if recorded == "cwd" else "/old/place/run"
    export = full_export(run) | {"source": f"{base}/final_model.h5",
                                 "contract": f"{base}/model.json", "passed": True}
    (run / "export.json").write_text(json.dumps(export))
    monkeypatch.chdir(work)
    md = report.make_report("runs/run")
    assert "Deployment contract: [model.json](model.json)." in md.read_text()
    assert "Model: `final_model.h5`" in md.read_text()
    assert_links_resolve(md)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    md = report.make_report("../work/runs/run")
    assert_links_resolve(run / "report.md")
    assert md.resolve() == (run / "report.md").resolve()


def test_a_missing_contract_is_named_without_a_link(tmp_path):
    section = report.export_section({"contract": str(tmp_path / "model.json")},
                                    run_dir=tmp_path)
    assert "Deployment contract: `model.json` is missing from the run folder" in section
    assert "](" not in section


def test_comparison_report_links_resolve(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fake_two_step_run(tmp_path, "a")
    assert_links_resolve(report.compare({"A": "a"}, "cmp", kind="curves"))
