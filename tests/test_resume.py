"""Kill-and-resume: a run killed twice (SIGKILL, real processes) and resumed equals the run
that was never interrupted, its measurements (FF and C2I, whose state is checkpointed) and
TensorBoard scalars included; damaged run-folder files give one line and a fix, or a
fallback that says so."""
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import tensorflow as tf

import larq_adam as la
from larq_adam.errors import CorruptFileError, RunStateError, UserInputError
from larq_adam.training import resume as resume_lib

TINY = dict(data="mnist5k", model="strong_baseline", width=0.125, batch_size=32,
            max_steps_per_epoch=2, teacher=None, verbose=0)
EPOCHS = 3
_SCRIPT = textwrap.dedent(f"""
    import shutil, sys
    from pathlib import Path
    import larq_adam as la, tensorflow as tf

    class KeepCheckpoints(tf.keras.callbacks.Callback):
        # a copy of every step's checkpoints as fit leaves them, before the finished
        # step keeps only its newest: the fallback tests need an older one
        def on_train_end(self, logs=None):
            run = Path(sys.argv[1])
            for ckpts in run.glob("*/checkpoints"):
                kept = Path(str(run) + ".unpruned") / ckpts.parent.name / "checkpoints"
                if not kept.exists():
                    shutil.copytree(ckpts, kept)

    la.training.two_step(sys.argv[1], order="babw", epochs={EPOCHS},
                         resume=sys.argv[2] == "resume", extra_callbacks=[KeepCheckpoints()],
                         **{TINY!r})
""")
_ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONWARNINGS": "ignore"}


def _start(script: Path, run: Path, mode: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(script), str(run), mode], env=_ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _kill_after(proc: subprocess.Popen, marker: Path, timeout: float = 300) -> None:
    """SIGKILL ``proc`` shortly after ``marker`` appears (inside the next epoch)."""
    deadline = time.time() + timeout
    while not marker.exists():
        assert proc.poll() is None, f"ended before {marker} appeared: " + \
            proc.stderr.read().decode()[-2000:]
        assert time.time() < deadline, f"{marker} never appeared"
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def _elapsed(ckpt_dir: Path) -> float:
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(ckpt_dir)))
    return float(reader.get_tensor("elapsed/.ATTRIBUTES/VARIABLE_VALUE"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """An uninterrupted two-step run, and the same run killed in step 1's epoch 2 and in
    step 2's epoch 2, resumed after each kill."""
    root = tmp_path_factory.mktemp("resume")
    script = root / "train.py"
    script.write_text(_SCRIPT)
    whole, killed = root / "whole", root / "killed"
    uninterrupted = _start(script, whole, "fresh")  # alongside the killed one
    _kill_after(_start(script, killed, "fresh"), killed / "step1/checkpoints/ckpt-1.index")
    _kill_after(_start(script, killed, "resume"), killed / "step2/checkpoints/ckpt-1.index")
    before_last = _elapsed(killed / "step2" / "checkpoints")
    last = _start(script, killed, "resume")
    assert last.wait() == 0, last.stderr.read().decode()[-3000:]
    assert uninterrupted.wait() == 0, uninterrupted.stderr.read().decode()[-3000:]
    return dict(whole=whole, killed=killed, before_last=before_last,
                unpruned=root / "whole.unpruned")


def _h5_arrays(path: Path) -> dict:
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()])
                     if isinstance(obj, h5py.Dataset) else None)
    return out


def _history(path: Path):
    with path.open() as f:
        return list(csv.DictReader(f))


