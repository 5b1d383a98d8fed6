"""Where a training step's time goes, per TensorFlow op type, for each dtype policy side by
side: the forward and backward pass of ReActNet-A or StrongBaseline (the gradients of the
cross-entropy with respect to every trainable weight, as ``fit``'s train step computes them;
the optimizer's update is left out) traced once with TensorFlow's step statistics.

    python bench/step_ops.py                                  # ReActNet-A BNN, f32 vs bf16
    python bench/step_ops.py --model strong_baseline --stage ba --top 15

It answers why one policy's step is slower than another's on this CPU: e.g. whether the
time is in the convolutions' (oneDNN's) kernels or in the element-wise ops and casts around
them. Each policy runs in its own graph, warmed up by ``--warmup`` steps; ``--rounds``
traced steps follow, the policies alternating, and the table prints each op type's median
ms, the count of ops of that type, and the ratio to the first policy.
"""
import argparse
import collections
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="reactnet_a")
    p.add_argument("--stage", default="bnn")
    p.add_argument("--policies", nargs="+", default=["float32", "mixed_bfloat16"])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--width", type=float, default=1.0)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=2, help="intra-op threads")
    p.add_argument("--rounds", type=int, default=3,
                   help="traced steps per policy, the policies alternating; medians printed")
    p.add_argument("--top", type=int, default=12, help="op types to print")
    return p.parse_args(argv)


def stepper(args, policy):
    """A warmed-up forward and backward pass under ``policy`` in its own graph and session;
    ``trace() -> (seconds, {op type: (ms, count)})`` runs one traced step."""
    import larq_adam as la  # first: it selects Keras 2 before TensorFlow loads Keras
    import numpy as np
    import tensorflow as tf

    tf1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        model = la.models.build_model(
            args.model, args.stage, input_shape=(args.size, args.size, 3),
            num_classes=args.classes, width=args.width,
            dtype_policy=None if policy == "float32" else policy)
        x = tf1.placeholder(tf.float32, (args.batch, args.size, args.size, 3))
        y = tf1.placeholder(tf.int32, (args.batch,))
        loss = tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(
            y, model(x, training=True), from_logits=True))
        grads = tf.gradients(loss, model.trainable_weights)
        config = tf1.ConfigProto(intra_op_parallelism_threads=args.threads,
                                 inter_op_parallelism_threads=1)
        sess = tf1.Session(graph=graph, config=config)
        sess.run(tf1.global_variables_initializer())
    rng = np.random.RandomState(0)
    feed = {x: rng.randn(*x.shape).astype(np.float32),
            y: rng.randint(0, args.classes, size=(args.batch,))}
    for _ in range(args.warmup):
        sess.run(grads, feed)
    op_of = {n.name: n.op for n in graph.as_graph_def().node}

    def trace():
        meta = tf1.RunMetadata()
        t0 = time.perf_counter()
        sess.run(grads, feed, run_metadata=meta,
                 options=tf1.RunOptions(trace_level=tf1.RunOptions.FULL_TRACE))
        return time.perf_counter() - t0, _by_op_type(meta, op_of)

    return trace


def medians(traces):
    """The median over rounds of the step's seconds and of each op type's ms (0 in a round
    where the type did not run); the count is the first round's."""
    ops = {op for _, by_op in traces for op in by_op}
    step_s = statistics.median(s for s, _ in traces)
    return step_s, {op: (statistics.median(by_op.get(op, (0.0, 0))[0] for _, by_op in traces),
                         traces[0][1].get(op, (0.0, 0))[1]) for op in ops}


def _by_op_type(meta, op_of):
    """Sums the traced nodes' run times by op type (nodes a runtime rewrite renamed are
    grouped under ``(runtime)``)."""
    ms, count = collections.Counter(), collections.Counter()
    for device in meta.step_stats.dev_stats:
        for node in device.node_stats:
            op = op_of.get(node.node_name.split(":")[0], "(runtime)")
            ms[op] += node.op_end_rel_micros / 1e3
            count[op] += 1
    return {op: (ms[op], count[op]) for op in ms}


def table(args, results):
    first = args.policies[0]
    print(f"{args.model} {args.stage}, batch {args.batch}, {args.size}px, width "
          f"{args.width}, {args.threads} threads: forward + backward, median ms (ops) per op "
          f"type of {args.rounds} traced steps per policy, alternating")
    for policy in args.policies:
        step_s, ops = results[policy]
        print(f"  {policy}: {step_s:.2f} s/step traced, {sum(m for m, _ in ops.values()):.0f} "
              f"ms of op time")
    names = {op for p in args.policies for op in results[p][1]}
    slowest = sorted(names, key=lambda op: -max(results[p][1].get(op, (0, 0))[0]
                                                for p in args.policies))
    print(f"{'op type':24s}" + "".join(f"{p:>22s}" for p in args.policies)
          + f"   ratio to {first}")
    for op in slowest[:args.top]:
        row = [results[p][1].get(op, (0.0, 0)) for p in args.policies]
        cells = "".join(f"{m:13.1f} ms ({n:4d})" for m, n in row)
        ratios = " ".join(f"{m / row[0][0]:.2f}x" if row[0][0] else "-" for m, _ in row[1:])
        print(f"{op:24s}{cells}   {ratios}")


def main(argv=None):
    args = parse_args(argv)
    steppers = {p: stepper(args, p) for p in args.policies}
    traces = {p: [] for p in args.policies}
    for _ in range(args.rounds):  # the policies alternate, so both see the same machine
        for policy in args.policies:
            traces[policy].append(steppers[policy]())
    table(args, {p: medians(traces[p]) for p in args.policies})


if __name__ == "__main__":
    main()
