"""larq_adam.report: figures and tables from a run folder (no training: fake folders)."""
import csv
import json

import numpy as np
import pytest
from matplotlib.figure import Figure

from larq_adam import report
from larq_adam.analysis.records import save_record
from larq_adam.errors import CorruptFileError

HISTORY_KEYS = ["epoch", "accuracy", "loss", "lr", "val_accuracy", "val_loss", "ff_ratio",
                "ff_ratio_run", "c2i_ratio", "cam_min", "sdam", "update_cam_mean", "saturation"]
EDGES = np.linspace(-2.0, 2.0, 41)


def _write_step(run, name, stage, wd, epochs=3, seed=0, records=True, acc0=0.3):
    rng = np.random.default_rng(seed)
    d = run / name
    (d / "records").mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({"name": name, "stage": stage,
                                               "weight_decay": wd, "optimizer": "adam"}))
    with (d / "history.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=HISTORY_KEYS)
        w.writeheader()
        for e in range(epochs):
            w.writerow({k: 0.0 for k in HISTORY_KEYS} | {
                "epoch": e, "accuracy": acc0 + 0.1 * e, "val_accuracy": acc0 + 0.12 * e,
                "ff_ratio": 1e-3 / (e + 1)})
    (d / "result.json").write_text(json.dumps({
        "name": name, "stage": stage, "dir": str(d), "test_accuracy": acc0 + 0.25, "test_top5": 0.9,
        "ff_ratio": 4.5e-4, "c2i_ratio": 0.66, "epochs": epochs, "seconds": 12.0,
        "weight_decay": wd, "optimizer": "adam", "learning_rate": 1e-3,
        "best_accuracy": acc0 + 0.3, "best_epoch": epochs - 2}))
    if not records:
        return d
    names = ["conv_a", "conv_b"]
    for e in range(epochs):
        acts = rng.normal(0, 1.5, size=(2, 500))
        sat = np.abs(acts) > 1
        counts = np.stack([np.histogram(a, EDGES)[0] for a in acts])
        save_record(d / "records", "saturation", e, dict(
            layer_names=names, saturated=sat.sum(1), total=np.full(2, 500), counts=counts,
            below=(acts < -2).sum(1), above=(acts > 2).sum(1), edges=EDGES, bound=1.0))
        save_record(d / "records", "ff", e, dict(
            layer_names=names, sizes=np.array([72, 144]), flips=np.array([3, 5]), steps=4,
            run_flips=np.array([3, 5]) * (e + 1), run_steps=4 * (e + 1)))
        save_record(d / "records", "cam", e, dict(
            layer_names=names, cam=[rng.uniform(0.01, 0.1, 8), rng.uniform(0.01, 0.1, 16)],
            update_cam=[rng.uniform(1e-5, 1e-3, 8), rng.uniform(1e-5, 1e-3, 16)],
            first_weights=rng.normal(0, 0.05, (8, 9)).astype(np.float16)))
        wts = rng.normal(0, 0.7, 216)
        save_record(d / "records", "weights", e, dict(
            layer_names=names, sizes=np.array([72, 144]),
            counts=np.stack([np.histogram(wts, EDGES)[0]] * 2), below=np.zeros(2),
            above=np.zeros(2), edges=EDGES, pooled_counts=np.histogram(wts, EDGES)[0],
            pooled_below=int((wts < -2).sum()), pooled_above=int((wts > 2).sum())))
    return d


def fake_two_step_run(root, name="run", teacher=True, records=True, acc0=0.3, seed=0):
    run = root / name
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({
        "kind": "two_step", "data": "mnist5k", "model": "reactnet_a", "order": "babw",
        "width": 0.25, "epochs": 3, "batch_size": 64, "steps": ["step1", "step2"],
        "teacher": "auto", "final_model": "final_model.h5"}))
    if teacher:
        _write_step(run, "teacher", "fp", 0.0, records=False, acc0=0.8)
    _write_step(run, "step1", "ba", 5e-6, records=records, acc0=acc0, seed=seed)
    _write_step(run, "step2", "bnn", 0.0, records=records, acc0=acc0, seed=seed + 1)
    return run


def test_markdown_table_round_trips_and_rejects_ragged_rows():
    text = report.markdown_table(["a", "b|c"], [[1, "x"], [2.5, "y|z"]])
    headers, rows = report.parse_markdown_table("intro\n\n" + text + "\nafter")
    assert headers == ["a", "b|c"]
    assert rows == [["1", "x"], ["2.5", "y|z"]]
    with pytest.raises(ValueError, match="row 0 has 1 cells"):
        report.markdown_table(["a", "b"], [[1]])
    with pytest.raises(ValueError, match="2 cells for 3 columns"):
        report.parse_markdown_table("| a | b | c |\n|---|---|---|\n| 1 | 2 |\n")
    with pytest.raises(ValueError, match="separator"):
        report.parse_markdown_table("| a | b |\n| 1 | 2 |\n")


