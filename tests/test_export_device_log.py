"""The timing of an ``lce_benchmark_model`` log from a device (TFLite benchmark format)."""
import pytest

from larq_adam.errors import UserInputError
from larq_adam.export import device_log

# The output of `lce_benchmark_model --graph=/data/local/tmp/model.tflite --num_threads=4`
# (TFLite's benchmark_model with LCE's ops): parameters, warm-up statistics, timed-run
# statistics (microseconds), the inference summary and the memory footprint.
LOG = """\
STARTING!
Log parameter values verbosely: [0]
Min num runs: [50]
Num threads: [4]
Graph: [/data/local/tmp/model.tflite]
#threads used for CPU inference: [4]
Loaded model /data/local/tmp/model.tflite
INFO: Initialized TensorFlow Lite runtime.
The input model file size (MB): 0.104318
Initialized session in 3.082ms.
Running benchmark for at least 1 iterations and at least 0.5 seconds but terminate if exceeding 150 seconds.
count=168 first=3481 curr=2911 min=2874 max=3481 avg=2967.35 std=84

Running benchmark for at least 50 iterations and at least 1 seconds but terminate if exceeding 150 seconds.
count=341 first=2945 curr=2931 min=2866 max=3307 avg=2933.61 std=47

Inference timings in us: Init: 3082, First inference: 3481, Warmup (avg): 2967.35, Inference (avg): 2933.61
Note: as the benchmark tool itself affects memory footprint, the following is only APPROXIMATE to the actual memory footprint of the model at runtime. Take the information at your discretion.
Peak memory footprint (MB): init=2.60547 overall=3.49609
"""

# what --enable_op_profiling=true appends: per-op tables with their own count= lines
PROFILE = """\
============================== Summary by node type ==============================
\t             [Node type]\t  [count]\t  [avg ms]\t    [avg %]\t    [cdf %]\t  [mem KB]\t[times called]
\t              LceBconv2d\t        8\t     2.101\t    71.637%\t    71.637%\t     0.000\t        8

Timings (microseconds): count=341 first=2921 curr=2905 min=2851 max=3288 avg=2918.4 std=46
Memory (bytes): count=0
"""


def test_the_timed_runs_not_the_warm_up_give_the_latency():
    got = device_log.parse(LOG)
    assert set(got) == set(device_log.KEYS)
    assert got["model"] == "/data/local/tmp/model.tflite"
    assert got["runs"] == 341 and got["threads"] == 4
    assert got["avg_ms"] == pytest.approx(2.93361)
    assert (got["min_ms"], got["max_ms"], got["std_ms"]) == pytest.approx((2.866, 3.307, 0.047))
    assert got["init_ms"] == pytest.approx(3.082)
    assert got["peak_memory_mb"] == pytest.approx(3.49609)


def test_logcat_prefixes_and_op_profiles_do_not_change_the_result():
    prefixed = "\n".join(f"07-14 13:23:08.133 25289 25289 I tflite  : {line}"
                         for line in (LOG + PROFILE).splitlines())
    assert device_log.parse(prefixed) == device_log.parse(LOG)


def test_what_the_log_does_not_say_is_none():
    got = device_log.parse("INFO: Inference timings in us: Init: 1200, First inference: "
                           "9000, Warmup (avg): 8500.5, Inference (avg): 8000.25\n")
    assert got["avg_ms"] == pytest.approx(8.00025) and got["init_ms"] == pytest.approx(1.2)
    assert got["min_ms"] is got["runs"] is got["threads"] is got["model"] is None
    assert got["peak_memory_mb"] is None


@pytest.mark.parametrize("text", ["", "STARTING!\nNum threads: [4]\nFailed to invoke!\n",
                                  "count=abc\n"])
def test_a_log_without_timing_is_refused_in_one_line(text):
    with pytest.raises(UserInputError, match="no inference timing") as err:
        device_log.parse(text)
    assert "\n" not in str(err.value)


def test_log_files_are_named_when_missing_or_without_timing(tmp_path):
    with pytest.raises(UserInputError, match="no device log at .*nowhere.log"):
        device_log.read(tmp_path / "nowhere.log")
    bad = tmp_path / "bad.log"
    bad.write_text("Segmentation fault\n")
    with pytest.raises(UserInputError, match=r"bad\.log: the device log holds no inference"):
        device_log.read(bad)
    good = tmp_path / "good.log"
    good.write_text(LOG)
    assert device_log.read(good)["runs"] == 341
