"""The README's code blocks, as a newcomer copies them.

Default suite: every ``larq-adam`` command in a ``bash`` block is accepted by the real
command-line parser (and every ``python recipes/X.py`` names a file); every ``python``
block compiles, uses no name that neither it nor an earlier block defines, and every call
of the ``la.`` API names a function that exists with keywords it takes. ``slow``: the
Python blocks run, in order in one namespace, shrunk to a few batches by
:data:`SHRINK` (each of which must match, so a block that changes its sizes fails here).
"""
import ast
import builtins
import inspect
import os
import re
import shlex
from pathlib import Path
from typing import List, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)

#: (pattern, replacement): the sizes the slow test runs the Python blocks at
SHRINK = [
    (r'epochs = 3\n', 'epochs = 1\n'),
    (r'width=0\.25, epochs=3, teacher="auto"\)',
     'width=0.25, epochs=1, teacher="auto", teacher_epochs=1, max_steps_per_epoch=2)'),
    (r'(ds, info = la\.data\.load\("mnist5k", split="train", batch_size=64\))',
     r'\1; ds = ds.take(2)'),
    (r'weights="birealnet_weights\.h5"', 'weights=BIREALNET_WEIGHTS'),
    (r'runs=20\)', 'runs=2)'),
]


def blocks(language: str) -> List[Tuple[int, str]]:
    """``(line number, text)`` of each fenced block of ``language`` in the README."""
    text = README.read_text()
    return [(text[:m.start()].count("\n") + 1, m[2]) for m in FENCE.finditer(text)
            if m[1] == language]


def commands() -> List[Tuple[int, List[str]]]:
    """Each shell command of the README's ``bash`` blocks (continuations joined, comments
    and ``&&`` chains split), as argv lists."""
    found = []
    for line_no, text in blocks("bash"):
        joined = text.replace("\\\n", " ")
        for offset, line in enumerate(joined.splitlines()):
            for part in re.split(r"&&|;", line):
                try:
                    argv = shlex.split(part, comments=True)
                except ValueError:
                    continue
                while argv and re.match(r"^[A-Z_]+=", argv[0]):  # VAR=value prefixes
                    argv = argv[1:]
                if argv:
                    found.append((line_no + offset, argv))
    return found


def test_the_readme_has_the_commands_and_blocks_this_file_checks():
    names = [argv[0] for _, argv in commands()]
    assert names.count("larq-adam") >= 10 and len(blocks("python")) >= 3


def test_every_larq_adam_command_in_the_readme_parses():
    from larq_adam.cli import main

    checked = 0
    for line_no, argv in commands():
        if argv[:3] == ["python", "-m", "larq_adam"]:
            argv = ["larq-adam", *argv[3:]]
        if argv[0].endswith("larq-adam"):
            args = [a for a in argv[1:] if not (a.startswith("[") and a.endswith("]"))]
            parser = main.build_parser()
            try:
                parser.parse_args(args)
            except SystemExit as stop:
                assert stop.code == 0, f"README.md:{line_no}: {' '.join(argv)}"
            checked += 1
        elif argv[0] in ("python", "python3") and argv[1:2] and argv[1].endswith(".py"):
            assert (ROOT / argv[1]).is_file(), f"README.md:{line_no}: no {argv[1]}"
    assert checked >= 10


def test_readme_pick_decay_commands_with_other_settings_write_other_folders():
    """``pick-decay`` resumes its trials by default and refuses a folder that holds
    trials of other settings, so two README commands (run in one folder, as a newcomer
    does) with different settings must name different ``--run-dir``s."""
    from larq_adam.cli import main

    kept = {"resume", "quiet", "debug", "command", "func", "handler"}
    by_dir = {}
    for line_no, argv in commands():
        if argv[:2] != ["larq-adam", "pick-decay"]:
            continue
        args = vars(main.build_parser().parse_args(argv[1:]))
        settings = {k: v for k, v in args.items() if k not in kept and not callable(v)}
        first = by_dir.setdefault(settings["run_dir"], (line_no, settings))
        assert first[1] == settings, (
            f"README.md:{line_no} and README.md:{first[0]}: pick-decay with other settings "
            f"in one folder {settings['run_dir']}; give one of them its own --run-dir")
    assert by_dir

def _free_names(tree: ast.AST) -> List[Tuple[str, int]]:
    """Names a block loads that it never binds (imports, assignments, targets, defs)."""
    bound, loaded = set(), []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
        elif isinstance(node, ast.Name):
            loaded.append((node.id, node.lineno))
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    return [(n, line) for n, line in loaded if n not in bound and not hasattr(builtins, n)]


