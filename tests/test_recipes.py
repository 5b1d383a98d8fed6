"""The recipes end to end at tiny size (1 epoch, 2 batches, width 0.125), run in-process.

Each run checks what the recipe promises: its comparison table parses with one row per
compared run, its figures exist with the expected panels (counted on the Figure objects
as they are saved) and report.md has its sections. Every training step costs 30-60 s of
graph building on 2 cores, so only the main job (two steps) runs in the fast suite; the
other training recipes and the LCE export path are marked ``slow`` (``pytest -m slow``).
"""
import os
from pathlib import Path

import pytest
import tensorflow_datasets as tfds

from larq_adam import report

TINY = ["--epochs", "1", "--max-steps-per-epoch", "2", "--width", "0.125", "--quiet"]



@pytest.fixture
def saved(monkeypatch):
    """{png file name: number of axes} of every figure the report module saves."""
    panels = {}
    original = report.save_figure

    def spy(fig, path, *args, **kwargs):
        panels[Path(path).name] = len(fig.axes)
        return original(fig, path, *args, **kwargs)

    monkeypatch.setattr(report, "save_figure", spy)
    return panels


def _table(md: Path):
    headers, rows = report.parse_markdown_table(md.read_text())
    return headers, rows


def _assert_pngs(folder: Path, names):
    for name in names:
        path = folder / "figures" / name
        assert path.exists() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path


@pytest.mark.parametrize("name", ["two_step", "table1_weight_decay", "table4_order",
                                  "table5_optimizers", "fig8_lr_sweep", "fig2_adam_vs_sgd",
                                  "fig6_toy_landscape", "reactnet_a_imagenet",
                                  "strong_baseline_imagenet"])
