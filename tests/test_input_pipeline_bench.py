"""``bench/input_pipeline.py --quick``: generates a few JPEGs, runs the project's
tfds-style and ``folder:`` training pipelines and the PIL / DataLoader reference, and
prints images per second and per CPU-second for each, the accelerator demand and the
per-step breakdown of the TF transform."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "input_pipeline.py"


def test_help_is_fast():
    out = subprocess.run([sys.executable, str(BENCH), "--help"], capture_output=True,
                         text=True, timeout=20, check=True)
    assert "--quick" in out.stdout


def test_quick_prints_both_rates(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("psutil")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, str(BENCH), "--quick", "--breakdown", "8",
                          "--workdir", str(tmp_path)],
                         capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = {m.group(1): float(m.group(2)) for m in re.finditer(
        r"^  (tf tfrecord|tf folder|torch PIL) +1 \w+ +[\d.]+ +[\d.]+ +([\d.]+)",
        out.stdout, re.M)}
    assert set(rows) == {"tf tfrecord", "tf folder", "torch PIL"}, out.stdout
    assert all(v > 0 for v in rows.values())
    assert "tf tfrecord / torch PIL at 1:" in out.stdout
    assert re.search(r"A100 SXM .* +\d+ +[\d.]+ +[\d.]+ +\d+", out.stdout), out.stdout
    assert re.search(r"imagenet_train \(\+ Lighting, flip\) +[\d.]+ ms", out.stdout), out.stdout
    assert len(list((tmp_path / "folder" / "train").glob("*/*.jpg"))) == 48
