"""``bench/step_ops.py``: one traced forward and backward step is grouped by op type with
every convolution's three kernels counted (a lost or double-counted node shows here)."""


def test_a_traced_step_counts_each_convolutions_forward_and_both_gradients(capsys, load_bench):
    bench = load_bench("step_ops")
    args = bench.parse_args(["--width", "0.125", "--warmup", "1", "--policies", "float32"])
    step_s, ops = bench.op_times(args, "float32")
    assert step_s > 0
    convs = ops["Conv2D"][1]
    assert convs >= 20  # ReActNet-A's 3x3 and 1x1 convolutions (the last 3x3 is a MatMul)
    assert ops["Conv2DBackpropFilter"][1] == convs
    assert ops["Conv2DBackpropInput"][1] == convs - 1  # nothing flows back into the image
    assert all(ms >= 0 for ms, _ in ops.values())
    bench.table(args, {"float32": (step_s, ops)})
    out = capsys.readouterr().out
    assert "Conv2DBackpropFilter" in out and "s/step untraced" in out
