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
                   help="alternating rounds (Keras, then PyTorch, per configuration)")
    return p.parse_args(argv)


def bench_one(args, name, stage, policy="float32"):
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
    rates = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        model.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0)
        rates.append(steps * args.batch / (time.perf_counter() - t0))
    return float(np.median(rates)), rates


def torch_reference(args, stage, bf16=False):
    here = os.path.dirname(os.path.abspath(__file__))
    cmd = [sys.executable, os.path.join(here, "torch_reactnet.py"), "--stage", stage,
           "--batch", str(args.batch), "--size", str(args.size), "--steps", str(args.steps),
           "--warmup", str(args.warmup), "--repeats", str(args.repeats),
           "--threads", str(args.threads), "--classes", str(args.classes),
           "--width", str(args.width)] + (["--bf16"] if bf16 else [])
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                             cwd=os.path.dirname(here)).stdout
    except (subprocess.CalledProcessError, FileNotFoundError) as err:
        print(f"torch reference failed for {stage}: {getattr(err, 'stderr', err)}",
              file=sys.stderr)
        return None
    return float(out.strip().splitlines()[-1].split()[-1])


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
          f"rounds (Keras then PyTorch for each configuration, alternating)")
    configs = [(n, s, p) for n in args.models for s in args.stages for p in args.policies]
    keras = {c: [] for c in configs}
    torch_ = {c: [] for c in configs}
    for r in range(args.rounds):
        for config in configs:
            name, stage, policy = config
            keras[config].append(bench_one(args, name, stage, policy)[0])
            if args.torch and name == "reactnet_a":
                torch_[config].append(torch_reference(args, stage, bf16=policy != "float32"))
            ref = torch_[config][-1] if torch_[config] else None
            print(f"round {r + 1}: {name} {stage} {policy}: Keras {keras[config][-1]:.1f} img/s"
                  + (f", PyTorch {ref:.1f} img/s, ratio {keras[config][-1] / ref:.2f}"
                     if ref else ""), flush=True)
    print(f"\n{'model':<16} {'stage':<5} {'policy':<15} {'Keras img/s (rounds)':<28} "
          f"{'PyTorch img/s (rounds)':<28} {'ratio/round':<16} {'median ratio':>12}")
    for config in configs:
        k, t = keras[config], torch_[config]
        ratios = [a / b for a, b in zip(k, t) if a and b]
        print(f"{config[0]:<16} {config[1]:<5} {config[2]:<15} "
              f"{' '.join(f'{v:.1f}' for v in k):<28} "
              f"{' '.join(f'{v:.1f}' for v in t if v):<28} "
              f"{' '.join(f'{v:.2f}' for v in ratios):<16} "
              f"{(f'{_median(ratios):.2f}' if ratios else '-'):>12}")


if __name__ == "__main__":
    main()
