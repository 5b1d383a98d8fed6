"""Where a run's fixed cost goes: ``larq-adam train`` in-process with every phase timed.

    python bench/phases.py                       # the tiny run (1 epoch of 2 batches)
    python bench/phases.py --main-job            # the README's main job
    python bench/phases.py -- --no-float-twin    # any train options after "--"
    python bench/phases.py --compare-slots --rounds 2   # slots created before fit vs lazily

The command runs unchanged; the bench wraps the library calls each phase is made of and
times them (inclusive, and exclusive of the wrapped phases inside them), so the table adds
up to the wall time: TensorFlow's import, the data feeds, model building, ``fit`` (its
first batch, which traces the train step, apart from the others), evaluation, the analysis
callbacks' epoch ends, checkpoints and saved models, BN re-estimation, the two conversions
(LCE, float twin), verification, the interpreter bench and the report. It also counts how
often Keras traced each step function (a Python call of ``train_step`` / ``test_step`` /
``predict_step`` is one trace): more traces than steps x modes is retracing.

``--baseline REF`` runs the same command in fresh processes, alternating, with this
checkout and with a git worktree of commit ``REF`` (its own ``bench/phases.py``, its
package first on ``PYTHONPATH``, the same installed libraries; ``--baseline-env K=V``
sets variables for the baseline only, e.g. ``PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python``
for the pure-Python protobuf the stack had before larq-zoo moved to ``--no-deps``), and
prints each round's wall times, their ratio, the minimum and the phases side by side::

    python bench/phases.py --baseline 7703782 \
        --baseline-env PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python --rounds 2

``--compare-slots`` runs the same command in fresh processes, alternating, with the
optimizer's slots created before ``fit`` (the library's way, one trace of the train step)
and lazily inside the first train step (Keras' default, which traces it twice), and prints
each round's wall times and their ratio.

The tiny run is the one of the speed issue: ``--epochs 1 --width 0.125
--max-steps-per-epoch 2 --batch-size 32 --teacher none``.
"""
import argparse
import collections
import contextlib
import functools
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
from baseline_tree import add_baseline_arguments  # noqa: E402

TINY = ["--epochs", "1", "--width", "0.125", "--max-steps-per-epoch", "2",
        "--batch-size", "32", "--teacher", "none"]


class Timeline:
    """Inclusive and exclusive seconds and calls per phase, nested calls subtracted."""

    def __init__(self) -> None:
        self.inclusive: Dict[str, float] = collections.defaultdict(float)
        self.exclusive: Dict[str, float] = collections.defaultdict(float)
        self.calls: Dict[str, int] = collections.Counter()
        self._stack: List[List[float]] = []  # per open phase: [start, seconds of children]

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        self._stack.append([time.perf_counter(), 0.0])
        try:
            yield
        finally:
            start, children = self._stack.pop()
            took = time.perf_counter() - start
            self.inclusive[name] += took
            self.exclusive[name] += took - children
            self.calls[name] += 1
            if self._stack:
                self._stack[-1][1] += took

    def add(self, name: str, seconds: float) -> None:
        """A measured span inside the open phase (it moves from the parent to ``name``)."""
        self.inclusive[name] += seconds
        self.exclusive[name] += seconds
        self.calls[name] += 1
        if self._stack:
            self._stack[-1][1] += seconds


def _timed(timeline: Timeline, name: str, function: Callable) -> Callable:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with timeline.phase(name):
            return function(*args, **kwargs)
    return wrapper


def _batch_timer(timeline: Timeline):
    """A callback that moves fit's first batch (where the train step is traced) out of
    ``fit`` into its own phase."""
    import tensorflow as tf

    class FirstBatch(tf.keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if batch == 0:
                self._start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            if batch == 0:
                timeline.add("fit: first batch (trace)", time.perf_counter() - self._start)

    return FirstBatch()


def _wrap_fit(timeline: Timeline, fit: Callable) -> Callable:
    @functools.wraps(fit)
    def wrapper(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), _batch_timer(timeline)]
        with timeline.phase("fit: other batches"):
            return fit(self, *args, **kwargs)
    return wrapper


def _counting(counts: Dict[str, int], name: str, function: Callable) -> Callable:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        counts[name] += 1  # runs once per trace: the traced graph calls no Python
        return function(*args, **kwargs)
    return wrapper


