"""Images per second of a full Adam training step (forward, backward, update) in
``model.fit`` for ReActNet-A and StrongBaseline at 32 px, batch 64, in the BA and BNN
stages, side by side with the authors' ReActNet-A in PyTorch (``--torch``; target: the
Keras float32 step >= 1.5x PyTorch's in BA and BNN, and bf16 against PyTorch's bf16
autocast).

    python bench/train_step.py                      # table for both models, BA and BNN
    python bench/train_step.py --models reactnet_a --stages bnn --jit --steps 20
    python bench/train_step.py --torch --models reactnet_a --rounds 2
                                                    # alternate with bench/torch_reactnet.py
                                                    # in a subprocess (needs torch)

Inputs are random images held in memory (a repeated single batch), so the figure is the
model's step time, not the input pipeline's. The first ``--warmup`` steps (tracing,
compilation) are excluded; the median of ``--repeats`` timed runs is reported.

With ``--torch`` the PyTorch step runs in a process started per configuration and round
(``torch_reactnet.py --serve``), warmed up beside the Keras model, and the two are timed
in alternating windows of ``--steps`` steps (Keras, PyTorch, Keras, ...; ``--repeats``
each), so both see the same machine: on a shared CPU whose speed drifts by a third within
minutes, a round's ratio is the median of its Keras windows over the median of its
PyTorch windows. The table prints each round's ratio and their minimum.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time


def _parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--models", nargs="+", default=["reactnet_a", "strong_baseline"])
    p.add_argument("--stages", nargs="+", default=["ba", "bnn"])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--width", type=float, default=1.0)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--steps", type=int, default=10, help="timed steps per repeat")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2, help="intra-op threads")
    p.add_argument("--inter", type=int, default=1, help="inter-op threads")
    p.add_argument("--jit", action="store_true", help="compile(jit_compile=True) (XLA)")
    p.add_argument("--policies", nargs="+", default=["float32", "mixed_bfloat16"],
                   help="Keras dtype policies to time (build_model(dtype_policy=...)); "
                        "mixed_bfloat16 uses the CPU's bf16 units (AVX512-BF16/AMX)")
    p.add_argument("--steps-per-execution", type=int, default=1)
    p.add_argument("--legacy-adam", action="store_true",
                   help="tf.keras.optimizers.legacy.Adam instead of the new Adam")
    p.add_argument("--torch", action="store_true",
                   help="also run bench/torch_reactnet.py (the authors' network in PyTorch; "
                        "bf16 autocast for the mixed_bfloat16 policy) and print ratios")
    p.add_argument("--rounds", type=int, default=2,
                   help="rounds; each times every configuration afresh (a new PyTorch process)")
    return p.parse_args(argv)


def keras_stepper(args, name, stage, policy="float32"):
    """A warmed-up Keras ``fit`` of the model; returns ``window() -> img/s`` of
    ``--steps`` steps."""
    import numpy as np
    import tensorflow as tf

    import larq_adam as la

    tf.keras.backend.clear_session()
    tf.keras.utils.set_random_seed(0)
    model = la.models.build_model(name, stage, input_shape=(args.size, args.size, 3),
                                  num_classes=args.classes, width=args.width,
                                  dtype_policy=None if policy == "float32" else policy)
    if args.legacy_adam:
        opt = tf.keras.optimizers.legacy.Adam(learning_rate=1e-3, epsilon=1e-8)
    else:  # what the recipes train with: PyTorch-style Adam + coupled decay on 4-D weights
        opt = la.training.make_optimizer("adam", learning_rate=1e-3, weight_decay=5e-6,
                                         model=model)
    model.compile(
        optimizer=opt,
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=args.jit,
        steps_per_execution=args.steps_per_execution,
    )
    rng = np.random.RandomState(0)
    x = rng.randn(args.batch, args.size, args.size, 3).astype(np.float32)
    y = rng.randint(0, args.classes, size=(args.batch,)).astype(np.int32)
    ds = tf.data.Dataset.from_tensors((x, y)).repeat()
    spe = args.steps_per_execution
    warm = max(spe, (args.warmup + spe - 1) // spe * spe)
    model.fit(ds, steps_per_epoch=warm, epochs=1, verbose=0)
    steps = max(spe, args.steps // spe * spe)

    def window():
        t0 = time.perf_counter()
        model.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0)
        return steps * args.batch / (time.perf_counter() - t0)

    return window


def bench_one(args, name, stage, policy="float32"):
    """Median img/s of ``--repeats`` Keras windows, and the windows."""
    window = keras_stepper(args, name, stage, policy)
    rates = [window() for _ in range(args.repeats)]
    return statistics.median(rates), rates


class TorchServer:
    """``torch_reactnet.py --serve`` in a subprocess, warmed up; ``window()`` times
    ``--steps`` steps in it."""

    def __init__(self, args, stage, bf16=False):
        here = os.path.dirname(os.path.abspath(__file__))
        cmd = [sys.executable, os.path.join(here, "torch_reactnet.py"), "--serve",
               "--stage", stage, "--batch", str(args.batch), "--size", str(args.size),
               "--warmup", str(args.warmup), "--threads", str(args.threads),
               "--classes", str(args.classes), "--width", str(args.width)]
        self.steps = args.steps
        self.proc = subprocess.Popen(cmd + (["--bf16"] if bf16 else []), text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     cwd=os.path.dirname(here))
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"torch_reactnet.py --serve did not start: {' '.join(cmd)}")

    def window(self):
        self.proc.stdin.write(f"{self.steps}\n")
        self.proc.stdin.flush()
        return float(self.proc.stdout.readline().split()[-1])

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def interleaved(args, name, stage, policy):
    """One round's (Keras median, PyTorch median) img/s, timed in alternating windows;
    PyTorch is None when it cannot run."""
    try:
        server = TorchServer(args, stage, bf16=policy != "float32")
    except (RuntimeError, OSError) as err:
        print(f"torch reference failed for {stage}: {err}", file=sys.stderr)
        return bench_one(args, name, stage, policy)[0], None
    try:
        keras_window = keras_stepper(args, name, stage, policy)
        pairs = [(keras_window(), server.window()) for _ in range(args.repeats)]
    finally:
        server.close()
    return statistics.median(k for k, _ in pairs), statistics.median(t for _, t in pairs)


def _median(values):
    values = [v for v in values if v]
    return statistics.median(values) if values else None


def main(argv=None):
    args = _parse(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import larq_adam  # noqa: F401  (Keras 2 before TensorFlow)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.inter)

    print(f"batch {args.batch}, {args.size}px, width {args.width}, intra {args.threads} / "
          f"inter {args.inter} threads, jit {args.jit}, steps_per_execution "
          f"{args.steps_per_execution}, {'legacy ' if args.legacy_adam else ''}Adam, "
          f"oneDNN {os.environ.get('TF_ENABLE_ONEDNN_OPTS', 'default')}, {args.rounds} "
          f"rounds (Keras and PyTorch in alternating windows per configuration)")
    configs = [(n, s, p) for n in args.models for s in args.stages for p in args.policies]
    keras = {c: [] for c in configs}
    torch_ = {c: [] for c in configs}
    for r in range(args.rounds):
        for config in configs:
            name, stage, policy = config
            if args.torch and name == "reactnet_a":
                k, t = interleaved(args, name, stage, policy)
                keras[config].append(k)
                torch_[config].append(t)
            else:
                keras[config].append(bench_one(args, name, stage, policy)[0])
            ref = torch_[config][-1] if torch_[config] else None
            print(f"round {r + 1}: {name} {stage} {policy}: Keras {keras[config][-1]:.1f} img/s"
                  + (f", PyTorch {ref:.1f} img/s, ratio {keras[config][-1] / ref:.2f}"
                     if ref else ""), flush=True)
    print(f"\n{'model':<16} {'stage':<5} {'policy':<15} {'Keras img/s (rounds)':<28} "
          f"{'PyTorch img/s (rounds)':<28} {'ratio/round':<16} {'minimum':>8} "
          f"{'median':>7}")
    for config in configs:
        k, t = keras[config], torch_[config]
        ratios = [a / b for a, b in zip(k, t) if a and b]
        print(f"{config[0]:<16} {config[1]:<5} {config[2]:<15} "
              f"{' '.join(f'{v:.1f}' for v in k):<28} "
              f"{' '.join(f'{v:.1f}' for v in t if v):<28} "
              f"{' '.join(f'{v:.2f}' for v in ratios):<16} "
              f"{(f'{min(ratios):.2f}' if ratios else '-'):>8} "
              f"{(f'{_median(ratios):.2f}' if ratios else '-'):>7}")


if __name__ == "__main__":
    main()
