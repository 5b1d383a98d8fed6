"""The paper's comparisons through ``larq-adam experiment`` at tiny size (1 epoch, 2
batches, width 0.125), and the recipes as plain compositions of the library.

Every training step costs 30-60 s of graph building on 2 cores, so the comparisons are
``slow`` (``pytest -m slow``); the main job's end-to-end run is in tests/test_cli.py.
"""
import ast
import os
from pathlib import Path

import pytest
import tensorflow_datasets as tfds

from larq_adam import report
from larq_adam.cli import main as cli

TINY = ["--epochs", "1", "--max-steps-per-epoch", "2", "--width", "0.125", "--quiet"]
RECIPES = Path(__file__).resolve().parents[1] / "recipes"


def _table(md: Path):
    return report.parse_markdown_table(md.read_text())


def _assert_pngs(folder: Path, names):
    for name in names:
        path = folder / "figures" / name
        assert path.exists() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path


@pytest.mark.parametrize("path", sorted(RECIPES.glob("*.py")), ids=lambda p: p.name)
def test_recipes_compose_the_installed_library_only(path):
    """A recipe imports larq_adam, the standard library, numpy or TensorFlow, never a
    sibling file, and fits on a screen."""
    tree = ast.parse(path.read_text())
    modules = {alias.name.split(".")[0] for node in ast.walk(tree)
               if isinstance(node, ast.Import) for alias in node.names}
    modules |= {node.module.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.module}
    siblings = {p.stem for p in RECIPES.glob("*.py")}
    assert not modules & siblings, modules & siblings
    assert modules <= {"larq_adam", "numpy", "tensorflow", "sys", "os", "argparse",
                       "pathlib", "typing"}, modules
    assert len(path.read_text().splitlines()) <= 70


@pytest.mark.slow
def test_table5_optimizers_table_has_one_row_per_optimizer(tmp_path):
    argv = ["experiment", "table5", *TINY, "--run-dir", str(tmp_path),
            "--optimizers", "adam", "adabound"]
    assert cli.main(argv) == 0
    headers, rows = _table(tmp_path / "report.md")
    assert headers == ["optimizer", "top-1 (%)", "top-5 (%)"]
    assert [r[0] for r in rows] == ["adam", "adabound"]
    _assert_pngs(tmp_path, ["compare_accuracy.png", "compare_weights.png", "compare_cam.png"])


@pytest.mark.slow
def test_table1_weight_decay_table_has_the_six_rows(tmp_path):
    assert cli.main(["experiment", "table1", *TINY, "--run-dir", str(tmp_path)]) == 0
    headers, rows = _table(tmp_path / "report.md")
    assert headers == ["run", "weight decay", "FF ratio", "C2I ratio", "top-1 (%)"]
    assert [r[0] for r in rows] == ["one-step 1e-05", "one-step 5e-06", "one-step 0",
                                    "one-step -0.0001", "two-step 1e-05 / 0",
                                    "two-step 5e-06 / 0"]
    assert all(0.0 <= float(r[3]) <= 1.0 for r in rows)


@pytest.mark.slow
def test_table4_order_compares_babw_and_bwba_with_a_shared_auto_teacher(tmp_path):
    argv = ["experiment", "table4", *TINY, "--run-dir", str(tmp_path), "--teacher", "auto"]
    assert cli.main(argv) == 0
    headers, rows = _table(tmp_path / "report.md")
    assert [r[0].split()[0] for r in rows] == ["BABW", "BWBA"]
    assert (tmp_path / "teacher_run" / "final_model.h5").exists()


@pytest.mark.slow
def test_fig8_lr_sweep_draws_one_line_per_optimizer(tmp_path):
    argv = ["experiment", "fig8", *TINY, "--run-dir", str(tmp_path), "--adam-lrs", "1e-3",
            "1e-2", "--sgd-lrs", "0.1"]
    assert cli.main(argv) == 0
    headers, rows = _table(tmp_path / "report.md")
    assert [(r[1], r[2]) for r in rows] == [("adam", "0.001"), ("adam", "0.01"), ("sgd", "0.1")]


@pytest.mark.slow
def test_fig2_adam_vs_sgd_overlays_the_curves(tmp_path):
    assert cli.main(["experiment", "fig2", *TINY, "--run-dir", str(tmp_path)]) == 0
    headers, rows = _table(tmp_path / "report.md")
    assert [r[1] for r in rows] == ["adam", "sgd"]


@pytest.fixture
def mock_imagenet(tmp_path):
    """imagenet2012 as tfds mock data (random images) in a data_dir where it counts as
    prepared, so no tar files are needed."""
    builder = tfds.builder("imagenet2012", data_dir=str(tmp_path / "tfds"))
    os.makedirs(builder.data_dir)
    builder.info.write_to_directory(builder.data_dir)
    with tfds.testing.mock_data(num_examples=8, data_dir=str(tmp_path / "tfds")):
        yield str(tmp_path / "tfds")


@pytest.mark.slow
@pytest.mark.parametrize("model", ["reactnet_a", "strong_baseline"])
def test_imagenet_preset_runs_a_few_steps_on_mock_data(mock_imagenet, tmp_path, model):
    argv = ["train", "--preset", "imagenet", "--model", model, "--data-dir", mock_imagenet,
            "--run-dir", str(tmp_path / "run"), *TINY, "--image-size", "32",
            "--batch-size", "4", "--teacher", "none", "--no-export"]
    assert cli.main(argv) == 0
    headers, rows = _table(tmp_path / "run" / "report.md")
    assert [r[0] for r in rows] == ["step1", "step2"]
    assert rows[0][headers.index("learning rate")] == "0.00125"  # the paper's Adam LR
    assert "imagenet2012" in (tmp_path / "run" / "config.json").read_text()