def _targets() -> List[Tuple[Any, str, str]]:
    """(owner, attribute, phase) of every call the table times."""
    import tensorflow as tf

    from larq_adam import analysis, report
    from larq_adam.export import pipeline
    from larq_adam.training import bn_stats, run, run_callbacks, step, step_folder

    targets = [
        (run, "load_run_feeds", "data feeds"), (step, "_build", "model build + restore"),
        (tf.keras.Model, "evaluate", "evaluate"),
        (tf.train.CheckpointManager, "save", "epoch checkpoints"),
        (step, "atomic_save_model", "saved models"), (step, "atomic_save_weights", "saved weights"),
        (step_folder, "atomic_save_model", "saved models"),
        (run_callbacks, "atomic_save_weights", "saved weights"),
        (bn_stats, "recalibrate_bn", "BN re-estimation"),
        (pipeline, "to_lce", "convert: LCE"), (pipeline, "to_tflite_float", "convert: float twin"),
        (pipeline, "compare_with_keras", "verify"), (pipeline, "op_report", "op report"),
        (pipeline, "benchmark", "interpreter bench"), (report, "make_report", "report"),
        (run, "resolve_teacher", "teacher (resolve / train)"),
    ]
    for name in analysis.__all__:
        cls = getattr(analysis, name)
        if isinstance(cls, type) and "on_epoch_end" in vars(cls):
            targets.append((cls, "on_epoch_end", "analysis callbacks (epoch end)"))
    return targets


def run(argv: List[str], import_seconds: float, *, lazy_slots: bool = False
        ) -> Tuple[Timeline, Dict[str, int], float, int]:
    import tensorflow as tf

    from larq_adam.cli import main as cli
    from larq_adam.training import step

    timeline, traces = Timeline(), collections.Counter()
    timeline.add("import TensorFlow + larq_adam", import_seconds)
    with contextlib.ExitStack() as stack:
        from unittest import mock

        if lazy_slots:  # Keras' default: the first train step creates the slots
            stack.enter_context(mock.patch.object(step, "_create_slots", lambda *a: None))

        for owner, attribute, name in _targets():
            stack.enter_context(mock.patch.object(
                owner, attribute, _timed(timeline, name, getattr(owner, attribute))))
        stack.enter_context(mock.patch.object(tf.keras.Model, "fit",
                                              _wrap_fit(timeline, tf.keras.Model.fit)))
        from larq_adam.training.distill import Distiller

        for owner in (tf.keras.Model, Distiller):
            for step_name in ("train_step", "test_step", "predict_step"):
                if step_name in vars(owner):
                    stack.enter_context(mock.patch.object(owner, step_name, _counting(
                        traces, f"{owner.__name__}.{step_name}", vars(owner)[step_name])))
        start = time.perf_counter()
        status = cli.main(["train", *argv])
        wall = time.perf_counter() - start + import_seconds
    return timeline, traces, wall, status


def print_table(timeline: Timeline, traces: Dict[str, int], wall: float) -> None:
    print(f"\n{'phase':<34} {'calls':>5} {'s (self)':>9} {'s (incl.)':>10} {'share':>6}")
    accounted = 0.0
    for name in sorted(timeline.exclusive, key=timeline.exclusive.get, reverse=True):
        own = timeline.exclusive[name]
        accounted += own
        print(f"{name:<34} {timeline.calls[name]:>5} {own:>9.1f} "
              f"{timeline.inclusive[name]:>10.1f} {own / wall:>6.1%}")
    rest = wall - accounted
    print(f"{'other (CLI, run folder, console)':<34} {'':>5} {rest:>9.1f} {'':>10} "
          f"{rest / wall:>6.1%}")
    print(f"{'wall':<34} {'':>5} {wall:>9.1f}")
    print("traces: " + ", ".join(f"{k} {v}" for k, v in sorted(traces.items())))


def compare_slots(argv: List[str], rounds: int, *, main_job: bool) -> int:
    """Fresh processes, alternating: slots lazily (as Keras) vs before fit (the library)."""
    import os

    walls: Dict[str, List[float]] = {"lazy": [], "before fit": []}
    for r in range(1, rounds + 1):
        for variant, flag in (("lazy", ["--lazy-slots"]), ("before fit", [])):
            record = _one_run(Path(__file__).resolve(), argv, main_job=main_job,
                              env=dict(os.environ), flags=flag)
            walls[variant].append(record["wall"])
            print(f"round {r} slots {variant:<10}: wall {record['wall']:6.1f} s, first "
                  f"batches {record['exclusive'].get('fit: first batch (trace)', 0):5.1f} s, "
                  f"traces {record['traces']}", flush=True)
        print(f"round {r}: lazy / before fit = "
              f"{walls['lazy'][-1] / walls['before fit'][-1]:.2f}x", flush=True)
    ratios = [a / b for a, b in zip(walls["lazy"], walls["before fit"])]
    print(f"minimum over {rounds} rounds: {min(ratios):.2f}x")
    return 0


