"""One-step / two-step orchestration: step 2 starts from step 1, runs resume, NaN stops."""
import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import larq_adam as la
from larq_adam.training import steps as steps_lib

TINY = dict(data="mnist5k", model="reactnet_a", width=0.125, batch_size=32,
            max_steps_per_epoch=3, verbose=0)


def _epochs(history_csv: Path):
    with history_csv.open() as f:
        return [int(float(row["epoch"])) for row in csv.DictReader(f)]


def _kernels_from_weights(path: Path, stage: str):
    model = la.models.build_model("reactnet_a", stage=stage, input_shape=(32, 32, 3),
                                  num_classes=10, width=TINY["width"])
    model.load_weights(str(path))
    return [k.numpy() for k in la.analysis.binary_kernels(model)]


@pytest.mark.parametrize("order,stage1", [("babw", "ba"), ("bwba", "bw")])
def test_two_step_step2_starts_from_step1_final_weights(tmp_path, order, stage1):
    res = la.training.two_step(tmp_path / order, order=order, epochs=1, teacher=None, **TINY)
    assert [s.name for s in res.steps] == ["step1", "step2"]
    assert [s.stage for s in res.steps] == [stage1, "bnn"]
    assert [s.weight_decay for s in res.steps] == [5e-6, 0.0]
    step1_final = _kernels_from_weights(tmp_path / order / "step1" / "final.weights.h5", stage1)
    step2_initial = np.load(tmp_path / order / "step2" / "initial_kernels.npz")
    step2_initial = [step2_initial[f"arr_{i}"] for i in range(len(step2_initial.files))]
    assert len(step1_final) == len(step2_initial) > 0
    for a, b in zip(step1_final, step2_initial):
        np.testing.assert_array_equal(a, b)
    # and step 2 did train away from there
    step2_final = _kernels_from_weights(tmp_path / order / "step2" / "final.weights.h5", "bnn")
    assert any(not np.array_equal(a, b) for a, b in zip(step2_initial, step2_final))
    for s in res.steps:
        assert 0.0 <= s.test_accuracy <= 1.0
        assert s.ff_ratio is not None and 0.0 <= s.ff_ratio <= 1.0
        assert s.c2i_ratio is not None and 0.0 <= s.c2i_ratio <= 1.0
        saved = json.loads((Path(s.dir) / "result.json").read_text())
        assert saved["test_accuracy"] == pytest.approx(s.test_accuracy)
    assert Path(res.final_model_path).exists()
    config = json.loads((tmp_path / order / "config.json").read_text())
    assert config["steps"] == ["step1", "step2"] and config["order"] == order


def test_one_step_with_auto_teacher_distils(tmp_path):
    res = la.training.one_step(tmp_path, stage="bnn", weight_decay=1e-5, epochs=1,
                               teacher="auto", **TINY)
    assert res.teacher is not None and res.teacher.stage == "fp"
    assert (tmp_path / "teacher" / "model.h5").exists()
    assert json.loads((tmp_path / "step" / "config.json").read_text())["teacher"].endswith(
        "model.h5")
    history = res.steps[0].history
    assert {"loss", "accuracy", "val_accuracy", "ff_ratio", "c2i_ratio", "lr"} <= set(history[0])


def test_existing_run_dir_without_resume_is_refused(tmp_path):
    (tmp_path / "step").mkdir()
    (tmp_path / "step" / "history.csv").write_text("epoch,loss\n0,1.0\n")
    with pytest.raises(FileExistsError, match="resume=True"):
        la.training.one_step(tmp_path, epochs=1, analysis=False, **TINY)
    assert (tmp_path / "step" / "history.csv").read_text() == "epoch,loss\n0,1.0\n"
    (tmp_path / "config.json").write_text("{}")  # a whole run there: refused up front
    with pytest.raises(FileExistsError, match="resume=True"):
        la.training.one_step(tmp_path, epochs=1, analysis=False, **TINY)
    assert (tmp_path / "config.json").read_text() == "{}"


def test_resume_with_other_settings_is_refused(tmp_path):
    config = steps_lib._common_config(epochs=1, optimizer="adam", **{
        k: v for k, v in TINY.items() if k != "verbose"})
    config.update(kind="one_step", stage="bnn", weight_decay=0.0)
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="other settings.*epochs"):
        la.training.one_step(tmp_path, epochs=2, analysis=False, resume=True, **TINY)


def test_bad_order_and_teacher_errors(tmp_path):
    with pytest.raises(ValueError, match="valid orders"):
        la.training.two_step(tmp_path, order="abba", teacher=None, **TINY)
    with pytest.raises(FileNotFoundError, match="'auto'"):
        la.training.one_step(tmp_path / "t", teacher=str(tmp_path / "missing.h5"), **TINY)


