"""One-step / two-step orchestration: step 2 starts from step 1, runs resume, NaN stops."""
import csv
import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import tensorflow as tf

import larq_adam as la
from larq_adam.errors import RunStateError, UserInputError
from larq_adam.run_files import h5_problem
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
def test_two_step_step2_starts_from_step1_best_weights(tmp_path, order, stage1):
    res = la.training.two_step(tmp_path / order, order=order, epochs=1, teacher=None, **TINY)
    assert [s.name for s in res.steps] == ["step1", "step2"]
    assert [s.stage for s in res.steps] == [stage1, "bnn"]
    assert [s.weight_decay for s in res.steps] == [5e-6, 0.0]
    step1_best = _kernels_from_weights(tmp_path / order / "step1" / "best.weights.h5", stage1)
    step2_initial = np.load(tmp_path / order / "step2" / "initial_kernels.npz")
    step2_initial = [step2_initial[f"arr_{i}"] for i in range(len(step2_initial.files))]
    assert len(step1_best) == len(step2_initial) > 0
    for a, b in zip(step1_best, step2_initial):
        np.testing.assert_array_equal(a, b)
    # and step 2 did train away from there
    step2_final = _kernels_from_weights(tmp_path / order / "step2" / "final.weights.h5", "bnn")
    assert any(not np.array_equal(a, b) for a, b in zip(step2_initial, step2_final))
    for s in res.steps:
        assert 0.0 <= s.test_accuracy <= 1.0
        assert s.best_accuracy == s.test_accuracy and s.best_epoch == 0  # one epoch
        assert s.ff_ratio is not None and 0.0 <= s.ff_ratio <= 1.0
        assert s.c2i_ratio is not None and 0.0 <= s.c2i_ratio <= 1.0
        saved = json.loads((Path(s.dir) / "result.json").read_text())
        assert saved["test_accuracy"] == pytest.approx(s.test_accuracy)
    assert Path(res.final_model_path).exists()
    config = json.loads((tmp_path / order / "config.json").read_text())
    assert config["steps"] == ["step1", "step2"] and config["order"] == order
    assert config["init"] == "best"


def test_one_step_with_auto_teacher_distils_and_never_loads_a_truncated_teacher(tmp_path):
    res = la.training.one_step(tmp_path, stage="bnn", weight_decay=1e-5, epochs=1,
                               teacher="auto", **TINY)
    assert res.teacher is not None and res.teacher.stage == "fp"
    assert (tmp_path / "teacher" / "model.h5").exists()
    assert json.loads((tmp_path / "step" / "config.json").read_text())["teacher"].endswith(
        "model.h5")
    history = res.steps[0].history
    assert {"loss", "accuracy", "val_accuracy", "ff_ratio", "c2i_ratio", "lr"} <= set(history[0])
    # A kill while model.h5 was written in place (before writes were atomic) left 96 bytes:
    # a resume must write it again from the teacher's final weights, never load it.
    model_h5 = tmp_path / "teacher" / "model.h5"
    model_h5.write_bytes(model_h5.read_bytes()[:96])
    with pytest.warns(steps_lib.RecoveryWarning, match=r"teacher.model\.h5 cannot be read "
                      r"\(.*truncated.*writing it again from .*final\.weights\.h5"):
        again = la.training.one_step(tmp_path, stage="bnn", weight_decay=1e-5, epochs=1,
                                     teacher="auto", resume=True, **TINY)
    assert h5_problem(model_h5, whole_model=True) is None
    assert again.steps[0].test_accuracy == res.steps[0].test_accuracy


def test_existing_run_dir_without_resume_is_refused(tmp_path):
    (tmp_path / "step").mkdir()
    (tmp_path / "step" / "history.csv").write_text("epoch,loss\n0,1.0\n")
    with pytest.raises(RunStateError, match="--resume"):
        la.training.one_step(tmp_path, epochs=1, analysis=False, **TINY)
    assert (tmp_path / "step" / "history.csv").read_text() == "epoch,loss\n0,1.0\n"
    (tmp_path / "config.json").write_text("{}")  # a whole run there: refused up front
    with pytest.raises(RunStateError, match="--resume"):
        la.training.one_step(tmp_path, epochs=1, analysis=False, **TINY)
    assert (tmp_path / "config.json").read_text() == "{}"


def test_resume_with_other_settings_is_refused(tmp_path):
    config = steps_lib._common_config(epochs=1, optimizer="adam", **{
        k: v for k, v in TINY.items() if k != "verbose"})
    config.update(kind="one_step", stage="bnn", weight_decay=0.0)
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(RunStateError, match="other settings.*epochs") as err:
        la.training.one_step(tmp_path, epochs=2, analysis=False, resume=True, **TINY)
    assert "--allow-changes" not in str(err.value)  # epochs cannot be changed
    with pytest.raises(RunStateError, match="learning_rate.*--allow-changes lr"):
        la.training.one_step(tmp_path, epochs=1, analysis=False, resume=True,
                             **{**TINY, "learning_rate": 1e-4})
    with pytest.raises(UserInputError, match="--allow-changes 'epochs'.*valid: lr"):
        la.training.one_step(tmp_path, epochs=2, analysis=False, resume=True,
                             allow_changes=["epochs"], **TINY)