def test_every_recipe_explains_its_flags_in_help(recipe, capsys, name):
    with pytest.raises(SystemExit) as exit_:
        recipe(name).main(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    flags = ["--run-dir"] if name == "fig6_toy_landscape" else [
        "--run-dir", "--epochs", "--width", "--max-steps-per-epoch", "--resume", "--strategy"]
    for flag in flags:
        assert flag in text, flag
    if name == "two_step":
        for flag in ("--dataset", "--model", "--batch-size", "--lr", "--order", "--teacher",
                     "--pad-values", "--no-export"):
            assert flag in text, flag
        assert "exported exactly" in text  # the reference's zero padding is the default


def test_fig6_toy_landscape_shows_adam_flipping_x_where_sgd_stalls(recipe, saved, tmp_path):
    mod = recipe("fig6_toy_landscape")
    assert mod.main(["--run-dir", str(tmp_path)]) == 0
    assert saved == {"fig6_toy_landscape.png": 4}
    headers, rows = _table(tmp_path / "report.md")
    assert [r[0].split()[0] for r in rows] == ["SGD", "Adam"]
    sgd_path, adam_path = mod.sgd(mod.START, 0.05, 80), mod.adam(mod.START, 0.05, 80)
    assert sgd_path[-1, 0] < 0 < adam_path[-1, 0]  # Adam flips x's sign, SGD does not
    assert mod.x_share_after_y_saturates(adam_path) > 3 * mod.x_share_after_y_saturates(sgd_path)
    assert float(rows[1][2]) == 0.0 < float(rows[0][2])  # forward (sign) loss


def test_two_step_main_job_trains_both_steps_exports_and_writes_the_report(
        recipe, saved, tmp_path, capsys):
    """The fast suite's end-to-end run: train step 1 and step 2, export to LCE, verify."""
    run = tmp_path / "run"
    argv = [*TINY, "--run-dir", str(run), "--teacher", "none", "--bench-runs", "2"]
    assert recipe("two_step").main(argv) == 0
    assert (run / "model.tflite").exists() and (run / "model_float.tflite").exists()
    text = (run / "report.md").read_text()
    assert "## Export" in text and "Verification (PASSED" in text
    headers, rows = _table(run / "report.md")
    assert [r[0] for r in rows] == ["step1", "step2"]
    assert [r[headers.index("stage")] for r in rows] == ["ba", "bnn"]
    assert [r[headers.index("weight decay")] for r in rows] == ["5e-06", "0"]
    for section in ("Fig. 2", "Fig. 3", "Fig. 4", "Fig. 5", "Fig. 7", "Flip-flop"):
        assert section in text
    assert saved["accuracy.png"] == 2 and saved["activations.png"] == 2
    assert saved["cam.png"] == 2 and saved["weights.png"] == 2 and saved["ff_ratio.png"] == 1
    out = capsys.readouterr().out
    assert "step1" in out and "step2" in out and "written:" in out and "report.md" in out
    # --resume on a finished run reads it back instead of training again
    assert recipe("two_step").main([*argv, "--resume", "--no-export"]) == 0


@pytest.mark.slow
def test_two_step_default_path_with_teacher_and_lce_export(recipe, tmp_path):
    run = tmp_path / "run"
    status = recipe("two_step").main([*TINY, "--run-dir", str(run), "--bench-runs", "2"])
    text = (run / "report.md").read_text()
    headers, rows = _table(run / "report.md")
    assert [r[0] for r in rows] == ["teacher", "step1", "step2"]
    assert "## Export" in text and (run / "model.tflite").exists()
    assert status == 0 and "Verification (PASSED" in text


@pytest.mark.slow
def test_table5_optimizers_table_has_one_row_per_optimizer(recipe, saved, tmp_path):
    argv = [*TINY, "--run-dir", str(tmp_path), "--optimizers", "adam", "adabound"]
    assert recipe("table5_optimizers").main(argv) == 0
    headers, rows = _table(tmp_path / "report.md")
    assert headers == ["optimizer", "top-1 (%)", "top-5 (%)"]
    assert [r[0] for r in rows] == ["adam", "adabound"]
    assert all(0 <= float(r[1]) <= 100 for r in rows)
    assert saved["compare_accuracy.png"] == 1 and saved["compare_weights.png"] == 1
    assert saved["compare_cam.png"] == 2
    _assert_pngs(tmp_path, saved)


@pytest.mark.slow
def test_table1_weight_decay_table_has_the_six_rows(recipe, saved, tmp_path):
    assert recipe("table1_weight_decay").main([*TINY, "--run-dir", str(tmp_path)]) == 0
    headers, rows = _table(tmp_path / "report.md")
    assert headers == ["run", "weight decay", "FF ratio", "C2I ratio", "top-1 (%)"]
    assert [r[0] for r in rows] == ["one-step 1e-05", "one-step 5e-06", "one-step 0",
                                    "one-step -0.0001", "two-step 1e-05 / 0",
                                    "two-step 5e-06 / 0"]
    assert all(0.0 <= float(r[3]) <= 1.0 for r in rows)
    _assert_pngs(tmp_path, ["compare_accuracy.png", "compare_ff_ratio.png",
                            "compare_weights.png"])


@pytest.mark.slow
def test_table4_order_compares_babw_and_bwba(recipe, saved, tmp_path):
    assert recipe("table4_order").main([*TINY, "--run-dir", str(tmp_path)]) == 0
    headers, rows = _table(tmp_path / "report.md")
    assert headers == ["order", "top-1 (%)", "top-5 (%)"]
    assert [r[0].split()[0] for r in rows] == ["BABW", "BWBA"]
    assert saved["compare_accuracy.png"] == 1


@pytest.mark.slow
def test_fig8_lr_sweep_draws_one_line_per_optimizer(recipe, saved, tmp_path):
    argv = [*TINY, "--run-dir", str(tmp_path), "--adam-lrs", "1e-3", "1e-2", "--sgd-lrs", "0.1"]
    assert recipe("fig8_lr_sweep").main(argv) == 0
    headers, rows = _table(tmp_path / "report.md")
    assert [(r[1], r[2]) for r in rows] == [("adam", "0.001"), ("adam", "0.01"), ("sgd", "0.1")]
    assert saved["compare_lr_sweep.png"] == 1


@pytest.mark.slow
def test_fig2_adam_vs_sgd_overlays_the_curves(recipe, saved, tmp_path):
    assert recipe("fig2_adam_vs_sgd").main([*TINY, "--run-dir", str(tmp_path)]) == 0
    headers, rows = _table(tmp_path / "report.md")
    assert [r[1] for r in rows] == ["adam", "sgd"]
    assert saved["compare_accuracy.png"] == 1 and saved["compare_activations.png"] == 2


@pytest.fixture
def mock_imagenet(tmp_path):
    """imagenet2012 as tfds mock data (random images) in a data_dir where it counts as
    prepared, so no tar files are needed."""
    builder = tfds.builder("imagenet2012", data_dir=str(tmp_path / "tfds"))
    os.makedirs(builder.data_dir)
    builder.info.write_to_directory(builder.data_dir)
    with tfds.testing.mock_data(num_examples=8, data_dir=str(tmp_path / "tfds")):
        yield str(tmp_path / "tfds")


IMAGENET_TINY = [*TINY, "--image-size", "32", "--batch-size", "4", "--teacher", "none"]


@pytest.mark.slow
def test_reactnet_a_imagenet_runs_a_few_steps_on_mock_data(recipe, mock_imagenet, tmp_path):
    mod = recipe("reactnet_a_imagenet")
    args = ["--data-dir", mock_imagenet, "--run-dir", str(tmp_path / "run"), *IMAGENET_TINY]
    assert mod.main(args) == 0
    headers, rows = _table(tmp_path / "run" / "report.md")
    assert [r[0] for r in rows] == ["step1", "step2"]
    assert rows[0][headers.index("learning rate")] == "0.00125"  # the paper's Adam LR
    assert "imagenet2012" in (tmp_path / "run" / "config.json").read_text()


@pytest.mark.slow
def test_strong_baseline_imagenet_runs_a_few_steps_on_mock_data(recipe, mock_imagenet, tmp_path):
    mod = recipe("strong_baseline_imagenet")
    args = ["--data-dir", mock_imagenet, "--run-dir", str(tmp_path / "run"), *IMAGENET_TINY]
    assert mod.main(args) == 0
    headers, rows = _table(tmp_path / "run" / "report.md")
    assert [r[headers.index("weight decay")] for r in rows] == ["5e-06", "0"]
