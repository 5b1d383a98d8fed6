"""What every ``larq-adam`` command shares: one-line errors, argument types, the training
options, a quiet TensorFlow import.

Nothing here imports TensorFlow at module level, so ``larq-adam --help`` answers at once;
:func:`load_tensorflow` imports it (quietly) when a command runs.
"""
import argparse
import contextlib
import difflib
import math
import os
import re
import sys
import tempfile
import threading
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from larq_adam import vocabulary
from larq_adam.errors import LarqAdamError, UserInputError

#: Errors a command prints as one line (exit status 2): the project's own, each naming the
#: problem and its fix. Any other exception is a defect and shows its traceback.
USER_ERRORS = (LarqAdamError,)
Check = Callable[[argparse.Namespace], None]

#: Lines TensorFlow's C++ runtime prints to stderr on import and device discovery that say
#: nothing about the user's job (plugin registration, a machine without a GPU, CPU flags).
_NOISE = re.compile(
    r"Unable to register cu(FFT|DNN|BLAS) factory|computation placer already registered|"
    r"All log messages before absl::InitializeLog|failed call to cuInit|"
    r"rebuild TensorFlow with the appropriate compiler flags|oneDNN custom operations|"
    r"This TensorFlow binary is optimized|TF-TRT Warning|Could not find cuda drivers|"
    r"cuda_(fft|dnn|blas|platform|driver|executor)\.cc|Unable to register cu")


#: lines a command's stderr drops at the default verbosity (``-v`` / ``--debug`` keep them):
#: Larq's "starved weights" notice (the paper's latent weights are unclipped on purpose,
#: DESIGN.md), Keras' note on a loaded model's metrics, the converter's absl log lines
_RUN_NOISE = re.compile(
    r"may result in starved weights|Compiled the loaded model, but the compiled metrics|"
    r"^[WIEF]\d{4} [\d:.]+ +\d+ \S+:\d+\]|" + _NOISE.pattern)


@contextlib.contextmanager
def filtered_stderr(noise: "re.Pattern[str]" = _RUN_NOISE) -> Iterator[None]:
    """Inside the block, lines written to stderr (file descriptor 2: Python's and the C++
    runtime's alike) that match ``noise`` are dropped; every other line passes as it
    comes. Restored on the way out, before any traceback prints."""
    sys.stderr.flush()
    saved = os.dup(2)
    read_end, write_end = os.pipe()
    forward = os.dup(saved)  # the pump's own copy of the real stderr
    os.dup2(write_end, 2)
    os.close(write_end)

    def pump() -> None:
        with os.fdopen(read_end, "rb") as source, \
                os.fdopen(forward, "wb", buffering=0) as target:
            for line in source:
                if not noise.search(line.decode(errors="replace")):
                    target.write(line)

    thread = threading.Thread(target=pump, name="stderr-filter", daemon=True)
    thread.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        thread.join(timeout=10)


def verbosity(args: argparse.Namespace) -> int:
    """0 with ``-q``, 2 with ``-v``, else 1 (the ``verbose`` of ``la.training.train``)."""
    if getattr(args, "quiet", False):
        return 0
    return 2 if getattr(args, "verbose", False) else 1


def one_line(error: BaseException) -> str:
    """``str(error)`` on one line (a multi-line message's lines joined)."""
    text = " ".join(part.strip() for part in str(error).splitlines() if part.strip())
    return text or type(error).__name__


#: RST inline markup of the docstrings used as descriptions: ``literal`` and :role:`target`
#: (``~`` in a target keeps its last dotted part), and a paragraph's closing ``::``.
_RST_LITERAL = re.compile(r"``(.+?)``")
_RST_ROLE = re.compile(r":[a-z]+(?::[a-z]+)?:`(~?)([^`]+)`")
_RST_BLOCK = re.compile(r"::$", re.MULTILINE)
#: a help text that already says its default: "(default: --epochs)", "default: all"
_SAYS_DEFAULT = re.compile(r"\(default\b|\bdefault:")


