"""Atomic writes and the checked readers of run-folder files (no training)."""
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from larq_adam import atomic, run_files
from larq_adam.errors import CorruptFileError


class _Killed(BaseException):
    """Stands for a kill in the middle of a write (not an Exception: nothing catches it)."""


def test_atomic_write_keeps_the_old_file_whole_when_the_writer_dies(tmp_path):
    path = tmp_path / "sub" / "result.json"
    atomic.atomic_write_json(path, {"top1": 0.5})
    with pytest.raises(_Killed):
        with atomic.atomic_path(path) as tmp:
            tmp.write_text('{"top1": 0.')  # half written
            raise _Killed
    assert json.loads(path.read_text()) == {"top1": 0.5}
    assert sorted(p.name for p in path.parent.iterdir()) == ["result.json"]
    atomic.atomic_write_text(path, "{}")
    assert path.read_text() == "{}"


def test_atomic_save_model_never_leaves_a_half_written_model(tmp_path, monkeypatch):
    model = tf.keras.Sequential([tf.keras.layers.Dense(2, input_shape=(3,))])
    path = tmp_path / "teacher" / "model.h5"

    def dies_half_way(self, filepath, *args, **kwargs):
        with open(filepath, "wb") as f:
            f.write(b"\x89HDF\r\n\x1a\n" + bytes(88))  # 96 bytes, as a killed h5py write
        raise _Killed

    with monkeypatch.context() as m:
        m.setattr(tf.keras.Model, "save", dies_half_way)
        with pytest.raises(_Killed):
            atomic.atomic_save_model(model, path)
    assert not path.exists() and list(path.parent.iterdir()) == []
    atomic.atomic_save_model(model, path)
    assert run_files.h5_problem(path, whole_model=True) is None
    assert tf.keras.models.load_model(path, compile=False).count_params() == 8
    path.write_bytes(path.read_bytes()[:96])
    assert "truncated" in run_files.h5_problem(path, whole_model=True)
    with pytest.raises(ValueError, match="ending in .h5"):
        atomic.atomic_save_model(model, tmp_path / "saved_model_dir")


def test_partial_files_of_killed_writers_are_removed(tmp_path):
    (tmp_path / "a").mkdir()
    left = tmp_path / "a" / f"{atomic.PARTIAL_PREFIX}123-final.weights.h5"
    left.write_bytes(b"x")
    keep = tmp_path / "a" / "final.weights.h5"
    keep.write_bytes(b"y")
    (tmp_path / ".workers" / "worker-1").mkdir(parents=True)
    other = tmp_path / ".workers" / "worker-1" / f"{atomic.PARTIAL_PREFIX}9-config.json"
    other.write_bytes(b"another process may be writing it")
    assert atomic.remove_partial_files(tmp_path) == [left]
    assert keep.exists() and not left.exists() and other.exists()


def test_read_json_names_a_truncated_file_and_the_fix(tmp_path):
    path = tmp_path / "result.json"
    path.write_text('{"test_accuracy": 0.9, "te')
    with pytest.raises(CorruptFileError, match=rf"^{path} is not valid JSON \(.*\): do this$"):
        run_files.read_json(path, fix="do this")
    path.write_text("[1, 2]")
    with pytest.raises(CorruptFileError, match="not an object"):
        run_files.read_json(path, fix="do this")
    assert isinstance(CorruptFileError("x"), OSError)


def test_records_load_from_their_folder_and_damaged_ones_name_file_and_fix(tmp_path):
    from larq_adam.experiments import claims, pick_decay

    for cls, name in ((claims.Scoreboard, "scoreboard.json"), (pick_decay.Pick, "pick.json")):
        path = tmp_path / name
        path.write_text('{"seeds": [0, 1]}')  # JSON, but not the record
        with pytest.raises(CorruptFileError) as info:
            cls.load(tmp_path)  # the folder: the file by its name
        message = str(info.value)
        assert message.startswith(f"{path} cannot be read as a") and "\n" not in message
        assert "run the" in message and "again" in message
        path.write_text('{"seeds": [0, 1')
        with pytest.raises(CorruptFileError, match="is not valid JSON"):
            cls.load(path)
    path.write_text('{"b": 1, "a": 2}')
    assert run_files.read_typed_json(path, sorted, name="x.json", what="keys", fix="-") == ["a", "b"]


HISTORY = "epoch,loss,val_accuracy\n0,2.5,0.1\n1,2.0,NA\n2,1.5,0.3\n"


def test_history_drops_a_cut_last_row_and_names_a_bad_row_before_it(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text(HISTORY + "3,1.2")  # a kill while the row of epoch 3 was written
    rows = run_files.read_history(path, fix="fix it")
    assert [r["epoch"] for r in rows] == [0, 1, 2] and np.isnan(rows[1]["val_accuracy"])
    path.write_text(HISTORY.replace("1,2.0,NA", "1,2.0,garbage"))
    with pytest.raises(CorruptFileError, match=rf"{path} line 3 is not a row of 3 numbers "
                       r"\('1,2.0,garbage'\): fix it"):
        run_files.read_history(path, fix="fix it")
    path.write_text("\x00\x01garbage\n0,1\n")
    with pytest.raises(CorruptFileError, match="does not start with the 'epoch,...' header"):
        run_files.read_history(path, fix="fix it")
    assert run_files.read_history(tmp_path / "missing.csv", fix="") == []


def test_trim_history_keeps_the_checkpointed_epochs_and_names_missing_ones(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text(HISTORY + "3,1.2")
    run_files.trim_history(path, 2, fix="fix it")
    assert path.read_text() == "epoch,loss,val_accuracy\n0,2.5,0.1\n1,2.0,NA\n"
    run_files.trim_history(path, 0, fix="fix it")
    assert path.read_text() == "epoch,loss,val_accuracy\n"
    path.write_text(HISTORY.replace("1,2.0,NA\n", ""))
    with pytest.raises(CorruptFileError, match=r"no row for epoch\(s\) \[1\].*fix it"):
        run_files.trim_history(path, 3, fix="fix it")
    assert not [p for p in os.listdir(tmp_path) if p.startswith(atomic.PARTIAL_PREFIX)]