def test_figure_builders_have_one_panel_per_label_or_one_when_overlaid():
    curves = {"s1": {"epoch": [1, 2], "train": [0.1, 0.2], "val": [0.2, 0.3]},
              "s2": {"epoch": [1, 2], "train": [0.3, 0.4], "val": [0.35, 0.45]}}
    assert len(report.accuracy_figure(curves).axes) == 2
    assert len(report.accuracy_figure(curves, overlay=True).axes) == 1
    h = dict(counts=np.ones(4), edges=np.linspace(-2, 2, 5), below=1, above=1, saturation=0.4)
    fig = report.activation_figure({"a": h, "b": h, "c": h})
    assert len(fig.axes) == 3
    assert "40.00%" in fig.axes[0].get_title()
    assert len(report.weight_figure({"a": h, "b": h}, overlay=True).axes) == 1
    assert len(report.ff_figure({"x": ([1, 2], [1e-3, 2e-3])}).axes) == 1
    with pytest.raises(ValueError, match="edges"):
        report.activation_figure({"a": dict(counts=np.ones(4), edges=np.ones(4))})


def test_cam_figure_draws_the_minimum_cam_line_at_the_reference():
    cams = {"adam": {"cam": np.array([0.03, 0.05, 0.04])},
            "sgd": {"cam": np.array([0.01, 0.02, 0.06]), "weights": np.ones((3, 4))}}
    fig = report.cam_figure(cams, reference_min=0.03)
    assert len(fig.axes) == 2
    for ax in fig.axes:
        horizontal = [ln for ln in ax.get_lines() if np.allclose(ln.get_ydata(), 0.03)]
        assert horizontal, "the grey dotted minimum-CAM line is missing"
    fig = report.update_cam_figure({"adam": [0.2, 0.3], "sgd": [0.1, 0.25]})
    assert "50.0% of kernels below" in fig.axes[1].get_title()


def test_lr_sweep_figure_uses_a_log_x_axis_with_one_line_per_optimizer():
    fig = report.lr_sweep_figure({"adam": [(1e-3, 0.6), (1e-4, 0.5)], "sgd": [(0.1, 0.4)]})
    (ax,) = fig.axes
    assert ax.get_xscale() == "log"
    assert len(ax.get_lines()) == 2
    assert list(ax.get_lines()[0].get_xdata()) == [1e-4, 1e-3]  # sorted by learning rate
    with pytest.raises(ValueError, match="> 0"):
        report.lr_sweep_figure({"adam": [(0.0, 0.5)]})


def test_make_report_writes_all_sections_and_figures(tmp_path):
    run = fake_two_step_run(tmp_path)
    md = report.make_report(run)
    text = md.read_text()
    for section in ("## Summary", "Fig. 2", "Fig. 3", "Fig. 4", "Fig. 5", "Fig. 7",
                    "Flip-flop ratio"):
        assert section in text, section
    headers, rows = report.parse_markdown_table(text)
    assert headers[0] == "step" and [r[0] for r in rows] == ["teacher", "step1", "step2"]
    assert rows[1][headers.index("weight decay")] == "5e-06"
    assert rows[2][headers.index("top-1 (%)")] == "55.00"
    assert rows[2][headers.index("C2I ratio")] == "0.6600"
    figs = {p.name for p in (run / "figures").glob("*.png")}
    assert figs == {"accuracy.png", "activations.png", "cam.png", "update_cam.png",
                    "weights.png", "ff_ratio.png"}
    for name in figs:
        assert f"figures/{name}" in text


def test_summary_shows_final_and_best_top1_and_the_whole_step_time(tmp_path):
    run = fake_two_step_run(tmp_path)
    result = run / "step2" / "result.json"
    result.write_text(json.dumps(json.loads(result.read_text()) | {"seconds": 4321.0}))
    headers, rows = report.parse_markdown_table(report.make_report(run).read_text())
    step2 = rows[2]  # teacher, step1, step2
    assert step2[headers.index("top-1 (%)")] == "55.00"
    assert step2[headers.index("best top-1 (%)")] == "60.00 (epoch 2 of 3)"  # 1-based
    assert step2[headers.index("time (s)")] == "4321"
    assert not list(run.rglob(".partial-*"))  # report and figures renamed into place