def _one_run(script: Path, argv: List[str], *, main_job: bool, env: Dict[str, str],
             flags: Sequence[str] = ()) -> Dict[str, Any]:
    """``script`` (a ``bench/phases.py``) in a fresh process; its JSON record."""
    import json
    import subprocess

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "phases.json"
        job = ["--main-job"] if main_job else []
        subprocess.run([sys.executable, str(script), *flags, *job, "--json", str(out), "--",
                        *argv], check=True, stdout=subprocess.DEVNULL, env=env)
        return json.loads(out.read_text())


def compare_baseline(argv: List[str], rounds: int, *, ref: str, baseline_env: List[str],
                     main_job: bool) -> int:
    """Fresh processes, alternating: the worktree of ``ref`` (baseline) and this checkout."""
    import os

    from baseline_tree import baseline_tree, baseline_env as env_of

    walls: Dict[str, List[float]] = {"baseline": [], "now": []}
    phases: Dict[str, Dict[str, float]] = {}
    with baseline_tree(ref) as tree:
        runs = {"baseline": (tree / "bench" / "phases.py", env_of(tree, baseline_env)),
                "now": (Path(__file__).resolve(), dict(os.environ))}
        for r in range(1, rounds + 1):
            for variant, (script, env) in runs.items():
                record = _one_run(script, argv, main_job=main_job, env=env)
                walls[variant].append(record["wall"])
                phases[variant] = record["exclusive"]
                print(f"round {r} {variant:<8} ({ref if variant == 'baseline' else 'HEAD'}): "
                      f"wall {record['wall']:6.1f} s, traces {record['traces']}", flush=True)
            print(f"round {r}: now / baseline = "
                  f"{walls['now'][-1] / walls['baseline'][-1]:.3f}", flush=True)
    ratios = [a / b for a, b in zip(walls["now"], walls["baseline"])]
    print(f"largest now / baseline over {rounds} rounds: {max(ratios):.3f}")
    print(f"\n{'phase (last round, s self)':<34} {'baseline':>9} {'now':>9}")
    names = sorted(set(phases["baseline"]) | set(phases["now"]),
                   key=lambda n: -phases["baseline"].get(n, 0.0))
    for name in names:
        print(f"{name:<34} {phases['baseline'].get(name, 0.0):>9.1f} "
              f"{phases['now'].get(name, 0.0):>9.1f}")
    return 0


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--main-job", action="store_true", help="the main job, not the tiny run")
    parser.add_argument("--run-dir", default=None, help="default: a temporary folder")
    parser.add_argument("--lazy-slots", action="store_true",
                        help="let the first train step create the optimizer's slots")
    parser.add_argument("--compare-slots", action="store_true",
                        help="alternate lazy slots and slots before fit in fresh processes")
    add_baseline_arguments(parser)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", default=None, help="also write the table here")
    parser.add_argument("train_options", nargs="*", help="more train options (after --)")
    args = parser.parse_args(argv)
    if args.baseline:
        return compare_baseline(args.train_options, args.rounds, ref=args.baseline,
                                baseline_env=args.baseline_env, main_job=args.main_job)
    if args.compare_slots:
        return compare_slots(args.train_options, args.rounds, main_job=args.main_job)
    start = time.perf_counter()
    import larq_adam.layers  # noqa: F401  (TensorFlow, Keras 2, larq, the layers)
    import tensorflow  # noqa: F401

    imported = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = args.run_dir or str(Path(tmp) / "run")
        options = ([] if args.main_job else TINY) + ["--run-dir", run_dir, *args.train_options]
        print("larq-adam train " + " ".join(options), flush=True)
        timeline, traces, wall, status = run(options, imported, lazy_slots=args.lazy_slots)
    print_table(timeline, traces, wall)
    if args.json:
        import json

        Path(args.json).write_text(json.dumps({
            "wall": wall, "exclusive": timeline.exclusive, "inclusive": timeline.inclusive,
            "calls": timeline.calls, "traces": traces}))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
