"""One-step / two-step runs from a RunConfig: step 2 starts from step 1, runs resume, NaN
stops, the teacher is trained once."""
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
from larq_adam.config import RunConfig
from larq_adam.errors import RunStateError, UserInputError
from larq_adam.run_files import h5_problem
from larq_adam.training import data_feed, resume as resume_lib, run as run_lib
from larq_adam.training import step as step_lib

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


class _StartKernels(tf.keras.callbacks.Callback):
    """The latent kernels every fit starts from, one list per step."""

    def __init__(self):
        super().__init__()
        self.starts = []

    def on_train_begin(self, logs=None):
        self.starts.append([k.numpy() for k in la.analysis.binary_kernels(self.model)])


def _checkpoint_c2i_signs(step_dir: Path):
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(step_dir / "checkpoints")))
    names = sorted((n for n in reader.get_variable_to_shape_map() if n.startswith("c2i/signs/")),
                   key=lambda n: int(n.split("/")[2]))
    return [reader.get_tensor(n) for n in names]


@pytest.mark.parametrize("order,stage1", [
    ("babw", "ba"), pytest.param("bwba", "bw", marks=pytest.mark.slow)])
def test_two_step_step2_starts_from_step1_best_weights(tmp_path, order, stage1):
    config = RunConfig(kind="two_step", order=order, epochs=1, teacher=None,
                       **{k: v for k, v in TINY.items() if k != "verbose"})
    starts = _StartKernels()
    res = la.training.train(tmp_path / order, config, verbose=0, extra_callbacks=[starts])
    assert [s.name for s in res.steps] == ["step1", "step2"]
    assert [s.stage for s in res.steps] == [stage1, "bnn"]
    assert [s.weight_decay for s in res.steps] == [5e-6, 0.0]
    step1_best = _kernels_from_weights(tmp_path / order / "step1" / "best.weights.h5", stage1)
    step2_initial = starts.starts[1]
    assert len(step1_best) == len(step2_initial) > 0
    for a, b in zip(step1_best, step2_initial):
        np.testing.assert_array_equal(a, b)
    # C2I's reference, kept in step 2's checkpoint, is step 1's best weights' signs
    for signs, kernel in zip(_checkpoint_c2i_signs(tmp_path / order / "step2"), step1_best):
        np.testing.assert_array_equal(signs, kernel >= 0)
    # and step 2 did train away from there
    step2_final = _kernels_from_weights(tmp_path / order / "step2" / "final.weights.h5", "bnn")
    assert any(not np.array_equal(a, b) for a, b in zip(step2_initial, step2_final))
    for s in res.steps:
        assert 0.0 <= s.test_accuracy <= 1.0
        # one epoch: the best weights are the final ones, chosen on the held-out part
        assert s.best_epoch == 1 and s.best_accuracy == s.validation_accuracy
        assert s.best_test_accuracy == s.test_accuracy and "held out" in s.selection
        assert s.ff_ratio is not None and 0.0 <= s.ff_ratio <= 1.0
        assert s.c2i_ratio is not None and 0.0 <= s.c2i_ratio <= 1.0
        saved = json.loads((Path(s.dir) / "result.json").read_text())
        assert saved["test_accuracy"] == pytest.approx(s.test_accuracy)
        assert not (Path(s.dir) / "initial_kernels.npz").exists()  # the checkpoint holds it
    assert Path(res.final_model_path).exists()
    saved_config = json.loads((tmp_path / order / "config.json").read_text())
    assert RunConfig.from_json(saved_config) == config
    assert saved_config["steps"] == ["step1", "step2"] and saved_config["final_model"]


