"""The ``larq-adam`` command: help without TensorFlow, the main job end to end, one-line
errors that write nothing, ``--config`` and ``--preset``.

Run in-process through :func:`larq_adam.cli.main.main`, except the subprocess checks of
``python -m larq_adam`` (start-up time, exit status, stderr).
"""
import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import larq_adam as la
from larq_adam import dataset_names
from larq_adam.cli import common, config_options, main as cli, train
from larq_adam.cli.experiment import OWN_MODULES, PAPER
from larq_adam.config import RunConfig
from larq_adam.errors import UserInputError

TINY = ["--epochs", "1", "--max-steps-per-epoch", "2", "--width", "0.125", "--quiet"]
COMMANDS = ("train", "export", "report", "import", "experiment", "pick-decay")


def _fails(argv, capsys):
    """Run the command; return its one stderr line (exit status 2)."""
    try:
        status = cli.main(argv)
    except SystemExit as exit_:  # argparse's own errors
        status = exit_.code
    err = capsys.readouterr().err
    assert status == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_help_answers_at_once_without_importing_tensorflow(tmp_path):
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "larq_adam", "--help"],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for command in COMMANDS:
        assert command in proc.stdout
    imported = [line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines()
                if line.startswith("import time:")]
    assert "larq_adam.cli.main" in imported
    assert not [m for m in imported if m.split(".")[0] in ("tensorflow", "keras", "larq")]
    cumulative_us = sum(int(line.split("|")[1]) for line in proc.stderr.splitlines()
                        if line.startswith("import time:") and "|" in line
                        and line.split("|")[1].strip().isdigit())
    assert cumulative_us < 1_000_000  # well under a second of imports


