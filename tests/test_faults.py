"""Faults a hostile or unlucky user meets: each gives one line naming the file or setting
and the fix, or is survived (full and read-only disks, damaged files, FIFOs and odd file
names, absurd numbers, typed configuration, deep JSON, signals during training, a finished
run resumed with other settings). The lock's own cases are in ``test_run_lock.py``."""
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
import tensorflow as tf

import larq_adam as la
from larq_adam import disk, limits
from larq_adam.analysis.records import load_records, save_record
from larq_adam.cli import main as cli
from larq_adam.config import RunConfig
from larq_adam.errors import (CorruptFileError, DiskWriteError, RunStateError,
                              TrainingInterrupted, UserInputError)
from larq_adam.export.contract import file_sha256, read_contract
from larq_adam.results import StepResult
from larq_adam.report.export_section import read_export
from larq_adam.run_files import MAX_JSON_DEPTH, read_json
from larq_adam.training.resume import RecoveryWarning
from larq_adam.training.step_folder import read_finished

TINY = dict(data="mnist5k", model="strong_baseline", width=0.125, batch_size=32,
            max_steps_per_epoch=2, teacher=None, analysis=False, verbose=0)
EPOCHS = 2


def _fails(argv, capsys) -> str:
    """Run the command in-process; its one stderr line (exit status 2)."""
    try:
        status = cli.main(argv)
    except SystemExit as exit_:
        status = exit_.code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert status == 2 and len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# ----------------------------------------------------------------------------- numbers


@pytest.mark.parametrize("argv, says", [
    (["--batch-size", "1e20"], "argument --batch-size: must be an integer in [1, 1048576]"),
    (["--batch-size", "100000000000000000000"], "--batch-size: must be an integer in"),
    (["--width", "100"], "argument --width: must be a number in (0, 16], got '100'"),
    (["--seed", "1e30"], "argument --seed: must be an integer in [0, 4294967295]"),
    (["--image-size", "100000"], "argument --image-size: must be an integer in [1, 4096]"),
    (["--epochs", "0"], "argument --epochs: must be an integer in [1, 100000]"),
    (["--lr", "nan"], "argument --lr: must be a finite number"),
    (["--width", "16", "--batch-size", "100000"], "needs at least 1.7 TB to train"),
    (["--strategy", "multiworker"], "strategy 'multiworker' needs TF_CONFIG, which is not set"),
])
def test_numbers_and_environment_are_checked_before_anything_is_written(
        capsys, tmp_path, monkeypatch, argv, says):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    line = _fails(["train", *argv, "--run-dir", str(tmp_path / "run")], capsys)
    assert says in line, line
    assert not (tmp_path / "run").exists()


def test_memory_bound_is_refused_with_the_estimate(monkeypatch):
    monkeypatch.setattr(limits, "machine_memory", lambda: 8 * 10 ** 9)
    limits.check_memory("reactnet_a", width=1.0, image_size=224, batch_size=256)  # 3.3 GB
    with pytest.raises(UserInputError, match=r"reactnet_a at width 1, 224 px and batch 1024 "
                       r"needs at least 13\.\d GB .* more than this machine's 8\.0 GB"):
        limits.check_memory("reactnet_a", width=1.0, image_size=224, batch_size=1024)
    assert limits.training_bytes("quicknet", width=1, image_size=224, batch_size=1) is None


@pytest.mark.parametrize("record, says", [
    ({"analysis": "false"}, "analysis must be true or false, got 'false' (str)"),
    ({"seed": 1e30}, "seed must be an integer, got 1e+30 (float)"),
    ({"seed": 2 ** 40}, "seed must be an integer in [0, 4294967295]"),
    ({"width": "0.25"}, "width must be a number, got '0.25' (str)"),
    ({"batch_size": 10 ** 20}, "batch_size must be an integer in [1, 1048576]"),
    ({"model": ["reactnet_a"]}, "model must be a string"),
    ({"epochs": True}, "epochs must be an integer, got True (bool)"),
])
def test_typed_config_values_are_one_line(record, says):
    with pytest.raises(UserInputError) as err:
        RunConfig.from_json(record)
    assert says in str(err.value) and "\n" not in str(err.value)


