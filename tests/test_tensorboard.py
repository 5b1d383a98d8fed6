"""TensorBoard: every step writes its epoch scalars (loss, accuracy, lr, val_*, every
analysis key) to STEP/logs beside the latent-weight histograms, and a resumed step adds to
them."""
import csv
from pathlib import Path

import pytest
import tensorflow as tf

import larq_adam as la
from larq_adam.config import RunConfig

CONFIG = RunConfig(kind="one_step", data="mnist5k", model="strong_baseline", width=0.125,
                   batch_size=32, max_steps_per_epoch=1, epochs=2, teacher=None)


class _Killed(Exception):
    """Stands for a kill between epochs."""


class _KillAtSecondEpoch(tf.keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            raise _Killed


def _events(log_dir: Path) -> dict:
    """``{tag: {step: value}}`` over every event file in ``log_dir``."""
    out: dict = {}
    for path in sorted(log_dir.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                out.setdefault(value.tag, {})[event.step] = value
    return out


def _scalar(value) -> float:
    return float(tf.make_ndarray(value.tensor))


def test_every_step_writes_epoch_scalars_with_the_analysis_keys_and_a_resume_appends(
        tmp_path):
    with pytest.raises(_Killed):
        la.training.train(tmp_path, CONFIG, verbose=0, extra_callbacks=[_KillAtSecondEpoch()])
    la.training.train(tmp_path, CONFIG, resume=True, verbose=0)
    logs = tmp_path / "step" / "logs"
    train, validation = _events(logs / "train"), _events(logs / "validation")
    assert len(list((logs / "train").glob("events.out.tfevents.*"))) == 2  # one per process
    for tag in ("epoch_loss", "epoch_accuracy", "epoch_top5", "epoch_lr", "epoch_ff_ratio",
                "epoch_ff_ratio_run", "epoch_c2i_ratio", "epoch_cam_min_first",
                "epoch_sdam_first", "epoch_update_cam_mean", "epoch_saturation",
                "epoch_latent_abs_gt1"):
        assert sorted(train.get(tag, {})) == [0, 1], tag
    for tag in ("epoch_loss", "epoch_accuracy", "epoch_top5"):
        assert sorted(validation.get(tag, {})) == [0, 1], tag
    with (tmp_path / "step" / "history.csv").open() as f:
        history = list(csv.DictReader(f))
    for row in history:
        epoch = int(row["epoch"])
        for key in ("ff_ratio", "ff_ratio_run", "c2i_ratio", "lr"):
            assert _scalar(train[f"epoch_{key}"][epoch]) == pytest.approx(float(row[key]),
                                                                          rel=1e-6)
        assert _scalar(validation["epoch_accuracy"][epoch]) == pytest.approx(
            float(row["val_accuracy"]), rel=1e-6)
    histograms = _events(logs)  # Fig. 7's histograms: the folder itself, no clash
    assert any(tag.startswith("latent_weights/") for tag in histograms)
    assert not any(tag.startswith("epoch_") for tag in histograms)