def test_bad_order_and_teacher_errors(tmp_path):
    with pytest.raises(ValueError, match="valid orders"):
        la.training.two_step(tmp_path, order="abba", teacher=None, **TINY)
    with pytest.raises(ValueError, match="valid: best, final"):
        la.training.two_step(tmp_path, init="last", teacher=None, **TINY)
    with pytest.raises(FileNotFoundError, match="'auto'"):
        la.training.one_step(tmp_path / "t", teacher=str(tmp_path / "missing.h5"), **TINY)
    assert not (tmp_path / "t").exists()  # nothing written


def test_init_final_starts_step2_from_step1_final_weights(tmp_path, monkeypatch):
    seen = {}
    monkeypatch.setattr(steps_lib, "_run", lambda run_dir, kind, steps, config, **kw:
                        seen.update(steps=steps, config=config))
    la.training.two_step(tmp_path, init="final", teacher=None, **TINY)
    assert seen["steps"][1].init_from == str(tmp_path / "step1" / "final.weights.h5")
    assert seen["config"]["init"] == "final"
    la.training.two_step(tmp_path, teacher=None, **TINY)
    assert seen["steps"][1].init_from == str(tmp_path / "step1" / "best.weights.h5")


class _ClockAhead(steps_lib.StepClock):
    """A step clock that has already counted 1000 s (as if earlier processes had)."""

    def __init__(self):
        super().__init__()
        self.before = 1000.0


def _synthetic_data(nan_at=None, epochs=3):
    """64 random images per epoch in 2 batches; ``nan_at=(epoch, batch)`` poisons one."""
    rng = np.random.default_rng(0)
    images = rng.normal(size=(64, 32, 32, 3)).astype("float32")
    labels = (np.arange(64) % 10).astype("int32")

    def train_from(first):
        xs = [images.copy() for _ in range(first, epochs)]
        if nan_at is not None and first <= nan_at[0] < epochs:
            xs[nan_at[0] - first][32 * nan_at[1]:32 * (nan_at[1] + 1)] = np.nan
        return tf.data.Dataset.from_tensor_slices(
            (np.concatenate(xs), np.tile(labels, len(xs)))).batch(32)

    test = tf.data.Dataset.from_tensor_slices((images, labels)).batch(32)
    info = SimpleNamespace(input_shape=(32, 32, 3), num_classes=10, num_examples=64)
    return steps_lib._Data(train_from, test, info, images[:8], 2)


def test_nan_loss_stops_on_its_batch_and_resumes_with_allowed_lower_lr(tmp_path, monkeypatch):
    step = steps_lib.Step(name="s", model="strong_baseline", width=0.125, epochs=3,
                          learning_rate=1e-3, schedule="constant")
    strategy = tf.distribute.get_strategy()
    monkeypatch.setattr(steps_lib, "StepClock", _ClockAhead)
    # The analysis callbacks are on: their epoch-end histograms would fail on NaN weights.
    with pytest.raises(steps_lib.TrainingDivergedError) as err:
        steps_lib.run_step(tmp_path, step, data=_synthetic_data(nan_at=(1, 1)),
                           strategy=strategy, verbose=0)
    message = str(err.value)
    assert "\n" not in message and "batch 2 of epoch 2" in message
    assert f"Last good checkpoint: {tmp_path / 's' / 'checkpoints' / 'ckpt-1'}." in message
    assert "Resume with `--resume --allow-changes lr` and a lower `--lr`" in message
    latest = tf.train.latest_checkpoint(str(tmp_path / "s" / "checkpoints"))
    assert latest.endswith("ckpt-1")
    monkeypatch.undo()
    # The advice, followed: a lower learning rate is refused unless asked for explicitly.
    lower = dataclasses.replace(step, learning_rate=1e-4)
    with pytest.raises(RunStateError, match="--allow-changes lr"):
        steps_lib.run_step(tmp_path, lower, data=_synthetic_data(), strategy=strategy,
                           resume=True, verbose=0)
    res = steps_lib.run_step(tmp_path, lower, data=_synthetic_data(), strategy=strategy,
                             resume=True, allow_changes=("lr",), verbose=0)
    assert [int(r["epoch"]) for r in res.history] == [0, 1, 2]
    assert [r["lr"] for r in res.history] == pytest.approx([1e-3, 1e-4, 1e-4])
    assert res.learning_rate == 1e-4 and all(np.isfinite(r["loss"]) for r in res.history)
    assert res.history[2]["ff_ratio_run"] > 0  # FF totals continued from the record
    assert res.seconds > 1000  # the time before the divergence counts
    config = json.loads((tmp_path / "s" / "config.json").read_text())
    assert config["learning_rate"] == 1e-4
    assert config["changes"] == [{"learning_rate": [1e-3, 1e-4]}]


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