def test_config_file_with_deep_json_or_bad_types_names_the_file(capsys, tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}")
    line = _fails(["train", "--config", str(deep), "--run-dir", str(tmp_path / "r")], capsys)
    assert f"{deep} nests arrays or objects 100001 deep (at most {MAX_JSON_DEPTH}" in line
    typed = tmp_path / "typed.json"
    typed.write_text(json.dumps({**RunConfig().to_json(), "analysis": "false"}))
    line = _fails(["train", "--config", str(typed), "--run-dir", str(tmp_path / "r")], capsys)
    assert f"{typed}: analysis must be true or false" in line
    assert not (tmp_path / "r").exists()


# ----------------------------------------------------------------------------- data folders


def _image_folder(root: Path) -> Path:
    for i, name in enumerate(("ant", "bee")):
        (root / name).mkdir(parents=True)
        for j in range(3):
            image = np.full((8, 8, 3), 40 * (i + j), np.uint8)
            (root / name / f"{j}.png").write_bytes(tf.io.encode_png(image).numpy())
    return root


def test_a_fifo_named_like_an_image_is_refused_by_name_without_opening_it(tmp_path):
    root = _image_folder(tmp_path / "data")
    os.mkfifo(root / "bee" / "x.png")  # opening it would block forever
    with pytest.raises(UserInputError, match=r"bee/x.png is a FIFO \(named pipe\), not a "
                       "regular file: remove it"):
        la.data.folder_files(str(root), "train")


def test_a_file_name_that_is_not_utf8_is_named_with_its_bytes_escaped(tmp_path):
    root = _image_folder(tmp_path / "data")
    bad = os.fsencode(root / "ant") + b"/caf\xe9.png"
    shutil.copy(root / "ant" / "0.png", os.fsdecode(bad))
    with pytest.raises(UserInputError, match=r"ant/caf\\xe9.png: the name is not UTF-8"):
        la.data.folder_files(str(root), "train")


# ----------------------------------------------------------------------------- readers


def _record(tmp_path) -> Path:
    return Path(save_record(str(tmp_path), "ff", 0, dict(layer_names=["a"], sizes=[4])))


@pytest.mark.parametrize("damage, says", [
    (lambda p: p.write_bytes(p.read_bytes()[:40]), "is not a readable analysis record"),
    (lambda p: p.write_bytes(b"garbage" * 20), "is not a readable analysis record"),
    (lambda p: np.save(open(p, "wb"), np.array([{"x": 1}], dtype=object)),
     "is not a readable analysis record"),
    (lambda p: np.savez(p, epoch=np.array([1, 2]), layer_names=np.array(["a"])),
     "'epoch' is not one integer"),
    (lambda p: np.savez(p, epoch=0, sizes=np.array([{"x": 1}], dtype=object)),
     "is not a readable analysis record"),
])
def test_damaged_records_name_the_file_and_the_fix_and_never_unpickle(tmp_path, damage,
                                                                       says):
    path = _record(tmp_path)
    damage(path)
    with pytest.raises(CorruptFileError) as err:
        load_records(str(tmp_path))
    message = str(err.value)
    assert message.startswith(str(path)) and says in message and "\n" not in message
    assert "delete" in message


def test_records_are_written_atomically(tmp_path, monkeypatch):
    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez", full)
    with pytest.raises(OSError):
        _record(tmp_path)
    assert list(tmp_path.iterdir()) == []  # no half-written record nor temporary file


@pytest.mark.parametrize("text, says", [
    ('{"name": "s", "stage": "bnn", "test_accuracy": "high"', "is not valid JSON"),
    ('{"name": "s", "stage": "bnn", "test_accuracy": "high", "test_top5": 1, '
     '"seconds": 1, "epochs": 1}', "'test_accuracy' is 'high', not a number"),
    ("[1, 2]", "holds JSON but not an object"),
])
def test_damaged_result_json_is_one_line(tmp_path, text, says):
    (tmp_path / "result.json").write_text(text)
    with pytest.raises(CorruptFileError) as err:
        read_finished(tmp_path)
    assert str(err.value).startswith(str(tmp_path / "result.json")) and says in str(err.value)


@pytest.mark.parametrize("record, says", [
    ({"lce": 5}, "'lce' is int, not an object"),
    ({"warnings": "x"}, "'warnings' is not a list"),
])
def test_wrong_shaped_export_json_is_one_line(tmp_path, record, says):
    (tmp_path / "export.json").write_text(json.dumps(record))
    with pytest.raises(CorruptFileError, match=says):
        read_export(tmp_path)
    (tmp_path / "export.json").write_text('{"lce": {')
    with pytest.raises(CorruptFileError, match="export.json is not valid JSON"):
        read_export(tmp_path)