def plain_text(text: Optional[str]) -> Optional[str]:
    """A docstring's RST inline markup as plain text, for ``--help``: ``x`` -> x,
    :func:`x` -> x (:func:`~a.b` -> b), a closing ``::`` -> ``:``."""
    if not text:
        return text
    text = _RST_ROLE.sub(lambda m: m[2].rsplit(".", 1)[-1] if m[1] else m[2], text)
    return _RST_BLOCK.sub(":", _RST_LITERAL.sub(r"\1", text))


def _parser_chain(parser: "ArgumentParser",
                  namespace: argparse.Namespace) -> List["ArgumentParser"]:
    """``parser`` and the subcommand parsers ``namespace`` was parsed by, outermost first."""
    if parser.subcommand_dest is not None:
        chosen = parser.subcommands.get(getattr(namespace, parser.subcommand_dest, None))
        if chosen is not None:
            return [parser, *_parser_chain(chosen, namespace)]
    return [parser]


def did_you_mean(unknown: Sequence[str], options: Sequence[str]) -> str:
    """`` (did you mean --learning-rate?)`` for the unknown options among ``unknown``
    (``--opt`` or ``--opt=value``) that are close to one of ``options``; '' when none is."""
    pairs: List[Tuple[str, str]] = []
    for word in unknown:
        name = word.split("=", 1)[0]
        if not name.startswith("-"):
            continue
        close = difflib.get_close_matches(name, options, n=1, cutoff=0.75)
        if close:
            pairs.append((name, close[0]))
    if not pairs:
        return ""
    if len(pairs) == 1:
        return f" (did you mean {pairs[0][1]}?)"
    return f" (did you mean {', '.join(f'{known} for {name}' for name, known in pairs)}?)"


def typed_name(message: str, arg_strings: Sequence[str]) -> str:
    """argparse's ``argument --lr/--learning-rate: ...`` naming only the option given in
    ``arg_strings`` (the last given, when several are), e.g. ``argument --lr: ...``."""
    match = re.match(r"argument (-[^ :/]*(?:/-[^ :/]*)+): ", message)
    if not match:
        return message
    names = match[1].split("/")
    given = [a.split("=", 1)[0] for a in arg_strings if a.split("=", 1)[0] in names]
    return f"argument {given[-1] if given else names[0]}: {message[match.end():]}"