def test_killed_twice_and_resumed_run_equals_the_uninterrupted_run(runs):
    whole, killed = runs["whole"], runs["killed"]
    for step in ("step1", "step2"):
        for name in ("final.weights.h5", "best.weights.h5"):
            a, b = _h5_arrays(whole / step / name), _h5_arrays(killed / step / name)
            assert a.keys() == b.keys() and len(a) > 10
            for key in a:
                np.testing.assert_array_equal(a[key], b[key], err_msg=f"{step}/{name}:{key}")
        ha, hb = _history(whole / step / "history.csv"), _history(killed / step / "history.csv")
        assert [r["epoch"] for r in hb] == [str(e) for e in range(EPOCHS)]  # each epoch once
        for ra, rb in zip(ha, hb):
            assert ra.keys() == rb.keys()
            for key in ra:
                assert float(ra[key]) == pytest.approx(float(rb[key]), rel=1e-6, abs=1e-9), key
        ra = json.loads((whole / step / "result.json").read_text())
        rb = json.loads((killed / step / "result.json").read_text())
        for key in ("test_accuracy", "test_top5", "ff_ratio", "c2i_ratio", "best_accuracy",
                    "best_epoch"):
            assert ra[key] == rb[key], key


def test_resumed_step_time_counts_the_processes_before_the_kill(runs):
    seconds = json.loads((runs["killed"] / "step2" / "result.json").read_text())["seconds"]
    assert runs["before_last"] > 0
    assert seconds > runs["before_last"]


def test_results_show_best_and_final_and_step2_measures_c2i_against_step1_best(runs):
    whole = runs["whole"]
    history = _history(whole / "step1" / "history.csv")
    vals = [float(r["val_accuracy"]) for r in history]
    result = json.loads((whole / "step1" / "result.json").read_text())
    assert result["best_accuracy"] == max(vals)
    assert result["best_epoch"] == vals.index(max(vals)) + 1  # 1-based
    assert result["validation_accuracy"] == vals[-1] and result["epoch_base"] == 1
    best = la.models.build_model("strong_baseline", stage="ba", input_shape=(32, 32, 3),
                                 num_classes=10, width=TINY["width"])
    best.load_weights(str(whole / "step1" / "best.weights.h5"))
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(whole / "step2" /
                                                                     "checkpoints")))
    kernels = [k.numpy() for k in la.analysis.binary_kernels(best)]
    assert len(kernels) > 0 and not (whole / "step2" / "initial_kernels.npz").exists()
    for i, k in enumerate(kernels):
        signs = reader.get_tensor(f"c2i/signs/{i}/.ATTRIBUTES/VARIABLE_VALUE")
        np.testing.assert_array_equal(signs, k >= 0)