def test_the_contract_is_checked_against_the_file_it_describes(tmp_path):
    model = tmp_path / "model.tflite"
    model.write_bytes(b"float32 model")
    contract = tmp_path / "model.json"
    contract.write_text(json.dumps({"model": "model.tflite",
                                    "sha256": {"model.tflite": file_sha256(model)}}))
    assert read_contract(contract)["model"] == "model.tflite"
    model.write_bytes(b"uint8 model")  # a re-export killed after the new file
    with pytest.raises(CorruptFileError, match="describes another model.tflite than the one "
                       "beside it .*export the model again"):
        read_contract(contract)
    contract.write_text('{"model": "model.tfl')
    with pytest.raises(CorruptFileError, match="model.json is not valid JSON"):
        read_contract(contract)


# ----------------------------------------------------------------------------- disks


@pytest.mark.parametrize("error, says", [
    (OSError(errno.ENOSPC, "No space left on device", "/r/step/x.h5"),
     "/r/step/x.h5: the disk is full"),
    (OSError(28, "Can't synchronously write data (file write failed: errno = 28)"),
     "the disk is full"),
    (tf.errors.ResourceExhaustedError(None, None, "/r/ckpt-1.data; No space left on device"),
     "the disk is full"),
    (OSError(errno.EROFS, "Read-only file system", "/r/config.json"),
     "/r/config.json: the file system is read-only"),
    (PermissionError(errno.EACCES, "Permission denied", "/r/report.md"),
     "/r/report.md: permission denied for this write"),
])
def test_refused_writes_become_one_line_naming_the_file_and_the_fix(error, says):
    converted = disk.write_error(error)
    assert isinstance(converted, DiskWriteError) and says in str(converted)
    assert "\n" not in str(converted)
    assert disk.write_error(ValueError("something else")) is None


def test_a_run_without_room_for_its_next_checkpoint_is_refused_before_writing(tmp_path,
                                                                             monkeypatch):
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(disk.shutil, "disk_usage", lambda _p: usage._replace(free=10_000))
    with pytest.raises(DiskWriteError, match=r"run: the next checkpoint needs about "
                       r"\d.*MB but only 10\.0 KB is free"):
        la.training.one_step(tmp_path / "run", **TINY)
    assert not (tmp_path / "run").exists()


def test_a_full_disk_during_a_command_is_one_line_and_exit_2(capsys, tmp_path, monkeypatch):
    run = tmp_path / "run"
    run.mkdir()

    def full(_args):
        raise OSError(errno.ENOSPC, "No space left on device", str(run / "report.md"))

    monkeypatch.setattr("larq_adam.cli.report_run.run", full)
    line = _fails(["report", str(run)], capsys)
    assert f"{run / 'report.md'}: the disk is full" in line and "--resume" in line


def test_a_read_only_run_folder_is_one_line(capsys, tmp_path, monkeypatch):
    run = tmp_path / "run"
    run.mkdir()
    real_open = os.open

    def read_only(path, flags, *args):
        if str(path).startswith(str(run)) and flags & (os.O_WRONLY | os.O_RDWR):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", read_only)
    line = _fails(["report", str(run)], capsys)
    assert f"{run / '.lock'}: the file system is read-only" in line


# ----------------------------------------------------------------------------- training


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    run = tmp_path_factory.mktemp("whole") / "run"
    la.training.one_step(run, epochs=EPOCHS, **TINY)
    return run


def _weights(path: Path) -> dict:
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda k, v: out.__setitem__(k, v[()]) if isinstance(v, h5py.Dataset)
                     else None)
    return out


class _SignalAt(tf.keras.callbacks.Callback):
    """Sends this process ``signum`` after batch ``batch`` of epoch ``epoch``."""

    def __init__(self, signum, epoch, batch):
        super().__init__()
        self.signum, self.at, self._epoch = signum, (epoch, batch), 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self._epoch, batch) == self.at:
            os.kill(os.getpid(), self.signum)


