"""The project's errors: every one it raises is a LarqAdamError with the built-in class a
caller expects, and the command line prints only those as one line (a defect keeps its
traceback)."""
import argparse
import ast
import importlib
import inspect
import pathlib
import pkgutil

import pytest

import larq_adam
from larq_adam import errors
from larq_adam.cli import common

PACKAGE = pathlib.Path(larq_adam.__file__).parent
#: built-in classes the project raises only through its own subclasses
BUILT_IN = {"ValueError", "TypeError", "KeyError", "IndexError", "FileNotFoundError",
            "FileExistsError", "ImportError", "RuntimeError", "OSError", "IOError",
            "NotImplementedError", "Exception", "LookupError"}  # AssertionError: a defect


def _raised_built_ins(path: pathlib.Path):
    """(line, name) of every ``raise BuiltIn(...)`` in ``path``."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Raise) and node.exc is not None:
            target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(target, ast.Name) and target.id in BUILT_IN:
                yield node.lineno, target.id


def test_the_package_raises_no_bare_built_in_exception():
    found = [f"{path.relative_to(PACKAGE.parent)}:{line} raises {name}"
             for path in sorted(PACKAGE.rglob("*.py")) for line, name in _raised_built_ins(path)]
    assert not found, "raise a larq_adam.errors class instead:\n" + "\n".join(found)


def test_the_source_check_sees_a_bare_raise(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f(x):\n    if x:\n        raise ValueError('x')\n    raise KeyError\n")
    assert sorted(_raised_built_ins(sample)) == [(3, "ValueError"), (4, "KeyError")]


def _exception_classes():
    for info in pkgutil.walk_packages(larq_adam.__path__, "larq_adam."):
        if info.name.startswith(("larq_adam.torch_reference", "larq_adam.__main__")):
            continue
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if (cls.__module__ == module.__name__ and issubclass(cls, BaseException)
                    and not issubclass(cls, Warning)):
                yield cls


def test_every_exception_class_is_a_larq_adam_error_or_a_stop_signal():
    classes = set(_exception_classes())
    assert errors.UserInputError in classes and len(classes) > 10
    others = [c for c in classes if not issubclass(c, errors.LarqAdamError)]
    assert others == [errors.TrainingInterrupted]  # a KeyboardInterrupt, status 128 + signal


@pytest.mark.parametrize("cls, built_in", [
    (errors.UserInputError, ValueError), (errors.WrongTypeError, TypeError),
    (errors.UnknownKeyError, KeyError), (errors.UnsupportedError, NotImplementedError),
    (errors.MissingFileError, FileNotFoundError), (errors.MissingDependencyError, ImportError),
    (errors.KerasVersionError, ImportError), (errors.SetupError, RuntimeError)])
def test_each_error_keeps_the_built_in_class_callers_catch(cls, built_in):
    assert issubclass(cls, built_in) and issubclass(cls, errors.LarqAdamError)
    assert str(cls("names the problem; the fix")) == "names the problem; the fix"


def test_the_command_line_prints_the_projects_errors_and_shows_a_defects_traceback(capsys):
    assert common.USER_ERRORS == (errors.LarqAdamError,)
    args = argparse.Namespace(debug=False, verbose=False)

    def user_error(_):
        raise errors.UnknownKeyError("no claim 'x'; the scoreboard has ['a']")

    assert common.run_command(user_error, args, prog="larq-adam t") == 2
    assert capsys.readouterr().err == "larq-adam t: error: no claim 'x'; the scoreboard has ['a']\n"

    def defect(_):
        return {}["missing"]

    with pytest.raises(KeyError):
        common.run_command(defect, args, prog="larq-adam t")
