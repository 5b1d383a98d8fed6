"""Overhead of the analysis callbacks on `fit`: step time with all of them on versus off.

ReActNet-A (BNN stage, 32 px, 10 classes) is trained on a fixed in-memory batch of random
images, alternating fits with and without ``la.analysis.default_callbacks`` (FF, C2I, CAM,
saturation on a 64-image probe, weight histograms to TensorBoard and records) on the same
compiled model; the first round of each is a warm-up and is discarded. Printed: the median
time per step (epoch-end work included) of each and their ratio, by wall clock and by the
process's CPU time (which other processes on a busy machine disturb less), and the time the
callbacks spend at each epoch end, so the ratio can be extrapolated to longer epochs.

    python bench/analysis_overhead.py                 # width 1.0 (the paper's network)
    python bench/analysis_overhead.py --width 0.25 --steps 30 --rounds 3

Goal: all callbacks together cost <= 3% of the step time.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

import larq_adam as la  # noqa: F401  (selects Keras 2 before TensorFlow is imported)
import numpy as np
import tensorflow as tf


class _EpochEndTimer(tf.keras.callbacks.Callback):
    """Wraps callbacks' on_epoch_end to accumulate the time they take."""

    def __init__(self, callbacks):
        super().__init__()
        self.seconds = 0.0
        self.calls = 0
        for cb in callbacks:
            original = cb.on_epoch_end

            def timed(epoch, logs=None, _original=original):
                start = time.perf_counter()
                _original(epoch, logs)
                self.seconds += time.perf_counter() - start

            cb.on_epoch_end = timed

    def on_epoch_end(self, epoch, logs=None):
        self.calls += 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=float, default=1.0, help="ReActNet-A width multiplier")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=40, help="steps per epoch")
    parser.add_argument("--epochs", type=int, default=1, help="epochs per timed fit")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (after warm-up)")
    args = parser.parse_args(argv)

    tf.keras.utils.set_random_seed(0)
    model = la.models.build_model("reactnet_a", stage="bnn", input_shape=(32, 32, 3),
                                  num_classes=10, width=args.width)
    model.compile(tf.keras.optimizers.Adam(1e-3),
                  tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.batch, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 10, size=args.batch)
    ds = tf.data.Dataset.from_tensors((x, y)).repeat().prefetch(2)

    tmp = tempfile.mkdtemp(prefix="analysis_overhead_")
    cbs = la.analysis.default_callbacks(probe_images=x, record_dir=os.path.join(tmp, "rec"),
                                        log_dir=os.path.join(tmp, "tb"))
    timer = _EpochEndTimer(cbs)
    n_steps = args.epochs * args.steps

    def timed_fit(with_callbacks: bool):
        wall, cpu = time.perf_counter(), time.process_time()
        model.fit(ds, epochs=args.epochs, steps_per_epoch=args.steps, verbose=0,
                  callbacks=cbs + [timer] if with_callbacks else [])
        return (time.perf_counter() - wall) / n_steps, (time.process_time() - cpu) / n_steps

    timed_fit(False), timed_fit(True)  # warm-up: traces the train step and the callbacks
    timer.seconds, timer.calls = 0.0, 0
    off, on, off_cpu, on_cpu = [], [], [], []
    for r in range(args.rounds):
        order = (False, True) if r % 2 == 0 else (True, False)
        for with_callbacks in order:
            wall, cpu = timed_fit(with_callbacks)
            (on if with_callbacks else off).append(wall)
            (on_cpu if with_callbacks else off_cpu).append(cpu)
    t_off, t_on = statistics.median(off), statistics.median(on)
    c_off, c_on = statistics.median(off_cpu), statistics.median(on_cpu)
    n_params = sum(int(np.prod(k.shape)) for k in la.analysis.binary_kernels(model))
    print(f"reactnet_a width={args.width} batch={args.batch} 32px BNN, {n_params:,} binary "
          f"weights; {args.rounds} rounds x {args.epochs} epochs x {args.steps} steps")
    print(f"step time, callbacks off: {t_off * 1e3:.2f} ms  (rounds: "
          + ", ".join(f"{t * 1e3:.2f}" for t in off) + ")")
    print(f"step time, callbacks on:  {t_on * 1e3:.2f} ms  (rounds: "
          + ", ".join(f"{t * 1e3:.2f}" for t in on) + ")")
    print(f"ratio on/off: {t_on / t_off:.4f}  (overhead {100 * (t_on / t_off - 1):+.2f}%)")
    print(f"CPU time per step (all threads; less sensitive to other processes): off "
          f"{c_off * 1e3:.2f} ms, on {c_on * 1e3:.2f} ms, ratio {c_on / c_off:.4f} "
          f"(overhead {100 * (c_on / c_off - 1):+.2f}%)")
    per_epoch = timer.seconds / max(timer.calls, 1)
    print(f"epoch-end work of all callbacks: {per_epoch * 1e3:.1f} ms per epoch "
          f"({100 * per_epoch / (args.steps * t_off):.2f}% of a {args.steps}-step epoch)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
