"""One writer per run folder: real processes that do not load TensorFlow hold and contend
for ``RUN/.lock``; a second writer is refused naming the holder's pid, a dead holder's lock
never blocks, and the ``larq-adam`` commands take the lock before TensorFlow loads."""
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from larq_adam.errors import RunLockedError
from larq_adam.run_lock import LOCK_FILE, lock_holder, run_lock

# the child imports larq_adam as the console script does: without TensorFlow
_HOLDER = textwrap.dedent("""
    import sys, time
    sys.argv[0] = "larq-adam"
    from larq_adam.run_lock import run_lock
    with run_lock(sys.argv[1], command="holder"):
        print("held", flush=True)
        time.sleep(float(sys.argv[2]))
""")
_ENV = {**os.environ, "PYTHONWARNINGS": "ignore"}


def _hold(run: Path, seconds: float = 60) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(run), str(seconds)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_ENV)
    assert proc.stdout.readline().strip() == "held", proc.stderr.read()
    return proc


def test_a_second_writer_is_refused_naming_the_holders_pid(tmp_path):
    holder = _hold(tmp_path / "run")
    try:
        assert lock_holder(tmp_path / "run") == f"pid {holder.pid} (holder)"
        with pytest.raises(RunLockedError, match=f"run is being written by another process "
                           f"\\(pid {holder.pid} \\(holder\\)\\): wait for it"):
            with run_lock(tmp_path / "run"):
                pass
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_left_by_a_killed_process_never_blocks(tmp_path):
    holder = _hold(tmp_path / "run")
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert (tmp_path / "run" / LOCK_FILE).exists()  # the file stays, the lock does not
    with run_lock(tmp_path / "run", command="next"):
        assert lock_holder(tmp_path / "run") == f"pid {os.getpid()} (next)"
    assert lock_holder(tmp_path / "run") is None  # emptied on release


def test_the_lock_is_reentrant_in_one_process_and_leaves_no_folder_it_made(tmp_path):
    run = tmp_path / "a" / "run"
    with run_lock(run):
        with run_lock(run):  # e.g. the command, then the library's train()
            pass
        assert run.is_dir()
    assert not (tmp_path / "a").exists()  # nothing but the lock was written: removed
    with run_lock(run):
        (run / "config.json").write_text("{}")
    assert sorted(p.name for p in run.iterdir()) == [LOCK_FILE, "config.json"]


@pytest.mark.parametrize("command", [["report"], ["export"], ["train", "--resume"]])
def test_commands_on_a_folder_being_written_are_refused_before_tensorflow_loads(
        tmp_path, command):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    (run / "final_model.h5").write_bytes(b"")
    holder = _hold(run)
    try:
        where = ["--run-dir", str(run)] if command[0] == "train" else [str(run)]
        start = time.time()
        proc = subprocess.run([sys.executable, "-m", "larq_adam", *command, *where],
                              capture_output=True, text=True, timeout=120, env=_ENV)
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert proc.returncode == 2 and len(lines) == 1, proc.stderr
        assert f"pid {holder.pid}" in lines[0] and "being written" in lines[0], lines
        assert "tensorflow" not in proc.stderr.lower()
        assert time.time() - start < 30  # refused before TensorFlow loads
    finally:
        holder.kill()
        holder.wait()