def _scalars(log_dir: Path, tag: str) -> dict:
    """``{epoch: value}`` of a TensorBoard scalar over every event file in ``log_dir``."""
    out = {}
    for path in sorted(log_dir.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.tag == tag:
                    out[event.step] = float(tf.make_ndarray(value.tensor))
    return out


def test_resumed_steps_append_to_their_tensorboard_logs_and_records(runs):
    whole, killed = runs["whole"], runs["killed"]
    for step in ("step1", "step2"):
        logs = killed / step / "logs" / "train"
        assert len(list(logs.glob("events.out.tfevents.*"))) >= 2  # one per process
        for tag in ("epoch_ff_ratio_run", "epoch_c2i_ratio", "epoch_loss"):
            a, b = _scalars(whole / step / "logs" / "train", tag), _scalars(logs, tag)
            assert sorted(a) == sorted(b) == list(range(EPOCHS)), tag
            assert b == pytest.approx(a, rel=1e-6), tag
        ra = la.analysis.load_records(str(whole / step / "records"))
        rb = la.analysis.load_records(str(killed / step / "records"))
        assert sorted(rb["ff"]) == list(range(EPOCHS))
        np.testing.assert_array_equal(ra["ff"][EPOCHS - 1]["run_flips"],
                                      rb["ff"][EPOCHS - 1]["run_flips"])


def _copy(runs, tmp_path, *, unpruned: bool = False) -> Path:
    """A copy of the uninterrupted run; ``unpruned``: with step 2's checkpoints as fit left
    them (ckpt-2 and ckpt-3), not as the finished step keeps them (ckpt-3)."""
    run = tmp_path / "run"
    shutil.copytree(runs["whole"], run)
    if unpruned:
        shutil.rmtree(run / "step2" / "checkpoints")
        shutil.copytree(runs["unpruned"] / "step2" / "checkpoints",
                        run / "step2" / "checkpoints")
    return run


def test_a_finished_step_keeps_only_its_newest_checkpoint(runs):
    for run in (runs["whole"], runs["killed"]):
        for step in ("step1", "step2"):
            ckpts = run / step / "checkpoints"
            assert sorted(p.name.split(".")[0] for p in ckpts.glob("ckpt-*")) == ["ckpt-3"] * 2
            state = tf.train.get_checkpoint_state(str(ckpts))
            assert list(state.all_model_checkpoint_paths) == [str(ckpts / "ckpt-3")]
            names = [n for n, _ in tf.train.list_variables(str(ckpts / "ckpt-3"))]
            assert any(n.startswith("model/") for n in names)
            assert any(n.startswith("c2i/signs/") for n in names)
            assert not any(n.startswith("optimizer/") for n in names)  # nothing left to train
            with h5py.File(run / step / "final.weights.h5", "r") as f:
                assert "optimizer" not in f  # the model is saved, never its trainer
            result = json.loads((run / step / "result.json").read_text())
            assert 0 <= result["recalibrated_accuracy"] <= 1  # measured, not kept:
            assert result["bn_recalibrated"] is False
            final, fit_left = (la.models.build_model(
                "strong_baseline", stage="ba" if step == "step1" else "bnn",
                input_shape=(32, 32, 3), num_classes=10, width=TINY["width"])
                for _ in range(2))
            final.load_weights(str(run / step / "final.weights.h5"))
            tf.train.Checkpoint(model=fit_left).read(str(ckpts / "ckpt-3")).expect_partial()
            for a, b in zip(final.weights, fit_left.weights):  # the moving statistics too
                np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.name)
    fit_left = runs["unpruned"] / "step1" / "checkpoints"
    assert sorted(p.name for p in fit_left.glob("ckpt-*.index")) == ["ckpt-2.index",
                                                                     "ckpt-3.index"]
    names = [n for n, _ in tf.train.list_variables(str(fit_left / "ckpt-3"))]
    assert any(n.startswith("optimizer/") for n in names)


def _resume(run: Path, **kw):
    return la.training.two_step(run, order="babw", epochs=EPOCHS, resume=True,
                                **{**TINY, **kw})


def test_truncated_checkpoint_data_falls_back_to_the_previous_checkpoint(runs, tmp_path):
    run = _copy(runs, tmp_path, unpruned=True)
    (run / "step2" / "result.json").unlink()
    (data,) = (run / "step2" / "checkpoints").glob("ckpt-3.data-*")
    data.write_bytes(data.read_bytes()[:100])
    with pytest.warns(resume_lib.RecoveryWarning, match=r"ckpt-3 does not read back.*"
                      r"resuming from .*ckpt-2"):
        res = _resume(run)
    assert [int(r["epoch"]) for r in res.steps[1].history] == [0, 1, 2]
    assert (run / "step2" / "checkpoints" / f"corrupt-{data.name}").exists()
    a = _h5_arrays(runs["whole"] / "step2" / "final.weights.h5")
    b = _h5_arrays(run / "step2" / "final.weights.h5")
    for key in a:  # epoch 3 trained again from ckpt-2: the same weights
        np.testing.assert_array_equal(a[key], b[key])


def test_garbage_checkpoint_index_falls_back_to_the_previous_checkpoint(runs, tmp_path):
    ckpts = tmp_path / "checkpoints"
    shutil.copytree(runs["unpruned"] / "step1" / "checkpoints", ckpts)
    (ckpts / "ckpt-3.index").write_bytes(b"not an index" * 10)
    with pytest.warns(resume_lib.RecoveryWarning, match="ckpt-3 does not read back"):
        path = resume_lib.restore_newest(tf.train.Checkpoint(), ckpts, label="step 'x'")
    assert path == str(ckpts / "ckpt-2")
    assert tf.train.latest_checkpoint(str(ckpts)) == str(ckpts / "ckpt-2")