class ArgumentParser(argparse.ArgumentParser):
    """An ``argparse.ArgumentParser`` whose errors are one line (exit status 2), that takes
    no abbreviation of an option (``--wid`` is not ``--width``), names the option an
    unknown one is close to, and shows a docstring description without its RST markup.

    It keeps what was added to it through argparse's public calls: :attr:`actions` (every
    ``add_argument``, in argument groups too) and :attr:`subcommands` (name -> parser)."""

    def __init__(self, *args: Any, allow_abbrev: bool = False, **kwargs: Any) -> None:
        for key in ("description", "epilog"):
            if key in kwargs:
                kwargs[key] = plain_text(kwargs[key])
        self.actions: List[argparse.Action] = []  # before argparse adds --help through them
        self.subcommands: Dict[str, "ArgumentParser"] = {}
        self.subcommand_dest: Optional[str] = None
        super().__init__(*args, allow_abbrev=allow_abbrev, **kwargs)
        self._arg_strings: List[str] = []  # of the last parse, for the option an error names

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        action = super().add_argument(*args, **kwargs)
        self.actions.append(action)
        return action

    def add_argument_group(self, *args: Any, **kwargs: Any) -> Any:
        group = super().add_argument_group(*args, **kwargs)
        add = group.add_argument

        def add_and_keep(*names: Any, **options: Any) -> argparse.Action:
            action = add(*names, **options)
            self.actions.append(action)
            return action

        group.add_argument = add_and_keep  # type: ignore[method-assign]
        return group

    def add_subparsers(self, **kwargs: Any) -> Any:
        action = super().add_subparsers(**kwargs)
        self.subcommands = action.choices  # the map argparse fills with each add_parser
        self.subcommand_dest = action.dest
        return action

    def option_names(self) -> List[str]:
        """Every ``--name`` this parser takes."""
        return [o for a in self.actions for o in a.option_strings if o.startswith("--")]

    def has_option(self, name: str) -> bool:
        return name in self.option_names()

    def parse_known_args(self, args: Optional[Sequence[str]] = None,  # type: ignore[override]
                         namespace: Optional[argparse.Namespace] = None
                         ) -> Tuple[argparse.Namespace, List[str]]:
        self._arg_strings = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(args, namespace)

    def parse_args(self, args: Optional[Sequence[str]] = None,  # type: ignore[override]
                   namespace: Optional[argparse.Namespace] = None) -> argparse.Namespace:
        """``argparse``'s, with the unrecognized arguments reported by the subcommand that
        got them, with the option each unknown one is close to."""
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            chain = _parser_chain(self, parsed)
            options = [o for p in chain for o in p.option_names()]
            chain[-1].error(f"unrecognized arguments: {' '.join(extras)}"
                            f"{did_you_mean(extras, options)}")
        return parsed

    def error(self, message: str) -> None:  # type: ignore[override]
        message = typed_name(message, self._arg_strings)
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _shows_default(action: argparse.Action) -> bool:
    """Whether ``--help`` adds "(default: ...)" to ``action``'s help: not for None, an empty
    list or an on/off flag's False, nor where the help already says its default."""
    default = action.default
    if default is None or default is argparse.SUPPRESS \
            or (isinstance(default, (list, tuple)) and not default):
        return False
    if action.nargs == 0 and not isinstance(action, argparse.BooleanOptionalAction):
        return False
    return not _SAYS_DEFAULT.search(action.help or "")


class HelpFormatter(argparse.RawDescriptionHelpFormatter,
                    argparse.ArgumentDefaultsHelpFormatter):
    """Keeps a command's description layout and shows the defaults that say something
    (:func:`_shows_default`)."""

    def _get_help_string(self, action: argparse.Action) -> Optional[str]:
        if _shows_default(action):
            return super()._get_help_string(action)
        return action.help


def load_tensorflow(*, debug: bool = False) -> None:
    """Import TensorFlow through :mod:`larq_adam` (Keras 2) without the runtime's start-up
    noise: C++ INFO/WARNING logs off (``TF_CPP_MIN_LOG_LEVEL=2`` unless set), and stderr
    lines of plugin registration and of a missing GPU dropped; any other line is shown.
    ``debug`` shows everything."""
    if debug:
        import larq_adam.layers  # noqa: F401  (registers the custom layers)
        _warn_slow_protobuf()
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with tempfile.TemporaryFile(mode="w+b") as captured:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            import larq_adam.layers  # noqa: F401  (imports TensorFlow, registers layers)
            import tensorflow as tf

            tf.config.list_physical_devices()  # device discovery (cuInit) happens here
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
        captured.seek(0)
        text = captured.read().decode(errors="replace")
    kept = [line for line in text.splitlines() if line.strip() and not _NOISE.search(line)]
    if kept:
        print("\n".join(kept), file=sys.stderr)
    _warn_slow_protobuf()


def slow_protobuf_warning() -> Optional[str]:
    """The warning for protobuf's pure-Python implementation (protobuf 3.20 on Python
    3.11, what larq-zoo's ``protobuf<3.21`` pin selects), else None: TensorFlow builds
    every graph, SavedModel and converter input through protobuf messages, 2-3x slower
    than with the C implementation."""
    from google.protobuf.internal import api_implementation

    if api_implementation.Type() != "python":
        return None
    return ("warning: protobuf runs its pure-Python implementation, so tracing and LCE "
            "conversion run 2-3x slower; pip install 'protobuf>=4.25,<6' (larq-zoo, whose "
            "pin chose it, imports no protobuf: see requirements-zoo.txt)")


