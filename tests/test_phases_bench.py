"""``bench/phases.py``: the phase table adds nested phases up without counting them twice,
and it wraps only calls that exist (a renamed function fails here, not in a long bench)."""
import time


def test_nested_phases_are_subtracted_from_their_parent(load_bench):
    bench = load_bench("phases")
    timeline = bench.Timeline()
    with timeline.phase("fit"):
        time.sleep(0.02)
        with timeline.phase("evaluate"):
            time.sleep(0.03)
        timeline.add("first batch", 0.01)
    assert timeline.inclusive["fit"] >= 0.05
    assert abs(timeline.exclusive["fit"] + timeline.exclusive["evaluate"]
               + timeline.exclusive["first batch"] - timeline.inclusive["fit"]) < 1e-9
    assert timeline.calls == {"fit": 1, "evaluate": 1, "first batch": 1}


def test_every_timed_call_exists(load_bench):
    targets = load_bench("phases")._targets()
    assert {name for _, _, name in targets} >= {"convert: LCE", "verify", "report",
                                                 "analysis callbacks (epoch end)"}
    for owner, attribute, _ in targets:
        assert callable(getattr(owner, attribute)), (owner, attribute)
