"""``bench/step_ops.py``: a traced forward and backward step is grouped by op type with
every convolution's three kernels counted (a lost or double-counted node shows here), and
rounds combine into per-op medians."""
import pytest


def test_a_traced_step_counts_each_convolutions_forward_and_both_gradients(capsys, load_bench):
    bench = load_bench("step_ops")
    args = bench.parse_args(["--width", "0.125", "--warmup", "1", "--policies", "float32",
                             "--rounds", "2"])
    trace = bench.stepper(args, "float32")
    traces = [trace(), trace()]
    for step_s, ops in traces:
        assert step_s > 0 and all(ms >= 0 for ms, _ in ops.values())
        convs = ops["Conv2D"][1]
        assert convs >= 20  # ReActNet-A's 3x3 and 1x1 convolutions (the last 3x3 is a MatMul)
        assert ops["Conv2DBackpropFilter"][1] == convs
        assert ops["Conv2DBackpropInput"][1] == convs - 1  # nothing flows back into the image
    step_s, ops = bench.medians(traces)
    assert min(s for s, _ in traces) <= step_s <= max(s for s, _ in traces)
    conv_ms = [o["Conv2D"][0] for _, o in traces]
    assert ops["Conv2D"][0] == pytest.approx(sum(conv_ms) / 2)  # the median of two
    assert ops["Conv2D"][1] == traces[0][1]["Conv2D"][1]
    bench.table(args, {"float32": (step_s, ops)})
    out = capsys.readouterr().out
    assert "Conv2DBackpropFilter" in out and "s/step traced" in out


def test_an_op_type_missing_from_a_round_counts_as_zero_there(load_bench):
    bench = load_bench("step_ops")
    step_s, ops = bench.medians([(1.0, {"Cast": (3.0, 2)}), (2.0, {}), (3.0, {"Cast": (5.0, 2)})])
    assert step_s == 2.0 and ops == {"Cast": (3.0, 2)}