def _warn_slow_protobuf() -> None:
    warning = slow_protobuf_warning()
    if warning:
        print(warning, file=sys.stderr)


def run_command(command: Callable[[argparse.Namespace], Optional[int]],
                args: argparse.Namespace, *, prog: str, precheck: Optional[Check] = None,
                run_folder: Optional[Callable[[argparse.Namespace], Any]] = None,
                argv: Optional[Sequence[str]] = None) -> int:
    """Run ``command(args)``: first ``precheck(args)`` (checks that need no TensorFlow), then
    the writer's lock of ``run_folder(args)`` (when it names a folder: one writer per run
    folder, :mod:`larq_adam.run_lock`), then TensorFlow is loaded and the command runs.

    A user-fixable error (:data:`USER_ERRORS`) and a write refused by the disk (full,
    read-only, no permission: :func:`larq_adam.disk.write_error`) become one line on stderr
    and exit status 2; training stopped by SIGINT / SIGTERM one line saying how to resume
    and status 128 + the signal (130, 143; ``argv``: the command's arguments, for the
    resume line). ``--debug`` re-raises with the traceback."""
    from larq_adam.disk import write_error
    from larq_adam.errors import TrainingInterrupted
    from larq_adam.run_lock import run_lock

    debug = getattr(args, "debug", False)
    try:
        if precheck is not None:
            precheck(args)
        folder = run_folder(args) if run_folder is not None else None
        with run_lock(folder, command=prog) if folder else contextlib.nullcontext():
            load_tensorflow(debug=debug)
            quiet_logs = not (debug or getattr(args, "verbose", False))
            with filtered_stderr() if quiet_logs else contextlib.nullcontext():
                return int(command(args) or 0)
    except TrainingInterrupted as err:
        print(f"{prog}: {one_line(err)}; continue with: {resume_command(argv)}",
              file=sys.stderr, flush=True)
        return 128 + int(err.signum)
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"{prog}: interrupted (files are written whole, so nothing is half-written); "
              f"continue with: {resume_command(argv)}", file=sys.stderr, flush=True)
        return 130
    except USER_ERRORS as err:
        if debug:
            raise
        print(f"{prog}: error: {one_line(err)}", file=sys.stderr, flush=True)
        return 2
    except Exception as err:  # noqa: BLE001 - only a refused write is turned into a line
        converted = write_error(err)
        if converted is None or debug:
            raise
        print(f"{prog}: error: {one_line(converted)}", file=sys.stderr, flush=True)
        return 2


def resume_command(argv: Optional[Sequence[str]] = None) -> str:
    """The command line that continues this one: the same arguments with ``--resume``."""
    import shlex

    args = list(sys.argv[1:] if argv is None else argv)
    if "--resume" not in args:
        args.append("--resume")
    return "larq-adam " + shlex.join(args)


# ----------------------------------------------------------------------------- types


def _number(text: str, kind: type) -> Any:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected {'an integer' if kind is int else 'a number'}, got {text!r}") from None