@pytest.mark.parametrize("name,damage,match", [
    ("result.json", lambda t: t[:30],
     r"step2.result\.json cannot be read as a step result .*--resume"),
    ("history.csv", lambda t: t.replace("\n1,", "\nxx,", 1),
     r"step2.history\.csv line 3 is not a row of 13 numbers"),
])
def test_report_names_a_damaged_file_in_one_line(tmp_path, name, damage, match):
    run = fake_two_step_run(tmp_path)
    path = run / "step2" / name
    path.write_text(damage(path.read_text()))
    with pytest.raises(CorruptFileError, match=match) as err:
        report.make_report(run)
    assert "\n" not in str(err.value)


def test_make_report_without_records_lists_what_is_not_shown(tmp_path):
    run = fake_two_step_run(tmp_path, teacher=False, records=False)
    text = report.make_report(run).read_text()
    assert "## Not shown" in text and "no saturation records" in text
    assert (run / "figures" / "accuracy.png").exists()
    assert (run / "figures" / "ff_ratio.png").exists()  # from history.csv's ff_ratio


def test_make_report_rejects_a_folder_without_steps(tmp_path):
    with pytest.raises(ValueError, match="no step folder"):
        report.make_report(tmp_path)


@pytest.mark.parametrize("kind,first_header", [("weight_decay", "run"), ("order", "order"),
                                               ("optimizer", "optimizer"), ("curves", "run")])
def test_compare_writes_overlaid_figures_and_the_table(tmp_path, kind, first_header):
    a = fake_two_step_run(tmp_path, "a", acc0=0.3, seed=0)
    b = fake_two_step_run(tmp_path, "b", acc0=0.2, seed=5)
    md = report.compare({"BABW": a, "BWBA": b}, tmp_path / "cmp", kind=kind, title="T")
    headers, rows = report.parse_markdown_table(md.read_text())
    assert headers[0] == first_header
    assert [r[0] for r in rows] == ["BABW", "BWBA"]
    top1 = headers.index("top-1 (%)") if "top-1 (%)" in headers else headers.index("test top-1 (%)")
    assert [r[top1] for r in rows] == ["55.00", "45.00"]
    if kind == "weight_decay":
        assert rows[0][1] == "step1: 5e-06 / step2: 0"
        assert rows[0][2] == "4.500e-04"
    figs = {p.name for p in (tmp_path / "cmp" / "figures").glob("*.png")}
    assert {"compare_accuracy.png", "compare_ff_ratio.png", "compare_weights.png",
            "compare_activations.png", "compare_cam.png", "compare_update_cam.png"} <= figs


def test_compare_lr_sweep_adds_fig8_and_needs_explicit_learning_rates(tmp_path):
    a = fake_two_step_run(tmp_path, "a")
    md = report.compare({"adam lr=1e-3": a}, tmp_path / "cmp", kind="lr_sweep")
    assert (tmp_path / "cmp" / "figures" / "compare_lr_sweep.png").exists()
    headers, rows = report.parse_markdown_table(md.read_text())
    assert headers[:3] == ["run", "optimizer", "initial LR"] and rows[0][2] == "0.001"
    result = a / "step2" / "result.json"
    result.write_text(json.dumps(json.loads(result.read_text()) | {"learning_rate": None}))
    with pytest.raises(ValueError, match="explicit learning_rate"):
        report.compare({"x": a}, tmp_path / "cmp2", kind="lr_sweep")
    with pytest.raises(ValueError, match="unknown comparison kind"):
        report.compare({"x": a}, tmp_path / "cmp3", kind="table9")


def test_toy_landscape_figure_has_four_panels():
    x = np.linspace(-2, 2, 9)
    z = np.add.outer(x, x)
    paths = {"sgd": np.zeros((3, 2)), "adam": np.ones((3, 2))}
    fig = report.toy_landscape_figure(x, x, z, z, paths)
    assert isinstance(fig, Figure) and len(fig.axes) == 4


def test_an_unfinished_step_shows_its_settings_and_no_numbers(tmp_path):
    run = fake_two_step_run(tmp_path, teacher=False)
    (run / "step2" / "result.json").unlink()
    headers, rows = report.parse_markdown_table(report.make_report(run).read_text())
    step2 = dict(zip(headers, rows[1]))
    assert step2["stage"] == "bnn" and step2["weight decay"] == "0"  # from step2/config.json
    assert step2["top-1 (%)"] == step2["FF ratio"] == step2["time (s)"] == "-"
    assert step2["epochs"] == "3"  # the rows of history.csv