def _la_calls(tree: ast.AST) -> List[Tuple[str, List[str], int]]:
    """``(dotted name, keywords, line)`` of each call of ``la.X.Y(...)``."""
    calls = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            parts, target = [], node.func
            while isinstance(target, ast.Attribute):
                parts.insert(0, target.attr)
                target = target.value
            if isinstance(target, ast.Name) and target.id == "la" and parts:
                calls.append((".".join(parts), [k.arg for k in node.keywords if k.arg],
                              node.lineno))
    return calls


def test_every_python_block_defines_what_it_uses_and_calls_what_exists():
    import larq_adam as la

    defined = set()  # the blocks run in order in one namespace: earlier names count
    for line_no, text in blocks("python"):
        tree = ast.parse(text, filename=f"README.md:{line_no}")
        free = [(n, line) for n, line in _free_names(tree) if n not in defined]
        assert not free, f"README.md:{line_no}: undefined names {free}"
        defined |= {n.id for n in ast.walk(tree)
                    if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        defined |= {(a.asname or a.name).split(".")[0] for n in ast.walk(tree)
                    if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
        for dotted, keywords, line in _la_calls(tree):
            function = la
            for part in dotted.split("."):
                function = getattr(function, part, None)
                assert function is not None, f"README.md:{line_no + line}: no la.{dotted}"
            params = inspect.signature(function).parameters
            takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
            unknown = [k for k in keywords if k not in params and not takes_any]
            assert not unknown, f"README.md:{line_no + line}: la.{dotted} takes no {unknown}"


def shrunk(text: str) -> str:
    for pattern, replacement in SHRINK:
        text = re.sub(pattern, replacement, text)
    return text


def test_every_shrink_pattern_matches_a_python_block():
    text = "\n".join(t for _, t in blocks("python"))
    for pattern, _ in SHRINK:
        assert re.search(pattern, text), f"README python blocks no longer contain {pattern!r}"


@pytest.mark.slow
def test_the_readme_python_blocks_run(tmp_path, monkeypatch):
    import larq_adam as la

    monkeypatch.chdir(tmp_path)
    weights = tmp_path / "birealnet_weights.h5"
    la.models.build_model("birealnet", input_shape=(224, 224, 3), num_classes=1000,
                          paper_quantizers=False).save_weights(str(weights))
    namespace = {"BIREALNET_WEIGHTS": os.fspath(weights)}
    (first_line, first), *others = blocks("python")
    exec(compile(shrunk(first), f"README.md:{first_line}", "exec"), namespace)
    assert la.models.count_ops(namespace["model"])["binary_macs"] == 0  # "ba", as it says
    exported = namespace["exported"]
    assert exported.passed and exported.ops["binary_convs"] == 31  # the run's BNN
    demo = tmp_path / "runs" / "demo"
    assert (demo / "model.tflite").is_file() and (demo / "report.md").is_file()
    assert "## Export" in (demo / "report.md").read_text()
    for line_no, text in others:
        exec(compile(shrunk(text), f"README.md:{line_no}", "exec"), namespace)
    assert namespace["result"].passed and (tmp_path / "out" / "model.tflite").is_file()


#: flags that shrink a README command to a few batches (all documented in --help)
TINY = {"train": ["--epochs", "1", "--max-steps-per-epoch", "2", "--width", "0.125",
                  "--no-float-twin", "--images", "16", "--bench-runs", "1"],
        "pick-decay": ["--epochs", "1", "--max-steps-per-epoch", "2"]}
#: README commands the slow test runs (the others need files a user brings: ImageNet, a
#: board's log, a PyTorch checkpoint; or train for an hour: experiments)
RUNNABLE = ("train", "report", "pick-decay")


def _runnable(argv: List[str]) -> bool:
    if not argv or not argv[0] == "larq-adam" or argv[1:2] == [] or argv[1] not in RUNNABLE:
        return False
    return "--preset" not in argv and "--device-log" not in argv


@pytest.mark.slow
def test_the_readme_larq_adam_commands_run_shrunk(tmp_path):
    """The first block's commands that need nothing but the offline data, in order (the
    main job, a one-step run, a resume of the finished main job, a re-run of its config,
    its report, a decay pick), each shrunk by :data:`TINY`."""
    import subprocess
    import sys

    ran = []
    for line_no, argv in commands():
        if not _runnable(argv):
            continue
        args = argv[1:]
        if "--config" not in args:
            args += TINY.get(args[0], [])
        done = subprocess.run([sys.executable, "-m", "larq_adam", *args], cwd=tmp_path,
                              capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, f"README.md:{line_no}: {argv}\n{done.stderr[-3000:]}"
        ran.append((args[0], done.stdout))
    assert [name for name, _ in ran][:6] == ["train", "train", "train", "train", "report",
                                            "pick-decay"]
    assert "holds a finished run: nothing was trained" in ran[2][1]
    assert (tmp_path / "runs" / "again" / "report.md").is_file()