def positive_int(text: str) -> int:
    """argparse type: an int >= 1."""
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: an int >= 0."""
    value = _number(text, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return value


def finite_float(text: str) -> float:
    """argparse type: a finite number (may be 0 or negative)."""
    value = _number(text, float)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def ranged(name: str) -> Callable[[str], Any]:
    """argparse type: a number in :data:`larq_adam.limits.RANGES` ``[name]`` (an integer
    setting also takes an integral float such as ``1e3``; ``1e20`` is out of range)."""
    from larq_adam.limits import RANGES

    low, high, kind = RANGES[name]

    def parse(text: str) -> Any:
        if kind == "int":
            try:
                value = float(text)
            except ValueError:
                raise argparse.ArgumentTypeError(
                    f"expected an integer, got {text!r}") from None
            if not math.isfinite(value) or value != int(value) or not low <= value <= high:
                raise argparse.ArgumentTypeError(
                    f"must be an integer in [{low}, {high}], got {text!r}")
            return int(value)
        value = finite_float(text)
        if not low < value <= high:
            raise argparse.ArgumentTypeError(f"must be a number in ({low:g}, {high:g}], "
                                             f"got {text!r}")
        return value

    parse.__name__ = name  # argparse names the type in some messages
    return parse


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return value


# ----------------------------------------------------------------------------- options

#: ``--allow-changes`` names (:data:`larq_adam.vocabulary.ALLOW_CHANGES`).
ALLOW_CHANGES = tuple(vocabulary.ALLOW_CHANGES)


def add_debug(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--debug", action="store_true",
                        help="show TensorFlow's start-up log and an error's traceback")


def add_trust_model(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trust-model", action="store_true",
                        help="read a Keras model with Lambda layers or unknown classes, "
                             "running the code it carries (only for a file from a source "
                             "you trust; by default such a model is refused)")


def add_run_options(parser: argparse.ArgumentParser, *, run_dir: Optional[str],
                    run_dir_help: str = "where the run's files go") -> None:
    """The run folder's options (``--run-dir``, ``--resume``, ``--allow-changes``) and the
    console's (``-q``, ``-v``, ``--debug``); ``run_dir`` None: the command picks it."""
    g = parser.add_argument_group("run folder")
    g.add_argument("--run-dir", default=run_dir, help=run_dir_help)
    g.add_argument("--resume", action="store_true",
                   help="continue an interrupted run: finished steps are read back, the "
                        "interrupted one continues from its last epoch")
    g.add_argument("--allow-changes", nargs="+", default=[], metavar="SETTING",
                   choices=ALLOW_CHANGES,
                   help="with --resume: settings that may differ from the saved run's "
                        f"({', '.join(ALLOW_CHANGES)}), e.g. a lower --lr after a divergence")
    g.add_argument("-q", "--quiet", action="store_true",
                   help="no phase headers, progress or epoch lines (results and errors only)")
    g.add_argument("-v", "--verbose", action="store_true",
                   help="Keras' own progress lines with every logged value (about a hundred "
                        "per-layer metrics), and every library and converter log line")
    add_debug(parser)


def check_run_dir(args: argparse.Namespace) -> None:
    """``--resume`` needs a folder holding something; ``--allow-changes`` needs --resume."""
    from pathlib import Path

    run = Path(args.run_dir)
    if args.resume and not (run.is_dir() and any(run.iterdir())):
        what = "does not exist" if not run.exists() else "is empty"
        raise UserInputError(f"--resume: {run} {what}, so there is nothing to resume; run "
                             "without --resume to start there")
    if args.allow_changes and not args.resume:
        raise UserInputError("--allow-changes only applies with --resume")


def check_teacher(teacher: Optional[str]) -> None:
    """A teacher path must exist (checked before a run folder is touched)."""
    from pathlib import Path

    if teacher not in (None, "", "none", "auto") and not Path(teacher).exists():
        raise UserInputError(f"--teacher {teacher!r} does not exist; give the path of a "
                             "saved Keras model, 'auto' (train one first) or 'none'")


def print_paths(paths: Sequence[Any], header: str = "written:") -> None:
    """The files a command wrote, one per line."""
    print(header)
    for path in paths:
        print(f"  {path}")


def print_run(label: str, result: Any) -> None:
    """One line per step (teacher first) of a RunResult."""
    steps: List[Any] = ([result.teacher] if result.teacher is not None else [])
    for step in steps + list(result.steps):
        print(f"{label:>16} {step.summary_line()}", flush=True)