def test_one_step_with_auto_teacher_distils_and_never_loads_a_truncated_teacher(tmp_path,
                                                                                  monkeypatch):
    loads = []
    monkeypatch.setattr(step_lib, "load_teacher", lambda path: loads.append(path))
    res = la.training.one_step(tmp_path, stage="bnn", weight_decay=1e-5, epochs=1,
                               teacher="auto", **TINY)
    assert loads == []  # the student distilled from the teacher in memory
    monkeypatch.undo()
    assert res.teacher is not None and res.teacher.stage == "fp"
    assert h5_problem(tmp_path / "teacher" / "model.h5", whole_model=True) is None
    assert json.loads((tmp_path / "step" / "config.json").read_text())["teacher"].endswith(
        "model.h5")
    history = res.steps[0].history
    assert {"loss", "accuracy", "val_accuracy", "ff_ratio", "c2i_ratio", "lr"} <= set(history[0])
    # A kill while model.h5 was written in place (before writes were atomic) left 96 bytes:
    # a resume must write it again from the teacher's final weights, never load it.
    model_h5 = tmp_path / "teacher" / "model.h5"
    model_h5.write_bytes(model_h5.read_bytes()[:96])
    with pytest.warns(resume_lib.RecoveryWarning, match=r"teacher.model\.h5 cannot be read "
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
    config = RunConfig(kind="one_step", epochs=1, analysis=False,
                       **{k: v for k, v in TINY.items() if k != "verbose"})
    (tmp_path / "config.json").write_text(json.dumps(config.to_json()))
    with pytest.raises(RunStateError, match="other settings.*epochs") as err:
        la.training.one_step(tmp_path, epochs=2, analysis=False, resume=True, **TINY)
    assert "--allow-changes" not in str(err.value)  # epochs cannot be changed
    with pytest.raises(RunStateError, match="learning_rate.*--allow-changes lr"):
        la.training.one_step(tmp_path, epochs=1, analysis=False, resume=True,
                             **{**TINY, "learning_rate": 1e-4})
    with pytest.raises(UserInputError, match="--allow-changes 'epochs'.*valid: lr"):
        la.training.one_step(tmp_path, epochs=2, analysis=False, resume=True,
                             allow_changes=["epochs"], **TINY)
    with pytest.raises(TypeError, match=r"unknown arguments \['order'\]"):
        la.training.one_step(tmp_path, order="babw", **TINY)


def test_bad_order_and_teacher_errors(tmp_path):
    with pytest.raises(UserInputError, match="unknown order 'abba'; valid: babw, bwba"):
        la.training.two_step(tmp_path, order="abba", teacher=None, **TINY)
    with pytest.raises(ValueError, match="valid: best, final"):
        la.training.two_step(tmp_path, init="last", teacher=None, **TINY)
    with pytest.raises(FileNotFoundError, match="'auto'"):
        la.training.one_step(tmp_path / "t", teacher=str(tmp_path / "missing.h5"), **TINY)
    assert not (tmp_path / "t").exists()  # nothing written


def test_init_final_starts_step2_from_step1_final_weights(tmp_path, monkeypatch):
    seen = {}
    monkeypatch.setattr(run_lib, "train", lambda run_dir, config, **kw: seen.update(config=config))
    la.training.two_step(tmp_path, init="final", teacher=None, **TINY)
    assert seen["config"].init == "final" and seen["config"].kind == "two_step"
    steps = run_lib.run_steps(seen["config"], tmp_path)
    assert [s.name for s in steps] == ["step1", "step2"] and steps[0].init_from is None
    assert steps[1].init_from == str(tmp_path / "step1" / "final.weights.h5")
    la.training.two_step(tmp_path, teacher=None, **TINY)
    steps = run_lib.run_steps(seen["config"], tmp_path)
    assert steps[1].init_from == str(tmp_path / "step1" / "best.weights.h5")


class _ClockAhead(step_lib.StepClock):
    """A step clock that has already counted 1000 s (as if earlier processes had)."""

    def __init__(self):
        super().__init__()
        self.before = 1000.0


def _synthetic_data(nan_at=None, epochs=3):
    """64 random images per epoch in 2 batches; ``nan_at=(epoch, batch)`` poisons one."""
    rng = np.random.default_rng(0)
    images = rng.normal(size=(64, 32, 32, 3)).astype("float32")
    labels = (np.arange(64) % 10).astype("int32")

    def train_from(first, batch_slice=None):
        xs = [images.copy() for _ in range(first, epochs)]
        if nan_at is not None and first <= nan_at[0] < epochs:
            xs[nan_at[0] - first][32 * nan_at[1]:32 * (nan_at[1] + 1)] = np.nan
        return tf.data.Dataset.from_tensor_slices(
            (np.concatenate(xs), np.tile(labels, len(xs)))).batch(32)

    def test(batch_slice=None):
        return tf.data.Dataset.from_tensor_slices((images, labels)).batch(32)

    info = SimpleNamespace(input_shape=(32, 32, 3), num_classes=10, num_examples=64)
    return data_feed.RunFeeds(train_from, test, info, images[:8], batch_size=32,
                             steps_per_epoch=2, test_steps=2)


def test_nan_loss_stops_on_its_batch_and_resumes_with_allowed_lower_lr(tmp_path, monkeypatch):
    step = step_lib.Step(name="s", model="strong_baseline", width=0.125, epochs=3,
                          learning_rate=1e-3, schedule="constant")
    strategy = tf.distribute.get_strategy()
    monkeypatch.setattr(step_lib, "StepClock", _ClockAhead)
    # The analysis callbacks are on: their epoch-end histograms would fail on NaN weights.
    with pytest.raises(la.training.TrainingDivergedError) as err:
        step_lib.run_step(tmp_path, step, data=_synthetic_data(nan_at=(1, 1)),
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
        step_lib.run_step(tmp_path, lower, data=_synthetic_data(), strategy=strategy,
                           resume=True, verbose=0)
    res = step_lib.run_step(tmp_path, lower, data=_synthetic_data(), strategy=strategy,
                             resume=True, allow_changes=("lr",), verbose=0)
    assert [int(r["epoch"]) for r in res.history] == [0, 1, 2]
    assert [r["lr"] for r in res.history] == pytest.approx([1e-3, 1e-4, 1e-4])
    assert res.learning_rate == 1e-4 and all(np.isfinite(r["loss"]) for r in res.history)
    # FF totals continued from the checkpoint (the diverged epoch's iterations dropped):
    # the run's mean over its 6 iterations is the mean of the three 2-iteration epochs
    assert res.history[2]["ff_ratio_run"] > 0
    assert res.history[2]["ff_ratio_run"] == pytest.approx(
        np.mean([r["ff_ratio"] for r in res.history]), rel=1e-9)
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


@pytest.mark.slow  # mirrored fit, callbacks and Distiller stay in test_distribute's fast cases
def test_two_step_under_mirrored_strategy_on_two_cpus(tmp_path):
    script = tmp_path / "mirrored.py"
    script.write_text(_MIRRORED_SCRIPT)
    out = subprocess.run([sys.executable, str(script), str(tmp_path / "run")],
                         capture_output=True, text=True,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert out.returncode == 0, out.stderr[-3000:]
    assert "RESULT" in out.stdout
    assert (tmp_path / "run" / "step2" / "result.json").exists()


def _moving_means(model):
    return [layer.moving_mean.numpy() for layer in la.training.bn_stats.bn_layers(model)]


def test_recalibrate_bn_keeps_re_estimated_statistics_in_the_final_weights(tmp_path):
    """The step's final weights get BN statistics re-estimated over the last epoch; the
    checkpoint keeps the moving ones fit left, and every other weight is the same."""
    res = la.training.one_step(tmp_path, stage="ba", epochs=1, analysis=False,
                               recalibrate_bn=True, **TINY)
    (step,) = res.steps
    assert step.recalibrated_accuracy is not None and 0 <= step.recalibrated_accuracy <= 1
    assert step.bn_recalibrated is True
    saved = json.loads((tmp_path / "step" / "result.json").read_text())
    assert saved["recalibrated_accuracy"] == step.recalibrated_accuracy
    final, fit_left = (la.models.build_model("reactnet_a", stage="ba", input_shape=(32, 32, 3),
                                             num_classes=10, width=TINY["width"])
                       for _ in range(2))
    final.load_weights(str(tmp_path / "step" / "final.weights.h5"))
    tf.train.Checkpoint(model=fit_left).read(tf.train.latest_checkpoint(
        str(tmp_path / "step" / "checkpoints"))).expect_partial()
    for a, b in zip(final.weights, fit_left.weights):
        assert np.array_equal(a.numpy(), b.numpy()) != ("moving_" in a.name), a.name