def test_nan_loss_stops_with_clear_error_and_keeps_last_good_checkpoint(tmp_path):
    train_images = np.random.default_rng(0).normal(size=(64, 32, 32, 3)).astype("float32")
    labels = np.arange(64) % 10
    good = tf.data.Dataset.from_tensor_slices((train_images, labels)).batch(32)
    bad = tf.data.Dataset.from_tensor_slices(
        (np.full_like(train_images, np.nan), labels)).batch(32)
    info = type("Info", (), dict(input_shape=(32, 32, 3), num_classes=10, num_examples=64))
    step = steps_lib.Step(name="s", width=0.125, epochs=3, learning_rate=1e-3)
    data = steps_lib._Data(good, good, info, train_images[:8], 2)
    steps_lib.run_step(tmp_path, dataclass_replace(step, epochs=1), data,
                       tf.distribute.get_strategy(), analysis_callbacks=False, verbose=0)
    (tmp_path / "s" / "result.json").unlink()
    data_bad = steps_lib._Data(bad, good, info, train_images[:8], 2)
    with pytest.raises(steps_lib.TrainingDivergedError, match="Last good checkpoint: .*ckpt-1"):
        steps_lib.run_step(tmp_path, step, data_bad, tf.distribute.get_strategy(),
                           resume=True, analysis_callbacks=False, verbose=0)
    latest = tf.train.latest_checkpoint(str(tmp_path / "s" / "checkpoints"))
    assert latest.endswith("ckpt-1")


def dataclass_replace(obj, **changes):
    import dataclasses
    return dataclasses.replace(obj, **changes)


_KILL_SCRIPT = textwrap.dedent("""
    import sys, larq_adam as la
    la.training.two_step(sys.argv[1], order="babw", epochs=4, resume=len(sys.argv) > 2,
                         teacher=None,
                         data="mnist5k", model="reactnet_a", width=0.125, batch_size=32,
                         max_steps_per_epoch=4, verbose=0)
""")


def test_run_killed_during_step2_resumes_with_every_epoch_once(tmp_path):
    run = tmp_path / "run"
    script = tmp_path / "train.py"
    script.write_text(_KILL_SCRIPT)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.Popen([sys.executable, str(script), str(run)], env=env)
    marker = run / "step2" / "checkpoints" / "ckpt-1.index"
    deadline = time.time() + 400
    while not marker.exists():
        assert proc.poll() is None, "training ended before step 2 checkpointed"
        assert time.time() < deadline, "step 2 never checkpointed"
        time.sleep(0.2)
    time.sleep(0.5)  # kill at some moment inside the next epoch
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run / "step2" / "result.json").exists()
    done = subprocess.run([sys.executable, str(script), str(run), "resume"], env=env)
    assert done.returncode == 0
    assert _epochs(run / "step1" / "history.csv") == [0, 1, 2, 3]
    assert _epochs(run / "step2" / "history.csv") == [0, 1, 2, 3]
    result = json.loads((run / "step2" / "result.json").read_text())
    assert result["epochs"] == 4
    # step 2 continued (its initial kernels are still step 1's final ones, not re-drawn)
    first = np.load(run / "step2" / "initial_kernels.npz")
    step1_final = _kernels_from_weights(run / "step1" / "final.weights.h5", "ba")
    np.testing.assert_array_equal(first["arr_0"], step1_final[0])


_MIRRORED_SCRIPT = textwrap.dedent("""
    import sys, larq_adam as la
    la.training.distribute.configure_cpu_devices(2)
    res = la.training.two_step(sys.argv[1], order="babw", epochs=1, strategy="mirrored",
                               teacher=None,
                               data="mnist5k", model="reactnet_a", width=0.125,
                               batch_size=32, max_steps_per_epoch=3, verbose=0)
    import tensorflow as tf
    assert len(tf.config.list_logical_devices("CPU")) == 2
    print("RESULT", [round(s.test_accuracy, 4) for s in res.steps])
""")


def test_two_step_under_mirrored_strategy_on_two_cpus(tmp_path):
    script = tmp_path / "mirrored.py"
    script.write_text(_MIRRORED_SCRIPT)
    out = subprocess.run([sys.executable, str(script), str(tmp_path / "run")],
                         capture_output=True, text=True,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert out.returncode == 0, out.stderr[-3000:]
    assert "RESULT" in out.stdout
    assert (tmp_path / "run" / "step2" / "result.json").exists()