def test_ff_series_is_the_logged_ff_ratio_not_a_recomputation(tmp_path):
    run = report.load_run(fake_two_step_run(tmp_path))
    epochs, ff = run.steps[0].ff_series()
    assert epochs.tolist() == [1, 2, 3]
    assert ff.tolist() == pytest.approx([1e-3, 1e-3 / 2, 1e-3 / 3])  # history.csv's column


def _set_result(run, step, **values):
    path = run / step / "result.json"
    path.write_text(json.dumps(json.loads(path.read_text()) | values))


def _summary_row(run, step):
    headers, rows = report.parse_markdown_table((run / "report.md").read_text())
    return dict(zip(headers, next(r for r in rows if r[0] == step)))


def test_a_final_top1_far_below_the_best_is_explained_beside_it(tmp_path):
    run = fake_two_step_run(tmp_path, teacher=False)
    _set_result(run, "step2", test_accuracy=0.23, best_accuracy=0.813, best_epoch=1)
    text = report.make_report(run).read_text()
    assert _summary_row(run, "step2")["top-1 (%)"] == (
        "23.00 (best 81.30 at epoch 2 of 3; the final epoch's moving BN statistics, not "
        "re-estimated in this run: see BN statistics)")
    assert _summary_row(run, "step1")["top-1 (%)"] == "55.00"  # 5 points below: no note
    section = text[text.index("## BN statistics"):text.index("## Accuracy")]
    assert text.index("## Summary") < text.index("## BN statistics")
    assert ("- step2: final weights (epoch 3 of 3) 23.00% with the moving statistics, 58.30 "
            "points below the best 81.30% at epoch 2 of 3; not re-estimated") in section
    assert "- step1" not in section


@pytest.mark.parametrize("recal,cell,reading", [
    (0.801, "23.00 (best 81.30 at epoch 2 of 3; 80.10 with re-estimated BN statistics: the "
            "moving statistics lag, see BN statistics)",
     "with re-estimated statistics 80.10%, so the lag of the moving statistics explains"),
    (0.24, "23.00 (best 81.30 at epoch 2 of 3; 24.00 with re-estimated BN statistics too: "
           "the final weights, not their BN statistics, see BN statistics)",
     "with re-estimated statistics 24.00%, so the drop is in the final weights"),
])
def test_the_re_estimated_bn_top1_tells_a_statistics_lag_from_worse_weights(
        tmp_path, recal, cell, reading):
    run = fake_two_step_run(tmp_path, teacher=False)
    _set_result(run, "step2", test_accuracy=0.23, best_accuracy=0.813, best_epoch=1,
                recalibrated_accuracy=recal)
    text = report.make_report(run).read_text()
    assert _summary_row(run, "step2")["top-1 (%)"] == cell
    assert reading in text[text.index("## BN statistics"):]


def test_a_re_estimated_bn_top1_is_shown_beside_the_moving_one(tmp_path):
    run = fake_two_step_run(tmp_path, teacher=False)
    _set_result(run, "step1", recalibrated_accuracy=0.561, bn_recalibrated=True)
    text = report.make_report(run).read_text()
    assert _summary_row(run, "step1")["top-1 (%)"] == \
        "55.00 (56.10 with re-estimated BN statistics)"
    assert ("- step1: final weights (epoch 3 of 3) 55.00% with the moving statistics, 56.10% "
            "with re-estimated ones; the saved final weights keep the re-estimated "
            "statistics.") in text


def test_no_bn_statistics_section_when_no_number_needs_it(tmp_path):
    text = report.make_report(fake_two_step_run(tmp_path)).read_text()
    assert "## BN statistics" not in text and "see BN statistics" not in text


def test_figures_count_epochs_from_one(tmp_path):
    from larq_adam.report import sections

    class Kept(sections.FigureSections):
        def emit(self, name, title, caption, fig):
            self.figures = getattr(self, "figures", {}) | {name: fig}

    run = report.load_run(fake_two_step_run(tmp_path))
    out = Kept(tmp_path / "figures")
    for add in sections.RUN_SECTIONS:
        add(run, out)
    for ax in out.figures["accuracy"].axes:  # Fig. 2, history.csv's epochs 0, 1, 2
        assert [ln.get_xdata().tolist() for ln in ax.get_lines()] == [[1, 2, 3], [1, 2, 3]]
    (ax,) = out.figures["ff_ratio"].axes
    assert ax.get_lines()[0].get_xdata().tolist() == [1, 2, 3]
    titles = [ax.get_title() for ax in out.figures["activations"].axes]
    assert titles[0].startswith("step1 epoch 1 of 3") and titles[1].startswith("step1 epoch 3 of 3")
    assert out.figures["cam"].axes[0].get_title().startswith("step1 epoch 3 of 3")