def test_sigterm_stops_at_a_batch_boundary_and_resume_gives_the_uninterrupted_run(
        whole, tmp_path):
    run = tmp_path / "run"
    handler = signal.getsignal(signal.SIGTERM)
    with pytest.raises(TrainingInterrupted) as err:
        la.training.train(run, RunConfig(kind="one_step", epochs=EPOCHS,
                                         **{k: v for k, v in TINY.items() if k != "verbose"}),
                          verbose=0, extra_callbacks=[_SignalAt(signal.SIGTERM, 1, 0)])
    assert signal.getsignal(signal.SIGTERM) is handler  # restored after the fit
    assert err.value.signum == signal.SIGTERM
    assert err.value.checkpoint.endswith("ckpt-1")  # epoch 2 was not checkpointed
    assert "training stopped by SIGTERM after batch 2 of epoch 2 of step 'step'" in \
        str(err.value)
    assert not (run / "step" / "result.json").exists()
    la.training.one_step(run, epochs=EPOCHS, resume=True, **TINY)
    a, b = _weights(whole / "step" / "final.weights.h5"), _weights(run / "step" /
                                                                   "final.weights.h5")
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def test_a_finished_run_is_not_resumed_with_other_settings(whole, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(whole, run)
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "width": 0.25}))  # edited
    with pytest.raises(RunStateError, match=r"step was started with other settings "
                       r"\(width: saved 0.125, now 0.25\)"):
        la.training.one_step(run, epochs=EPOCHS, resume=True, **{**TINY, "width": 0.25})
    (run / "config.json").unlink()  # deleted: rebuilt from the step's copy, then compared
    with pytest.warns(RecoveryWarning, match="config.json was missing; rebuilt it from"):
        with pytest.raises(RunStateError, match=r"width: saved 0.125, now 0.25"):
            la.training.one_step(run, epochs=EPOCHS, resume=True, **{**TINY, "width": 0.25})
    assert read_json(run / "config.json", fix="")["width"] == 0.125
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = la.training.one_step(run, epochs=EPOCHS, resume=True, **TINY)
    assert res.steps[0].epochs == EPOCHS
    (run / "step" / "config.json").unlink()
    with pytest.raises(RunStateError, match=r"step/config.json is missing, so the settings of "
                       "the finished step"):
        la.training.one_step(run, epochs=EPOCHS, resume=True, **TINY)


def test_a_second_training_of_a_folder_being_trained_is_refused(whole, tmp_path):
    from larq_adam.run_lock import run_lock

    with run_lock(tmp_path / "run", command="other"):
        with open(tmp_path / "run" / ".lock", "w") as f:  # as if another pid held it
            f.write("pid 1 (other)\n")
        code = ("import sys; import larq_adam as la; "
                f"la.training.one_step(sys.argv[1], epochs=1, **{TINY!r})")
        proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "run")],
                              capture_output=True, text=True, timeout=300,
                              env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert proc.returncode == 1 and "RunLockedError" in proc.stderr
    assert "is being written by another process (pid 1 (other))" in proc.stderr


@pytest.mark.slow
def test_real_sigint_and_sigterm_to_the_command_exit_130_and_143_and_resume(tmp_path):
    """The command in a real process: a signal while it trains stops it with one line
    naming the resume command; that command ends with the uninterrupted weights."""
    argv = ["--one-step", "--dataset", "mnist5k", "--model", "strong_baseline",
            "--width", "0.125", "--batch-size", "32", "--max-steps-per-epoch", "3",
            "--epochs", "3", "--teacher", "none", "--no-analysis", "--no-export", "--quiet"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONWARNINGS": "ignore"}

    def command(run, *extra):
        return [sys.executable, "-m", "larq_adam", "train", *argv, "--run-dir", str(run),
                *extra]

    subprocess.run(command(tmp_path / "whole"), check=True, env=env, timeout=600,
                   capture_output=True)
    for signum, status in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
        run = tmp_path / signal.Signals(signum).name
        proc = subprocess.Popen(command(run), env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        marker = run / "step" / "checkpoints" / "ckpt-1.index"
        while not marker.exists():
            assert proc.poll() is None, proc.stderr.read()
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=300)
        lines = [line for line in err.splitlines() if line.strip()]
        assert proc.returncode == status, err
        assert f"training stopped by {signal.Signals(signum).name}" in lines[-1], err
        assert "continue with: larq-adam train" in lines[-1] and "--resume" in lines[-1]
        subprocess.run(command(run, "--resume"), check=True, env=env, timeout=600,
                       capture_output=True)
        a = _weights(tmp_path / "whole" / "step" / "final.weights.h5")
        b = _weights(run / "step" / "final.weights.h5")
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
