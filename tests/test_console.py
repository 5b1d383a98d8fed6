"""The training console: headline epoch lines, phase headers, the CLI's stderr filter."""
import io
import os
import subprocess
import sys
import textwrap

import tensorflow as tf

from larq_adam.cli import common
from larq_adam.training import console


def test_an_epoch_line_shows_the_headline_numbers_only():
    logs = {"loss": 0.41234, "accuracy": 0.881, "val_accuracy": 0.852, "ff_ratio": 9.0,
            "ff_ratio_run": 1.2e-3, "c2i_ratio": 0.97, "lr": 3.333e-4, "top5": 0.99,
            **{f"ff_ratio/layer_{i}": 0.1 for i in range(120)}}
    line = console.epoch_line(1, 3, logs, 41.2)
    assert line == ("epoch 2/3  loss 0.4123  top-1 88.10%  val top-1 85.20%  FF 1.20e-03  "
                    "C2I 0.970  lr 3.33e-04  (41 s)")
    assert console.epoch_line(0, 1, {"loss": 1.0, "c2i_ratio": None}, 0) == \
        "epoch 1/1  loss 1.0000  (0 s)"


def test_a_phase_header_names_step_stage_schedule_epochs_and_teacher():
    header = console.phase_header("step1", stage="ba", epochs=3, batches=63,
                                  optimizer="adam", learning_rate=1e-3, schedule="linear",
                                  weight_decay=5e-6, teacher="runs/x/teacher/model.h5",
                                  first_epoch=1)
    assert header == ("== step1: stage BA, adam lr 0.001 linear, weight decay 5e-06, "
                      "3 epochs x 63 batches, resumed at epoch 2, teacher "
                      "runs/x/teacher/model.h5 ==")
    assert "teacher none" in console.phase_header(
        "step", stage="bnn", epochs=1, batches=1, optimizer="sgd", learning_rate=0.1,
        schedule="cosine", weight_decay=0, teacher=None)


def test_epoch_lines_print_one_line_per_epoch_from_fit():
    model = tf.keras.Sequential([tf.keras.layers.Dense(2, input_shape=(3,))])
    model.compile("sgd", tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    out = io.StringIO()
    x, y = tf.zeros((8, 3)), tf.zeros((8,), tf.int32)
    model.fit(x, y, batch_size=4, epochs=2, verbose=0,
              callbacks=[console.EpochLines(2, 2, stream=out, progress=False)])
    lines = out.getvalue().splitlines()
    assert [line.split("  ")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]
    assert all("top-1" in line and "loss" in line for line in lines)


def test_the_stderr_filter_drops_library_noise_and_keeps_every_other_line():
    script = textwrap.dedent("""
        import os, sys, logging
        from larq_adam.cli import common
        print("--", file=sys.stderr)  # TensorFlow's start-up lines come before this
        with common.filtered_stderr():
            logging.getLogger("larq.layers_base").warning(
                "Using a binary weight quantizer without setting `kernel_constraint` may "
                "result in starved weights (where the gradient is always zero).")
            os.write(2, b"W0000 00:00:1733261234.123456   12345 tf_tfl_flatbuffer_helpers.cc:365] "
                        b"Ignored output_format.\\n")
            print("a real warning", file=sys.stderr)
        print("after", file=sys.stderr)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert lines[lines.index("--") + 1:] == ["a real warning", "after"], done.stderr


def test_quiet_and_verbose_set_the_training_verbosity():
    from larq_adam.cli import main

    parser = main.build_parser()
    levels = [common.verbosity(parser.parse_args(["train", *flags]))
              for flags in ([], ["-q"], ["--quiet"], ["-v"], ["--verbose"])]
    assert levels == [1, 0, 0, 2, 2]


def test_pure_python_protobuf_is_named_with_the_install_that_fixes_it(monkeypatch, capsys):
    from google.protobuf.internal import api_implementation

    assert common.slow_protobuf_warning() is None  # the verified stack: protobuf's upb
    monkeypatch.setattr(api_implementation, "Type", lambda: "python")
    common.load_tensorflow(debug=True)
    printed = capsys.readouterr().err
    assert "pure-Python" in printed and "pip install 'protobuf>=4.25,<6'" in printed
    assert printed.count("\n") == 1
