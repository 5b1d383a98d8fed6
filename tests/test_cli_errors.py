"""Command-line user errors: one line on stderr, exit status 2, nothing written.

Every recipe parses with ``recipes/_common.py``'s parser, which checks every name and
number before a run folder is touched; ``run_main`` turns the library's user-fixable
errors met later into the same one line, and ``--debug`` shows the traceback instead.
Run in-process (``main(argv)``), except one real subprocess for the exit status.
"""
import inspect
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import larq_adam as la
from larq_adam.errors import CorruptFileError, UserInputError

RECIPES = Path(__file__).resolve().parents[1] / "recipes"



def _fails(recipe, name, argv, capsys):
    """Run recipe ``name`` through run_main; return its one stderr line (exit status 2)."""
    with pytest.raises(SystemExit) as exit_:
        recipe("_common").run_main(recipe(name).main, argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("argv, says", [
    (["--dataset", "mnist"], "Unknown dataset 'mnist'. Valid names: mnist5k"),
    (["--model", "reactnet"], "--model 'reactnet' is not a model; valid: reactnet_a"),
    (["--model", "resnet18"], "real-valued teacher, not a binary network"),
    (["--optimizer", "adamw"], "--optimizer 'adamw' is unknown; valid: adam"),
    (["--width", "0"], "--width: must be a finite number > 0, got '0'"),
    (["--batch-size", "0"], "--batch-size: must be an integer >= 1"),
    (["--lr=nan"], "--lr: must be a finite number, got 'nan'"),
    (["--lr=-1e-3"], "--lr: must be a finite number > 0"),
    (["--epochs", "two"], "--epochs: expected an integer, got 'two'"),
    (["--max-steps-per-epoch", "0"], "--max-steps-per-epoch: must be an integer >= 1"),
    (["--dataset", "folder:/no/such/folder"], "'/no/such/folder' does not exist"),
    (["--strategy", "gpu"], "--strategy 'gpu' is unknown"),
    (["--teacher", "no_teacher.h5"], "--teacher 'no_teacher.h5' does not exist"),
    (["--allow-changes", "epochs"], "invalid choice: 'epochs'"),
    (["--allow-changes", "lr"], "--allow-changes only applies with --resume"),
])
def test_bad_names_and_numbers_are_one_line_exit_2_and_write_nothing(
        recipe, capsys, tmp_path, argv, says):
    run = tmp_path / "run"
    line = _fails(recipe, "two_step", [*argv, "--run-dir", str(run)], capsys)
    assert says in line and "error:" in line
    assert not run.exists()


def test_imagenet_without_its_files_names_the_folder_and_the_data_dir_flag(
        recipe, capsys, tmp_path):
    line = _fails(recipe, "reactnet_a_imagenet",
                  ["--data-dir", str(tmp_path / "tfds"), "--run-dir", str(tmp_path / "run")],
                  capsys)
    assert str(tmp_path / "tfds" / "downloads" / "manual") in line
    assert "--data-dir" in line and "manual_dir=" not in line
    assert not (tmp_path / "run").exists()


def test_resume_of_nothing_is_refused(recipe, capsys, tmp_path):
    line = _fails(recipe, "table4_order", ["--resume", "--run-dir", str(tmp_path / "none")],
                  capsys)
    assert "--resume:" in line and "does not exist" in line


def _folder(root: Path, classes=("ant", "bee")) -> Path:
    for i, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for j in range(3):
            image = np.full((8, 8, 3), 40 * (i + j), np.uint8)
            (root / name / f"{j}.jpg").write_bytes(tf.io.encode_jpeg(image).numpy())
    return root


def test_corrupt_or_one_class_folders_are_refused_before_training(recipe, capsys, tmp_path):
    one_class = _folder(tmp_path / "one", classes=("ant",))
    line = _fails(recipe, "two_step", ["--dataset", f"folder:{one_class}",
                                       "--run-dir", str(tmp_path / "r1")], capsys)
    assert "one class subfolder ('ant')" in line
    bad = _folder(tmp_path / "bad")
    whole = (bad / "bee" / "1.jpg").read_bytes()
    (bad / "bee" / "1.jpg").write_bytes(whole[:-40])
    line = _fails(recipe, "fig8_lr_sweep", ["--dataset", f"folder:{bad}",
                                            "--run-dir", str(tmp_path / "r2")], capsys)
    assert f"{bad / 'bee' / '1.jpg'}: truncated or corrupt JPEG" in line
    assert "delete or replace" in line
    assert not (tmp_path / "r1").exists() and not (tmp_path / "r2").exists()


def test_debug_shows_the_error_with_its_traceback(recipe, tmp_path):
    with pytest.raises(UserInputError, match="Unknown dataset 'mnist'"):
        recipe("_common").run_main(recipe("two_step").main,
                                   ["--dataset", "mnist", "--debug",
                                    "--run-dir", str(tmp_path / "run")])


def test_export_refuses_bad_arguments_and_unreadable_models_in_one_line(
        recipe, capsys, tmp_path):
    line = _fails(recipe, "export", [str(tmp_path), "--images", "0"], capsys)
    assert "--images: must be an integer >= 1" in line
    line = _fails(recipe, "export", [str(tmp_path / "nowhere")], capsys)
    assert "is neither a model file nor a run folder" in line
    for name, content in (("model.h5", b"\x89HDF\r\n\x1a\n" + b"\0" * 88),
                          ("notes.txt", b"not a model")):
        (tmp_path / name).write_bytes(content)
        line = _fails(recipe, "export", [str(tmp_path / name)], capsys)
        assert f"{tmp_path / name} is not a readable Keras model" in line
    assert not list(tmp_path.glob("*.tflite"))
    with pytest.raises(CorruptFileError):
        recipe("export").load_model(str(tmp_path / "model.h5"))


def test_allow_changes_reaches_the_training_call(recipe, tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text("{}")
    args = recipe("two_step").build_parser().parse_args(
        ["--resume", "--allow-changes", "lr", "weight_decay", "--run-dir",
         str(tmp_path / "run")])
    kwargs = recipe("_common").train_kwargs(args)
    assert kwargs["allow_changes"] == ("lr", "weight_decay") and kwargs["resume"] is True
    assert "allow_changes" in inspect.signature(la.training.two_step).parameters
    assert "allow_changes" in inspect.signature(la.training.one_step).parameters
    assert recipe("_common").sub_run_resume(args) == "allow"


def test_a_real_command_line_error_is_one_stderr_line_and_exit_status_2(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(RECIPES / "two_step.py"), "--optimizer", "adamw",
         "--run-dir", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.startswith("two_step.py:")]
    assert lines == ["two_step.py: error: --optimizer 'adamw' is unknown; valid: adam, amsgrad, "
                     "sgd, rmsprop, adagrad, adadelta, adabound, bop"]
    assert "Traceback" not in proc.stderr and not (tmp_path / "run").exists()