@pytest.mark.parametrize("command, flags", [
    (["train"], ["--run-dir", "--epochs", "--width", "--max-steps-per-epoch", "--resume",
                 "--strategy", "--dataset", "--model", "--lr", "--order", "--teacher",
                 "--pad-values", "--no-export", "--config", "--preset", "--one-step",
                 "--classifier", "--uint8-input", "--device-log"]),
    (["export"], ["--images", "--classifier", "--uint8-input", "--device-log"]),
    (["experiment", "table1"], ["--run-dir", "--epochs", "--resume"]),
    (["experiment", "fig8"], ["--adam-lrs", "--sgd-lrs"]),
    (["import"], ["--stage", "--lce", "--image-size"]),
])
def test_every_command_explains_its_options_in_help(capsys, command, flags):
    with pytest.raises(SystemExit) as exit_:
        cli.main([*command, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for flag in flags:
        assert flag in text, flag


def _parsers(parser):
    """``parser`` and every subcommand parser under it."""
    yield parser
    for sub in parser.subcommands.values():
        yield from _parsers(sub)


HELP_COMMANDS = [[], *([c] for c in COMMANDS),
                 *(["experiment", name] for name in (*PAPER, "fig6", *OWN_MODULES))]


@pytest.mark.parametrize("command", HELP_COMMANDS, ids=lambda c: " ".join(c) or "top")
def test_help_is_plain_text_with_one_default_per_option_at_most(capsys, command):
    with pytest.raises(SystemExit) as exit_:
        cli.main([*command, "--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # help lines wrapped back together
    assert "``" not in text and not re.search(r":[a-z]+:`", text)
    assert "(default: None)" not in text and "(default: [])" not in text
    assert not re.search(r"\(default[^)]*\) \(default", text), text


def test_plain_text_drops_rst_inline_markup():
    assert common.plain_text("``--lr`` of :func:`la.training.train` (:class:`~a.b.Config`)::") \
        == "--lr of la.training.train (Config):"


def test_options_are_never_abbreviated_and_a_close_one_is_named(capsys):
    assert all(not p.allow_abbrev for p in _parsers(cli.build_parser()))
    line = _fails(["train", "--wid", "0.5"], capsys)
    assert "unrecognized arguments: --wid 0.5 (did you mean --width?)" in line
    line = _fails(["train", "--learnin-rate", "0.01"], capsys)
    assert line.startswith("larq-adam train: error: unrecognized arguments: --learnin-rate "
                           "0.01 (did you mean --learning-rate?)"), line
    line = _fails(["experiment", "table1", "--bogus"], capsys)
    assert "unrecognized arguments: --bogus" in line and "did you mean" not in line
    assert common.did_you_mean(["--learnin-rate=1", "x", "--widht"],
                               ["--learning-rate", "--width"]) == \
        " (did you mean --learning-rate for --learnin-rate, --width for --widht?)"


def test_run_config_field_names_are_options_that_parse_as_the_old_names(capsys):
    parser = cli.build_parser()
    train_options = set(parser.subcommands["train"].option_names())
    fields = {"--" + f.name.replace("_", "-") for f in dataclasses.fields(RunConfig)}
    assert fields <= train_options
    assert {"--lr", "--dataset", "--step2-init", "--one-step"} <= train_options  # aliases
    new = parser.parse_args(["train", "--learning-rate", "0.01", "--data", "cifar10",
                             "--init", "final", "--no-analysis", "--analysis"])
    old = parser.parse_args(["train", "--lr", "0.01", "--dataset", "cifar10",
                             "--step2-init", "final"])
    assert vars(new) == {**vars(old), "analysis": True}  # only what is given is parsed
    assert train.build_config(new) == train.build_config(old)
    assert parser.parse_args(["train", "--analysis", "--no-analysis"]).analysis is False
    assert train.build_config(parser.parse_args(["train", "--one-step"])).kind == "one_step"
    line = _fails(["train", "--learning-rate", "-1"], capsys)  # the name given is the one named
    assert "argument --learning-rate: must be a number in (0, 1000], got '-1'" in line


@pytest.mark.parametrize("argv", [
    ["train", "--dataset", "cifar1O"],
    ["experiment", "table1", "--data", "cifar1O"],
])
def test_a_bad_dataset_name_is_refused_before_tensorflow_loads(tmp_path, argv):
    run = tmp_path / "run"
    code = ("import sys\n"
            "sys.argv = ['larq-adam']  # as the console script: TensorFlow loads on demand\n"
            "from larq_adam.cli.main import main\n"
            f"status = main({[*argv, '--run-dir', str(run)]!r})\n"
            "print(status, 'tensorflow' in sys.modules)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    assert proc.stdout.split() == ["2", "False"], proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines() == [
        f"larq-adam {argv[0]}: error: Unknown dataset 'cifar1O'. Valid names: mnist5k, "
        "cifar10, cifar100, imagenette, imagenet2012, folder:PATH, tfds:NAME."]
    assert not run.exists()
    assert set(la.data.SPECS) == {*dataset_names.NAMES, *dataset_names.PREFIXED}


def test_main_job_trains_both_steps_exports_and_writes_the_report(tmp_path, capsys):
    """The fast suite's end-to-end run: step 1 and step 2, LCE export verified, report."""
    run = tmp_path / "run"
    argv = ["train", *TINY, "--run-dir", str(run), "--teacher", "none", "--bench-runs", "2",
            "--images", "64"]
    assert cli.main(argv) == 0
    for name in ("model.tflite", "model.json", "export.json", "report.md", "config.json"):
        assert (run / name).exists(), name
    contract = json.loads((run / "model.json").read_text())
    assert contract["input"]["shape"][-3:] == [32, 32, 3]
    text = (run / "report.md").read_text()
    assert "## Export" in text and "PASSED" in text
    saved = RunConfig.load(run)
    assert (saved.kind, saved.order, saved.width, saved.teacher) == \
        ("two_step", "babw", 0.125, None)
    out = capsys.readouterr().out
    assert "step1" in out and "step2" in out and "written:" in out
    # --resume on a finished run reads it back: nothing trained, converted or written again
    written = {p: p.stat().st_mtime_ns for p in run.rglob("*")
               if p.is_file() and p.name != ".lock"}
    assert cli.main([*argv, "--resume"]) == 0
    assert "holds a finished run: nothing was trained, exported or reported again" in \
        capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in written if p.name != "config.json"} == \
        {p: t for p, t in written.items() if p.name != "config.json"}
    assert cli.main([*argv, "--resume", "--no-export"]) == 0
    # the saved configuration runs again as it is; other training options are refused
    line = _fails(["train", "--config", str(run / "config.json"), "--epochs", "2",
                   "--run-dir", str(tmp_path / "again")], capsys)
    assert "--config runs the saved settings as they are, but --epochs" in line


@pytest.mark.parametrize("argv, says", [
    (["--dataset", "mnist"], "Unknown dataset 'mnist'. Valid names: mnist5k"),
    (["--model", "reactnet"], "unknown model 'reactnet'; valid: "),
    (["--model", "resnet18"], "is a real-valued teacher, not a binary network"),
    (["--optimizer", "adamw"], "unknown optimizer 'adamw'; valid: adam"),
    (["--width", "0"], "--width: must be a number in (0, 16], got '0'"),
    (["--batch-size", "0"], "--batch-size: must be an integer in [1, 1048576]"),
    (["--lr=nan"], "--lr: must be a finite number, got 'nan'"),
    (["--lr=-1e-3"], "--lr: must be a number in (0, 1000]"),
    (["--epochs", "two"], "--epochs: expected an integer, got 'two'"),
    (["--max-steps-per-epoch", "0"], "--max-steps-per-epoch: must be an integer in [1, "),
    (["--dataset", "folder:/no/such/folder"], "'/no/such/folder' does not exist"),
    (["--strategy", "gpu"], "unknown strategy 'gpu'"),
    (["--teacher", "no_teacher.h5"], "--teacher 'no_teacher.h5' does not exist"),
    (["--allow-changes", "epochs"], "invalid choice: 'epochs'"),
    (["--allow-changes", "lr"], "--allow-changes only applies with --resume"),
    (["--config", "nowhere.json"], "--config nowhere.json: no such file"),
])
def test_bad_names_and_numbers_are_one_line_exit_2_and_write_nothing(
        capsys, tmp_path, argv, says):
    run = tmp_path / "run"
    line = _fails(["train", *argv, "--run-dir", str(run)], capsys)
    assert says in line and "error:" in line, line
    assert not run.exists()


def test_imagenet_without_its_files_names_the_folder_and_the_data_dir_flag(capsys, tmp_path):
    line = _fails(["train", "--preset", "imagenet", "--data-dir", str(tmp_path / "tfds"),
                   "--run-dir", str(tmp_path / "run")], capsys)
    assert str(tmp_path / "tfds" / "downloads" / "manual") in line
    assert "--data-dir" in line
    assert not (tmp_path / "run").exists()


def test_resume_of_nothing_is_refused(capsys, tmp_path):
    line = _fails(["experiment", "table4", "--resume", "--run-dir", str(tmp_path / "none")],
                  capsys)
    assert "--resume:" in line and "does not exist" in line


def _folder(root: Path, classes=("ant", "bee")) -> Path:
    for i, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for j in range(3):
            image = np.full((8, 8, 3), 40 * (i + j), np.uint8)
            (root / name / f"{j}.jpg").write_bytes(tf.io.encode_jpeg(image).numpy())
    return root


def test_corrupt_or_one_class_folders_are_refused_before_training(capsys, tmp_path):
    one_class = _folder(tmp_path / "one", classes=("ant",))
    line = _fails(["train", "--dataset", f"folder:{one_class}",
                   "--run-dir", str(tmp_path / "r1")], capsys)
    assert "one class subfolder ('ant')" in line
    bad = _folder(tmp_path / "bad")
    whole = (bad / "bee" / "1.jpg").read_bytes()
    (bad / "bee" / "1.jpg").write_bytes(whole[:-40])
    line = _fails(["train", "--dataset", f"folder:{bad}", "--run-dir", str(tmp_path / "r2")],
                  capsys)
    assert f"{bad / 'bee' / '1.jpg'}: truncated or corrupt JPEG" in line
    assert not (tmp_path / "r1").exists() and not (tmp_path / "r2").exists()


def test_debug_shows_the_error_with_its_traceback(tmp_path):
    with pytest.raises(UserInputError, match="Unknown dataset 'mnist'"):
        cli.main(["train", "--dataset", "mnist", "--debug", "--run-dir", str(tmp_path / "r")])


def test_export_refuses_bad_arguments_and_unreadable_models_in_one_line(capsys, tmp_path):
    line = _fails(["export", str(tmp_path), "--images", "0"], capsys)
    assert "--images: must be an integer in [1, 100000]" in line
    line = _fails(["export", str(tmp_path / "nowhere")], capsys)
    assert "is neither a model file nor a run folder" in line
    for name, content in (("model.h5", b"\x89HDF\r\n\x1a\n" + b"\0" * 88),
                          ("notes.txt", b"not a model")):
        (tmp_path / name).write_bytes(content)
        line = _fails(["export", str(tmp_path / name)], capsys)
        assert f"{tmp_path / name} is not a readable Keras model" in line
    assert not list(tmp_path.glob("*.tflite"))


@pytest.fixture
def captured_train(monkeypatch):
    """Replace la.training.train by a recorder (the command's plumbing, no training)."""
    calls = []

    def record(run_dir, config, **kwargs):
        calls.append((run_dir, config, kwargs))
        raise SystemExit(0)

    monkeypatch.setattr(la.training, "train", record)
    return calls


def test_allow_changes_and_the_saved_config_reach_the_training_call(captured_train, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    config = RunConfig(kind="one_step", stage="ba", width=0.5, epochs=4)
    (run / "config.json").write_text(json.dumps({**config.to_json(), "steps": ["step"]}))
    with pytest.raises(SystemExit):
        cli.main(["train", "--config", str(run / "config.json"), "--run-dir", str(run),
                  "--resume", "--allow-changes", "lr", "weight_decay"])
    (run_dir, given, kwargs), = captured_train
    assert given == config and kwargs["resume"] is True
    assert kwargs["allow_changes"] == ("lr", "weight_decay")
    assert set(common.ALLOW_CHANGES) == set(la.training.resume.ALLOW_CHANGES)


def test_imagenet_preset_takes_the_papers_settings_and_flags_still_win(captured_train,
                                                                       tmp_path):
    with pytest.raises(SystemExit):
        cli.main(["train", "--preset", "imagenet", "--epochs", "3", "--dataset", "mnist5k"])
    _, config, _ = captured_train[-1]
    assert (config.batch_size, config.learning_rate, config.image_size, config.width) == \
        (256, 1.25e-3, 224, 1.0)
    assert config.teacher_model == "resnet34" and config.exact_reference
    assert config.epochs == 3 and config.data == "mnist5k"  # given on the command line


def test_a_real_command_line_error_is_one_stderr_line_and_exit_status_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "larq_adam", "train", "--optimizer", "adamw",
                           "--run-dir", str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines() == [
        "larq-adam train: error: unknown optimizer 'adamw'; valid: adam, amsgrad, sgd, "
        "rmsprop, adagrad, adadelta, adabound, bop"]
    assert not (tmp_path / "run").exists()


def test_fig6_toy_landscape_shows_adam_flipping_x_where_sgd_stalls(tmp_path):
    from larq_adam.experiments import toy

    assert cli.main(["experiment", "fig6", "--run-dir", str(tmp_path)]) == 0
    text = (tmp_path / "report.md").read_text()
    assert (tmp_path / "figures" / "fig6_toy_landscape.png").exists()
    sgd_path, adam_path = toy.sgd(toy.START, 0.05, 80), toy.adam(toy.START, 0.05, 80)
    assert sgd_path[-1, 0] < 0 < adam_path[-1, 0]  # Adam flips x's sign, SGD does not
    assert toy.x_share_after_y_saturates(adam_path) > \
        3 * toy.x_share_after_y_saturates(sgd_path)
    assert "SGD" in text and "Adam" in text


def test_train_is_its_preset_with_exactly_the_options_given_on_top():
    from larq_adam import presets

    parser = cli.build_parser()

    def config(*argv):
        return train.build_config(parser.parse_args(["train", *argv]))

    assert config() == presets.MAIN_JOB
    assert config("--preset", "imagenet") == presets.IMAGENET
    assert config("--preset", "imagenet", "--epochs", "2", "--model", "strong_baseline") == \
        presets.IMAGENET.replace(epochs=2, model="strong_baseline")
    assert config("--one-step", "--stage", "ba") == presets.MAIN_JOB.replace(kind="one_step",
                                                                               stage="ba")
    args = parser.parse_args(["train", "--preset", "imagenet", "--model", "strong_baseline"])
    train.precheck(args)  # no TensorFlow: names the run folder of the preset
    assert args.run_dir == "runs/strong_baseline_imagenet"
    assert "(default: 0.25)" in parser.subcommands["train"].format_help()  # the preset's
    table1 = parser.parse_args(["experiment", "table1", "--epochs", "1"])
    assert config_options.config_from(table1) == RunConfig(
        kind="one_step", model="reactnet_a", width=0.25, epochs=1, learning_rate=1e-3)