def test_garbage_checkpoint_state_file_does_not_restart_the_step(runs, tmp_path):
    run = _copy(runs, tmp_path)
    (run / "step2" / "result.json").unlink()
    (run / "step2" / "checkpoints" / "checkpoint").write_text("garbage {{{")
    with pytest.warns(resume_lib.RecoveryWarning, match=r"checkpoints.checkpoint is "
                      r"unreadable.*resuming from .*ckpt-3"):
        res = _resume(run)
    assert [int(r["epoch"]) for r in res.steps[1].history] == [0, 1, 2]  # nothing redone
    before = json.loads((runs["whole"] / "step2" / "result.json").read_text())
    assert res.steps[1].test_accuracy == before["test_accuracy"]
    ckpts = run / "step2" / "checkpoints"
    assert tf.train.latest_checkpoint(str(ckpts)) == str(ckpts / "ckpt-3")


def test_unreadable_checkpoints_without_an_earlier_one_name_the_file_and_the_fix(runs,
                                                                                  tmp_path):
    ckpts = tmp_path / "checkpoints"
    shutil.copytree(runs["unpruned"] / "step1" / "checkpoints", ckpts)
    for index in ckpts.glob("*.index"):
        index.write_bytes(b"garbage")
    with pytest.raises(CorruptFileError, match=r"ckpt-3.index/.data-\* do not read back .*"
                       r"delete the folder .*checkpoints and run again with --resume"):
        resume_lib.restore_newest(tf.train.Checkpoint(), ckpts, label="step 'x'")


@pytest.mark.parametrize("name", ["config.json", "step2/config.json"])
def test_truncated_config_json_names_the_file_and_the_fix(runs, tmp_path, name):
    run = _copy(runs, tmp_path)
    (run / "step2" / "result.json").unlink()  # step 2 interrupted: its config is read
    path = run / name
    path.write_text(path.read_text()[:40])
    with pytest.raises(CorruptFileError) as err:
        _resume(run)
    message = str(err.value)
    assert message.startswith(f"{path} is not valid JSON") and "\n" not in message
    assert "delete it and run again with --resume" in message
    path.unlink()  # the fix
    res = _resume(run)
    assert json.loads(path.read_text())["kind" if name == "config.json" else "name"]
    assert [s.name for s in res.steps] == ["step1", "step2"]


def test_truncated_result_json_names_the_file_and_the_fix_rewrites_it(runs, tmp_path):
    run = _copy(runs, tmp_path)
    path = run / "step2" / "result.json"
    path.write_text(path.read_text()[:25])
    with pytest.raises(CorruptFileError, match=r"result.json is not valid JSON .*delete it "
                       "and run again with --resume"):
        _resume(run)
    path.unlink()
    res = _resume(run)
    before = json.loads((runs["whole"] / "step2" / "result.json").read_text())
    assert res.steps[1].test_accuracy == before["test_accuracy"]
    assert json.loads(path.read_text())["best_epoch"] == before["best_epoch"]


def test_garbage_history_row_names_the_file_line_and_the_fix(runs, tmp_path):
    run = _copy(runs, tmp_path)
    (run / "step2" / "result.json").unlink()
    history = run / "step2" / "history.csv"
    lines = history.read_text().splitlines()
    lines[2] = "1,zz" + lines[2][3:]
    history.write_text("\n".join(lines) + "\n")
    with pytest.raises(CorruptFileError, match=r"history.csv line 3 is not a row of \d+ "
                       r"numbers .*delete .*checkpoints and .*history.csv and run again with "
                       "--resume"):
        _resume(run)


def test_resume_of_an_empty_or_missing_folder_is_refused(tmp_path):
    for run, what in ((tmp_path / "missing", "does not exist"),
                      (tmp_path, r"holds no run \(no config.json\)")):
        with pytest.raises(RunStateError, match=f"--resume: .* {what}, so there is nothing to "
                           "resume; run without --resume"):
            la.training.one_step(run, resume=True, analysis=False, **TINY)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(UserInputError, match="allow-changes 'momentum'"):
        la.training.one_step(tmp_path, resume=True, allow_changes=("momentum",), **TINY)
